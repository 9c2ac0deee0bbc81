"""Serving ``models:/tarve-service-need@production`` from an MLflow registry, and reloading.

The registry is a throw-away SQLite store; the versions are the fixture models' artifact
directories logged as run artifacts (what the API needs is the artifact directory; the
pyfunc wrapper the training package logs around it is not read by the API).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.service.conftest import Api, make_settings

MODEL_NAME = "tarve-service-need"


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    mlflow = pytest.importorskip("mlflow")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("TARVE_HOME", str(tmp_path / "home"))
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    experiment = mlflow.create_experiment(
        "service-tests", artifact_location=(tmp_path / "art").as_uri()
    )
    client = mlflow.MlflowClient()
    client.create_registered_model(MODEL_NAME)

    def register(directory: Path) -> str:
        with mlflow.start_run(experiment_id=experiment) as run:
            mlflow.log_artifacts(str(directory), artifact_path="model")
        version = client.create_model_version(
            MODEL_NAME, source=f"{run.info.artifact_uri}/model", run_id=run.info.run_id
        )
        return str(version.version)

    client.register = register  # type: ignore[attr-defined]
    yield client
    mlflow.set_tracking_uri(previous)
    mlflow.set_registry_uri(previous)


def test_serves_the_alias_and_follows_it_on_reload(
    registry: Any,
    start_api: Callable[..., Api],
    model_dir: Path,
    second_model_dir: Path,
    sqlite_url: str,
    profile: dict[str, Any],
) -> None:
    first = registry.register(model_dir)
    second = registry.register(second_model_dir)
    registry.set_registered_model_alias(MODEL_NAME, "production", first)
    api = start_api(make_settings(f"models:/{MODEL_NAME}@production", sqlite_url))

    described = api.get("/v1/model").json()
    assert described["version"] == first
    assert described["alias"] == "production"
    assert described["uri"] == f"models:/{MODEL_NAME}@production"
    unchanged = api.post("/v1/admin/reload", role="admin").json()
    assert unchanged["version"] == first

    registry.set_registered_model_alias(MODEL_NAME, "production", second)
    reloaded = api.post("/v1/admin/reload", role="admin")

    assert reloaded.status_code == 200
    assert reloaded.json()["previous_version"] == first
    assert reloaded.json()["version"] == second
    body = api.post("/v1/recommendations", json={"client_ref": "c", "profile": profile}).json()
    assert body["model"] == {"name": MODEL_NAME, "version": second, "alias": "production"}


def test_a_missing_alias_leaves_the_api_unready(
    registry: Any, start_api: Callable[..., Api], sqlite_url: str
) -> None:
    api = start_api(make_settings(f"models:/{MODEL_NAME}@production", sqlite_url))
    ready = api.client.get("/readyz")
    assert ready.status_code == 503
    assert "production" in ready.json()["detail"]
