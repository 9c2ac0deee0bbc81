"""Fixtures for the API tests: a fixture model, databases, apps and keyed clients.

The fixture model (``tests.support.fixture_model``) is fitted here on random data, so these tests
do not depend on the training package. Database-facing tests run on SQLite always and
on PostgreSQL when ``TARVE_TEST_POSTGRES_URL`` is set (each test in its own schema,
dropped afterwards).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from models.model import ServiceNeedModel
from service.app import create_app
from service.auth import Role, create_key
from service.settings import Settings
from tests.support.fixture_model import random_profile, save_fixture_model

POSTGRES_ENV = "TARVE_TEST_POSTGRES_URL"


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Save the fixture model, version ``fixture-1``."""
    return save_fixture_model(tmp_path_factory.mktemp("model") / "v1", seed=0, version="fixture-1")


@pytest.fixture(scope="session")
def second_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another fixture model (other data), version ``fixture-2``."""
    return save_fixture_model(
        tmp_path_factory.mktemp("model") / "v2", seed=1, trees=15, version="fixture-2"
    )


@pytest.fixture(scope="session")
def fixture_model(model_dir: Path) -> ServiceNeedModel:
    return ServiceNeedModel.load(model_dir)


@pytest.fixture
def profile(fixture_model: ServiceNeedModel) -> dict[str, Any]:
    """Return a valid profile with every field present."""
    return random_profile(fixture_model.schema, np.random.default_rng(42), missing_rate=0.0)


def _postgres_url(base: str, schema: str) -> str:
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options=-csearch_path%3D{schema}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Give a fresh, empty database: SQLite, and PostgreSQL when its URL is set."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'service.db'}"
        return
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    schema = f"tarve_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _postgres_url(base, schema)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'service.db'}"


@dataclass
class Api:
    """A running app (lifespan entered), its client and one key per role."""

    app: Any
    client: TestClient
    keys: dict[str, str]

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}

    def post(self, path: str, role: str = "caseworker", **kwargs: Any) -> Any:
        headers = {**self.headers(role), **kwargs.pop("headers", {})}
        return self.client.post(path, headers=headers, **kwargs)

    def get(self, path: str, role: str = "caseworker", **kwargs: Any) -> Any:
        headers = {**self.headers(role), **kwargs.pop("headers", {})}
        return self.client.get(path, headers=headers, **kwargs)


def make_settings(model_uri: str | Path, database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "model_uri": str(model_uri),
        "database_url": database_url,
        "key_cache_seconds": 0,
        # No spool or local model copy under a shared TARVE_HOME: tests that need them
        # name a directory of their own.
        "audit_spool_path": None,
        "model_local_copy": None,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def start_api() -> Iterator[Callable[..., Api]]:
    """Give a factory: start an app with these settings, keys for every role."""
    started: list[TestClient] = []

    def start(settings: Settings, *, raise_server_exceptions: bool = True) -> Api:
        app = create_app(settings)
        client = TestClient(app, raise_server_exceptions=raise_server_exceptions)
        client.__enter__()
        started.append(client)
        keys = {
            role.value: create_key(app.state.database, name=f"test-{role.value}", role=role)[1]
            for role in Role
        }
        return Api(app=app, client=client, keys=keys)

    yield start
    for client in reversed(started):
        client.__exit__(None, None, None)


@pytest.fixture
def api(start_api: Callable[..., Api], model_dir: Path, sqlite_url: str) -> Api:
    """Start the app on SQLite with the fixture model."""
    return start_api(make_settings(model_dir, sqlite_url))


@pytest.fixture
def api_any_db(start_api: Callable[..., Api], model_dir: Path, database_url: str) -> Api:
    """Start the app with the fixture model, on SQLite and (when configured) PostgreSQL."""
    return start_api(make_settings(model_dir, database_url))
