"""Model reload: atomic swap, in-flight requests keep their model, broken models rejected."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import service.routes.recommendations as recommendations_route
from models.artifact import MANIFEST
from service.model_holder import ModelHolder
from service.problems import ModelRejected, ModelUnavailable
from tests.service.conftest import Api, make_settings


@pytest.fixture
def live_dir(tmp_path: Path, model_dir: Path) -> Path:
    """Copy the fixture model to a directory the test may overwrite (fixture-1)."""
    target = tmp_path / "live"
    shutil.copytree(model_dir, target)
    return target


def _replace(live: Path, source: Path) -> None:
    shutil.rmtree(live)
    shutil.copytree(source, live)


def _version(api: Api, profile: dict[str, Any]) -> str:
    response = api.post("/v1/recommendations", json={"client_ref": "c", "profile": profile})
    assert response.status_code == 200
    return str(response.json()["model"]["version"])


def _break_booster(live: Path) -> None:
    booster = next((live / "boosters").glob("*.txt"))
    booster.write_text("this is not a LightGBM model\n")


def _nan_calibrator(live: Path) -> None:
    manifest = json.loads((live / MANIFEST).read_text())
    service = manifest["services"][0]
    manifest["calibrators"][service] = {"kind": "isotonic", "x": [0.0, 1.0], "y": [None, None]}
    (live / MANIFEST).write_text(json.dumps(manifest).replace("null", "NaN"))


def test_reload_swaps_to_the_new_version(
    start_api: Callable[..., Api],
    live_dir: Path,
    second_model_dir: Path,
    sqlite_url: str,
    profile: dict[str, Any],
) -> None:
    api = start_api(make_settings(live_dir, sqlite_url))
    assert _version(api, profile) == "fixture-1"
    _replace(live_dir, second_model_dir)

    response = api.post("/v1/admin/reload", role="admin")

    assert response.status_code == 200
    assert response.json() == {
        "changed": True,
        "previous_version": "fixture-1",
        "version": "fixture-2",
        "model": {"name": "tarve-service-need", "version": "fixture-2", "alias": None},
    }
    assert _version(api, profile) == "fixture-2"
    metrics = api.get("/metrics", role="admin").text
    assert 'tarve_model_info{alias="",name="tarve-service-need",version="fixture-2"} 1.0' in metrics
    assert 'version="fixture-1"' not in metrics


@pytest.mark.parametrize("breakage", [_break_booster, _nan_calibrator], ids=["load", "smoke"])
def test_a_broken_model_is_rejected_and_the_old_one_keeps_serving(
    start_api: Callable[..., Api],
    live_dir: Path,
    sqlite_url: str,
    profile: dict[str, Any],
    breakage: Callable[[Path], None],
) -> None:
    api = start_api(make_settings(live_dir, sqlite_url))
    breakage(live_dir)

    response = api.post("/v1/admin/reload", role="admin")

    assert response.status_code == 409
    problem = response.json()
    assert problem["type"] == "/problems/model-rejected"
    assert "Traceback" not in response.text
    assert _version(api, profile) == "fixture-1"
    assert api.client.get("/readyz").status_code == 200
    metrics = api.get("/metrics", role="admin").text
    assert 'tarve_model_reloads_total{result="rejected"} 1.0' in metrics


def test_in_flight_requests_finish_on_the_old_model(
    start_api: Callable[..., Api],
    live_dir: Path,
    second_model_dir: Path,
    sqlite_url: str,
    profile: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    api = start_api(make_settings(live_dir, sqlite_url))
    inside = threading.Event()
    release = threading.Event()
    original = recommendations_route.recommend
    seen: list[str] = []

    def slow_recommend(model: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(str(model.version))
        if len(seen) == 1:
            inside.set()
            assert release.wait(30)
        return original(model, *args, **kwargs)

    monkeypatch.setattr(recommendations_route, "recommend", slow_recommend)
    answers: list[Any] = []
    worker = threading.Thread(
        target=lambda: answers.append(
            api.post("/v1/recommendations", json={"client_ref": "slow", "profile": profile})
        )
    )
    worker.start()
    try:
        assert inside.wait(30)
        _replace(live_dir, second_model_dir)
        assert api.post("/v1/admin/reload", role="admin").status_code == 200
        assert _version(api, profile) == "fixture-2", "new requests get the new model"
    finally:
        release.set()
        worker.join(30)
    assert answers[0].status_code == 200
    assert answers[0].json()["model"]["version"] == "fixture-1"
    assert seen == ["fixture-1", "fixture-2"]


def test_holder_swaps_references_atomically(
    live_dir: Path, second_model_dir: Path, profile: dict[str, Any]
) -> None:
    holder = ModelHolder(str(live_dir), batch_limit=10)
    with pytest.raises(ModelUnavailable):
        holder.get()
    holder.reload()
    before = holder.get()
    _replace(live_dir, second_model_dir)
    outcome = holder.reload(force=False)
    after = holder.get()
    assert outcome.changed
    assert before is not after
    assert before.version == "fixture-1"
    assert after.version == "fixture-2"
    assert before.model.predict_matrix(before.model.encode_records([profile])).shape == (1, 12)
    assert not holder.reload(force=False).changed
    _break_booster(live_dir)
    with pytest.raises(ModelRejected):
        holder.reload()
    assert holder.get() is after
    assert holder.last_error is not None
    assert "rejected" in holder.last_error


def test_polling_picks_up_a_new_version(
    start_api: Callable[..., Api],
    live_dir: Path,
    second_model_dir: Path,
    sqlite_url: str,
    profile: dict[str, Any],
) -> None:
    api = start_api(make_settings(live_dir, sqlite_url, reload_interval_seconds=0.2))
    assert _version(api, profile) == "fixture-1"
    _replace(live_dir, second_model_dir)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and api.app.state.holder.get().version != "fixture-2":
        time.sleep(0.1)
    assert _version(api, profile) == "fixture-2"


def test_without_a_model_recommendations_are_503_and_readyz_says_why(
    start_api: Callable[..., Api], tmp_path: Path, sqlite_url: str
) -> None:
    api = start_api(make_settings(tmp_path / "no-such-model", sqlite_url))

    response = api.post("/v1/recommendations", json={"client_ref": "c", "profile": {}})
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/model-unavailable"
    for path in ("/v1/services", "/v1/model"):
        assert api.get(path).status_code == 503
    ready = api.client.get("/readyz")
    assert ready.status_code == 503
    assert "no-such-model" in ready.json()["detail"]
    assert ready.json()["reasons"][0].startswith("model:")
    assert api.client.get("/healthz").status_code == 200
    assert "tarve_model_loaded 0.0" in api.get("/metrics", role="admin").text
    openapi = api.client.get("/openapi.json").json()
    assert "RecommendationRequest" in openapi["components"]["schemas"]


def test_a_model_can_arrive_later(
    start_api: Callable[..., Api],
    tmp_path: Path,
    model_dir: Path,
    sqlite_url: str,
    profile: dict[str, Any],
) -> None:
    live = tmp_path / "later"
    api = start_api(make_settings(live, sqlite_url))
    assert api.client.get("/readyz").status_code == 503
    shutil.copytree(model_dir, live)
    assert api.post("/v1/admin/reload", role="admin").status_code == 200
    assert api.client.get("/readyz").json()["model"]["version"] == "fixture-1"
    assert _version(api, profile) == "fixture-1"
