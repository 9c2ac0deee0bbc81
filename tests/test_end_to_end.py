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
