"""The fairness policy: tolerances, which checks gate a release, and how doubt is treated.

A policy is a small YAML file; :func:`load_policy` reads it and fills everything it
does not set from the documented defaults in ``fairness/policy_default.yaml``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

DEFAULT_POLICY_PATH = Path(__file__).parent / "policy_default.yaml"

Metric = Literal["selection_rate_ratio", "tpr_gap", "fpr_gap", "calibration_gap"]
FLAG_METRICS: tuple[Metric, ...] = (
    "selection_rate_ratio",
    "tpr_gap",
    "fpr_gap",
    "calibration_gap",
)

DEFAULT_GATE_METRICS: tuple[Metric, ...] = ("calibration_gap",)

MSG_POLICY_FILE = "invalid fairness policy {path}: {problems}"
MSG_POLICY_READ = "cannot read fairness policy {path}: {reason}"
MSG_DUPLICATE_METRIC = "gate_metrics lists {metric!r} more than once"


class Policy(BaseModel):
    """Tolerances and gate settings of a fairness audit.

    Attributes
    ----------
    min_group_size : int
        Cells (groups, intersections) with fewer clients are suppressed in every output.
    confidence : float
        Level of every reported interval.
    multiplicity : {"bonferroni", "none"}
        How the intervals behind flags account for the many checks of one audit.
        ``bonferroni`` widens them to a simultaneous level ``1 - (1 - confidence) / m``
        over the ``m`` gating checks, so that a fair model fails by chance with
        probability at most ``1 - confidence``.
    reference : {"rest", "overall", "largest"}
        The group each cell is compared with: the rest of the population, the whole
        population, or the largest cell of the same attribute (or pair).
    selection_rate_ratio_min : float
        Four-fifths rule: a cell's selection rate divided by the reference's.
    tpr_gap_max, fpr_gap_max : float
        Largest allowed difference of true/false positive rates from the reference.
    calibration_gap_max : float
        Largest allowed ``|mean score - base rate|`` within a cell.
    gap_sides : {"disadvantage", "both"}
        ``disadvantage`` flags only a lower TPR (needs missed more often) and a higher
        FPR (unneeded referrals more often) than the reference; ``both`` flags either
        direction. The calibration gap is always two-sided.
    gate_metrics : list of str
        The flags that decide the verdict and the release gate; other flags are shown
        but only inform. Default: the calibration gap only (see ``docs/fairness.md``:
        with calibrated scores, one threshold and groups whose needs differ, error-rate
        and selection-rate parity cannot all hold, so gating on them blocks every model).
    gate_intersections : bool
        Whether flags of intersectional cells (pairs of attributes) gate too.
    intersections : bool
        Whether to audit pairs of attributes at all.
    uncertain : {"report", "block"}
        ``report``: an uncertain gating flag makes the verdict "uncertain" and does not
        block a release; ``block``: it blocks like a failure.
    ece_bins : int
        Equal-width score bins of the expected calibration error.
    bootstrap_replicates : int
        Replicates of the ECE interval (the only bootstrap in the audit).
    seed : int
        Seed of that bootstrap.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_group_size: int = Field(20, ge=1)
    confidence: float = Field(0.95, gt=0.5, lt=1.0)
    multiplicity: Literal["bonferroni", "none"] = "bonferroni"
    reference: Literal["rest", "overall", "largest"] = "rest"
    selection_rate_ratio_min: float = Field(0.8, gt=0.0, le=1.0)
    tpr_gap_max: float = Field(0.10, ge=0.0, le=1.0)
    fpr_gap_max: float = Field(0.05, ge=0.0, le=1.0)
    calibration_gap_max: float = Field(0.05, ge=0.0, le=1.0)
    gap_sides: Literal["disadvantage", "both"] = "disadvantage"
    gate_metrics: list[Metric] = Field(default_factory=lambda: list(DEFAULT_GATE_METRICS))
    gate_intersections: bool = True
    intersections: bool = True
    uncertain: Literal["report", "block"] = "report"
    ece_bins: int = Field(10, ge=2, le=100)
    bootstrap_replicates: int = Field(200, ge=0, le=10_000)
    seed: int = 0

    @field_validator("gate_metrics")
    @classmethod
    def _unique(cls, value: list[Metric]) -> list[Metric]:
        for metric in value:
            if value.count(metric) > 1:
                raise ValueError(MSG_DUPLICATE_METRIC.format(metric=metric))
        return value

    def tolerance(self, metric: str) -> float:
        """Return the tolerance of a flag metric (the ratio's minimum for the selection rate)."""
        return {
            "selection_rate_ratio": self.selection_rate_ratio_min,
            "tpr_gap": self.tpr_gap_max,
            "fpr_gap": self.fpr_gap_max,
            "calibration_gap": self.calibration_gap_max,
        }[metric]


def policy_from_dict(raw: Any, *, origin: str | Path = "<dict>") -> Policy:
    """Build a policy from parsed data; unknown keys and bad values raise ``ValueError``."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ValueError(
            MSG_POLICY_FILE.format(path=origin, problems="the top level must be a mapping")
        )
    try:
        return Policy.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in item['loc']) or '(top)'}: {item['msg']}"
            for item in exc.errors()
        )
        raise ValueError(MSG_POLICY_FILE.format(path=origin, problems=problems)) from exc


def load_policy(path: str | Path | None = None) -> Policy:
    """Read a policy file; the documented default policy when ``path`` is None.

    Parameters
    ----------
    path : str or Path, optional
        A YAML file with any subset of the :class:`Policy` fields.

    Returns
    -------
    Policy

    Raises
    ------
    ValueError
        The file cannot be read, is not YAML, or sets unknown keys or bad values.
    """
    policy_path = Path(path) if path is not None else DEFAULT_POLICY_PATH
    try:
        raw = yaml.safe_load(policy_path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(MSG_POLICY_READ.format(path=policy_path, reason=exc.strerror)) from exc
    except yaml.YAMLError as exc:
        raise ValueError(MSG_POLICY_READ.format(path=policy_path, reason=exc)) from exc
    return policy_from_dict(raw, origin=policy_path)


def flag_status(policy: Policy, metric: str, low: np.ndarray, high: np.ndarray) -> NDArray[np.str_]:
    """Status of flags from their decision intervals: pass, fail, uncertain, not_evaluable.

    A flag fails when its whole interval lies on the wrong side of the tolerance, passes
    when the whole interval lies on the right side, and is uncertain when the interval
    contains the tolerance. ``NaN`` intervals are not evaluable.

    Parameters
    ----------
    policy : Policy
        Supplies the tolerance and ``gap_sides``.
    metric : str
        One of ``FLAG_METRICS``.
    low, high : ndarray
        The decision interval of each flag.

    Returns
    -------
    ndarray of str
    """
    low = np.asarray(low, dtype=np.float64)
    high = np.asarray(high, dtype=np.float64)
    tolerance = policy.tolerance(metric)
    if metric == "selection_rate_ratio":
        fail, ok = high < tolerance, low > tolerance
    elif metric == "calibration_gap" or policy.gap_sides == "both":
        fail = (high < -tolerance) | (low > tolerance)
        ok = (low > -tolerance) & (high < tolerance)
    elif metric == "tpr_gap":
        fail, ok = high < -tolerance, low > -tolerance
    else:  # fpr_gap: a higher FPR than the reference is the disadvantage
        fail, ok = low > tolerance, high < tolerance
    status = np.where(fail, "fail", np.where(ok, "pass", "uncertain"))
    return np.where(np.isnan(low) | np.isnan(high), "not_evaluable", status)
