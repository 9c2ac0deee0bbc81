"""tarve keys create/list/revoke, tarve db upgrade, tarve serve (arguments only)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from service import cli
from service.auth import hash_key
from service.db import ApiKey, Database


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="tarve")
    subparsers = parser.add_subparsers(dest="command", required=True)
    cli.register(subparsers)
    args = parser.parse_args(argv)
    return int(args.handler(args))


@pytest.fixture
def database_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("TARVE_DATABASE_URL", database_url)
    return database_url


def test_keys_lifecycle(database_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["db", "upgrade"]) == 0
    assert "database at head" in capsys.readouterr().out

    assert _run(["keys", "create", "--role", "caseworker", "--name", "ura-prod"]) == 0
    printed = capsys.readouterr().out
    token = next(line for line in printed.splitlines() if line.startswith("tarve_caseworker_"))
    database = Database(database_env)
    try:
        with database.session() as session:
            stored = session.query(ApiKey).filter_by(name="ura-prod").one()
            assert stored.key_hash == hash_key(token)
    finally:
        database.dispose()

    assert _run(["keys", "create", "--role", "admin", "--name", "ura-prod"]) == 2
    assert "exists already" in capsys.readouterr().err
    assert _run(["keys", "list"]) == 0
    listing = capsys.readouterr().out
    assert "ura-prod" in listing
    assert "caseworker" in listing
    assert token not in listing
    assert _run(["keys", "revoke", "--name", "ura-prod"]) == 0
    assert _run(["keys", "revoke", "--name", "ura-prod"]) == 1


def test_serve_builds_the_app_with_the_given_model(
    monkeypatch: pytest.MonkeyPatch, model_dir: Path, tmp_path: Path
) -> None:
    monkeypatch.setenv("TARVE_DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite'}")
    calls: dict[str, Any] = {}

    def fake_run(server: Any) -> None:
        calls["app"] = server.config.app
        calls.update(host=server.config.host, port=server.config.port)

    import uvicorn

    monkeypatch.setattr(uvicorn.Server, "run", fake_run)
    assert _run(["serve", "--model", str(model_dir), "--port", "8123"]) == 0
    assert calls["host"] == "127.0.0.1"
    assert calls["port"] == 8123
    assert calls["app"].state.settings.model_uri == str(model_dir)
