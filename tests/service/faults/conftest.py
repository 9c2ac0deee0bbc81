"""Fixtures of the fault suite: a PostgreSQL schema reached through a proxy the test controls."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tests.service.conftest import POSTGRES_ENV
from tests.service.faults.tcp_proxy import TcpProxy


@dataclass
class ProxiedPostgres:
    """A fresh schema: ``url`` goes through ``proxy``, ``direct_url`` does not."""

    url: str
    direct_url: str
    proxy: TcpProxy


def _with_schema(url: str, schema: str) -> str:
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options=-csearch_path%3D{schema}"


@pytest.fixture
def proxied_postgres() -> Iterator[ProxiedPostgres]:
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    parsed = make_url(base)
    proxy = TcpProxy((parsed.host or "127.0.0.1", parsed.port or 5432))
    schema = f"tarve_fault_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    proxied = parsed.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    try:
        yield ProxiedPostgres(_with_schema(proxied, schema), _with_schema(base, schema), proxy)
    finally:
        proxy.close()
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
