"""Vectorised random draws and link functions used by every step of the generator."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
CodeArray = npt.NDArray[np.int8]
AnyArray = npt.NDArray[Any]

MSG_BAD_PROBABILITIES = "category probabilities must be non-negative and sum to 1, got {probs}"
MSG_BAD_WEIGHTS = "every row of a weight matrix needs a positive total weight"


def sigmoid(x: npt.ArrayLike) -> FloatArray:
    """Logistic function, element-wise."""
    return np.asarray(1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64))), dtype=np.float64)


def logit(p: npt.ArrayLike) -> FloatArray:
    """Log-odds of a probability, element-wise (inputs are clipped away from 0 and 1)."""
    clipped = np.clip(np.asarray(p, dtype=np.float64), 1e-12, 1 - 1e-12)
    return np.asarray(np.log(clipped / (1 - clipped)), dtype=np.float64)


def bernoulli(rng: np.random.Generator, p: npt.ArrayLike) -> BoolArray:
    """One yes/no draw per element with success probability ``p``."""
    probability = np.asarray(p, dtype=np.float64)
    return np.asarray(rng.random(probability.shape) < probability, dtype=np.bool_)


def categorical(rng: np.random.Generator, probs: npt.ArrayLike, rows: int) -> CodeArray:
    """Draw ``rows`` category codes from one probability vector.

    Parameters
    ----------
    rng : numpy.random.Generator
        The generator's random stream.
    probs : array-like of float
        Probability of each code ``0..k-1``; must sum to 1.
    rows : int
        Number of draws.

    Returns
    -------
    numpy.ndarray of int8
        Codes in ``0..k-1``.
    """
    vector = np.asarray(probs, dtype=np.float64)
    if np.any(vector < 0) or not np.isclose(vector.sum(), 1.0):
        raise ValueError(MSG_BAD_PROBABILITIES.format(probs=vector.tolist()))
    cumulative = np.cumsum(vector)
    cumulative[-1] = 1.0
    codes = np.searchsorted(cumulative, rng.random(rows), side="right")
    return np.asarray(np.minimum(codes, len(vector) - 1), dtype=np.int8)


def categorical_rows(rng: np.random.Generator, weights: npt.ArrayLike) -> CodeArray:
    """Draw one category code per row from a (rows x k) matrix of non-negative weights.

    Each row is normalised to probabilities, so weights need not sum to one.

    Parameters
    ----------
    rng : numpy.random.Generator
        The generator's random stream.
    weights : array-like of float, shape (rows, k)
        Relative weight of each code in each row.

    Returns
    -------
    numpy.ndarray of int8
        One code in ``0..k-1`` per row.
    """
    matrix = np.asarray(weights, dtype=np.float64)
    cumulative = np.cumsum(matrix, axis=1)
    totals = cumulative[:, -1]
    if np.any(~(totals > 0)):
        raise ValueError(MSG_BAD_WEIGHTS)
    draws = rng.random(matrix.shape[0]) * totals
    codes = (cumulative <= draws[:, None]).sum(axis=1)
    return np.asarray(np.minimum(codes, matrix.shape[1] - 1), dtype=np.int8)


def mix_complement(overall: npt.ArrayLike, group: npt.ArrayLike, group_share: float) -> FloatArray:
    """Return the distribution of the rest of the population, given the whole and one group.

    If a group of share ``group_share`` follows ``group`` and the whole population must
    follow ``overall``, everyone else must follow the returned vector.
    """
    whole = np.asarray(overall, dtype=np.float64)
    part = np.asarray(group, dtype=np.float64)
    rest = (whole - group_share * part) / (1.0 - group_share)
    if np.any(rest < 0):
        raise ValueError(MSG_BAD_PROBABILITIES.format(probs=rest.tolist()))
    return np.asarray(rest / rest.sum(), dtype=np.float64)
