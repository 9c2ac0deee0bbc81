"""The index final stage: the need index per service and the two coefficients of each effect.

:mod:`models.effect_index` says what the stage is; this module fits it:

1. the need index of each service: a binary LightGBM of the recorded need label on the
   register fields (eligible clients), cross-fitted on the effect folds for the
   training estimates and refitted on all clients for serving;
2. the baseline index is the control arm's outcome model (out of fold from
   :mod:`training.effects.nuisance`, refitted there for serving);
3. per service, ``shift`` and ``need_gain`` minimise the R-loss
   ``sum ((Y - m) - (D - e) * effect(shift, need_gain))^2`` (Nie and Wager 2021) by
   nonlinear least squares (SciPy), per fold for out-of-fold estimates and on all
   clients for what is served. With two coefficients per service, the estimate is as
   precise as the average effect, while the effect still varies between clients through
   the need and the baseline chance.
"""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
from scipy.optimize import least_squares

from models.effect_index import index_effect
from training.effects.nuisance import BASE_PARAMS, Binned

NEED_ROUNDS = 60
"""Boosting rounds of a need index (15 leaves, learning rate 0.1, as the nuisances): on
the bench register 100 rounds captured 93.0 % of the oracle gain and 60 rounds 92.9 %,
and every round is scored for every request."""
MIN_RECORDED_NEEDS = 50
"""A service whose need label is recorded for fewer eligible clients gets no need index."""
PROBABILITY_FLOOR = 1e-9


@dataclass(frozen=True)
class NeedIndices:
    """Per service: out-of-fold need raw scores (rows,) and the booster refitted on all."""

    out_of_fold: dict[str, np.ndarray]
    models: dict[str, lgb.Booster]


def fit_need_indices(
    binned: Binned, folds: np.ndarray, *, seed: int, num_threads: int
) -> NeedIndices:
    """Cross-fit and refit the need index of every service with enough recorded needs."""
    history = binned.history
    params = {**BASE_PARAMS, "objective": "binary", "seed": seed, "num_threads": num_threads}
    out_of_fold: dict[str, np.ndarray] = {}
    models: dict[str, lgb.Booster] = {}
    for column, service in enumerate(history.services):
        label = history.need_labels[:, column]
        known = history.eligible[:, column] & ~np.isnan(label)
        if np.nansum(label[known]) < MIN_RECORDED_NEEDS:
            continue
        label = np.nan_to_num(label)
        scores = np.full(len(label), np.nan)
        for fold in np.unique(folds):
            held_out = folds == fold
            booster = lgb.train(params, binned.subset(known & ~held_out, label), NEED_ROUNDS)
            scores[held_out] = booster.predict(history.matrix[held_out], raw_score=True)
        out_of_fold[service] = scores
        models[service] = lgb.train(params, binned.subset(known, label), NEED_ROUNDS)
    return NeedIndices(out_of_fold, models)


def baseline_logit(probability: np.ndarray) -> np.ndarray:
    """Return the baseline index (log-odds) of control-arm outcome probabilities."""
    p = np.clip(probability, PROBABILITY_FLOOR, 1.0 - PROBABILITY_FLOOR)
    logit: np.ndarray = np.log(p / (1.0 - p))
    return logit


def fit_coefficients(
    residual: np.ndarray, treatment: np.ndarray, need_raw: np.ndarray, baseline: np.ndarray
) -> tuple[float, float]:
    """Return ``(shift, need_gain)`` minimising the R-loss on these rows.

    ``residual`` and ``treatment`` are ``Y - m`` and ``D - e``; Levenberg-Marquardt from
    zero (no effect) with the analytic Jacobian.
    """
    need = 1.0 / (1.0 + np.exp(-need_raw))

    def loss(theta: np.ndarray) -> np.ndarray:
        residuals: np.ndarray = residual - treatment * index_effect(
            theta[0], theta[1], need_raw, baseline
        )
        return residuals

    def jacobian(theta: np.ndarray) -> np.ndarray:
        treated = 1.0 / (1.0 + np.exp(-(baseline + theta[0] + theta[1] * need)))
        slope = treated * (1.0 - treated)
        return np.column_stack([-treatment * slope, -treatment * slope * need])

    result = least_squares(loss, np.zeros(2), jac=jacobian, method="lm")
    return float(result.x[0]), float(result.x[1])


def fit_index_stage(
    target: tuple[np.ndarray, np.ndarray],
    need_raw: np.ndarray,
    baseline: np.ndarray,
    folds: np.ndarray,
) -> tuple[tuple[float, float], np.ndarray]:
    """Fit ``(shift, need_gain)`` by the R-loss; out-of-fold estimates of every row.

    Parameters
    ----------
    target : tuple of ndarray
        ``(Y - m, D - e)`` of the contrast rows: the outcome's and the treatment's
        residuals on the nuisances.
    need_raw, baseline : ndarray
        The rows' out-of-fold need index (raw score) and baseline index (log-odds).
    folds : ndarray of int
        The rows' cross-fitting folds.

    Returns
    -------
    coefficients : tuple of float
        ``(shift, need_gain)`` fitted on all rows.
    out_of_fold : ndarray
        Each row's estimate from the coefficients fitted without its fold.
    """
    residual, treatment = target
    out_of_fold = np.full(len(residual), np.nan)
    for fold in np.unique(folds):
        train, held_out = folds != fold, folds == fold
        shift, gain = fit_coefficients(
            residual[train], treatment[train], need_raw[train], baseline[train]
        )
        out_of_fold[held_out] = index_effect(shift, gain, need_raw[held_out], baseline[held_out])
    return fit_coefficients(residual, treatment, need_raw, baseline), out_of_fold
