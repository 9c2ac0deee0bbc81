"""Fixtures of the security tests: one app per module (starting one costs seconds)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.auth import Role, create_key
from tests.service.conftest import (  # noqa: F401
    Api,
    fixture_model,
    make_settings,
    model_dir,
    profile,
)


@pytest.fixture(scope="module")
def api(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:  # noqa: F811
    """Start the app once for the module: SQLite, the fixture model, a key per role."""
    url = f"sqlite:///{tmp_path_factory.mktemp('security') / 'service.db'}"
    app = create_app(make_settings(model_dir, url))
    with TestClient(app) as client:
        keys = {
            role.value: create_key(app.state.database, name=f"test-{role.value}", role=role)[1]
            for role in Role
        }
        yield Api(app=app, client=client, keys=keys)
