"""The index final stage: coefficients by the R-loss, need indices, what is served."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models.effect_index import index_effect
from models.effects import (
    BASELINE_FILE,
    EFFECTS_DIR,
    EFFECTS_MANIFEST,
    NEED_INDEX_DIR,
    STAGE_INDEX,
    STAGE_TREES,
    ServiceEffectModels,
    eligibility_matrix,
)
from models.schema import Schema
from training.effects.estimate import EffectFit, fit_effects
from training.effects.index_stage import fit_coefficients, fit_index_stage
from training.effects.inference import r_residuals
from training.effects.nuisance import draw_folds

SHIFT, GAIN = -0.3, 1.8
ROWS = 60_000


def _simulated(seed: int) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray, np.ndarray]:
    """Simulate a service with a known index effect; return the true nuisances' residuals."""
    rng = np.random.default_rng(seed)
    need_raw = rng.normal(-0.5, 1.5, ROWS)
    baseline = rng.normal(-0.4, 0.8, ROWS)
    propensity = 0.05 + 0.25 * rng.random(ROWS)
    mu_control = 1.0 / (1.0 + np.exp(-baseline))
    mu_treated = mu_control + index_effect(SHIFT, GAIN, need_raw, baseline)
    treated = rng.random(ROWS) < propensity
    outcome = (rng.random(ROWS) < np.where(treated, mu_treated, mu_control)).astype(float)
    residuals = r_residuals(outcome, treated, propensity, mu_treated, mu_control)
    return residuals, need_raw, baseline


def test_coefficients_of_a_known_effect_are_recovered() -> None:
    residuals, need_raw, baseline = _simulated(3)
    folds = draw_folds(ROWS, n_folds=3, seed=0)
    (shift, gain), out_of_fold = fit_index_stage(residuals, need_raw, baseline, folds)
    assert shift == pytest.approx(SHIFT, abs=0.25)
    assert gain == pytest.approx(GAIN, abs=0.35)
    truth = index_effect(SHIFT, GAIN, need_raw, baseline)
    assert np.corrcoef(out_of_fold, truth)[0, 1] > 0.97


def test_out_of_fold_estimates_come_from_the_other_folds() -> None:
    residuals, need_raw, baseline = _simulated(4)
    folds = draw_folds(ROWS, n_folds=2, seed=1)
    _, out_of_fold = fit_index_stage(residuals, need_raw, baseline, folds)
    others = folds == 1
    shift, gain = fit_coefficients(
        residuals[0][others], residuals[1][others], need_raw[others], baseline[others]
    )
    held = folds == 0
    np.testing.assert_allclose(
        out_of_fold[held], index_effect(shift, gain, need_raw[held], baseline[held]), atol=1e-9
    )


def test_the_coefficients_minimise_the_r_loss() -> None:
    residuals, need_raw, baseline = _simulated(5)
    shift, gain = fit_coefficients(residuals[0], residuals[1], need_raw, baseline)

    def r_loss(a: float, b: float) -> float:
        effect = index_effect(a, b, need_raw, baseline)
        return float(np.sum((residuals[0] - residuals[1] * effect) ** 2))

    best = r_loss(shift, gain)
    for da, db in [(0.05, 0), (-0.05, 0), (0, 0.05), (0, -0.05)]:
        assert r_loss(shift + da, gain + db) > best


def test_every_service_with_a_need_label_gets_an_index_stage(effect_fit: EffectFit) -> None:
    models = effect_fit.models
    assert models.baseline is not None
    assert models.effects
    for service, effect in models.effects.items():
        assert effect.final_stage == STAGE_INDEX
        assert effect.index is not None
        fit = effect_fit.services[service]
        assert fit.coefficients == (effect.index.shift, effect.index.need_gain)
        assert effect.summary["final_stage"] == STAGE_INDEX
    assert models.metadata["final_stage"] == STAGE_INDEX


def test_index_stages_save_and_load_as_lightgbm_text_and_json(
    effect_fit: EffectFit, effect_register: pd.DataFrame, tmp_path: Path
) -> None:
    effect_fit.models.save(tmp_path)
    root = tmp_path / EFFECTS_DIR
    assert (root / BASELINE_FILE).is_file()
    manifest = json.loads((root / EFFECTS_MANIFEST).read_text("utf-8"))
    for service in effect_fit.models.effects:
        assert (root / NEED_INDEX_DIR / f"{service}.txt").is_file()
        assert manifest["effects"][service]["final_stage"] == STAGE_INDEX
    loaded = ServiceEffectModels.load(tmp_path, effect_fit.models.schema)
    frame = effect_register.head(400)
    pd.testing.assert_frame_equal(loaded.predict(frame), effect_fit.models.predict(frame))
    matrix = loaded.encoder.encode_frame(frame)
    eligible = eligibility_matrix(loaded.schema, frame, loaded.services)
    table = loaded.predict_matrix(matrix, eligible)
    for service in loaded.effects:
        column = loaded.services.index(service)
        rows = table.status_code[:, column] == 0
        contributions, base = loaded.contributions(matrix[rows], service)
        np.testing.assert_allclose(
            base + contributions.sum(1), table.estimate[rows, column], atol=1e-12
        )


def test_a_service_without_a_recorded_need_falls_back_to_trees(
    effect_register: pd.DataFrame, effect_schema: Schema
) -> None:
    label = effect_schema.label_by_name["job_search_coaching"]
    frame = effect_register.drop(columns=[label.column])
    fit = fit_effects(frame, effect_schema, n_folds=2, seed=1, num_threads=1)
    assert fit.models.effects["job_search_coaching"].final_stage == STAGE_TREES
    assert fit.models.effects["career_guidance"].final_stage == STAGE_INDEX


def test_trees_on_request_and_nothing_else(
    effect_register: pd.DataFrame, effect_schema: Schema
) -> None:
    fit = fit_effects(
        effect_register, effect_schema, n_folds=2, seed=1, num_threads=1, final_stage="trees"
    )
    assert {e.final_stage for e in fit.models.effects.values()} == {STAGE_TREES}
    assert fit.models.baseline is None
    with pytest.raises(ValueError, match="'forest'"):
        fit_effects(effect_register, effect_schema, final_stage="forest")


def test_coefficients_agree_with_doubleml_best_linear_predictor() -> None:
    """DoubleML's BLP of the effect on the linearised basis ``v, v * need`` is the reference.

    For small shifts ``sigmoid(L + a + b n) - sigmoid(L) ~ v (a + b n)`` with
    ``v = p (1 - p)``, so DoubleML's IRM (fed the true nuisances) and its ``cate`` on
    that basis estimate the same two coefficients by a different loss.
    """
    import doubleml as dml
    from doubleml.utils import DMLDummyClassifier, DMLDummyRegressor

    rng = np.random.default_rng(11)
    rows = 80_000
    shift, gain = -0.1, 0.6
    need_raw = rng.normal(0.0, 1.5, rows)
    baseline = rng.normal(-0.3, 0.6, rows)
    propensity = 0.1 + 0.3 * rng.random(rows)
    mu_control = 1.0 / (1.0 + np.exp(-baseline))
    mu_treated = mu_control + index_effect(shift, gain, need_raw, baseline)
    treated = rng.random(rows) < propensity
    outcome = (rng.random(rows) < np.where(treated, mu_treated, mu_control)).astype(float)
    ours = fit_coefficients(
        *r_residuals(outcome, treated, propensity, mu_treated, mu_control), need_raw, baseline
    )
    data = dml.DoubleMLData.from_arrays(np.zeros((rows, 1)), outcome, treated.astype(float))
    model = dml.DoubleMLIRM(data, ml_g=DMLDummyRegressor(), ml_m=DMLDummyClassifier(), n_folds=2)
    model.fit(
        external_predictions={
            "d": {
                "ml_g0": mu_control.reshape(-1, 1),
                "ml_g1": mu_treated.reshape(-1, 1),
                "ml_m": propensity.reshape(-1, 1),
            }
        }
    )
    v = mu_control * (1.0 - mu_control)
    need = 1.0 / (1.0 + np.exp(-need_raw))
    blp = model.cate(pd.DataFrame({"v": v, "v_need": v * need}))
    coef = np.asarray(blp.coef, dtype=float).ravel()
    se = np.asarray(blp.se, dtype=float).ravel()
    for ours_value, center, error in zip(ours, coef, se, strict=True):
        assert abs(ours_value - center) <= 2.576 * error
