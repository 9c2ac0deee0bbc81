"""Expected benefit in the API: the field, ``rank_by``, the benefit reasons, the audit row.

Against a real trained model with effect models (``trained_effects_dir``: two services
with an effect model, the rest without) and the fixture model (no effect models at all).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from models.effects import NOT_ESTIMABLE_TEXT, STATUS_ESTIMATED
from models.extract import validate_frame
from models.model import ServiceNeedModel
from tests.service.conftest import Api, make_settings
from tests.support.register_clients import register_clients

CLIENTS = 120
EFFECT_SERVICES = ("job_search_coaching", "labour_market_training")


@pytest.fixture(scope="module")
def effects_model(trained_effects_dir: Path) -> ServiceNeedModel:
    return ServiceNeedModel.load(trained_effects_dir)


@pytest.fixture(scope="module")
def canonical(effects_model: ServiceNeedModel) -> pd.DataFrame:
    from training.synth import generate_register

    frame = generate_register(CLIENTS, seed=777, schema=effects_model.schema)
    result = validate_frame(frame, effects_model.schema, require_labels=False)
    assert result.frame is not None
    return result.frame.reset_index(drop=True)


@pytest.fixture(scope="module")
def clients(canonical: pd.DataFrame, effects_model: ServiceNeedModel) -> list[dict[str, Any]]:
    return register_clients(canonical, effects_model.schema, all_consents=True)


@pytest.fixture
def effects_api(start_api: Callable[..., Api], trained_effects_dir: Path, sqlite_url: str) -> Api:
    return start_api(make_settings(trained_effects_dir, sqlite_url, batch_limit=CLIENTS))


def _batch(api: Api, clients: list[dict[str, Any]], query: str = "", **options: Any) -> Any:
    response = api.post(
        f"/v1/recommendations/batch{query}", json={"clients": clients, "lang": "en", **options}
    )
    assert response.status_code == 200, response.text[:500]
    return response.json()


def test_every_suggestion_carries_the_effect_models_benefit(
    effects_api: Api,
    clients: list[dict[str, Any]],
    canonical: pd.DataFrame,
    effects_model: ServiceNeedModel,
) -> None:
    assert effects_model.effects is not None
    assert sorted(effects_model.effects.effects) == sorted(EFFECT_SERVICES)
    expected = effects_model.effects.predict(canonical)
    described = effects_api.get("/v1/model").json()
    assert described["effect_services"] == list(EFFECT_SERVICES)
    body = _batch(effects_api, clients)
    assert body["rank_by"] == "need"
    codes: set[str] = set()
    for row, result in enumerate(body["results"]):
        assert result["client_ref"] == clients[row]["client_ref"]
        for suggestion in result["suggestions"]:
            service = suggestion["service"]
            benefit = suggestion["expected_benefit"]
            status = expected.loc[row, f"benefit_status_{service}"]
            if status == STATUS_ESTIMATED:
                assert benefit["status"] == "estimated"
                assert benefit["reason_code"] is None
                assert benefit["reason"] is None
                assert benefit["estimate"] == pytest.approx(
                    expected.loc[row, f"benefit_{service}"], abs=1e-12
                )
                interval = benefit["interval"]
                assert interval["level"] == 0.95
                assert interval["low"] == pytest.approx(
                    expected.loc[row, f"benefit_lower_{service}"], abs=1e-12
                )
                assert interval["high"] == pytest.approx(
                    expected.loc[row, f"benefit_upper_{service}"], abs=1e-12
                )
                assert interval["low"] <= interval["high"]
            else:
                assert benefit["status"] == "not_estimable"
                assert benefit["estimate"] is None
                assert benefit["interval"] is None
                assert benefit["reason_code"] == status
                assert benefit["reason"] == NOT_ESTIMABLE_TEXT[status]["en"]
                codes.add(status)
            assert "reasons" not in benefit  # only with explain_benefit
    estimated = [
        s
        for result in body["results"]
        for s in result["suggestions"]
        if s["expected_benefit"]["status"] == "estimated"
    ]
    assert estimated, "no estimate at all: the fixture is too small"
    assert {"no_effect_model", "outside_common_support"} <= codes


def test_rank_by_benefit_orders_by_estimate_and_keeps_the_need_flag(
    effects_api: Api, clients: list[dict[str, Any]]
) -> None:
    need = _batch(effects_api, clients)
    benefit = _batch(effects_api, clients, "?rank_by=benefit")
    assert benefit["rank_by"] == "benefit"
    for by_need, by_benefit in zip(need["results"], benefit["results"], strict=True):
        suggestions = by_benefit["suggestions"]
        estimates = [s["expected_benefit"]["estimate"] for s in suggestions]
        known = [e for e in estimates if e is not None]
        assert estimates[: len(known)] == known  # not estimable last
        assert known == sorted(known, reverse=True)
        rest = suggestions[len(known) :]
        assert [(not s["eligible"], -s["probability"]) for s in rest] == sorted(
            (not s["eligible"], -s["probability"]) for s in rest
        )
        flags = {s["service"]: s["recommended"] for s in by_need["suggestions"]}
        assert {s["service"]: s["recommended"] for s in suggestions} == flags
        assert sorted(s["service"] for s in suggestions) == sorted(flags)
    # top_k cuts after the benefit order; the body option wins over the query.
    top = _batch(effects_api, clients[:10], "?rank_by=need", rank_by="benefit", top_k=2)
    for short, full in zip(top["results"], benefit["results"][:10], strict=True):
        assert [s["service"] for s in short["suggestions"]] == [
            s["service"] for s in full["suggestions"][:2]
        ]


def test_single_answer_equals_the_batch(effects_api: Api, clients: list[dict[str, Any]]) -> None:
    batch = _batch(effects_api, clients[:5], "?rank_by=benefit&explain_benefit=true")
    for client, result in zip(clients[:5], batch["results"], strict=True):
        response = effects_api.post(
            "/v1/recommendations?rank_by=benefit&explain_benefit=true",
            json={**client, "lang": "en"},
        )
        assert response.status_code == 200, response.text[:300]
        single = response.json()
        assert single["rank_by"] == "benefit"
        assert single["suggestions"] == result["suggestions"]


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
def test_benefit_reasons_add_up_and_never_show_a_protected_attribute(
    effects_api: Api,
    clients: list[dict[str, Any]],
    effects_model: ServiceNeedModel,
    lang: str,
) -> None:
    from models.benefit import BENEFIT_HEADINGS

    protected = {spec.name for spec in effects_model.schema.input_fields if spec.protected}
    labels = {spec.name: spec.label.get(lang) for spec in effects_model.schema.input_fields}
    body = _batch(effects_api, clients[:40], f"?explain_benefit=true&lang={lang}", lang=lang)
    checked = 0
    for result in body["results"]:
        for suggestion in result["suggestions"]:
            benefit = suggestion["expected_benefit"]
            if benefit["status"] != "estimated":
                assert benefit["reasons"] is None
                assert benefit["reason_headings"] is None
                assert benefit["reason"] == NOT_ESTIMABLE_TEXT[benefit["reason_code"]][lang]
                continue
            checked += 1
            assert benefit["reason_headings"] == BENEFIT_HEADINGS[lang]
            total = benefit["base_value"] + sum(
                item["contribution"] for item in benefit["reasons"] + benefit["other_factors"]
            )
            assert total == pytest.approx(benefit["estimate"], abs=1e-9)
            assert benefit["reasons"], "an estimate without a single reason"
            for reason in benefit["reasons"]:
                assert reason["field"] not in protected
                assert reason["text"] == f"{labels[reason['field']]}: {reason['value_text']}"
                assert reason["direction"] == ("raises" if reason["contribution"] > 0 else "lowers")
            kinds = [other["kind"] for other in benefit["other_factors"]]
            if protected:
                assert "protected_attributes" in kinds
    assert checked > 0


def test_rank_by_is_strict(effects_api: Api, clients: list[dict[str, Any]]) -> None:
    for value in ["Benefit", "probability", ""]:
        response = effects_api.post(f"/v1/recommendations?rank_by={value}", json=clients[0])
        assert response.status_code == 422, value
        assert response.headers["content-type"].startswith("application/problem+json")
        [error] = response.json()["errors"]
        assert error["field"] == "rank_by"
        assert error["location"] == "query"
        assert "'need' or 'benefit'" in error["detail"]
    for value in ["1", "yes", "True"]:
        response = effects_api.post(f"/v1/recommendations?explain_benefit={value}", json=clients[0])
        assert response.status_code == 422, value
        [error] = response.json()["errors"]
        assert error["field"] == "explain_benefit"
        assert "explain_benefit must be true or false" in error["detail"]
    refused = effects_api.post("/v1/recommendations", json={**clients[0], "explain_benefit": 1})
    assert [error["field"] for error in refused.json()["errors"]] == ["explain_benefit"]
    body = effects_api.post("/v1/recommendations", json={**clients[0], "rank_by": "risk"})
    assert body.status_code == 422
    assert [error["field"] for error in body.json()["errors"]] == ["rank_by"]


def test_audit_row_records_rank_by(effects_api: Api, clients: list[dict[str, Any]]) -> None:
    effects_api.post("/v1/recommendations?rank_by=benefit", json=clients[0])
    effects_api.post("/v1/recommendations", json=clients[1])
    entries = effects_api.get("/v1/audit-log?endpoint=recommendations", role="auditor").json()
    by_client = {entry["client_ref"]: entry for entry in entries["entries"]}
    assert by_client[clients[0]["client_ref"]]["details"] == {"rank_by": "benefit"}
    assert by_client[clients[1]["client_ref"]]["details"] == {"rank_by": "need"}


def test_a_model_without_effect_models(api: Api, profile: dict[str, Any]) -> None:
    assert api.get("/v1/model").json()["effect_services"] == []
    client = {"client_ref": "no-effects-1", "consents": [], "profile": profile}
    body = {**client, "lang": "sv"}
    answer = api.post("/v1/recommendations?explain_benefit=true", json=body)
    assert answer.status_code == 200
    for suggestion in answer.json()["suggestions"]:
        benefit = suggestion["expected_benefit"]
        assert benefit["status"] == "not_estimable"
        assert benefit["reason_code"] == "no_effect_model"
        assert benefit["reason"] == NOT_ESTIMABLE_TEXT["no_effect_model"]["sv"]
    for path, payload in [
        ("/v1/recommendations?rank_by=benefit", body),
        ("/v1/recommendations/batch?rank_by=benefit", {"clients": [client], "lang": "sv"}),
    ]:
        refused = api.post(path, json=payload)
        assert refused.status_code == 409
        problem = refused.json()
        assert problem["type"] == "/problems/no-effect-models"
        assert problem["title"] == "The served model has no effect estimates"
        assert "has no effect models" in problem["detail"]


def test_openapi_documents_benefit(effects_api: Api) -> None:
    document = effects_api.client.get("/openapi.json").json()
    for path in ("/v1/recommendations", "/v1/recommendations/batch"):
        operation = document["paths"][path]["post"]
        names = {parameter["name"] for parameter in operation["parameters"]}
        assert {"rank_by", "explain_benefit"} <= names
        rank_by = next(p for p in operation["parameters"] if p["name"] == "rank_by")
        assert "benefit" in str(rank_by["schema"])
        assert "need" in str(rank_by["schema"])
        assert "409" in operation["responses"]
    schemas = document["components"]["schemas"]
    assert "expected_benefit" in schemas["SuggestionOut"]["required"]
    assert {"status", "estimate", "interval", "reason_code", "reason"} <= set(
        schemas["ExpectedBenefitOut"]["properties"]
    )
    request = schemas["RecommendationRequest"]["properties"]
    assert {"rank_by", "explain_benefit"} <= set(request)


def test_benefit_table_matches_the_effect_models_on_a_frame(
    effects_model: ServiceNeedModel, canonical: pd.DataFrame
) -> None:
    from models.benefit import benefit_table
    from models.ranking import consent_flags, eligibility, encode

    everyone = canonical.copy()
    for source in effects_model.schema.consent_sources.values():
        everyone[str(source.consent_column)] = True
    granted = consent_flags(effects_model, everyone)
    table = benefit_table(
        effects_model,
        encode(effects_model, everyone, granted),
        eligibility(effects_model, everyone, granted),
    )
    assert effects_model.effects is not None
    reference = effects_model.effects.predict(everyone)
    for column, service in enumerate(table.services):
        np.testing.assert_array_equal(
            table.status[:, column], reference[f"benefit_status_{service}"].to_numpy()
        )
        np.testing.assert_allclose(
            table.estimate[:, column], reference[f"benefit_{service}"].to_numpy(), atol=1e-12
        )
