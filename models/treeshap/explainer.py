"""The explainers: tarve's kernel, and LightGBM's ``pred_contrib`` as the fallback.

Both answer the same two questions for all services of a model in one call: the
TreeSHAP contributions ``(rows, services, features + 1)`` (the last column is the base
value) and the raw scores ``(rows, services)``. :func:`explainer_for` builds the kernel
when the boosters allow it and says which path it took.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any, Protocol

import lightgbm as lgb
import numpy as np

from models.treeshap import kernels
from models.treeshap.forest import (
    DEFAULT_TABLE_BUDGET_BYTES,
    DEFAULT_TABLE_LIMIT,
    DEFAULT_VECTOR_LIMIT,
    FlatForest,
    build_forest,
)
from models.treeshap.trees import UnsupportedModelError, read_booster

KERNEL_PATH = "tarve-treeshap"
PRED_CONTRIB_PATH = "lightgbm-pred-contrib"
MSG_WIDTH = "the matrix has {got} columns; the model has {expected} features"
MSG_SHAPE = "expected a 2-d matrix, got shape {shape}"

logger = logging.getLogger(__name__)


class Explainer(Protocol):
    """What :class:`models.model.ServiceNeedModel` asks of an explainer."""

    path: str
    num_features: int

    def explain(self, matrix: np.ndarray, *, num_threads: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Contributions (rows, services, features + 1) and raw scores (rows, services)."""
        ...

    def describe(self) -> dict[str, Any]:
        """JSON-ready facts: the path, and for the kernel its load and memory figures."""
        ...


def _as_matrix(matrix: np.ndarray, num_features: int) -> np.ndarray:
    array = np.asarray(matrix, dtype=np.float64)
    if array.ndim == 1:
        array = array[np.newaxis]
    if array.ndim != 2:
        raise ValueError(MSG_SHAPE.format(shape=array.shape))
    if array.shape[1] != num_features:
        raise ValueError(MSG_WIDTH.format(got=array.shape[1], expected=num_features))
    return np.ascontiguousarray(array)


class TreeShapExplainer:
    """Exact path-dependent TreeSHAP of LightGBM boosters, as ``pred_contrib`` computes it.

    Build it with :meth:`from_boosters`; the precomputation and the numba compilation
    (or the load of the on-disk cache) happen there, never on a request.

    Parameters
    ----------
    forest : FlatForest
        The flattened trees and leaf tables (see :mod:`models.treeshap.forest`).

    Attributes
    ----------
    precompute_seconds : float
        Reading the trees and filling the tables.
    compile_seconds : float
        The first call of each kernel (compilation, or loading numba's disk cache).
    """

    path = KERNEL_PATH

    def __init__(self, forest: FlatForest) -> None:
        self.forest = forest
        self.num_features = forest.num_features
        self.num_services = forest.num_services
        self.precompute_seconds = 0.0
        self.compile_seconds = 0.0
        self._local = threading.local()
        self._arrays = forest.arrays()
        self._sizes = forest.scratch_sizes

    @classmethod
    def from_boosters(
        cls,
        boosters: Sequence[lgb.Booster],
        *,
        vector_limit: int = DEFAULT_VECTOR_LIMIT,
        table_limit: int = DEFAULT_TABLE_LIMIT,
        table_budget_bytes: int = DEFAULT_TABLE_BUDGET_BYTES,
        pair_siblings: bool = True,
        compile: bool = True,
    ) -> TreeShapExplainer:
        """Read, flatten and precompute ``boosters`` (one binary booster per service).

        Parameters
        ----------
        boosters : sequence of lightgbm.Booster
            In service order; all with the same features.
        vector_limit : int
            Leaves with at most this many distinct path features keep every
            contribution vector (``d * 2**d`` numbers).
        table_limit : int
            Other leaves with at most this many keep ``v G(M)`` (``2**d`` numbers).
        table_budget_bytes : int
            Upper bound on the tables' memory.
        pair_siblings : bool
            Two sibling leaves that both keep vectors share one table (one read).
        compile : bool
            Run each kernel once now, so that no request pays for compilation.

        Raises
        ------
        UnsupportedModelError
            A booster uses something the kernel does not implement (linear trees...).
        """
        started = time.perf_counter()
        trees = [read_booster(booster) for booster in boosters]
        forest = build_forest(
            trees,
            vector_limit=vector_limit,
            table_limit=table_limit,
            table_budget_bytes=table_budget_bytes,
            pair_siblings=pair_siblings,
        )
        explainer = cls(forest)
        explainer.precompute_seconds = time.perf_counter() - started
        if compile:
            explainer.warm_up()
        return explainer

    def warm_up(self) -> float:
        """Call every kernel once on a zero row; returns (and keeps) the seconds taken."""
        started = time.perf_counter()
        probe = np.zeros((2, self.num_features))
        self.explain_row(probe[0])
        self._block(probe, num_threads=1)
        self._block(probe, num_threads=2)
        self.compile_seconds = time.perf_counter() - started
        return self.compile_seconds

    # -- one row -------------------------------------------------------------------------
    def _scratch(self) -> tuple[np.ndarray, ...]:
        scratch: tuple[np.ndarray, ...] | None = getattr(self._local, "scratch", None)
        if scratch is None:
            max_masks, max_leaves, max_depth = self._sizes
            scratch = (
                np.empty((kernels.PIPELINE_TREES + 1, max_masks), dtype=np.int64),
                np.empty((kernels.PIPELINE_TREES + 1, max_leaves), dtype=np.int64),
                np.empty(max_depth + 2),
                np.empty((3, self.num_features)),
                np.empty(self.num_features, dtype=np.int64),
            )
            self._local.scratch = scratch
        return scratch

    def explain_row(self, row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Contributions (services, features + 1) and raw scores (services,) of one row."""
        values = np.ascontiguousarray(row, dtype=np.float64)
        if values.shape != (self.num_features,):
            raise ValueError(MSG_WIDTH.format(got=values.shape[-1], expected=self.num_features))
        out = np.empty((self.num_services, self.num_features + 1))
        raw = np.empty(self.num_services)
        kernels.explain_one(values, out, raw, *self._scratch(), *self._arrays)
        return out, raw

    # -- blocks --------------------------------------------------------------------------
    def _block(self, rows: np.ndarray, *, num_threads: int) -> tuple[np.ndarray, np.ndarray]:
        count = rows.shape[0]
        out = np.empty((count, self.num_services, self.num_features + 1))
        raw = np.empty((count, self.num_services))
        threads = kernels.thread_count(num_threads, count)
        if threads == 1:
            kernels.explain_block_serial(rows, out, raw, *self._sizes, *self._arrays)
            return out, raw
        with kernels.parallel_threads(threads):
            kernels.explain_block(
                rows,
                out,
                raw,
                threads * -(-count // (threads * kernels.BLOCK_ROWS)),
                *self._sizes,
                *self._arrays,
            )
        return out, raw

    def explain(self, matrix: np.ndarray, *, num_threads: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Contributions (rows, services, features + 1) and raw scores (rows, services).

        ``num_threads`` 0 means all of numba's threads; one row always runs in the
        calling thread.
        """
        rows = _as_matrix(matrix, self.num_features)
        if rows.shape[0] == 1:
            out, raw = self.explain_row(rows[0])
            return out[np.newaxis], raw[np.newaxis]
        return self._block(rows, num_threads=num_threads)

    def contributions(self, matrix: np.ndarray, *, num_threads: int = 0) -> np.ndarray:
        """Contributions as ``pred_contrib`` gives them, shape (rows, services, features + 1)."""
        return self.explain(matrix, num_threads=num_threads)[0]

    def describe(self) -> dict[str, Any]:
        """JSON-ready facts: path, table memory, leaves by mode, load and compile times."""
        return {
            "shap_path": self.path,
            "table_bytes": self.forest.table_bytes,
            "leaves": int(self.forest.leaf_info.shape[0]),
            "leaves_by_mode": self.forest.leaves_by_mode(),
            "precompute_seconds": round(self.precompute_seconds, 4),
            "compile_seconds": round(self.compile_seconds, 4),
        }


class PredContribExplainer:
    """LightGBM's own ``pred_contrib`` and ``raw_score``, one booster at a time.

    Parameters
    ----------
    boosters : sequence of lightgbm.Booster
        In service order.
    reason : str, optional
        Why the kernel is not used (kept in :meth:`describe`).
    """

    path = PRED_CONTRIB_PATH

    def __init__(self, boosters: Sequence[lgb.Booster], *, reason: str | None = None) -> None:
        self.boosters = list(boosters)
        self.num_features = self.boosters[0].num_feature() if self.boosters else 0
        self.reason = reason

    def explain(self, matrix: np.ndarray, *, num_threads: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Contributions (rows, services, features + 1) and raw scores (rows, services)."""
        rows = _as_matrix(matrix, self.num_features)
        params: dict[str, Any] = {"num_threads": num_threads} if num_threads else {}
        out = np.empty((rows.shape[0], len(self.boosters), self.num_features + 1))
        raw = np.empty((rows.shape[0], len(self.boosters)))
        for column, booster in enumerate(self.boosters):
            out[:, column, :] = np.asarray(
                booster.predict(rows, pred_contrib=True, **params)
            ).reshape(rows.shape[0], self.num_features + 1)
            raw[:, column] = booster.predict(rows, raw_score=True, **params)
        return out, raw

    def contributions(self, matrix: np.ndarray, *, num_threads: int = 0) -> np.ndarray:
        """Contributions as ``pred_contrib`` gives them, shape (rows, services, features + 1)."""
        return self.explain(matrix, num_threads=num_threads)[0]

    def describe(self) -> dict[str, Any]:
        """JSON-ready facts: the path and why the kernel is not used."""
        facts: dict[str, Any] = {"shap_path": self.path}
        if self.reason:
            facts["fallback_reason"] = self.reason
        return facts


def explainer_for(
    boosters: Sequence[lgb.Booster], **options: Any
) -> TreeShapExplainer | PredContribExplainer:
    """Return the kernel for ``boosters`` when it can handle them, else ``pred_contrib``.

    ``options`` go to :meth:`TreeShapExplainer.from_boosters`.
    """
    try:
        return TreeShapExplainer.from_boosters(boosters, **options)
    except UnsupportedModelError as error:
        logger.info("TreeSHAP kernel not used: %s", error)
        return PredContribExplainer(boosters, reason=str(error))
