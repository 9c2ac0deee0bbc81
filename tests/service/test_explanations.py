"""Reasons are exact TreeSHAP: they add up, match shap and a brute-force Shapley reference."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from models.model import ServiceNeedModel
from tests.service.conftest import Api, make_settings
from tests.support.fixture_model import random_profile
from tests.support.tree_shapley import shapley_values

CONSENTS = ["kykyviisari", "health", "language_test"]


@pytest.fixture
def explaining_api(start_api: Callable[..., Api], model_dir: Path, sqlite_url: str) -> Api:
    """Reasons for every field (top_reasons=100), so all contributions are visible."""
    return start_api(make_settings(model_dir, sqlite_url, top_reasons=100))


@pytest.fixture
def profiles(fixture_model: ServiceNeedModel) -> list[dict[str, Any]]:
    rng = np.random.default_rng(11)
    return [random_profile(fixture_model.schema, rng, missing_rate=0.3) for _ in range(4)]


def _explain(api: Api, profile: dict[str, Any]) -> dict[str, dict[str, Any]]:
    response = api.post(
        "/v1/recommendations",
        json={"client_ref": "c-1", "consents": CONSENTS, "profile": profile, "lang": "en"},
    )
    assert response.status_code == 200
    return {s["service"]: s for s in response.json()["suggestions"]}


def test_contributions_plus_base_equal_the_raw_score_for_every_service(
    explaining_api: Api, fixture_model: ServiceNeedModel, profiles: list[dict[str, Any]]
) -> None:
    model = fixture_model
    protected = {spec.name for spec in model.encoder.fields if spec.protected}
    for profile in profiles:
        served = _explain(explaining_api, profile)
        matrix = model.encode_records([profile], consents=CONSENTS)
        per_field, base = model.contributions(matrix)
        raw = model.raw_scores(matrix)
        for column, service in enumerate(model.services):
            suggestion = served[service]
            assert abs(per_field[0, column].sum() + base[0, column] - raw[0, column]) < 1e-9
            assert abs(suggestion["raw_score"] - raw[0, column]) < 1e-9
            assert abs(suggestion["base_value"] - base[0, column]) < 1e-9
            shown = {r["field"]: r["contribution"] for r in suggestion["reasons"]}
            if not suggestion["eligible"]:
                assert shown == {}, "no reasons for an ineligible service"
                continue
            others = {o["kind"]: o for o in suggestion["other_factors"]}
            hidden = sum(
                per_field[0, column, i]
                for i, spec in enumerate(model.encoder.fields)
                if spec.name in protected
            )
            assert abs(others["protected_attributes"]["contribution"] - hidden) < 1e-9
            figures = [o["contribution"] for o in suggestion["other_factors"]]
            total = sum(shown.values()) + sum(figures) + suggestion["base_value"]
            assert abs(total - suggestion["raw_score"]) < 1e-9
            for i, spec in enumerate(model.encoder.fields):
                if spec.name in shown:
                    assert abs(shown[spec.name] - per_field[0, column, i]) < 1e-12


def test_reasons_equal_shap_tree_explainer(
    explaining_api: Api, fixture_model: ServiceNeedModel, profiles: list[dict[str, Any]]
) -> None:
    shap = pytest.importorskip("shap")
    model = fixture_model
    index = {name: i for i, name in enumerate(model.encoder.feature_names)}
    for profile in profiles[:2]:
        served = _explain(explaining_api, profile)
        matrix = model.encode_records([profile], consents=CONSENTS)
        for service in model.services:
            values = np.asarray(shap.TreeExplainer(model.boosters[service]).shap_values(matrix))
            values = values.reshape(1, -1)
            per_field = np.zeros(len(model.encoder.fields))
            for feature, field in enumerate(model.encoder.feature_to_field):
                per_field[index[field]] += values[0, feature]
            for reason in served[service]["reasons"]:
                assert abs(reason["contribution"] - per_field[index[reason["field"]]]) < 1e-6


def test_reasons_equal_brute_force_shapley_values(
    explaining_api: Api, fixture_model: ServiceNeedModel, profiles: list[dict[str, Any]]
) -> None:
    """An independent check (shap itself delegates to LightGBM for LightGBM models)."""
    model = fixture_model
    index = {name: i for i, name in enumerate(model.encoder.feature_names)}
    profile = profiles[0]
    served = _explain(explaining_api, profile)
    matrix = model.encode_records([profile], consents=CONSENTS)
    for service in model.services:
        phi, base = shapley_values(model.boosters[service], matrix[0])
        assert abs(base - served[service]["base_value"]) < 1e-6
        for reason in served[service]["reasons"]:
            assert abs(reason["contribution"] - phi[index[reason["field"]]]) < 1e-6


def test_protected_fields_are_never_reasons(
    explaining_api: Api, fixture_model: ServiceNeedModel, profiles: list[dict[str, Any]]
) -> None:
    protected = {spec.name for spec in fixture_model.schema.fields if spec.protected}
    assert {"age", "mother_tongue", "foreign_background"} <= protected
    model = fixture_model
    age = model.encoder.feature_names.index("age")
    for profile in profiles:
        matrix = model.encode_records([profile], consents=CONSENTS)
        per_field, _ = model.contributions(matrix)
        assert np.abs(per_field[0, :, age]).max() > 0, "age matters to the model"
        for suggestion in _explain(explaining_api, profile).values():
            fields = {reason["field"] for reason in suggestion["reasons"]}
            assert not fields & protected
            assert fields or not suggestion["eligible"], "other fields are shown"


def test_reason_sentences_are_written_from_the_schema(api: Api, profile: dict[str, Any]) -> None:
    profile = {**profile, "unemployment_months": 18}
    body = api.post(
        "/v1/recommendations", json={"client_ref": "c", "profile": profile, "lang": "fi"}
    ).json()
    texts = [r["text"] for s in body["suggestions"] for r in s["reasons"]]
    for suggestion in body["suggestions"]:
        if suggestion["reasons"]:
            headings = suggestion["reason_headings"]
            assert headings["raises"].endswith("tarvetta lisäävät tekijät")
            assert headings["lowers"].endswith("tarvetta vähentävät tekijät")
        for reason in suggestion["reasons"]:
            assert (reason["contribution"] > 0) == (reason["direction"] == "raises")
            assert reason["text"] == f"{reason['label']}: {reason['value_text']}"
    duration = [t for t in texts if t.startswith("Työttömyyden kesto")]
    assert all(t == "Työttömyyden kesto: 18 kuukautta" for t in duration)
