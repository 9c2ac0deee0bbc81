from pathlib import Path

import pandas as pd

from models.effects import has_effects
from models.model import ServiceNeedModel
from models.schema import Schema
from training.effects.estimate import EffectFit
from training.effects.train_hook import (
    MSG_SKIPPED_NO_HISTORY,
    EffectsSettings,
    effects_card_section,
    flat_effect_metrics,
    train_effects,
)


def test_skipped_without_history_columns(
    effect_register: pd.DataFrame, effect_schema: Schema, tmp_path: Path
) -> None:
    schema = effect_schema.model_copy(update={"outcome_column": None})
    outcome = train_effects(effect_register, schema, tmp_path)
    assert outcome.fit is None
    assert outcome.note == MSG_SKIPPED_NO_HISTORY
    disabled = train_effects(
        effect_register, effect_schema, tmp_path, settings=EffectsSettings(enabled=False)
    )
    assert disabled.fit is None
    assert not has_effects(tmp_path)


def test_card_section_and_metrics_cover_every_service(effect_fit: EffectFit) -> None:
    card = effects_card_section(effect_fit)
    metrics = flat_effect_metrics(effect_fit)
    for service in effect_fit.services:
        assert f"| {service} |" in card
        assert f"effects.{service}.ate" in metrics
        assert (
            metrics[f"effects.{service}.need_gain"] == effect_fit.services[service].coefficients[1]
        )
        assert "need gain" in card


def test_need_model_artifact_carries_the_effect_models(
    effect_fit: EffectFit, effect_register: pd.DataFrame, tmp_path: Path
) -> None:
    from models.calibration import IdentityCalibrator

    schema = effect_fit.models.schema
    booster = effect_fit.models.effects["job_search_coaching"].scored_booster
    model = ServiceNeedModel(
        schema=schema,
        boosters={"job_search_coaching": booster},
        calibrators={"job_search_coaching": IdentityCalibrator()},
        thresholds={"job_search_coaching": 0.5},
    )
    model.effects = effect_fit.models
    model.save(tmp_path)
    loaded = ServiceNeedModel.load(tmp_path)
    assert loaded.effects is not None
    pd.testing.assert_frame_equal(
        loaded.effects.predict(effect_register.head(300)),
        effect_fit.models.predict(effect_register.head(300)),
    )
