"""Probability calibrators stored as JSON: isotonic (a step function) or Platt (a sigmoid).

Both map the booster's raw score (log-odds) to a calibrated probability, so the model
applies them the same way. Fitting uses scikit-learn; applying is plain numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from sklearn.isotonic import IsotonicRegression

_PLATT_CLIP = 1e-6
_NEWTON_ITERATIONS = 50
_NEWTON_TOLERANCE = 1e-10
MSG_UNKNOWN_CALIBRATOR = "unknown calibrator kind {kind!r}; expected 'isotonic', 'platt' or 'none'"


class Calibrator(Protocol):
    """A map from a booster's raw score (log-odds) to a calibrated probability."""

    @property
    def kind(self) -> str:
        """Name of the method: ``isotonic``, ``platt`` or ``none``."""
        ...

    def transform(self, raw_score: np.ndarray) -> np.ndarray:
        """Map raw scores to calibrated probabilities."""
        ...

    def to_dict(self) -> dict[str, Any]:
        """Return the calibrator as JSON-ready data (read back by ``calibrator_from_dict``)."""
        ...


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-x)))


@dataclass(frozen=True)
class IdentityCalibrator:
    """No calibration: the booster's own probability."""

    kind: str = "none"

    def transform(self, raw_score: np.ndarray) -> np.ndarray:
        """Map raw scores to the booster's own probability (the sigmoid)."""
        return _sigmoid(np.asarray(raw_score, dtype=np.float64))

    def to_dict(self) -> dict[str, Any]:
        """Return the calibrator as JSON-ready data."""
        return {"kind": self.kind}


@dataclass(frozen=True)
class PlattCalibrator:
    """``p = sigmoid(slope * raw_score + intercept)``."""

    slope: float
    intercept: float
    kind: str = "platt"

    def transform(self, raw_score: np.ndarray) -> np.ndarray:
        """Map raw scores to calibrated probabilities."""
        return _sigmoid(self.slope * np.asarray(raw_score, dtype=np.float64) + self.intercept)

    def to_dict(self) -> dict[str, Any]:
        """Return the calibrator as JSON-ready data."""
        return {"kind": self.kind, "slope": self.slope, "intercept": self.intercept}


@dataclass(frozen=True)
class IsotonicCalibrator:
    """A non-decreasing step function of the raw score, linearly interpolated."""

    x: tuple[float, ...]
    y: tuple[float, ...]
    kind: str = "isotonic"

    def transform(self, raw_score: np.ndarray) -> np.ndarray:
        """Map raw scores to calibrated probabilities."""
        return np.asarray(np.interp(np.asarray(raw_score, dtype=np.float64), self.x, self.y))

    def to_dict(self) -> dict[str, Any]:
        """Return the calibrator as JSON-ready data."""
        return {"kind": self.kind, "x": list(self.x), "y": list(self.y)}


def fit_platt(raw_score: np.ndarray, label: np.ndarray) -> PlattCalibrator:
    """Fit a Platt sigmoid on held-out raw scores (unregularised maximum likelihood).

    Damped Newton steps on the two parameters, from the constant model, halving any
    step that would lower the likelihood: the same fit as an unpenalised logistic
    regression on the raw score, much faster on large calibration splits.
    """
    x = np.asarray(raw_score, dtype=np.float64)
    y = np.asarray(label, dtype=np.float64)
    rate = float(np.clip(y.mean(), _PLATT_CLIP, 1 - _PLATT_CLIP))
    params = np.array([0.0, np.log(rate / (1 - rate))])

    def log_likelihood(candidate: np.ndarray) -> float:
        z = candidate[0] * x + candidate[1]
        return float(y @ z - np.logaddexp(0.0, z).sum())

    current = log_likelihood(params)
    for _ in range(_NEWTON_ITERATIONS):
        p = _sigmoid(params[0] * x + params[1])
        w = np.maximum(p * (1.0 - p), 1e-12)
        residual = y - p
        gradient = np.array([residual @ x, residual.sum()])
        hessian = np.array([[w @ (x * x), w @ x], [w @ x, w.sum()]]) + 1e-9 * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        for _ in range(30):
            candidate = params + step
            value = log_likelihood(candidate)
            if value >= current:
                break
            step = step / 2
        params, current = candidate, max(value, current)
        if np.abs(step).max() < _NEWTON_TOLERANCE:
            break
    return PlattCalibrator(float(params[0]), float(params[1]))


def fit_isotonic(raw_score: np.ndarray, label: np.ndarray) -> IsotonicCalibrator:
    """Fit an isotonic step function on held-out raw scores (probabilities kept in (0, 1))."""
    regression = IsotonicRegression(y_min=1e-4, y_max=1 - 1e-4, out_of_bounds="clip")
    regression.fit(np.asarray(raw_score, dtype=np.float64), np.asarray(label, dtype=np.float64))
    return IsotonicCalibrator(
        tuple(float(v) for v in regression.X_thresholds_),
        tuple(float(v) for v in regression.y_thresholds_),
    )


def calibrator_from_dict(data: dict[str, Any]) -> Calibrator:
    """Rebuild a calibrator from its JSON form."""
    kind = data.get("kind")
    if kind == "isotonic":
        return IsotonicCalibrator(tuple(data["x"]), tuple(data["y"]))
    if kind == "platt":
        return PlattCalibrator(float(data["slope"]), float(data["intercept"]))
    if kind == "none":
        return IdentityCalibrator()
    raise ValueError(MSG_UNKNOWN_CALIBRATOR.format(kind=kind))
