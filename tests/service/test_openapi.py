"""The OpenAPI document is generated from the served model's schema and follows reloads."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from models.schema import Schema, load_schema
from service.request_model import request_fields
from tests.service.conftest import Api, make_settings
from tests.support.fixture_model import save_fixture_model


def _schemas(api: Api) -> dict[str, Any]:
    document = api.client.get("/openapi.json").json()
    return dict(document["components"]["schemas"])


def test_request_schema_matches_the_model_schema(api: Api) -> None:
    schema = load_schema()
    components = _schemas(api)
    profile = components["ClientProfile"]
    fields = {spec.name: spec for spec in request_fields(schema)}

    assert set(profile["properties"]) == set(fields)
    assert profile["additionalProperties"] is False
    assert set(profile["required"]) == {
        name
        for name, spec in fields.items()
        if not spec.nullable and not schema.sources[spec.source].consent_required
    }
    assert "gender" not in profile["properties"], "not a model input: not accepted"
    age = profile["properties"]["age"]
    assert (age["type"], age["minimum"], age["maximum"]) == ("integer", 16, 70)
    assert age["x-protected"] is True
    municipality = profile["properties"]["municipality"]
    assert municipality["enum"] == fields["municipality"].categories
    score = profile["properties"]["work_ability_score"]
    assert {"type": "number", "minimum": 0.0, "maximum": 10.0} in score["anyOf"]
    assert score["x-source"] == "kykyviisari"
    request = components["RecommendationRequest"]
    assert request["additionalProperties"] is False
    assert request["properties"]["consents"]["items"]["enum"] == [
        "kykyviisari",
        "health",
        "language_test",
    ]
    assert request["properties"]["client_ref"]["pattern"]
    assert {"FeedbackRequest", "BatchRecommendationRequest", "NotFollowed"} <= set(components)
    feedback_service = components["NotFollowed"]["properties"]["service"]
    assert "pay_subsidy" in feedback_service["enum"]


def test_operations_reference_the_generated_schemas(api: Api) -> None:
    document = api.client.get("/openapi.json").json()
    operation = document["paths"]["/v1/recommendations"]["post"]
    media = operation["requestBody"]["content"]["application/json"]
    assert media["schema"] == {"$ref": "#/components/schemas/RecommendationRequest"}
    example = media["example"]
    assert api.post("/v1/recommendations", json=example).status_code == 200
    assert "application/problem+json" in operation["responses"]["422"]["content"]
    assert "fixture-1" in document["info"]["description"]
    security = document["components"]["securitySchemes"]
    assert {"HTTPBearer", "APIKeyHeader"} <= set(security)
    assert api.client.get("/docs").status_code == 200


@pytest.fixture
def narrower_model_dir(tmp_path: Path) -> Path:
    """Save a model whose schema says age is at most 65 and drops the driving-licence field."""
    raw = load_schema().model_dump(mode="json", exclude_none=True)
    for spec in raw["fields"]:
        if spec["name"] == "age":
            spec["max"] = 65
    raw["fields"] = [spec for spec in raw["fields"] if spec["name"] != "driving_licence"]
    schema = Schema.model_validate(raw)
    return save_fixture_model(tmp_path / "narrow", schema=schema, rows=800, trees=5, version="n-1")


def test_openapi_follows_a_reload_to_another_schema(
    start_api: Callable[..., Api],
    tmp_path: Path,
    model_dir: Path,
    narrower_model_dir: Path,
    sqlite_url: str,
    profile: dict[str, Any],
) -> None:
    live = tmp_path / "live"
    shutil.copytree(model_dir, live)
    api = start_api(make_settings(live, sqlite_url))
    assert _schemas(api)["ClientProfile"]["properties"]["age"]["maximum"] == 70

    shutil.rmtree(live)
    shutil.copytree(narrower_model_dir, live)
    assert api.post("/v1/admin/reload", role="admin").status_code == 200

    profile_schema = _schemas(api)["ClientProfile"]
    assert profile_schema["properties"]["age"]["maximum"] == 65
    assert "driving_licence" not in profile_schema["properties"]
    old_profile = api.post("/v1/recommendations", json={"client_ref": "c", "profile": profile})
    assert old_profile.status_code == 422
    assert {e["pointer"] for e in old_profile.json()["errors"]} >= {"#/profile/driving_licence"}


def test_every_problem_the_server_sends_is_documented_as_problem_json(api: Api) -> None:
    document = api.client.get("/openapi.json").json()
    seen: set[tuple[str, str, str]] = set()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            expected = {"422"} | ({"429"} if path != "/healthz" else set())
            if operation.get("security"):
                expected |= {"401", "403", "503"}
            if "requestBody" in operation:
                expected |= {"400", "408", "413", "415"}
            if "{" in path:
                expected.add("404")
            assert expected <= set(responses), (method, path, expected - set(responses))
            for status, response in responses.items():
                if int(status) >= 400:
                    assert list(response["content"]) == ["application/problem+json"], status
                    seen.add((method, path, status))
    assert ("post", "/v1/recommendations", "400") in seen
    assert ("get", "/v1/admin/keys", "403") in seen
    assert ("delete", "/v1/admin/keys/{name}", "404") in seen
    assert "Retry-After" in document["paths"]["/v1/services"]["get"]["responses"]["429"]["headers"]
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_the_documented_problems_are_the_ones_sent(api: Api) -> None:
    too_deep = api.post(
        "/v1/feedback",
        content=b"[" * 100 + b"]" * 100,
        headers={"content-type": "application/json"},
    )
    forbidden = api.get("/v1/admin/keys")
    missing = api.client.delete("/v1/admin/keys/nobody", headers=api.headers("admin"))
    for response, status in ((too_deep, 400), (forbidden, 403), (missing, 404)):
        assert response.status_code == status
        assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/v1/admin/keys", "GET, POST"),
        ("DELETE", "/v1/admin/keys", "GET, POST"),
        ("GET", "/v1/admin/keys/someone", "DELETE"),
        ("GET", "/v1/recommendations", "POST"),
        ("POST", "/v1/services", "GET"),
    ],
)
def test_a_405_allows_every_method_of_the_path(
    api: Api, method: str, path: str, allowed: str
) -> None:
    response = api.client.request(method, path, headers=api.headers("admin"))
    assert response.status_code == 405
    assert response.headers["allow"] == allowed
    assert response.headers["content-type"] == "application/problem+json"
