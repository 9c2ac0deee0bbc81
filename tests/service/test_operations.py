"""Health, readiness, Prometheus metrics, problem documents, errors without stack traces."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import service.routes.recommendations as recommendations_route
from service.problems import PROBLEM_TYPES
from tests.service.conftest import Api, make_settings


def test_health_and_readiness(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    ready = api.client.get("/readyz").json()
    assert ready == {
        "status": "ready",
        "model": {"name": "tarve-service-need", "version": "fixture-1", "alias": None},
        "database": "ok",
    }


def test_readyz_reports_an_unreachable_database(
    start_api: Callable[..., Api], model_dir: Path, tmp_path: Path
) -> None:
    database = tmp_path / "db.sqlite"
    api = start_api(make_settings(model_dir, f"sqlite:///{database}"))
    api.app.state.database.engine.dispose()
    database.unlink()
    database.mkdir()  # a directory where the file was: SQLite cannot open it
    ready = api.client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["reasons"] == ["database: OperationalError"]


def test_metrics_count_requests_latency_model_and_predictions(
    api: Api, profile: dict[str, Any]
) -> None:
    for _ in range(2):
        api.post("/v1/recommendations", json={"client_ref": "c", "profile": profile})
    api.post("/v1/recommendations", json={"client_ref": "c", "profile": {}})
    api.client.get("/v1/nowhere")

    text = api.get("/metrics", role="admin").text

    assert (
        'tarve_http_requests_total{method="POST",route="/v1/recommendations",status="200"} 2.0'
        in text
    )
    assert (
        'tarve_http_requests_total{method="POST",route="/v1/recommendations",status="422"} 1.0'
        in text
    )
    assert 'route="<unmatched>",status="404"' in text
    assert (
        'tarve_http_request_duration_seconds_count{method="POST",route="/v1/recommendations",'
        'status="200"} 2.0' in text
    )
    assert 'tarve_model_info{alias="",name="tarve-service-need",version="fixture-1"} 1.0' in text
    assert "tarve_model_loaded 1.0" in text
    predicted = [
        line
        for line in text.splitlines()
        if line.startswith("tarve_predictions_total{") and 'service="pay_subsidy"' in line
    ]
    assert sum(float(line.rsplit(" ", 1)[1]) for line in predicted) == 2.0
    assert "process_resident_memory_bytes" in text


def test_unknown_paths_and_methods_are_problems(api: Api) -> None:
    missing = api.client.get("/v1/nowhere")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["type"] == "/problems/not-found"
    wrong = api.client.get("/v1/recommendations", headers=api.headers("caseworker"))
    assert wrong.status_code == 405
    assert wrong.json()["type"] == "/problems/method-not-allowed"


def test_an_unexpected_error_is_a_500_problem_without_details(
    start_api: Callable[..., Api],
    model_dir: Path,
    sqlite_url: str,
    profile: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    api = start_api(make_settings(model_dir, sqlite_url), raise_server_exceptions=False)

    def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(recommendations_route, "recommend", explode)
    response = api.post("/v1/recommendations", json={"client_ref": "c", "profile": profile})

    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/internal-error"
    assert "secret internal detail" not in response.text
    assert "Traceback" not in response.text
    assert response.json()["request_id"]


def test_problem_types_are_documented_at_their_uri(api: Api) -> None:
    for slug, problem in PROBLEM_TYPES.items():
        document = api.client.get(problem.uri)
        assert document.status_code == 200, slug
        assert document.json()["status"] == problem.status
    assert api.client.get("/problems/nope").status_code == 404


def test_catalogue_and_model_description(api: Api) -> None:
    services = api.get("/v1/services").json()
    assert services["model"]["version"] == "fixture-1"
    by_id = {service["id"]: service for service in services["services"]}
    assert len(by_id) == 12
    assert by_id["pay_subsidy"]["names"] == {
        "fi": "palkkatuki",
        "sv": "lönesubvention",
        "en": "pay subsidy",
    }
    youth = by_id["youth_guidance"]["eligibility"]
    assert youth["rule"] == {"field": "age", "op": "lt", "value": 30}
    assert youth["text"]["sv"] == "Navigatorn betjänar personer under 30 år."
    assert by_id["pay_subsidy"]["eligibility"] is None
    assert by_id["pay_subsidy"]["threshold"] == 0.35

    model = api.get("/v1/model", role="auditor").json()
    assert model["name"] == "tarve-service-need"
    assert model["version"] == "fixture-1"
    assert model["trained_at"] == "2026-01-01T00:00:00+00:00"
    assert model["metrics"] == {"roc_auc_mean": 0.75}
    assert model["schema"]["name"] == "finnish-jobseeker-register"
    assert len(model["services"]) == 12
    assert {source["id"]: source["consent_required"] for source in model["sources"]} == {
        "register": False,
        "kykyviisari": True,
        "health": True,
        "language_test": True,
    }
    assert "gender" not in model["request_fields"]
