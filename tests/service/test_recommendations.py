"""POST /v1/recommendations and /batch: ranking, options, languages, consent, batch limit."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from models.model import ServiceNeedModel
from models.recommend import recommend
from tests.service.conftest import Api, make_settings
from tests.support.fixture_model import random_profile

KYKY_FIELDS = ("work_ability_score", "kyky_health", "kyky_competence", "kyky_motivation")


def _request(profile: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"client_ref": "client-17", "consents": ["kykyviisari"], "profile": profile, **extra}


def test_ranks_every_service_with_model_and_sources(
    api: Api, profile: dict[str, Any], fixture_model: ServiceNeedModel
) -> None:
    response = api.post("/v1/recommendations", json=_request(profile))

    assert response.status_code == 200
    body = response.json()
    assert body["request_id"] == response.headers["x-request-id"]
    assert body["client_ref"] == "client-17"
    assert body["model"] == {"name": "tarve-service-need", "version": "fixture-1", "alias": None}
    assert body["sources_used"] == ["register", "kykyviisari"]
    assert body["lang"] == "fi"
    suggestions = body["suggestions"]
    assert sorted(s["service"] for s in suggestions) == sorted(fixture_model.services)
    eligible = [s for s in suggestions if s["eligible"]]
    assert suggestions[: len(eligible)] == eligible, "ineligible services come last"
    probabilities = [s["probability"] for s in eligible]
    assert probabilities == sorted(probabilities, reverse=True)
    expected = recommend(fixture_model, [profile], consents=["kykyviisari"], explain=False)[0]
    by_service = {s.service: s for s in expected}
    for suggestion in suggestions:
        reference = by_service[suggestion["service"]]
        assert abs(suggestion["probability"] - reference.probability) < 1e-12
        assert suggestion["recommended"] == reference.recommended
        if suggestion["eligible"]:
            assert 0 < len(suggestion["reasons"]) <= 5
        else:
            assert suggestion["reasons"] == [], "the excluding rule is the reason"
            assert suggestion["other_factors"] == []
    assert "server-timing" in response.headers


def test_ineligible_service_is_last_with_the_rule_in_the_callers_language(
    api: Api, profile: dict[str, Any]
) -> None:
    profile = {
        **profile,
        "business_plan": False,
        "age": 45,
        "unemployment_months": 3,
        "foreign_background": False,
    }
    for lang, text in (
        ("fi", "Starttiraha edellyttää liiketoimintasuunnitelmaa."),
        ("sv", "Startpeng förutsätter en affärsplan."),
        ("en", "A start-up grant requires a business plan."),
    ):
        body = api.post("/v1/recommendations", json=_request(profile, lang=lang)).json()
        by_service = {s["service"]: s for s in body["suggestions"]}
        grant = by_service["startup_grant"]
        assert grant["eligible"] is False
        assert grant["recommended"] is False
        assert grant["ineligibility_reason"] == text
        ineligible = {
            "startup_grant",
            "youth_guidance",
            "rehabilitative_work",
            "integration_training",
        }
        assert {s["service"] for s in body["suggestions"][-4:]} == ineligible
        assert all(s["eligible"] for s in body["suggestions"][:-4])


def test_language_from_accept_language_query_and_body(api: Api, profile: dict[str, Any]) -> None:
    def names(response: Any) -> set[str]:
        return {s["name"] for s in response.json()["suggestions"]}

    swedish = api.post(
        "/v1/recommendations",
        json=_request(profile),
        headers={"Accept-Language": "de-DE, sv;q=0.9, en;q=0.8"},
    )
    assert swedish.json()["lang"] == "sv"
    assert "lönesubvention" in names(swedish)
    english = api.post("/v1/recommendations?lang=en", json=_request(profile))
    assert english.json()["lang"] == "en"
    assert "pay subsidy" in names(english)
    body_wins = api.post("/v1/recommendations?lang=en", json=_request(profile, lang="fi"))
    assert body_wins.json()["lang"] == "fi"
    assert "palkkatuki" in names(body_wins)
    first = english.json()["suggestions"][0]
    assert first["reason_headings"]["raises"].startswith("Factors raising the need for")
    assert first["reason_headings"]["lowers"].startswith("Factors lowering the need for")
    reason = first["reasons"][0]
    assert reason["text"] == f"{reason['label']}: {reason['value_text']}"


def test_top_k_and_explain_options(api: Api, profile: dict[str, Any]) -> None:
    top = api.post("/v1/recommendations?top_k=3", json=_request(profile)).json()
    assert len(top["suggestions"]) == 3
    plain = api.post("/v1/recommendations", json=_request(profile, explain=False, top_k=2)).json()
    assert len(plain["suggestions"]) == 2
    assert all(s["reasons"] == [] and s["base_value"] is None for s in plain["suggestions"])
    query_off = api.post("/v1/recommendations?explain=false", json=_request(profile)).json()
    assert all(s["reasons"] == [] for s in query_off["suggestions"])


def test_fields_of_an_unconsented_source_do_not_change_the_prediction(
    api: Api, fixture_model: ServiceNeedModel, profile: dict[str, Any]
) -> None:
    low = {**profile, **dict.fromkeys(KYKY_FIELDS, 0.5)}
    high = {**profile, **dict.fromkeys(KYKY_FIELDS, 9.5)}

    def probabilities(profile_: dict[str, Any], consents: list[str]) -> dict[str, float]:
        response = api.post(
            "/v1/recommendations",
            json={"client_ref": "c-1", "consents": consents, "profile": profile_},
        )
        assert response.status_code == 200
        body = response.json()
        assert ("kykyviisari" in body["sources_used"]) == ("kykyviisari" in consents)
        return {s["service"]: s["probability"] for s in body["suggestions"]}

    assert probabilities(low, []) == probabilities(high, [])
    assert probabilities(low, ["health"]) == probabilities(high, ["health"])
    assert probabilities(low, ["kykyviisari"]) != probabilities(high, ["kykyviisari"])
    without = api.post(
        "/v1/recommendations",
        json={"client_ref": "c-1", "consents": [], "profile": high},
    ).json()
    assert without["sources_used"] == ["register"]
    ignored = {item["field"]: item for item in without["ignored_fields"]}
    assert set(KYKY_FIELDS) <= set(ignored)
    schema = fixture_model.schema
    for name, item in ignored.items():
        source = schema.field_by_name[name].source
        assert item == {"field": name, "source": source, "reason": "no_consent"}, "never a value"
    for suggestion in without["suggestions"]:
        assert not {r["field"] for r in suggestion["reasons"]} & set(KYKY_FIELDS)
        if suggestion["eligible"]:
            lines = [o for o in suggestion["other_factors"] if o["kind"] == "no_consent"]
            assert {o["source"] for o in lines} == {"kykyviisari", "health", "language_test"}


def test_batch_answers_each_client_in_order(api: Api, fixture_model: ServiceNeedModel) -> None:
    rng = np.random.default_rng(3)
    clients = [
        {
            "client_ref": f"batch-{i}",
            "consents": ["kykyviisari", "health"] if i % 2 else [],
            "profile": random_profile(fixture_model.schema, rng),
        }
        for i in range(5)
    ]
    response = api.post("/v1/recommendations/batch", json={"clients": clients, "lang": "en"})

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 5
    assert [r["client_ref"] for r in body["results"]] == [c["client_ref"] for c in clients]
    assert body["results"][1]["sources_used"] == ["register", "kykyviisari", "health"]
    assert body["results"][0]["sources_used"] == ["register"]
    for client, result in zip(clients, body["results"], strict=True):
        single = api.post("/v1/recommendations", json={**client, "lang": "en"}).json()
        assert single["suggestions"] == result["suggestions"]


def test_batch_over_the_limit_is_413(
    start_api: Callable[..., Api], model_dir: Path, sqlite_url: str, profile: dict[str, Any]
) -> None:
    api = start_api(make_settings(model_dir, sqlite_url, batch_limit=2))
    clients = [{"client_ref": f"c{i}", "profile": profile} for i in range(3)]

    response = api.post("/v1/recommendations/batch", json={"clients": clients})

    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "/problems/batch-too-large"
    ok = api.post("/v1/recommendations/batch", json={"clients": clients[:2]})
    assert ok.status_code == 200


def test_batch_lists_bad_fields_of_every_client(api: Api, profile: dict[str, Any]) -> None:
    clients = [
        {"client_ref": "c0", "profile": {**profile, "age": 12}},
        {"client_ref": "c1", "profile": profile},
        {"client_ref": "c2", "profile": {**profile, "municipality": "turku"}},
    ]
    response = api.post("/v1/recommendations/batch", json={"clients": clients})

    assert response.status_code == 422
    pointers = {error["pointer"] for error in response.json()["errors"]}
    assert pointers == {"#/clients/0/profile/age", "#/clients/2/profile/municipality"}


def test_body_must_be_json(api: Api, profile: dict[str, Any]) -> None:
    form = api.post("/v1/recommendations", data={"client_ref": "x"})
    assert form.status_code == 415
    assert form.json()["type"] == "/problems/unsupported-media-type"
    json_type = {"content-type": "application/json"}
    empty = api.post("/v1/recommendations", content=b"", headers=json_type)
    assert empty.status_code == 422
    broken = api.post(
        "/v1/recommendations", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert broken.status_code == 422
    assert broken.json()["errors"][0]["code"] == "json_invalid"


def test_responses_match_their_documented_models(api: Api, profile: dict[str, Any]) -> None:
    from service.responses import BatchRecommendationResponse, RecommendationResponse

    single = api.post("/v1/recommendations", json={"client_ref": "c", "profile": profile})
    RecommendationResponse.model_validate(single.json())
    assert single.headers["content-type"] == "application/json"
    batch = api.post(
        "/v1/recommendations/batch", json={"clients": [{"client_ref": "c", "profile": profile}]}
    )
    BatchRecommendationResponse.model_validate(batch.json())
    document = api.client.get("/openapi.json").json()
    responses = document["paths"]["/v1/recommendations"]["post"]["responses"]
    assert responses["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/RecommendationResponse"
    }
