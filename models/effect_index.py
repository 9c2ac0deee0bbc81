"""The index final stage: a service's effect through the client's need and baseline chance.

Effect models fitted on all register fields learn from the few thousand clients who
received a service; the need for that service is learned from every client's recorded
need, and the chance of the outcome without any service from every client who got none.
The index final stage lets the effect vary through these two well-estimated numbers
only (risk-based effect modelling, as the PATH statement recommends for clinical
trials): the service shifts the log-odds of work or education within six months by
``shift + need_gain * need``, so for a client with need probability ``n`` and baseline
log-odds ``L``::

    effect = sigmoid(L + shift + need_gain * n) - sigmoid(L)

``shift`` is what the service does for a client with no need for it (lock-in shows as a
negative shift); ``need_gain`` is how much more it does per unit of need. Both indices
are LightGBM models of the register fields (``need = sigmoid(need raw score)``,
``L = baseline raw score``).

Reasons per input field: the two indices' exact TreeSHAP values are carried through the
effect formula by the rescale rule of Chen, Lundberg and Lee (2022, "Explaining a
series of models by propagating Shapley values"): the exact Shapley split of the effect
between the two indices, each divided among the fields in proportion to the index's own
TreeSHAP values. The base value is the effect at the two indices' base values, and base
plus all contributions is the estimate.
"""

from __future__ import annotations

import numpy as np

SLOPE_STEP = 1e-6
"""An index this close to its base value is divided by the effect's slope instead."""


def _sigmoid(value: np.ndarray) -> np.ndarray:
    result: np.ndarray = 1.0 / (1.0 + np.exp(-value))
    return result


def index_effect(
    shift: float | np.ndarray,
    need_gain: float | np.ndarray,
    need_raw: np.ndarray,
    baseline_logit: np.ndarray,
) -> np.ndarray:
    """Return the estimated effect in probability points (fraction), elementwise.

    The arguments broadcast: one service's coefficients over rows, or a vector of
    services' coefficients over a (rows, services) block of need raw scores.
    """
    need = _sigmoid(np.asarray(need_raw, dtype=np.float64))
    baseline = np.asarray(baseline_logit, dtype=np.float64)
    effect: np.ndarray = _sigmoid(baseline + shift + need_gain * need) - _sigmoid(baseline)
    return effect


def _secant(change: np.ndarray, share: np.ndarray, slope: np.ndarray) -> np.ndarray:
    """``share / change``, or ``slope`` where the index barely moved from its base."""
    small = np.abs(change) < SLOPE_STEP
    result: np.ndarray = np.where(small, slope, share / np.where(small, 1.0, change))
    return result


def index_attributions(
    shift: float,
    need_gain: float,
    need_contrib: np.ndarray,
    baseline_contrib: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature contributions to the effect, and the base value.

    Parameters
    ----------
    shift, need_gain : float
        The service's index coefficients.
    need_contrib, baseline_contrib : ndarray, shape (rows, features + 1)
        ``pred_contrib`` output of the need index and of the baseline model (last
        column: the base value).

    Returns
    -------
    contributions : ndarray, shape (rows, features)
        ``base + contributions.sum(-1)`` equals :func:`index_effect` of the rows.
    base_values : ndarray, shape (rows,)
    """
    need_raw = need_contrib.sum(axis=1)
    baseline = baseline_contrib.sum(axis=1)
    need_base = need_contrib[:, -1]
    baseline_base = baseline_contrib[:, -1]

    def effect(raw: np.ndarray, logit: np.ndarray) -> np.ndarray:
        return index_effect(shift, need_gain, raw, logit)

    full = effect(need_raw, baseline)
    base = effect(need_base, baseline_base)
    need_share = 0.5 * (effect(need_raw, baseline_base) - base + full - effect(need_base, baseline))
    baseline_share = full - base - need_share
    need_slope = (
        effect(need_raw + SLOPE_STEP, baseline) - effect(need_raw - SLOPE_STEP, baseline)
    ) / (2 * SLOPE_STEP)
    baseline_slope = (
        effect(need_raw, baseline + SLOPE_STEP) - effect(need_raw, baseline - SLOPE_STEP)
    ) / (2 * SLOPE_STEP)
    need_scale = _secant(need_raw - need_base, need_share, need_slope)
    baseline_scale = _secant(baseline - baseline_base, baseline_share, baseline_slope)
    contributions = (
        need_scale[:, None] * need_contrib[:, :-1]
        + baseline_scale[:, None] * baseline_contrib[:, :-1]
    )
    return contributions, base
