"""Alembic migrations create exactly the tables the models describe, on both backends."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from service.db import Base, Database, alembic_config


def test_migrations_match_the_models_and_are_idempotent(database_url: str) -> None:
    database = Database(database_url)
    try:
        database.upgrade()
        database.upgrade()
        with database.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
            assert context.get_current_revision() == "0003"
        tables = set(inspect(database.engine).get_table_names())
        assert {"api_keys", "audit_log", "feedback", "alembic_version"} <= tables
    finally:
        database.dispose()


def test_downgrade_removes_the_tables(database_url: str) -> None:
    database = Database(database_url)
    try:
        database.upgrade()
        config = alembic_config()
        with database.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "base")
        tables = set(inspect(database.engine).get_table_names())
        assert not {"api_keys", "audit_log", "feedback"} & tables
    finally:
        database.dispose()
