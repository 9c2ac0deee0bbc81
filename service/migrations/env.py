"""Alembic environment: runs on the connection handed over by ``service.db.upgrade_database``.

Run from the command line (``alembic -x url=...``), it connects to that URL instead.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from service.db import Base

target_metadata = Base.metadata


def run_migrations() -> None:
    """Run the migrations on the connection handed in (else on the configured URL)."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or context.config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise RuntimeError("no database: pass -x url=... or use `tarve db upgrade`")
    engine = create_engine(url, hide_parameters=True)
    with engine.begin() as own_connection:
        context.configure(connection=own_connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported")
run_migrations()
