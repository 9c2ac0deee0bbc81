"""`make run`'s main job end to end: synthetic register -> train -> promote -> API answer."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.settings import Settings
from tarve.cli import main


@pytest.mark.slow
def test_demo_trains_promotes_and_the_api_serves_the_production_model(
    mlflow_tracking: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--rows", "4000", "--no-serve"]) == 0
    printed = capsys.readouterr().out
    assert "promoted tarve-service-need version 1 to 'production'" in printed
    caseworker_key = re.search(r"caseworker key: (\S+)", printed)
    request_file = re.search(r"-d @(\S+)", printed)
    assert caseworker_key
    assert request_file

    home_db = Path(mlflow_tracking.removeprefix("sqlite:///")).parent / "tarve_home" / "tarve.db"
    settings = Settings(database_url=f"sqlite:///{home_db}")
    with TestClient(create_app(settings)) as client:
        response = client.post(
            "/v1/recommendations?lang=en&top_k=3",
            headers={
                "Authorization": f"Bearer {caseworker_key.group(1)}",
                "Content-Type": "application/json",
            },
            content=Path(request_file.group(1)).read_bytes(),
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == {"name": "tarve-service-need", "version": "1", "alias": "production"}
    assert len(body["suggestions"]) == 3
    first = body["suggestions"][0]
    assert first["reasons"]
    assert first["reasons"][0]["text"]
    assert json.loads(Path(request_file.group(1)).read_text())["client_ref"] == body["client_ref"]


def _production_version(tmp_path: Path, tags: dict[str, str]) -> str:
    """Register a version of the demo's model with ``tags`` and point ``production`` at it."""
    from mlflow import MlflowClient

    from models.store import DEFAULT_REGISTERED_MODEL, PRODUCTION_ALIAS

    client = MlflowClient()
    client.create_registered_model(DEFAULT_REGISTERED_MODEL)
    source = tmp_path / "own-model"
    source.mkdir()
    version = client.create_model_version(DEFAULT_REGISTERED_MODEL, source.as_uri(), tags=tags)
    client.set_registered_model_alias(DEFAULT_REGISTERED_MODEL, PRODUCTION_ALIAS, version.version)
    return str(version.version)


def test_demo_refuses_to_move_a_production_alias_it_did_not_set(
    mlflow_tracking: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tarve.demo import MSG_ALIAS_NOT_OURS, foreign_production_alias

    version = _production_version(tmp_path, tags={"owner": "a data scientist"})
    assert main(["demo", "--rows", "4000", "--no-serve"]) == 1
    captured = capsys.readouterr()
    assert f"points to version {version}, which the demo did not promote" in captured.err
    assert "tarve demo --reset" in captured.err
    assert "synthetic register" not in captured.out  # refused before doing anything
    assert MSG_ALIAS_NOT_OURS.split("{")[0] in captured.err
    assert foreign_production_alias(reset=True) is None


def test_demo_may_move_a_production_alias_it_set_itself(
    mlflow_tracking: str, tmp_path: Path
) -> None:
    from tarve.demo import TAG_DEMO, foreign_production_alias

    _production_version(tmp_path, tags={TAG_DEMO: "true"})
    assert foreign_production_alias(reset=False) is None


def test_demo_key_names_never_look_like_an_identity_code() -> None:
    import datetime as dt

    from service.auth import check_key_name
    from tarve.demo import STAMP_FORMAT

    start = dt.datetime(2026, 12, 1, 17, 6, 5, tzinfo=dt.UTC)  # failed with the old format
    for seconds in range(0, 366 * 86_400, 613):
        stamp = (start + dt.timedelta(seconds=seconds)).strftime(STAMP_FORMAT)
        check_key_name(f"demo-caseworker-{stamp}")
