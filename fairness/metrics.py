"""Per-group sufficient statistics and metrics, vectorised over groups and services.

The audit never loops over rows in Python. Groups are integer codes; each *partition*
(the whole population, one audit attribute, or a pair of attributes) assigns every row
to one cell. Per partition and service, :func:`numpy.bincount` sums what every metric
needs (counts, positives, true positives, sums of scores ...), and ROC AUC with its
DeLong variance comes from one stable sort of the scores within cells. All later
arithmetic works on arrays of shape ``(cells, services)``.

Rows whose label is missing (``NaN``) do not count for that service: that is how a
service is audited on its own population (for example only the clients eligible for it).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from fairness.intervals import Array

MISSING_VALUE = "missing"
SUM_NAMES = (
    "n",
    "positives",
    "selected",
    "true_positives",
    "score_sum",
    "score_square_sum",
    "score_label_sum",
)


@dataclass(frozen=True)
class Partition:
    """A split of the rows into cells: the population, one attribute, or a pair.

    Attributes
    ----------
    attributes : tuple of str
        Audit attribute names; empty for the whole population.
    values : tuple of tuple of str
        The attribute values of each cell, in cell-code order.
    codes : ndarray of int
        The cell of every row.
    """

    attributes: tuple[str, ...]
    values: tuple[tuple[str, ...], ...]
    codes: NDArray[np.intp]

    @property
    def size(self) -> int:
        """Return the number of cells."""
        return len(self.values)

    @property
    def kind(self) -> str:
        """Return ``population``, ``group`` (one attribute) or ``intersection`` (a pair)."""
        return {0: "population", 1: "group"}.get(len(self.attributes), "intersection")


def _encode(column: pd.Series) -> tuple[NDArray[np.intp], list[str]]:
    text = column.astype("string").fillna(MISSING_VALUE).astype(object).to_numpy()
    uniques, codes = np.unique(text, return_inverse=True)
    return codes.astype(np.intp), [str(value) for value in uniques]


def build_partitions(groups: pd.DataFrame, *, intersections: bool = True) -> list[Partition]:
    """Return the population, every attribute of ``groups``, and every pair of attributes.

    Values are compared as strings (missing values become ``"missing"``); only cells
    with at least one row are kept.
    """
    rows = len(groups)
    partitions = [Partition((), ((),), np.zeros(rows, dtype=np.intp))]
    encoded: dict[str, tuple[NDArray[np.intp], list[str]]] = {}
    for name in groups.columns:
        codes, values = _encode(groups[name])
        encoded[str(name)] = (codes, values)
        partitions.append(Partition((str(name),), tuple((v,) for v in values), codes))
    if intersections:
        for first, second in itertools.combinations(encoded, 2):
            codes_a, values_a = encoded[first]
            codes_b, values_b = encoded[second]
            joint = codes_a * len(values_b) + codes_b
            present, codes = np.unique(joint, return_inverse=True)
            pairs = tuple(
                (values_a[code // len(values_b)], values_b[code % len(values_b)])
                for code in present.tolist()
            )
            partitions.append(Partition((first, second), pairs, codes.astype(np.intp)))
    return partitions


@dataclass(frozen=True)
class Counts:
    """Sufficient statistics of rates and means, one array per quantity.

    Every array has the same shape (``(cells, services)`` in the audit). The cells' own
    counts and their reference groups' counts are both of this type.

    Attributes
    ----------
    n : ndarray
        Rows (clients with a label).
    positives : ndarray
        Rows with a recorded need.
    selected : ndarray
        Rows recommended.
    true_positives : ndarray
        Rows in need and recommended.
    score_sum, score_square_sum, score_label_sum : ndarray
        Sums of the score, its square, and the score of rows in need.
    """

    n: Array
    positives: Array
    selected: Array
    true_positives: Array
    score_sum: Array
    score_square_sum: Array
    score_label_sum: Array

    @property
    def negatives(self) -> Array:
        """Rows without a recorded need."""
        return self.n - self.positives

    @property
    def false_positives(self) -> Array:
        """Rows recommended without a need."""
        return self.selected - self.true_positives

    @property
    def false_negatives(self) -> Array:
        """Rows in need and not recommended."""
        return self.positives - self.true_positives

    def map(self, function: Callable[[Array], Array]) -> Counts:
        """Return the same function applied to every quantity (e.g. indexing, broadcasting)."""
        return Counts(**{name: function(value) for name, value in vars(self).items()})

    def combine(self, other: Counts, function: Callable[[Array, Array], Array]) -> Counts:
        """``function(self.x, other.x)`` for every quantity ``x``."""
        return Counts(
            **{name: function(value, getattr(other, name)) for name, value in vars(self).items()}
        )


@dataclass
class GroupStatistics:
    """Sums per cell and service; every array has shape ``(cells, services)``.

    ``cells`` runs over all partitions in order (see ``offsets``).
    """

    offsets: NDArray[np.intp]
    n: Array
    positives: Array
    selected: Array
    true_positives: Array
    score_sum: Array
    score_square_sum: Array
    score_label_sum: Array
    auc: Array
    auc_variance: Array
    calibration_strata: tuple[Array, Array, Array]  # (cells, services, bins, 2) each

    @property
    def counts(self) -> Counts:
        """The sums of rates and means, without AUCs and strata."""
        return Counts(
            n=self.n,
            positives=self.positives,
            selected=self.selected,
            true_positives=self.true_positives,
            score_sum=self.score_sum,
            score_square_sum=self.score_square_sum,
            score_label_sum=self.score_label_sum,
        )


def score_bins(scores: Array, bins: int) -> NDArray[np.intp]:
    """Equal-width bin of each score in ``[0, 1]`` (the last bin includes 1.0)."""
    return np.clip((scores * bins).astype(np.intp), 0, bins - 1)


def group_auc(
    codes: NDArray[np.intp],
    cells: int,
    scores: Array,
    positive: Array,
    negative: Array,
    score_order: NDArray[np.intp],
) -> tuple[Array, Array]:
    """ROC AUC per cell and its DeLong variance, ties counted as one half.

    Parameters
    ----------
    codes : ndarray of int, shape (rows,)
        Cell of each row.
    cells : int
        Number of cells.
    scores : ndarray, shape (rows,)
    positive, negative : ndarray, shape (rows,)
        1.0 where the row is a (counted) positive / negative, else 0.0.
    score_order : ndarray of int
        ``argsort(scores)``, shared by all partitions of a service.

    Returns
    -------
    auc, variance : ndarray, shape (cells,)
        ``NaN`` where a cell lacks positives or negatives (variance also when it has
        only one of either).
    """
    if len(score_order) == 0:
        nan = np.full(cells, np.nan)
        return nan, nan.copy()
    code_dtype = np.int16 if cells < np.iinfo(np.int16).max else np.intp
    by_score = codes[score_order].astype(code_dtype)
    within = np.argsort(by_score, kind="stable")  # radix sort; keeps score order in a cell
    index = score_order[within]
    cell = by_score[within]
    score = scores[index]
    new_run = np.empty(len(index), dtype=bool)
    new_run[0] = True
    np.not_equal(cell[1:], cell[:-1], out=new_run[1:])
    new_run[1:] |= score[1:] != score[:-1]
    starts = np.flatnonzero(new_run)
    run_pos = np.add.reduceat(positive[index], starts)
    run_neg = np.add.reduceat(negative[index], starts)
    run_cell = cell[starts].astype(np.intp)
    first = np.flatnonzero(np.concatenate([[True], run_cell[1:] != run_cell[:-1]]))
    present = run_cell[first]
    cum_pos = np.cumsum(run_pos) - run_pos  # exclusive, over all runs
    cum_neg = np.cumsum(run_neg) - run_neg
    base_pos = np.zeros(cells)
    base_neg = np.zeros(cells)
    base_pos[present] = cum_pos[first]
    base_neg[present] = cum_neg[first]
    pos_below = cum_pos - base_pos[run_cell]
    neg_below = cum_neg - base_neg[run_cell]
    cell_pos = np.zeros(cells)
    cell_neg = np.zeros(cells)
    cell_pos[present] = np.add.reduceat(run_pos, first)
    cell_neg[present] = np.add.reduceat(run_neg, first)

    def per_cell(values: Array) -> Array:
        total = np.zeros(cells)
        total[present] = np.add.reduceat(values, first)
        return total

    with np.errstate(divide="ignore", invalid="ignore"):
        placement_pos = np.nan_to_num((neg_below + 0.5 * run_neg) / cell_neg[run_cell])
        pos_above = cell_pos[run_cell] - pos_below - run_pos
        placement_neg = np.nan_to_num((pos_above + 0.5 * run_pos) / cell_pos[run_cell])
        weighted_pos = run_pos * placement_pos
        auc = per_cell(weighted_pos) / cell_pos
        square_pos = per_cell(weighted_pos * placement_pos)
        square_neg = per_cell(run_neg * placement_neg * placement_neg)
        var_pos = (square_pos - cell_pos * auc**2) / (cell_pos - 1)
        var_neg = (square_neg - cell_neg * auc**2) / (cell_neg - 1)
        variance = np.maximum(var_pos, 0.0) / cell_pos + np.maximum(var_neg, 0.0) / cell_neg
    defined = (cell_pos > 0) & (cell_neg > 0)
    auc = np.where(defined, auc, np.nan)
    variance = np.where(defined & (cell_pos > 1) & (cell_neg > 1), variance, np.nan)
    return auc, variance


def group_statistics(
    partitions: list[Partition],
    labels: Array,
    scores: Array,
    decisions: Array,
    *,
    bins: int = 10,
) -> GroupStatistics:
    """Sum and rank (AUC) every cell of every partition and every service.

    Parameters
    ----------
    partitions : list of Partition
        From :func:`build_partitions`.
    labels : ndarray, shape (rows, services)
        Need labels 0/1; ``NaN`` leaves the row out for that service.
    scores : ndarray, shape (rows, services)
        Calibrated probabilities in ``[0, 1]``.
    decisions : ndarray, shape (rows, services)
        1.0 where the service is recommended.
    bins : int, default 10
        Equal-width score bins of the expected calibration error.

    Returns
    -------
    GroupStatistics
    """
    services = labels.shape[1]
    sizes = np.array([p.size for p in partitions], dtype=np.intp)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.intp)
    cells = int(offsets[-1])
    sums = {name: np.zeros((cells, services)) for name in (*SUM_NAMES, "auc", "auc_variance")}
    strata = tuple(np.zeros((cells, services, bins, 2)) for _ in range(3))
    for column in range(services):
        valid = ~np.isnan(labels[:, column])
        label = np.where(valid, labels[:, column], 0.0)
        score = np.where(valid, np.nan_to_num(scores[:, column]), 0.0)
        decision = np.where(valid, decisions[:, column], 0.0)
        weights = dict(
            zip(
                SUM_NAMES,
                (
                    valid.astype(np.float64),
                    label,
                    decision,
                    label * decision,
                    score,
                    score * score,
                    score * label,
                ),
                strict=True,
            )
        )
        stratum = score_bins(score, bins) * 2 + label.astype(np.intp)
        order = np.argsort(score, kind="stable")
        negative = weights["n"] - label
        for part, start in zip(partitions, offsets[:-1], strict=True):
            stop = start + part.size
            for name, weight in weights.items():
                sums[name][start:stop, column] = np.bincount(
                    part.codes, weights=weight, minlength=part.size
                )
            joint = part.codes * (2 * bins) + stratum
            length = part.size * 2 * bins
            for target, weight in zip(strata, (weights["n"], score, score * score), strict=True):
                target[start:stop, column] = np.bincount(
                    joint, weights=weight, minlength=length
                ).reshape(part.size, bins, 2)
            auc, auc_variance = group_auc(part.codes, part.size, score, label, negative, order)
            sums["auc"][start:stop, column] = auc
            sums["auc_variance"][start:stop, column] = auc_variance
    return GroupStatistics(
        offsets=offsets, **sums, calibration_strata=(strata[0], strata[1], strata[2])
    )


def strata_calibration_error(counts: Array, score_sums: Array) -> Array:
    """ECE per cell from (bin, label) strata: ``sum_b |sum of scores_b - positives_b| / n``.

    Parameters
    ----------
    counts, score_sums : ndarray, shape (..., bins, 2)
        Rows and sums of scores per score bin and label (0, 1), as in
        :attr:`GroupStatistics.calibration_strata`.

    Returns
    -------
    ndarray, shape (...)
        ``NaN`` where a cell has no rows.
    """
    bin_scores = score_sums.sum(axis=-1)
    bin_positives = counts[..., 1]
    total = counts.sum(axis=(-1, -2))
    with np.errstate(divide="ignore", invalid="ignore"):
        ece = np.abs(bin_scores - bin_positives).sum(axis=-1) / total
    return np.where(total > 0, ece, np.nan)


def expected_calibration_error(label: Array, probability: Array, *, bins: int = 10) -> float:
    """Compute the expected calibration error of one service over equal-width score bins.

    The bin-size-weighted mean of ``|mean score - observed rate|``, computed with the same
    binning (:func:`score_bins`) as the per-cell form the audit uses.

    Parameters
    ----------
    label : ndarray, shape (rows,)
        0/1 outcomes.
    probability : ndarray, shape (rows,)
        Calibrated scores in ``[0, 1]``.
    bins : int, default 10
        Equal-width bins over ``[0, 1]``.

    Returns
    -------
    float
        ``NaN`` for no rows.
    """
    outcome = np.asarray(label, dtype=np.float64)
    score = np.asarray(probability, dtype=np.float64)
    stratum = score_bins(score, bins) * 2 + outcome.astype(np.intp)
    counts = np.bincount(stratum, minlength=2 * bins).reshape(bins, 2).astype(np.float64)
    sums = (
        np.bincount(stratum, weights=score, minlength=2 * bins).reshape(bins, 2).astype(np.float64)
    )
    return float(strata_calibration_error(counts, sums))


def safe_ratio(numerator: Array, denominator: Array) -> Array:
    """``numerator / denominator``, ``NaN`` where the denominator is zero."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / denominator, np.nan)


def top_k_membership(scores: Array, k: int) -> NDArray[np.bool_]:
    """Whether each service is among a row's ``k`` highest scores (``NaN`` never is).

    Ties at the cut are broken by service order, so exactly ``min(k, scored)`` services
    are in each row's top ``k``.
    """
    rows, services = scores.shape
    ranked = np.where(np.isnan(scores), -np.inf, scores)
    if k >= services:
        return ~np.isnan(scores)
    order = np.argsort(-ranked, axis=1, kind="stable")[:, :k]
    member = np.zeros((rows, services), dtype=bool)
    np.put_along_axis(member, order, True, axis=1)
    return member & ~np.isnan(scores)
