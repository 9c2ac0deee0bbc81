"""Raw scores of many LightGBM boosters in one numba pass, bit-identical to ``predict``.

Without reasons, scoring a caseload is prediction only: the need boosters, the
propensity models and the effect models' final stages (or their need and baseline
indices), about 2,800 trees on the default model. ``Booster.predict`` walks each row
down each tree, a chain of dependent loads and a mispredicted branch per row and tree
(``bench/bench_score.py`` measured it as the bottleneck). This module evaluates every
internal node of a tree for a block of rows at once, with the QuickScorer idea (Lucchese
et al., SIGIR 2015): leaves numbered left to right, each node holds a bit mask of the
leaves its left subtree does *not* hold; a row that goes right at a node loses those
leaves (``mask &= node_mask``), and its exit leaf is the leftmost leaf left (the lowest
set bit). The node loop over a block's rows has no branch and vectorises.

Row semantics are LightGBM's, as in :mod:`models.treeshap.kernels` (the same per-node
flags and row facts); each output sums its trees in LightGBM's order, so the raw
scores are bit-identical to ``Booster.predict(raw_score=True)``. A booster with a
tree of more than 64 leaves, linear trees or averaged output is not taken
(:class:`~models.treeshap.trees.UnsupportedModelError`); the caller then keeps
``Booster.predict``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import cast

import lightgbm as lgb
import numba
import numpy as np
from numba.cpython.unsafe.numbers import trailing_zeros as _trailing_zeros

from models.treeshap.forest import split_flags
from models.treeshap.kernels import (
    CATEGORICAL_SHIFT,
    DEFAULT_LEFT_SHIFT,
    NAN_LEFT_SHIFT,
    ZERO_MISSING_SHIFT,
    parallel_threads,
    row_facts,
    thread_count,
)
from models.treeshap.trees import (
    CATEGORICAL_MASK,
    MSG_FEATURES,
    BoosterTrees,
    Tree,
    UnsupportedModelError,
    read_booster,
)

trailing_zeros = cast(Callable[[int], int], _trailing_zeros)

MAX_LEAVES = 64
"""Leaves a tree may have (one bit each in an int64 mask)."""
BLOCK_ROWS = 128
"""Rows a block takes through each tree before the next tree."""
MSG_TOO_MANY_LEAVES = "tree {tree} of booster {booster} has {leaves} leaves; at most 64"
MSG_WIDTH = "the matrix has {got} columns; the boosters have {expected} features"

# tree_info columns: output, first node, nodes, first leaf, initial mask
TREE_OUTPUT, TREE_NODE_START, TREE_NUM_NODES, TREE_LEAF_START, TREE_MASK = range(5)


@numba.njit(cache=True, nogil=True)
def score_rows(
    rows: np.ndarray,
    out: np.ndarray,
    begin: int,
    end: int,
    tree_info: np.ndarray,
    node_feature: np.ndarray,
    node_flags: np.ndarray,
    node_threshold: np.ndarray,
    node_cat: np.ndarray,
    node_mask: np.ndarray,
    cat_bits: np.ndarray,
    leaf_value: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Raw scores of rows ``begin:end`` into ``out`` (rows, outputs), overwritten."""
    num_features = rows.shape[1]
    facts = np.empty((3, num_features))
    codes = np.empty(num_features, dtype=np.int64)
    # per block, feature-major so that a node's loop over rows reads contiguously
    value = np.empty((num_features, BLOCK_ROWS))
    is_nan = np.empty((num_features, BLOCK_ROWS), dtype=np.int64)
    is_zero = np.empty((num_features, BLOCK_ROWS), dtype=np.int64)
    code = np.empty((num_features, BLOCK_ROWS), dtype=np.int64)
    mask = np.empty(BLOCK_ROWS, dtype=np.int64)
    for first in range(begin, end, BLOCK_ROWS):
        count = min(BLOCK_ROWS, end - first)
        for r in range(count):
            row_facts(rows[first + r], facts, codes)
            for f in range(num_features):
                value[f, r] = facts[0, f]
                is_nan[f, r] = np.int64(facts[1, f])
                is_zero[f, r] = np.int64(facts[2, f])
                code[f, r] = codes[f]
            out[first + r, :] = 0.0
        for tree in range(tree_info.shape[0]):
            start = tree_info[tree, TREE_NODE_START]
            initial = tree_info[tree, TREE_MASK]
            for r in range(count):
                mask[r] = initial
            for node in range(start, start + tree_info[tree, TREE_NUM_NODES]):
                f = node_feature[node]
                flags = node_flags[node]
                lost = node_mask[node]
                if (flags >> CATEGORICAL_SHIFT) & 1:
                    begin_word = node_cat[node, 0]
                    words = node_cat[node, 1]
                    for r in range(count):
                        c = code[f, r]
                        word = c >> 5
                        inside = np.int64(word < words)
                        bits = np.int64(cat_bits[begin_word + word * inside])
                        left = (bits >> (c & 31)) & inside
                        mask[r] &= lost | -left
                    continue
                threshold = node_threshold[node]
                default_left = (flags >> DEFAULT_LEFT_SHIFT) & 1
                nan_left = (flags >> NAN_LEFT_SHIFT) & 1
                zero_missing = (flags >> ZERO_MISSING_SHIFT) & 1
                for r in range(count):
                    left = np.int64(value[f, r] <= threshold)
                    left = left ^ ((left ^ default_left) & -(is_zero[f, r] & zero_missing))
                    left = left ^ ((left ^ nan_left) & -is_nan[f, r])
                    mask[r] &= lost | -left
            leaves = tree_info[tree, TREE_LEAF_START]
            output = tree_info[tree, TREE_OUTPUT]
            for r in range(count):
                out[first + r, output] += leaf_value[leaves + trailing_zeros(mask[r])]


@numba.njit(cache=True, nogil=True, parallel=True)
def score_block(
    rows: np.ndarray,
    out: np.ndarray,
    chunks: int,
    tree_info: np.ndarray,
    node_feature: np.ndarray,
    node_flags: np.ndarray,
    node_threshold: np.ndarray,
    node_cat: np.ndarray,
    node_mask: np.ndarray,
    cat_bits: np.ndarray,
    leaf_value: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """:func:`score_rows` on ``chunks`` contiguous row ranges in parallel."""
    total = rows.shape[0]
    for chunk in numba.prange(chunks):
        score_rows(
            rows,
            out,
            chunk * total // chunks,
            (chunk + 1) * total // chunks,
            tree_info,
            node_feature,
            node_flags,
            node_threshold,
            node_cat,
            node_mask,
            cat_bits,
            leaf_value,
        )


def _in_order(tree: Tree) -> tuple[list[int], dict[int, tuple[int, int]]]:
    """Leaves left to right, and each internal node's range of leaf positions (lo, hi)."""
    left = tree.left_child.tolist()
    right = tree.right_child.tolist()
    leaves: list[int] = []
    spans: dict[int, tuple[int, int]] = {}

    def visit(node: int) -> None:
        if node < 0:
            leaves.append(~node)
            return
        low = len(leaves)
        visit(left[node])
        middle = len(leaves)
        visit(right[node])
        spans[node] = (low, middle)

    visit(0)
    return leaves, spans


def _node_rows(
    tree: Tree, spans: dict[int, tuple[int, int]], full: int, bitset_start: int
) -> list[tuple[int, int, float, list[int], int]]:
    """Per internal node: feature, flags, threshold, (bitset start, words), lost-leaf mask.

    ``bitset_start`` is where the tree's categorical bitsets begin in ``cat_bits``; the
    mask keeps every leaf but those of the node's left subtree (positions ``low`` to
    ``middle - 1``), as an int64 bit pattern.
    """
    boundaries = tree.cat_boundaries.tolist()
    rows = []
    for node in range(len(spans)):
        decision = int(tree.decision_type[node])
        threshold = float(tree.threshold[node])
        low, middle = spans[node]
        lost = full & ~(((1 << middle) - 1) ^ ((1 << low) - 1))
        start = words = 0
        if decision & CATEGORICAL_MASK:
            cat_index = int(threshold)
            words = boundaries[cat_index + 1] - boundaries[cat_index]
            if words > 0:
                start = bitset_start + boundaries[cat_index]
        flags = split_flags(decision, threshold, 0)
        rows.append(
            (int(tree.split_feature[node]), flags, threshold, [start, words], _signed(lost))
        )
    return rows


class TreeScores:
    """Raw scores of several boosters in one pass: outputs side by side.

    Build it with :meth:`from_boosters`. A booster with ``K`` trees per iteration
    (multiclass) gives ``K`` outputs; :attr:`columns` says where each booster's are.
    """

    def __init__(
        self,
        *,
        num_features: int,
        columns: list[slice],
        objectives: list[str],
        arrays: tuple[np.ndarray, ...],
    ) -> None:
        self.num_features = num_features
        self.columns = columns
        self.objectives = objectives
        self.num_outputs = columns[-1].stop if columns else 0
        self._arrays = arrays

    @classmethod
    def from_boosters(cls, boosters: Sequence[lgb.Booster]) -> TreeScores:
        """Read and flatten ``boosters`` (any objective; all with the same features).

        Raises
        ------
        UnsupportedModelError
            A booster this kernel does not take (see the module docstring).
        """
        read = [read_booster(booster, multiclass=True) for booster in boosters]
        return cls._flatten(read)

    @classmethod
    def _flatten(cls, boosters: Sequence[BoosterTrees]) -> TreeScores:
        widths = {b.num_features for b in boosters}
        if len(widths) > 1:
            raise UnsupportedModelError(MSG_FEATURES.format(counts=sorted(widths)))
        tree_rows: list[list[int]] = []
        nodes: list[tuple[int, int, float, list[int], int]] = []
        leaf_values: list[float] = []
        cat_words: list[np.ndarray] = [np.zeros(1, dtype=np.uint32)]  # word 0: no category
        cat_offset = 1
        columns: list[slice] = []
        output = 0
        for number, booster in enumerate(boosters):
            per_iteration = booster.trees_per_iteration
            columns.append(slice(output, output + per_iteration))
            for index, tree in enumerate(booster.trees):
                if tree.num_leaves > MAX_LEAVES:
                    raise UnsupportedModelError(
                        MSG_TOO_MANY_LEAVES.format(
                            tree=index, booster=number, leaves=tree.num_leaves
                        )
                    )
                leaves, spans = _in_order(tree) if tree.num_leaves > 1 else ([0], {})
                full = (1 << tree.num_leaves) - 1
                tree_rows.append(
                    [
                        output + index % per_iteration,
                        len(nodes),
                        len(spans),
                        len(leaf_values),
                        _signed(full),
                    ]
                )
                leaf_values.extend(float(tree.leaf_value[leaf]) for leaf in leaves)
                cat_words.append(tree.cat_threshold)
                nodes.extend(_node_rows(tree, spans, full, cat_offset))
                cat_offset += len(tree.cat_threshold)
            output += per_iteration
        empty: list[tuple[()]] = [(), (), (), (), ()]
        features, flags, thresholds, cats, masks = list(zip(*nodes, strict=True)) or empty
        arrays = (
            np.array(tree_rows, dtype=np.int64).reshape(-1, 5),
            np.array(features, dtype=np.int64),
            np.array(flags, dtype=np.int64),
            np.array(thresholds, dtype=np.float64),
            np.array(cats, dtype=np.int64).reshape(-1, 2),
            np.array(masks, dtype=np.int64),
            np.concatenate(cat_words).astype(np.uint32),
            np.array(leaf_values, dtype=np.float64),
        )
        return cls(
            num_features=widths.pop() if widths else 0,
            columns=columns,
            objectives=[b.objective for b in boosters],
            arrays=arrays,
        )

    def raw(self, matrix: np.ndarray, *, num_threads: int = 0) -> np.ndarray:
        """Raw scores, shape (rows, :attr:`num_outputs`); ``num_threads`` 0: all cores."""
        rows = np.ascontiguousarray(matrix, dtype=np.float64)
        if rows.ndim != 2 or rows.shape[1] != self.num_features:
            raise ValueError(MSG_WIDTH.format(got=rows.shape[-1], expected=self.num_features))
        out = np.empty((rows.shape[0], self.num_outputs))
        count = rows.shape[0]
        threads = thread_count(num_threads, -(-count // BLOCK_ROWS))
        if threads == 1:
            score_rows(rows, out, 0, count, *self._arrays)
            return out
        with parallel_threads(threads):
            score_block(rows, out, threads * 4, *self._arrays)
        return out

    def warm_up(self) -> None:
        """Call each kernel once (compilation, or numba's disk cache), not on a request."""
        probe = np.zeros((2 * BLOCK_ROWS, self.num_features))
        score_rows(probe, np.empty((len(probe), self.num_outputs)), 0, 1, *self._arrays)
        raw = self.raw(probe, num_threads=2)
        for objective, columns in zip(self.objectives, self.columns, strict=True):
            if has_normal_output(objective):
                normal_output(raw[:, columns], objective)


def _objective_parts(objective: str) -> tuple[str, dict[str, str]]:
    name, *options = objective.split(" ")
    return name, dict(option.partition(":")[::2] for option in options)


def has_normal_output(objective: str) -> bool:
    """Whether :func:`normal_output` converts raw scores of this objective."""
    return _objective_parts(objective)[0] in NORMAL_OBJECTIVES


def normal_output(raw: np.ndarray, objective: str) -> np.ndarray:
    """``Booster.predict``'s output from raw scores (rows, outputs), as LightGBM converts.

    Binary and one-vs-all: ``1 / (1 + exp(-sigmoid * raw))``; multiclass: softmax with
    the largest score subtracted and the classes summed in order (LightGBM's
    ``Common::Softmax``). Compiled, so ``exp`` is the C library's, as LightGBM's: the
    results are bit-identical to ``Booster.predict`` (numpy's own ``exp`` is not).
    """
    name, options = _objective_parts(objective)
    if name not in NORMAL_OBJECTIVES:
        raise UnsupportedModelError(MSG_OBJECTIVE.format(objective=objective))
    values = np.ascontiguousarray(raw, dtype=np.float64)
    out = np.empty_like(values)
    if name == "multiclass":
        _softmax(values, out)
    else:
        _sigmoid(values, float(options.get("sigmoid", "1")), out)
    return out


@numba.njit(cache=True, nogil=True)
def _sigmoid(raw: np.ndarray, sigmoid: float, out: np.ndarray) -> None:  # pragma: no cover
    for i in range(raw.shape[0]):
        for j in range(raw.shape[1]):
            out[i, j] = 1.0 / (1.0 + math.exp(-sigmoid * raw[i, j]))


@numba.njit(cache=True, nogil=True)
def _softmax(raw: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover - compiled
    for i in range(raw.shape[0]):
        largest = raw[i, 0]
        for j in range(1, raw.shape[1]):
            largest = max(raw[i, j], largest)
        total = 0.0
        for j in range(raw.shape[1]):
            out[i, j] = math.exp(raw[i, j] - largest)
            total += out[i, j]
        for j in range(raw.shape[1]):
            out[i, j] /= total


NORMAL_OBJECTIVES = frozenset({"binary", "multiclass", "multiclassova"})
MSG_OBJECTIVE = "objective {objective!r}: no conversion of raw scores to predictions"


def _signed(bits: int) -> int:
    """Return a 64-bit pattern as the int64 numba stores it."""
    return bits - (1 << 64) if bits >= 1 << 63 else bits


def scores_for(boosters: Sequence[lgb.Booster]) -> TreeScores | None:
    """Return :class:`TreeScores` for ``boosters``, warmed up; None where it cannot take them."""
    try:
        scores = TreeScores.from_boosters(boosters)
    except UnsupportedModelError:
        return None
    scores.warm_up()
    return scores
