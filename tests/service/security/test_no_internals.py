"""No answer shows SQL, SQL parameters, the registry's URL or the database's URL."""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from service.problems import without_internals
from tests.service.conftest import Api, make_settings, start_api  # noqa: F401

MODEL_URI = "models:/tarve-service-need@production"
LEAKS = ("[SQL", "[parameters", "CREATE TABLE", "sqlite:", "sqlalche.me", "Background on")


def _assert_no_internals(response: Any, *secrets: str) -> None:
    for leak in (*LEAKS, *secrets):
        assert leak not in response.text, (leak, response.text)


def _broken_registry(path: Path) -> str:
    """Make a SQLite MLflow store MLflow cannot create its tables in: errors carry SQL."""
    with sqlite3.connect(path) as connection:
        connection.execute("create table registered_models (name text)")
        connection.execute("create table alembic_version (version_num varchar(32) primary key)")
    return f"sqlite:///{path}"


def test_a_registry_failing_in_sql_shows_no_sql_in_any_answer(
    start_api: Callable[..., Api],  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    profile: dict[str, Any],
) -> None:
    registry = _broken_registry(tmp_path / "mlflow.db")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", registry)
    database_url = f"sqlite:///{tmp_path / 'service.db'}"
    api = start_api(
        make_settings(
            MODEL_URI, database_url, registry_timeout_seconds=20, registry_retry_seconds=60
        )
    )
    holder = api.app.state.holder
    assert holder.current is None
    assert "[SQL:" in str(holder.last_error)  # what the answers must not pass on

    reload = api.post("/v1/admin/reload", role="admin")
    ready = api.client.get("/readyz")  # no key
    recommend = api.post("/v1/recommendations", json={"client_ref": "c-1", "profile": profile})

    assert reload.status_code == 409
    assert reload.json()["type"] == "/problems/model-rejected"
    assert "table registered_models already exists" in reload.json()["detail"]  # the reason
    assert ready.status_code == 503
    assert recommend.status_code == 503
    for response in (reload, ready, recommend):
        _assert_no_internals(response, registry, str(tmp_path))


def test_an_unreachable_registry_url_is_not_shown(
    start_api: Callable[..., Api],  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    profile: dict[str, Any],
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the block ends: nobody answers
    registry = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", registry)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    database_url = f"sqlite:///{tmp_path / 'service.db'}"
    api = start_api(
        make_settings(
            MODEL_URI, database_url, registry_timeout_seconds=3, registry_retry_seconds=60
        )
    )

    ready = api.client.get("/readyz")
    recommend = api.post("/v1/recommendations", json={"client_ref": "c-1", "profile": profile})
    reload = api.post("/v1/admin/reload", role="admin")

    assert ready.status_code == 503
    assert "model" in ready.json()["detail"]
    assert recommend.status_code == 503
    assert reload.status_code in (409, 503)
    for response in (ready, recommend, reload):
        _assert_no_internals(response, registry, f"127.0.0.1:{port}")


def test_the_service_database_hides_sql_parameters(api: Api) -> None:
    engine = api.app.state.database.engine

    with pytest.raises(sa.exc.OperationalError) as raised, engine.connect() as connection:
        connection.execute(sa.text("select * from nowhere where ref = :ref"), {"ref": "c-9999"})

    assert "c-9999" not in str(raised.value)
    assert "hidden" in str(raised.value)


@pytest.mark.parametrize(
    ("text", "kept", "dropped"),
    [
        (
            "(sqlite3.OperationalError) no such table: x\n[SQL: SELECT * FROM x WHERE r = ?]\n"
            "[parameters: ('c-1',)]\n(Background on this error at: https://sqlalche.me/e/20/e3q8)",
            "no such table: x",
            ["SELECT", "c-1", "sqlalche.me"],
        ),
        (
            'connection to server at "pg.internal" (10.0.0.5), port 5432 failed: timeout',
            "failed: timeout",
            ["pg.internal", "10.0.0.5", "5432"],
        ),
        (
            "cannot reach http://mlflow.internal:5000/api/2.0 nor "
            "postgresql+psycopg://tarve:pw@db/tarve",
            "cannot reach",
            ["mlflow.internal", "pw@db", "postgresql"],
        ),
        ("host=db.internal dbname=tarve user=tarve", "host=", ["db.internal"]),
        (f"loading {MODEL_URI} from /srv/model", MODEL_URI, []),
    ],
)
def test_without_internals(text: str, kept: str, dropped: list[str]) -> None:
    public = without_internals(text)

    assert kept in public
    for part in dropped:
        assert part not in public
