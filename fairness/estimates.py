"""Estimates with intervals, vectorised over cells and services, from typed counts.

Everything here works on arrays of shape ``(cells, services)``: the metrics of every
cell, its comparisons with its reference group, and the flag metrics with their
decision intervals. :mod:`fairness.assemble` turns them into the report's models.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from fairness import intervals as ci
from fairness.intervals import Array
from fairness.metrics import (
    Counts,
    GroupStatistics,
    Partition,
    safe_ratio,
    strata_calibration_error,
)
from fairness.policy import Metric, Policy

RATE_METRICS = ("base_rate", "selection_rate", "tpr", "fpr", "fnr", "precision")
METRIC_ORDER = (
    "base_rate",
    "mean_score",
    "selection_rate",
    "tpr",
    "fpr",
    "fnr",
    "precision",
    "roc_auc",
    "calibration_gap",
    "ece",
)


def _stored(values: Array) -> list[list[float | None]]:
    """Figures as the report stores them: 5 decimals, ``None`` where not finite."""
    return [
        [round(v, 5) if math.isfinite(v) else None for v in row]
        for row in np.atleast_2d(values).tolist()
    ]


@dataclass(frozen=True)
class Estimates:
    """Values and interval ends of one quantity, each of shape ``(cells, services)``."""

    value: Array
    low: Array
    high: Array

    @functools.cached_property
    def stored(self) -> tuple[list[list[float | None]], ...]:
        """Value, low and high as the report stores them (computed once, then indexed)."""
        return _stored(self.value), _stored(self.low), _stored(self.high)


@dataclass(frozen=True)
class Comparison:
    """A cell's quantity against its reference: the difference, and the ratio of rates."""

    difference: Estimates
    ratio: Estimates | None = None


def reference_counts(
    counts: Counts, partitions: list[Partition], offsets: NDArray[np.intp], policy: Policy
) -> tuple[Counts, NDArray[np.bool_]]:
    """Count each cell's reference group, and tell which cells are their own reference.

    Under ``reference: largest`` the largest cell of each partition is its own
    reference (it is not compared); under the other references no cell is.
    """
    population = counts.map(lambda value: value[0:1, :])
    is_reference = np.zeros(counts.n.shape, dtype=bool)
    if policy.reference == "overall":
        return population.map(lambda v: np.broadcast_to(v, counts.n.shape).copy()), is_reference
    if policy.reference == "rest":
        return population.combine(counts, lambda total, cell: total - cell), is_reference
    reference_index = np.zeros(counts.n.shape, dtype=np.intp)
    for part, start in zip(partitions, offsets[:-1], strict=True):
        block = counts.n[start : start + part.size]
        reference_index[start : start + part.size] = start + np.argmax(block, axis=0)
    is_reference = reference_index == np.arange(counts.n.shape[0])[:, None]
    columns = np.arange(counts.n.shape[1])[None, :]
    return counts.map(lambda value: value[reference_index, columns]), is_reference


def rate_counts(counts: Counts) -> dict[str, tuple[Array, Array]]:
    """(successes, trials) of each rate metric."""
    return {
        "base_rate": (counts.positives, counts.n),
        "selection_rate": (counts.selected, counts.n),
        "tpr": (counts.true_positives, counts.positives),
        "fpr": (counts.false_positives, counts.negatives),
        "fnr": (counts.false_negatives, counts.positives),
        "precision": (counts.true_positives, counts.selected),
    }


def _rate(successes: Array, trials: Array, z: float) -> Estimates:
    low, high = ci.wilson_interval(successes, trials, z=z)
    return Estimates(safe_ratio(successes, trials), low, high)


def _mean_score(counts: Counts, z: float) -> tuple[Estimates, Array]:
    mean, variance = ci.mean_and_variance(counts.score_sum, counts.score_square_sum, counts.n)
    with np.errstate(divide="ignore", invalid="ignore"):
        standard_error = np.sqrt(variance / counts.n)
    low, high = ci.normal_interval(mean, standard_error, z=z)
    return Estimates(mean, low, high), standard_error


def _calibration_gap(counts: Counts, z: float) -> Estimates:
    gap, low, high = ci.calibration_gap_interval(
        counts.score_sum,
        counts.score_square_sum,
        counts.score_label_sum,
        counts.positives,
        counts.n,
        z=z,
    )
    return Estimates(gap, low, high)


def _roc_auc(stats: GroupStatistics, z: float) -> Estimates:
    with np.errstate(invalid="ignore"):
        standard_error = np.sqrt(stats.auc_variance)
    low, high = ci.normal_interval(stats.auc, standard_error, z=z)
    return Estimates(stats.auc, np.clip(low, 0, 1), np.clip(high, 0, 1))


def _ece(stats: GroupStatistics, policy: Policy) -> Estimates:
    counts, score_sums, squares = stats.calibration_strata
    ece = strata_calibration_error(counts, score_sums)
    low = np.full(ece.shape, np.nan)
    high = np.full(ece.shape, np.nan)
    shown = stats.n >= policy.min_group_size
    if shown.any():
        low[shown], high[shown] = ci.ece_bootstrap_interval(
            counts[shown],
            score_sums[shown],
            squares[shown],
            confidence=policy.confidence,
            replicates=policy.bootstrap_replicates,
            seed=policy.seed,
        )
    return Estimates(ece, low, high)


def cell_metrics(stats: GroupStatistics, policy: Policy, z: float) -> dict[str, Estimates]:
    """Every metric of every cell (``METRIC_ORDER``), with ``z``-level intervals."""
    counts = stats.counts
    metrics = {metric: _rate(x, n, z) for metric, (x, n) in rate_counts(counts).items()}
    metrics["mean_score"] = _mean_score(counts, z)[0]
    metrics["roc_auc"] = _roc_auc(stats, z)
    metrics["calibration_gap"] = _calibration_gap(counts, z)
    metrics["ece"] = _ece(stats, policy)
    return {metric: metrics[metric] for metric in METRIC_ORDER}


def comparisons(cell: Counts, reference: Counts, z: float) -> dict[str, Comparison]:
    """Differences (and ratios, for rates) of each cell against its reference."""
    cell_rates, reference_rates = rate_counts(cell), rate_counts(reference)
    result: dict[str, Comparison] = {}
    for metric in RATE_METRICS:
        (x1, n1), (x2, n2) = cell_rates[metric], reference_rates[metric]
        difference = safe_ratio(x1, n1) - safe_ratio(x2, n2)
        ratio = safe_ratio(safe_ratio(x1, n1), safe_ratio(x2, n2))
        result[metric] = Comparison(
            Estimates(difference, *ci.newcombe_difference_interval(x1, n1, x2, n2, z=z)),
            Estimates(ratio, *ci.katz_ratio_interval(x1, n1, x2, n2, z=z)),
        )
    cell_mean, cell_se = _mean_score(cell, z)
    reference_mean, reference_se = _mean_score(reference, z)
    difference = cell_mean.value - reference_mean.value
    low, high = ci.normal_interval(difference, np.sqrt(cell_se**2 + reference_se**2), z=z)
    result["mean_score"] = Comparison(Estimates(difference, low, high))
    cell_gap, reference_gap = _calibration_gap(cell, z), _calibration_gap(reference, z)
    low, high = ci.mover_difference_interval(
        cell_gap.value,
        (cell_gap.low, cell_gap.high),
        reference_gap.value,
        (reference_gap.low, reference_gap.high),
    )
    result["calibration_gap"] = Comparison(
        Estimates(cell_gap.value - reference_gap.value, low, high)
    )
    return result


def flag_estimates(cell: Counts, reference: Counts, z: float) -> dict[Metric, Estimates]:
    """Value and decision interval (at ``z``) of each flag metric (``FLAG_METRICS``)."""
    ratio_low, ratio_high = ci.katz_ratio_interval(
        cell.selected, cell.n, reference.selected, reference.n, z=z
    )
    tpr_low, tpr_high = ci.newcombe_difference_interval(
        cell.true_positives, cell.positives, reference.true_positives, reference.positives, z=z
    )
    fpr_low, fpr_high = ci.newcombe_difference_interval(
        cell.false_positives, cell.negatives, reference.false_positives, reference.negatives, z=z
    )
    selection = safe_ratio(cell.selected, cell.n), safe_ratio(reference.selected, reference.n)
    tpr = (
        safe_ratio(cell.true_positives, cell.positives),
        safe_ratio(reference.true_positives, reference.positives),
    )
    fpr = (
        safe_ratio(cell.false_positives, cell.negatives),
        safe_ratio(reference.false_positives, reference.negatives),
    )
    return {
        "selection_rate_ratio": Estimates(safe_ratio(*selection), ratio_low, ratio_high),
        "tpr_gap": Estimates(tpr[0] - tpr[1], tpr_low, tpr_high),
        "fpr_gap": Estimates(fpr[0] - fpr[1], fpr_low, fpr_high),
        "calibration_gap": _calibration_gap(cell, z),
    }
