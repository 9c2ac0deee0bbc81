"""Whole-population explanations: computed at training, kept in the artifact and the card."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from models.model import ServiceNeedModel
from tests.support.fixture_model import fit_fixture_model, random_profile
from training.explanations import EXPLANATIONS_FILE, population_explanations


def test_mean_abs_shap_per_field_with_direction_and_protected_share() -> None:
    model = fit_fixture_model(rows=800, trees=8)
    rng = np.random.default_rng(2)
    profiles = [random_profile(model.schema, rng) for _ in range(200)]
    matrix = model.encode_records(profiles)
    explained = population_explanations(model, matrix)
    contributions, _ = model.contributions(matrix)
    assert explained["rows"] == 200
    assert set(explained["services"]) == set(model.services)
    age = model.encoder.feature_names.index("age")
    for column, service in enumerate(model.services):
        entry = explained["services"][service]
        fields = {item["field"]: item for item in entry["fields"]}
        assert set(fields) == set(model.encoder.feature_names)
        means = [item["mean_abs"] for item in entry["fields"]]
        assert means == sorted(means, reverse=True)
        expected = float(np.abs(contributions[:, column, age]).mean())
        assert abs(fields["age"]["mean_abs"] - expected) < 1e-12
        assert fields["age"]["protected"]
        assert fields["unemployment_months"]["direction"] in (
            "higher_raises",
            "higher_lowers",
            "mixed",
            "none",
        )
        assert fields["education_level"]["direction"] == "by_category"
        protected = entry["protected_attributes"]
        assert set(protected["fields"]) == {"age", "mother_tongue", "foreign_background"}
        assert 0 < protected["share_of_mean_abs"] <= 1


def test_training_keeps_them_in_the_artifact_and_the_card(trained_model_dir: Path) -> None:
    stored = json.loads((trained_model_dir / EXPLANATIONS_FILE).read_text("utf-8"))
    model = ServiceNeedModel.load(trained_model_dir)
    assert model.metadata["population_explanations"] == stored
    assert stored["split"] == "test"
    assert set(stored["services"]) == set(model.services)
    card = (trained_model_dir / "model_card.md").read_text("utf-8")
    assert "## Explanations for the whole population" in card
    assert f"plots/shap_bar_{model.services[0]}.png" in card
