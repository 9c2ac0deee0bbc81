"""The R-learner final stage, and that what is served is what training estimated."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from models.effects import STATUS_ESTIMATED, ServiceEffectModels, eligibility_matrix
from training.effects.data import History
from training.effects.estimate import EffectFit, _final_stage
from training.effects.inference import dr_pseudo_outcome, r_learner_target
from training.effects.nuisance import draw_folds

TOY_ROWS = 30_000
TOY_EFFECT = 0.15


def _toy() -> tuple[History, np.ndarray, tuple[np.ndarray, ...]]:
    """Make a rare service (3-13 % treated) with effect 0.15 where x0 > 0.5, else 0."""
    rng = np.random.default_rng(7)
    x = rng.random((TOY_ROWS, 3))
    propensity = 0.03 + 0.1 * x[:, 1]
    mu_control = 0.3 + 0.2 * x[:, 1]
    effect = TOY_EFFECT * (x[:, 0] > 0.5)
    treated = rng.random(TOY_ROWS) < propensity
    outcome = (rng.random(TOY_ROWS) < mu_control + treated * effect).astype(np.float64)
    history = History(
        matrix=x,
        arm=treated.astype(np.int64),
        outcome=outcome,
        eligible=np.ones((TOY_ROWS, 1), dtype=bool),
        arms=["none", "service"],
        services=["service"],
        feature_names=["x0", "x1", "x2"],
        categorical_features=[],
        need_labels=np.full((TOY_ROWS, 1), np.nan),
    )
    return history, effect, (outcome, treated, propensity, mu_control + effect, mu_control)


def test_r_loss_identity() -> None:
    _, _, (outcome, treated, propensity, mu_treated, mu_control) = _toy()
    label, weight = r_learner_target(outcome, treated, propensity, mu_treated, mu_control)
    tau = 0.07
    mean_outcome = propensity * mu_treated + (1 - propensity) * mu_control
    r_loss = ((outcome - mean_outcome) - (treated - propensity) * tau) ** 2
    assert np.allclose(weight * (label - tau) ** 2, r_loss)


def test_r_learner_recovers_a_known_effect_better_than_the_dr_target() -> None:
    history, effect, nuisances = _toy()
    rows = np.ones(TOY_ROWS, dtype=bool)
    folds = draw_folds(TOY_ROWS, n_folds=3, seed=0)
    r_target = r_learner_target(*nuisances)
    dr_target = (dr_pseudo_outcome(*nuisances), np.ones(TOY_ROWS))
    r_fit = _final_stage(history, rows, r_target, folds, seed=0, num_threads=1)
    dr_fit = _final_stage(history, rows, dr_target, folds, seed=0, num_threads=1)
    r_rmse = float(np.sqrt(np.mean((r_fit[1] - effect) ** 2)))
    dr_rmse = float(np.sqrt(np.mean((dr_fit[1] - effect) ** 2)))
    assert r_rmse < dr_rmse
    high = history.matrix[:, 0] > 0.5
    contrast = r_fit[1][high].mean() - r_fit[1][~high].mean()
    assert abs(contrast - TOY_EFFECT) < 0.05


def test_served_estimate_equals_the_training_time_estimate(
    effect_fit: EffectFit, effect_register: pd.DataFrame, tmp_path: Path
) -> None:
    effect_fit.models.save(tmp_path)
    served = ServiceEffectModels.load(tmp_path, effect_fit.models.schema)
    matrix = served.encoder.encode_frame(effect_register)
    eligible = eligibility_matrix(served.schema, effect_register, served.services)
    table = served.predict_matrix(matrix, eligible)
    checked = 0
    for service, effect in effect_fit.models.effects.items():
        column = served.services.index(service)
        estimated = table.status[:, column] == STATUS_ESTIMATED
        # Training's support uses out-of-fold propensities, serving the refitted model's.
        assert estimated[effect_fit.services[service].rows].mean() > 0.9
        baseline = effect_fit.nuisances.baseline
        assert effect.index is not None
        assert baseline is not None
        trained = effect.estimate(
            np.asarray(effect.index.need_model.predict(matrix[estimated], raw_score=True)),
            np.asarray(baseline.predict(matrix[estimated], raw_score=True)),
        )
        assert np.allclose(table.estimate[estimated, column], trained, atol=1e-12)
        checked += 1
    assert checked >= 3
