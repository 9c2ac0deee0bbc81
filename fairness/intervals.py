"""Confidence intervals, vectorised over arrays of groups.

Every function takes counts or sums as numpy arrays (any shape, broadcast together) and
returns arrays of the same shape; an interval that cannot be computed (no trials, fewer
than two observations) is ``NaN``.

- proportions: Wilson score interval;
- difference of two independent proportions: Newcombe's hybrid score interval (his
  method 10), built from the two Wilson intervals;
- ratio of two independent proportions: Katz's log interval, with 0.5 added to both
  counts when either count is zero;
- means and differences of means: normal (Wald) interval from the sample variance;
- calibration gap (mean score minus base rate): MOVER (Zou and Donner's method of
  variance estimates recovery, for correlated estimates) from the normal interval of the
  mean score and the Wilson interval of the base rate, so that small cells with rare
  positives get honest intervals;
- expected calibration error: a Poisson bootstrap over (bin, label) strata.
"""

from __future__ import annotations

import warnings
from statistics import NormalDist
from typing import TypeAlias

import numpy as np
from numpy.typing import NDArray

Array: TypeAlias = NDArray[np.float64]
Interval: TypeAlias = tuple[Array, Array]

MSG_CONFIDENCE = "confidence must be strictly between 0 and 1, got {confidence!r}"


def z_value(confidence: float, *, tests: int = 1) -> float:
    """Return the two-sided normal quantile for ``confidence``, Bonferroni-adjusted for ``tests``.

    Parameters
    ----------
    confidence : float
        Confidence level of one interval, e.g. 0.95.
    tests : int, default 1
        Number of simultaneous intervals; the error rate ``1 - confidence`` is split
        evenly among them.

    Returns
    -------
    float
        ``z`` such that ``estimate +- z * se`` covers with the requested level.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(MSG_CONFIDENCE.format(confidence=confidence))
    alpha = (1.0 - confidence) / max(int(tests), 1)
    return -NormalDist().inv_cdf(alpha / 2.0)


def simultaneous_confidence(confidence: float, *, tests: int) -> float:
    """Return the per-interval confidence level of a Bonferroni family of ``tests`` intervals."""
    return 1.0 - (1.0 - confidence) / max(int(tests), 1)


def _as_float(values: object) -> Array:
    return np.asarray(values, dtype=np.float64)


def wilson_interval(successes: object, trials: object, *, z: float) -> Interval:
    """Wilson score interval for a binomial proportion.

    Parameters
    ----------
    successes, trials : array_like
        Counts; ``trials == 0`` gives ``NaN``.
    z : float
        Normal quantile (see :func:`z_value`).

    Returns
    -------
    low, high : ndarray
    """
    x = _as_float(successes)
    n = _as_float(trials)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = x / n
        z2 = z * z
        centre = (p + z2 / (2 * n)) / (1 + z2 / n)
        half = z * np.sqrt(np.maximum(p * (1 - p) / n + z2 / (4 * n * n), 0.0)) / (1 + z2 / n)
        low = np.clip(centre - half, 0.0, 1.0)
        high = np.clip(centre + half, 0.0, 1.0)
    low = np.where(x <= 0, 0.0, low)  # exact at the edges (no rounding residue)
    high = np.where(x >= n, 1.0, high)
    empty = n <= 0
    low = np.where(empty, np.nan, low)
    high = np.where(empty, np.nan, high)
    return low, high


def newcombe_difference_interval(
    successes_a: object, trials_a: object, successes_b: object, trials_b: object, *, z: float
) -> Interval:
    """Newcombe's hybrid score interval for ``p_a - p_b`` (independent samples).

    Returns
    -------
    low, high : ndarray
        ``NaN`` where either sample is empty.
    """
    xa, na = _as_float(successes_a), _as_float(trials_a)
    xb, nb = _as_float(successes_b), _as_float(trials_b)
    low_a, high_a = wilson_interval(xa, na, z=z)
    low_b, high_b = wilson_interval(xb, nb, z=z)
    with np.errstate(divide="ignore", invalid="ignore"):
        pa, pb = xa / na, xb / nb
        difference = pa - pb
        low = difference - np.sqrt((pa - low_a) ** 2 + (high_b - pb) ** 2)
        high = difference + np.sqrt((high_a - pa) ** 2 + (pb - low_b) ** 2)
    return np.clip(low, -1.0, 1.0), np.clip(high, -1.0, 1.0)


def katz_ratio_interval(
    successes_a: object, trials_a: object, successes_b: object, trials_b: object, *, z: float
) -> Interval:
    """Katz's log interval for the ratio ``p_a / p_b`` (independent samples).

    When either count is zero, 0.5 is added to both counts and to both totals (the
    usual continuity correction), so the interval stays finite.

    Returns
    -------
    low, high : ndarray
        ``NaN`` where either sample is empty or both counts are zero.
    """
    xa, na = _as_float(successes_a), _as_float(trials_a)
    xb, nb = _as_float(successes_b), _as_float(trials_b)
    correct = (xa == 0) | (xb == 0)
    xa_c = np.where(correct, xa + 0.5, xa)
    xb_c = np.where(correct, xb + 0.5, xb)
    na_c = np.where(correct, na + 0.5, na)
    nb_c = np.where(correct, nb + 0.5, nb)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = np.log((xa_c / na_c) / (xb_c / nb_c))
        se = np.sqrt(1 / xa_c - 1 / na_c + 1 / xb_c - 1 / nb_c)
        low = np.exp(log_ratio - z * se)
        high = np.exp(log_ratio + z * se)
    undefined = (na <= 0) | (nb <= 0) | ((xa == 0) & (xb == 0))
    return np.where(undefined, np.nan, low), np.where(undefined, np.nan, high)


def mean_and_variance(
    total: object, total_of_squares: object, count: object
) -> tuple[Array, Array]:
    """Sample mean and sample variance (``ddof=1``) from sums; ``NaN`` where undefined."""
    s, ss, n = _as_float(total), _as_float(total_of_squares), _as_float(count)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = s / n
        variance = np.maximum(ss - n * mean * mean, 0.0) / (n - 1)
    mean = np.where(n > 0, mean, np.nan)
    variance = np.where(n > 1, variance, np.nan)
    return mean, variance


def normal_interval(estimate: object, standard_error: object, *, z: float) -> Interval:
    """``estimate +- z * standard_error``."""
    value, se = _as_float(estimate), _as_float(standard_error)
    return value - z * se, value + z * se


def mover_difference_interval(
    first: object,
    first_interval: Interval,
    second: object,
    second_interval: Interval,
    *,
    correlation: object = 0.0,
) -> Interval:
    """MOVER interval for ``first - second`` from the two estimates' own intervals.

    Zou and Donner's method of variance estimates recovery: the interval of each
    estimate stands in for its variance, so an asymmetric interval (e.g. Wilson near 0)
    carries over. ``correlation`` is the correlation of the two estimates (0 for
    independent samples); Newcombe's hybrid score interval is the special case of two
    Wilson intervals and no correlation.

    Returns
    -------
    low, high : ndarray
    """
    a, b = _as_float(first), _as_float(second)
    low_a, high_a = first_interval
    low_b, high_b = second_interval
    r = np.clip(np.nan_to_num(_as_float(correlation)), -1.0, 1.0)
    with np.errstate(invalid="ignore"):
        down_a, up_a = a - low_a, high_a - a
        down_b, up_b = b - low_b, high_b - b
        low = (a - b) - np.sqrt(np.maximum(down_a**2 + up_b**2 - 2 * r * down_a * up_b, 0.0))
        high = (a - b) + np.sqrt(np.maximum(up_a**2 + down_b**2 - 2 * r * up_a * down_b, 0.0))
    return low, high


def calibration_gap_interval(
    score_sum: object,
    score_square_sum: object,
    score_label_sum: object,
    positives: object,
    count: object,
    *,
    z: float,
) -> tuple[Array, Array, Array]:
    """Calibration gap ``mean score - base rate`` with its MOVER interval.

    The mean score's interval is normal; the base rate's is Wilson; their correlation
    (the within-group correlation of score and label) comes from the same sums. A plain
    normal interval on ``score - label`` is too narrow in a small cell with few
    positives (no positives means no label variance at all); this one is not.

    Returns
    -------
    gap, low, high : ndarray
    """
    s, ss, sy = _as_float(score_sum), _as_float(score_square_sum), _as_float(score_label_sum)
    pos, n = _as_float(positives), _as_float(count)
    mean, variance = mean_and_variance(s, ss, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(n > 0, pos / n, np.nan)
        se = np.sqrt(variance / n)
        label_variance = n * rate * (1 - rate) / (n - 1)
        covariance = (sy - n * mean * rate) / (n - 1)
        correlation = covariance / np.sqrt(variance * label_variance)
    correlation = np.where(np.isfinite(correlation), correlation, 0.0)
    score_interval = normal_interval(mean, np.nan_to_num(se), z=z)
    rate_interval = wilson_interval(pos, n, z=z)
    low, high = mover_difference_interval(
        mean, score_interval, rate, rate_interval, correlation=correlation
    )
    gap = mean - rate
    undefined = n < 2
    return gap, np.where(undefined, np.nan, low), np.where(undefined, np.nan, high)


def ece_bootstrap_interval(
    counts: Array,
    score_sums: Array,
    score_square_sums: Array,
    *,
    confidence: float,
    replicates: int,
    seed: int,
) -> Interval:
    """Percentile interval for the expected calibration error, by a stratum bootstrap.

    Rows are summarised per (score bin, label) stratum. A replicate redraws each
    stratum's count from a Poisson distribution with the observed count as mean (the
    Poisson bootstrap), and its score sum from a normal distribution with the stratum's
    mean and variance; the ECE is then ``sum_b |scores_b - positives_b| / n``. The
    spread of scores inside a bin is small (at most the bin width), so this matches a
    row-level bootstrap closely at a fraction of its cost.

    Parameters
    ----------
    counts, score_sums, score_square_sums : ndarray, shape (..., bins, 2)
        Per group: stratum sizes, sums of scores and of squared scores; the last axis
        is the label (0, 1).
    confidence : float
        Level of the percentile interval.
    replicates : int
        Number of bootstrap replicates.
    seed : int
        Seed of the random generator (the audit is reproducible).

    Returns
    -------
    low, high : ndarray, shape (...)
    """
    shape = counts.shape[:-2]
    if replicates <= 0 or counts.size == 0:
        nan = np.full(shape, np.nan)
        return nan, nan.copy()
    rng = np.random.default_rng(seed)
    mean, variance = mean_and_variance(score_sums, score_square_sums, counts)
    mean = np.nan_to_num(mean)
    spread = np.sqrt(np.nan_to_num(variance))
    flat_counts = counts.reshape(-1, *counts.shape[-2:])
    flat_mean = mean.reshape(flat_counts.shape)
    flat_spread = spread.reshape(flat_counts.shape)
    ece = np.empty((replicates, flat_counts.shape[0]))
    chunk = 25  # replicates per step: keeps the temporaries in cache
    for begin in range(0, replicates, chunk):
        size = min(chunk, replicates - begin)
        draws = rng.poisson(flat_counts, size=(size, *flat_counts.shape)).astype(np.float64)
        noise = rng.standard_normal(draws.shape)
        scores = draws * flat_mean + np.sqrt(draws) * flat_spread * noise
        bin_gap = np.abs(scores.sum(axis=-1) - draws[..., 1]).sum(axis=-1)
        total = draws.sum(axis=(-1, -2))
        with np.errstate(divide="ignore", invalid="ignore"):
            ece[begin : begin + size] = bin_gap / total
    ece = ece.reshape(replicates, *shape)
    alpha = 1.0 - confidence
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices: empty groups
        low = np.nanquantile(ece, alpha / 2, axis=0)
        high = np.nanquantile(ece, 1 - alpha / 2, axis=0)
    empty = counts.sum(axis=(-1, -2)) <= 0
    return np.where(empty, np.nan, low), np.where(empty, np.nan, high)
