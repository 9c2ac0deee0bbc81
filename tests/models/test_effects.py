"""The served effect models: statuses, intervals, TreeSHAP, save/load without pickle."""

from __future__ import annotations

import json
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from models.effects import (
    EFFECTS_DIR,
    STATUS_ESTIMATED,
    STATUS_NO_MODEL,
    STATUS_NOT_ELIGIBLE,
    STATUS_OUTSIDE_SUPPORT,
    IndexStage,
    IntervalBand,
    PropensityModel,
    ServiceEffect,
    ServiceEffectModels,
    has_effects,
)
from models.features import FeatureEncoder
from models.schema import Schema, load_schema
from training.synth import generate_register

SERVICES = ("job_search_coaching", "youth_guidance")


@pytest.fixture(scope="module")
def schema() -> Schema:
    return load_schema()


@pytest.fixture(scope="module")
def register(schema: Schema) -> pd.DataFrame:
    return generate_register(1500, seed=5, schema=schema)


def _booster(matrix: np.ndarray, label: np.ndarray, objective: str, **extra: object) -> lgb.Booster:
    params = {
        "objective": objective,
        "num_leaves": 4,
        "min_data_in_leaf": 20,
        "verbose": -1,
        "num_threads": 1,
        **extra,
    }
    return lgb.train(params, lgb.Dataset(matrix, label), 10)


@pytest.fixture(scope="module")
def effect_models(schema: Schema, register: pd.DataFrame) -> ServiceEffectModels:
    matrix = FeatureEncoder(schema).encode_frame(register)
    rng = np.random.default_rng(0)
    arms = ["none", *SERVICES]
    propensity = PropensityModel(
        activation=_booster(matrix, rng.random(len(matrix)) < 0.3, "binary"),
        choice=_booster(matrix, rng.integers(0, 2, len(matrix)), "multiclass", num_class=2),
        arms=arms,
    )
    bands = [
        IntervalBand(0.0, -0.01, -0.03, 0.01, 100),
        IntervalBand(np.inf, 0.05, 0.02, 0.08, 100),
    ]
    effects = {
        service: ServiceEffect(
            service=service,
            booster=_booster(matrix, rng.normal(0.02, 0.1, len(matrix)), "regression"),
            support=(0.01, 0.99),
            bands=bands,
            summary={"average_effect": {"estimate": 0.02}},
        )
        for service in SERVICES
    }
    return ServiceEffectModels(schema=schema, propensity=propensity, effects=effects)


def test_statuses_and_intervals(effect_models: ServiceEffectModels, register: pd.DataFrame) -> None:
    frame = effect_models.predict(register)
    youth = frame["benefit_status_youth_guidance"]
    assert set(youth[register["age"] >= 30]) == {STATUS_NOT_ELIGIBLE}
    assert set(frame["benefit_status_career_guidance"]) == {STATUS_NO_MODEL}
    estimated = frame["benefit_status_job_search_coaching"] == STATUS_ESTIMATED
    assert estimated.any()
    value = frame.loc[estimated, "benefit_job_search_coaching"]
    lower = frame.loc[estimated, "benefit_lower_job_search_coaching"]
    assert np.allclose(lower, np.where(value <= 0.0, -0.03, 0.02))
    assert frame.loc[~estimated, "benefit_job_search_coaching"].isna().all()


def test_outside_support_is_not_estimable(
    effect_models: ServiceEffectModels, register: pd.DataFrame
) -> None:
    effect = effect_models.effects["job_search_coaching"]
    original = effect.support
    try:
        effect.support = (0.999, 1.0)
        frame = effect_models.predict(register)
    finally:
        effect.support = original
    assert set(frame["benefit_status_job_search_coaching"]) == {STATUS_OUTSIDE_SUPPORT}


def test_treeshap_contributions_add_up_to_the_estimate(
    effect_models: ServiceEffectModels, register: pd.DataFrame
) -> None:
    matrix = effect_models.encoder.encode_frame(register.head(50))
    contributions, base = effect_models.contributions(matrix, "job_search_coaching")
    booster = effect_models.effects["job_search_coaching"].scored_booster
    assert np.allclose(base + contributions.sum(axis=1), booster.predict(matrix, raw_score=True))


def test_save_and_load_round_trip_without_pickle(
    effect_models: ServiceEffectModels, register: pd.DataFrame, schema: Schema, tmp_path: Path
) -> None:
    effect_models.save(tmp_path)
    assert has_effects(tmp_path)
    suffixes = {p.suffix for p in (tmp_path / EFFECTS_DIR).rglob("*") if p.is_file()}
    assert suffixes <= {".txt", ".json"}
    loaded = ServiceEffectModels.load(tmp_path, schema)
    pd.testing.assert_frame_equal(loaded.predict(register), effect_models.predict(register))
    assert loaded.effects["youth_guidance"].bands[-1].upper_edge == np.inf


def test_a_version_1_artifact_still_loads(
    effect_models: ServiceEffectModels, register: pd.DataFrame, schema: Schema, tmp_path: Path
) -> None:
    """Version 1 had trees stages only and no ``final_stage`` key."""
    effect_models.save(tmp_path)
    path = tmp_path / EFFECTS_DIR / "effects.json"
    manifest = json.loads(path.read_text("utf-8"))
    manifest["format_version"] = 1
    for entry in manifest["effects"].values():
        del entry["final_stage"]
    path.write_text(json.dumps(manifest), "utf-8")
    loaded = ServiceEffectModels.load(tmp_path, schema)
    pd.testing.assert_frame_equal(loaded.predict(register), effect_models.predict(register))
    manifest["format_version"] = 3
    path.write_text(json.dumps(manifest), "utf-8")
    with pytest.raises(ValueError, match="effect format version 3 is not supported"):
        ServiceEffectModels.load(tmp_path, schema)


def test_an_effect_has_exactly_one_final_stage(effect_models: ServiceEffectModels) -> None:
    effect = effect_models.effects["youth_guidance"]
    with pytest.raises(ValueError, match="exactly one final stage"):
        ServiceEffect("youth_guidance", None, effect.support, effect.bands)
    index = IndexStage(0.1, 1.0, effect.scored_booster)
    with pytest.raises(ValueError, match="exactly one final stage"):
        ServiceEffect("youth_guidance", effect.booster, effect.support, effect.bands, index=index)
    stage = ServiceEffect("youth_guidance", None, effect.support, effect.bands, index=index)
    with pytest.raises(ValueError, match="baseline"):
        ServiceEffectModels(
            schema=effect_models.schema,
            propensity=effect_models.propensity,
            effects={"youth_guidance": stage},
        )


def test_load_refuses_a_folder_without_effects(schema: Schema, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="holds no effect models"):
        ServiceEffectModels.load(tmp_path, schema)
