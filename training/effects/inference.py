"""Average effects, their intervals and the sensitivity analysis, through DoubleML.

The cross-fitted nuisances of :mod:`training.effects.nuisance` are handed to DoubleML's
interactive regression model (``DoubleMLIRM``) as external predictions, so the average
effect, its confidence interval and the omitted-variable bounds (Chernozhukov, Cinelli,
Newey, Sharma and Syrgkanis 2022) are DoubleML's own computations on our nuisances.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

Z_95 = 1.959963984540054
SENSITIVITY_CF_Y = 0.03
"""Default confounding strength on the outcome: share of the outcome's residual
variation an omitted factor would explain (DoubleML's ``cf_y``)."""
SENSITIVITY_CF_D = 0.03
"""Default confounding strength on the treatment (DoubleML's ``cf_d``)."""


@dataclass(frozen=True)
class AverageEffect:
    """An average effect with its 95 % interval and, optionally, sensitivity bounds."""

    estimate: float
    lower: float
    upper: float
    clients: int
    treated: int
    bound_lower: float | None = None
    bound_upper: float | None = None
    robustness_value: float | None = None
    cf_y: float | None = None
    cf_d: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {key: value for key, value in self.__dict__.items() if value is not None}


def dr_pseudo_outcome(
    outcome: np.ndarray,
    treated: np.ndarray,
    propensity: np.ndarray,
    mu_treated: np.ndarray,
    mu_control: np.ndarray,
) -> np.ndarray:
    """Compute the doubly robust (AIPW) pseudo-outcome; its mean is the average effect."""
    d = treated.astype(np.float64)
    return np.asarray(
        mu_treated
        - mu_control
        + d * (outcome - mu_treated) / propensity
        - (1.0 - d) * (outcome - mu_control) / (1.0 - propensity),
        dtype=np.float64,
    )


def r_learner_target(
    outcome: np.ndarray,
    treated: np.ndarray,
    propensity: np.ndarray,
    mu_treated: np.ndarray,
    mu_control: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Label and weight of the R-learner final stage (Nie and Wager 2021).

    Minimising ``sum w (label - tau(x))^2`` with ``label = (Y - m) / (D - e)`` and
    ``w = (D - e)^2``, where ``m = e mu_1 + (1 - e) mu_0`` is the outcome's mean given
    ``x``, is the R-loss ``sum ((Y - m) - (D - e) tau(x))^2``. Unlike the doubly robust
    pseudo-outcome, no ``1/e`` term blows up when few clients received the service.
    """
    outcome_residual, residual = r_residuals(outcome, treated, propensity, mu_treated, mu_control)
    return outcome_residual / residual, residual**2


def r_residuals(
    outcome: np.ndarray,
    treated: np.ndarray,
    propensity: np.ndarray,
    mu_treated: np.ndarray,
    mu_control: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Return the outcome's and the treatment's residuals ``(Y - m, D - e)`` of the R-loss."""
    d = treated.astype(np.float64)
    mean_outcome = propensity * mu_treated + (1.0 - propensity) * mu_control
    return (
        np.asarray(outcome - mean_outcome, dtype=np.float64),
        np.asarray(d - propensity, dtype=np.float64),
    )


def mean_interval(values: np.ndarray) -> tuple[float, float, float]:
    """Return the mean and its normal 95 % interval."""
    mean = float(np.mean(values))
    half = Z_95 * float(np.std(values, ddof=1)) / np.sqrt(len(values)) if len(values) > 1 else 0.0
    return mean, mean - half, mean + half


def doubleml_average_effect(
    matrix: np.ndarray,
    outcome: np.ndarray,
    treated: np.ndarray,
    propensity: np.ndarray,
    mu_treated: np.ndarray,
    mu_control: np.ndarray,
    *,
    cf_y: float = SENSITIVITY_CF_Y,
    cf_d: float = SENSITIVITY_CF_D,
    rho: float = 1.0,
) -> AverageEffect:
    """ATE, 95 % interval and omitted-variable bounds from ``DoubleMLIRM``.

    Parameters
    ----------
    matrix, outcome, treated : ndarray
        The clients of the contrast (received the service or no service).
    propensity, mu_treated, mu_control : ndarray
        Out-of-fold nuisance predictions for the same clients.
    cf_y, cf_d, rho : float
        Strength of a hypothetical omitted confounder (DoubleML's parameters).

    Returns
    -------
    AverageEffect
    """
    import doubleml as dml
    from doubleml.utils import DMLDummyClassifier, DMLDummyRegressor

    data = dml.DoubleMLData.from_arrays(
        np.nan_to_num(matrix), outcome, treated.astype(np.float64), force_all_x_finite=False
    )
    model = dml.DoubleMLIRM(
        data,
        ml_g=DMLDummyRegressor(),
        ml_m=DMLDummyClassifier(),
        n_folds=2,
        trimming_threshold=1e-12,
    )
    external = {
        "d": {
            "ml_g0": mu_control.reshape(-1, 1),
            "ml_g1": mu_treated.reshape(-1, 1),
            "ml_m": propensity.reshape(-1, 1),
        }
    }
    model.fit(external_predictions=external)
    interval = model.confint(level=0.95).to_numpy()[0]
    model.sensitivity_analysis(cf_y=cf_y, cf_d=cf_d, rho=rho)
    params = model.sensitivity_params
    return AverageEffect(
        estimate=float(model.coef[0]),
        lower=float(interval[0]),
        upper=float(interval[1]),
        clients=len(outcome),
        treated=int(treated.sum()),
        bound_lower=float(np.asarray(params["ci"]["lower"]).ravel()[0]),
        bound_upper=float(np.asarray(params["ci"]["upper"]).ravel()[0]),
        robustness_value=float(np.asarray(params["rv"]).ravel()[0]),
        cf_y=cf_y,
        cf_d=cf_d,
    )
