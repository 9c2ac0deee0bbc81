"""The API watches its feed: per-field drift gauges and the latest summary in /v1/model."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from models.drift import build_reference, write_reference
from models.model import ServiceNeedModel
from tests.service.conftest import Api, make_settings
from tests.support.fixture_model import random_profile

CONSENTS = ["kykyviisari", "health", "language_test"]
PROFILES = 300


@pytest.fixture(scope="module")
def watched_model_dir(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Copy the fixture model and give it a feed reference made from profiles like the requests."""
    directory = tmp_path_factory.mktemp("watched") / "model"
    shutil.copytree(model_dir, directory)
    schema = ServiceNeedModel.load(directory).schema
    rng = np.random.default_rng(3)
    frame = pd.DataFrame([random_profile(schema, rng) for _ in range(3000)])
    for source in CONSENTS:
        frame[str(schema.sources[source].consent_column)] = True
    write_reference(build_reference(frame, schema), directory)
    return directory


def _clients(
    schema: Any, *, seed: int, change: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    clients = []
    for i in range(PROFILES):
        profile = random_profile(schema, rng)
        profile.update(change or {})
        clients.append({"client_ref": f"c-{seed}-{i}", "consents": CONSENTS, "profile": profile})
    return clients


def _post(api: Api, clients: list[dict[str, Any]]) -> None:
    response = api.post("/v1/recommendations/batch", json={"clients": clients, "explain": False})
    assert response.status_code == 200, response.text[:300]


def test_served_profiles_are_compared_with_the_training_profile(
    start_api: Callable[..., Api], watched_model_dir: Path, sqlite_url: str
) -> None:
    api = start_api(make_settings(watched_model_dir, sqlite_url))
    schema = api.app.state.holder.get().model.schema
    assert api.get("/v1/model").json()["drift"]["status"] == "collecting"
    _post(api, _clients(schema, seed=11))
    drift = api.get("/v1/model").json()["drift"]
    assert drift["status"] == "compared"
    assert drift["window_profiles"] == PROFILES
    assert drift["passed"] is True, drift["failures"]
    metrics = api.get("/metrics", role="admin").text
    assert 'tarve_feed_drift_psi{field="work_ability_score"}' in metrics
    assert 'tarve_feed_drift_js_distance{field="age"}' in metrics
    assert "tarve_feed_guard_passed 1.0" in metrics


def test_a_broken_feed_shows_in_the_gauges(
    start_api: Callable[..., Api], watched_model_dir: Path, sqlite_url: str
) -> None:
    api = start_api(make_settings(watched_model_dir, sqlite_url))
    schema = api.app.state.holder.get().model.schema
    _post(api, _clients(schema, seed=12, change={"work_ability_score": 0.0}))
    drift = api.get("/v1/model").json()["drift"]
    assert drift["passed"] is False
    assert {"field": "work_ability_score", "statistic": "constant"}.items() <= next(
        f for f in drift["failures"] if f["statistic"] == "constant"
    ).items()
    assert "tarve_feed_guard_passed 0.0" in api.get("/metrics", role="admin").text
