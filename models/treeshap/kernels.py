"""The numba kernels: leaf tables at load, then contributions and raw scores per row.

Compiled with ``cache=True`` (machine code kept on disk next to this module, or in
numba's user cache), so a process pays the compilation once per machine and version;
:class:`models.treeshap.TreeShapExplainer` triggers it when the model loads.

Row semantics follow LightGBM exactly (``include/LightGBM/tree.h``):

- a dense row value with ``|x| <= kZeroThreshold`` (``1e-35f``) is read as 0.0;
- numerical split: NaN becomes 0.0 unless the missing type is NaN; a missing value
  (zero for missing type Zero, NaN for missing type NaN) goes the default way; else
  ``x <= threshold`` goes left. The forest precomputes, per node, where NaN goes and
  whether zero is "missing", so the kernel needs one comparison and two rare tests;
- categorical split: NaN, negative and too large values go right; otherwise the
  value truncated to an integer goes left when its bit is set in the node's bitset.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import cast

import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

K_ZERO_THRESHOLD = float(np.float32(1e-35))
INT_LIMIT = 2147483648.0
FULL_MASK = -1  # int64 with every bit set: no path feature made cold yet

CODE_NONE = 1 << 40  # category code of a value that goes right at every categorical split

# node flags: the feature's bit on the path (low 6 bits) and these
BIT_MASK = 63
CATEGORICAL_SHIFT, NAN_LEFT_SHIFT, ZERO_MISSING_SHIFT, DEFAULT_LEFT_SHIFT = 8, 9, 10, 11
FLAG_CATEGORICAL = 1 << CATEGORICAL_SHIFT
FLAG_NAN_LEFT = 1 << NAN_LEFT_SHIFT
FLAG_ZERO_MISSING = 1 << ZERO_MISSING_SHIFT
FLAG_DEFAULT_LEFT = 1 << DEFAULT_LEFT_SHIFT

# leaf modes (leaf_info column 2)
MODE_DIRECT = 0  # no table: polynomial of the hot features, O(d**2)
MODE_SUBSETS = 1  # v G(M) for every subset M: 2**d numbers, d + 1 look-ups
MODE_VECTORS = 2  # every slot's contribution for every hot set: d * 2**d numbers
MODE_PAIR = 3  # left leaf of two sibling leaves: both leaves' vectors summed, 2 d 2**d
MODE_PAIRED = 4  # right leaf of a pair: its contributions are in the left leaf's table

PHASE_PREPARE, PHASE_FINISH = 1, 2  # _explain_tree in two halves (one-row pipeline)
PIPELINE_TREES = 1  # one row: trees prepared ahead of the one being read (2: no gain)
BLOCK_ROWS = 1024  # rows a block kernel takes through each tree before the next tree


MAX_THREADS: int = int(getattr(numba.config, "NUMBA_NUM_THREADS", 1))
_PARALLEL_LOCK = threading.Lock()


def thread_count(num_threads: int, work_items: int) -> int:
    """Threads for a parallel kernel: ``num_threads`` (0: all), at most one per work item."""
    threads = MAX_THREADS if num_threads <= 0 else num_threads
    return max(1, min(threads, MAX_THREADS, work_items))


@contextlib.contextmanager
def parallel_threads(threads: int) -> Iterator[None]:
    """Run a ``parallel=True`` kernel on ``threads`` threads, one such kernel at a time.

    numba's default (workqueue) threading layer may not be entered by two threads at
    once; every parallel kernel of tarve (TreeSHAP blocks, tree scores) goes through
    this one lock.
    """
    with _PARALLEL_LOCK:
        previous = numba.get_num_threads()
        numba.set_num_threads(threads)
        try:
            yield
        finally:
            numba.set_num_threads(previous)


def _prefetch(typingctx: object, array: types.Array, index: types.Integer) -> tuple[object, object]:
    """Ask the CPU to fetch ``array[index]``'s cache line (LLVM's ``llvm.prefetch``).

    The leaf pass knows every table entry a tree's leaves will read before the reads
    happen; prefetching them turns one dependent cache miss at a time into many in
    flight (the one-row kernel is memory-latency bound).
    """
    sig = types.void(array, index)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        array_type = signature.args[0]
        view = context.make_array(array_type)(context, builder, args[0])
        pointer = cgutils.get_item_pointer(context, builder, array_type, view, [args[1]])
        int32 = ir.IntType(32)
        function_type = ir.FunctionType(ir.VoidType(), [pointer.type, int32, int32, int32])
        function = cgutils.get_or_insert_function(builder.module, function_type, "llvm.prefetch.p0")
        # read, high temporal locality, data cache
        builder.call(function, [pointer, int32(0), int32(3), int32(1)])
        return context.get_dummy_value()

    return sig, codegen


prefetch = cast(Callable[[np.ndarray, int], None], intrinsic(_prefetch))


@numba.njit(cache=True, nogil=True)
def _subset_values(
    depth: int,
    slot_start: int,
    value: float,
    slot_zero: np.ndarray,
    weights: np.ndarray,
    polys: np.ndarray,
    sizes: np.ndarray,
    subsets: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """``subsets[M] = v G(M)`` for every subset ``M`` of a leaf's path features."""
    polys[0, 0] = 1.0
    sizes[0] = 0
    subsets[0] = value * weights[depth, 0]
    for subset in range(1, 1 << depth):
        low = subset & -subset
        previous = subset ^ low
        bit = 0
        while (1 << bit) != low:
            bit += 1
        zero = slot_zero[slot_start + bit]
        size = sizes[previous] + 1
        sizes[subset] = size
        # (previous polynomial) * (zero + t)
        polys[subset, size] = polys[previous, size - 1]
        for k in range(size - 1, 0, -1):
            polys[subset, k] = polys[previous, k] * zero + polys[previous, k - 1]
        polys[subset, 0] = polys[previous, 0] * zero
        total = 0.0
        for k in range(size + 1):
            total += weights[depth, k] * polys[subset, k]
        subsets[subset] = value * total


@numba.njit(cache=True, nogil=True)
def _vectors(
    depth: int, slot_start: int, slot_zero: np.ndarray, subsets: np.ndarray, dest: np.ndarray
) -> None:  # pragma: no cover - compiled
    """``dest[H * d + j]``: slot ``j``'s contribution for the hot set ``H``."""
    for hot in range(1 << depth):
        cold_product = 1.0
        for j in range(depth):
            if not (hot >> j) & 1:
                cold_product *= slot_zero[slot_start + j]
        for j in range(depth):
            if (hot >> j) & 1:
                entry = cold_product * (1.0 - slot_zero[slot_start + j]) * subsets[hot ^ (1 << j)]
            else:
                entry = -cold_product * subsets[hot]
            dest[hot * depth + j] = entry


@numba.njit(cache=True, nogil=True)
def fill_tables(
    leaf_info: np.ndarray,
    leaf_value: np.ndarray,
    slot_zero: np.ndarray,
    weights: np.ndarray,
    tables: np.ndarray,
    max_depth: int,
) -> None:  # pragma: no cover - compiled
    """Fill each leaf's table (see ``forest``): ``v G(M)``, or the contribution vectors.

    A sibling pair's table (``MODE_PAIR``) holds, for the left leaf's hot set ``H`` and
    the right leaf's bit of the parent's feature ``r``, the sum of both leaves'
    vectors at ``(2 H + r) * d``: the right leaf's hot set is ``H`` with that bit
    replaced by ``r`` (both bits set cannot happen and stays zero).
    """
    polys = np.zeros(((1 << max_depth), max_depth + 1))
    sizes = np.zeros(1 << max_depth, dtype=np.int64)
    subsets = np.zeros(1 << max_depth)
    left = np.zeros(max_depth << max_depth)
    right = np.zeros(max_depth << max_depth)
    for leaf in range(leaf_info.shape[0]):
        depth = leaf_info[leaf, 0]
        slot_start = leaf_info[leaf, 1]
        mode = leaf_info[leaf, 2]
        start = leaf_info[leaf, 3]
        if mode in (MODE_DIRECT, MODE_PAIRED):
            continue
        value = leaf_value[leaf]
        _subset_values(depth, slot_start, value, slot_zero, weights, polys, sizes, subsets)
        if mode == MODE_SUBSETS:
            for subset in range(1 << depth):
                tables[start + subset] = subsets[subset]
            continue
        if mode == MODE_VECTORS:
            stop = start + (depth << depth)
            _vectors(depth, slot_start, slot_zero, subsets, tables[start:stop])
            continue
        # MODE_PAIR: this (left) leaf and its right sibling, one table
        _vectors(depth, slot_start, slot_zero, subsets, left)
        partner = leaf_info[leaf, 4]
        partner_slots = leaf_info[partner, 1]
        _subset_values(
            depth, partner_slots, leaf_value[partner], slot_zero, weights, polys, sizes, subsets
        )
        _vectors(depth, partner_slots, slot_zero, subsets, right)
        bit = leaf_info[leaf, 5]
        for hot in range(1 << depth):
            for went_right in range(2):
                index = start + (2 * hot + went_right) * depth
                if (hot >> bit) & 1 and went_right:
                    for j in range(depth):
                        tables[index + j] = 0.0
                    continue
                other = (hot & ~(1 << bit)) | (went_right << bit)
                for j in range(depth):
                    tables[index + j] = left[hot * depth + j] + right[other * depth + j]


@numba.njit(cache=True, nogil=True, inline="always")
def _leaf_without_vectors(
    contrib: np.ndarray,
    hot: int,
    depth: int,
    slots: int,
    mode: int,
    start: int,
    value: float,
    slot_feature: np.ndarray,
    slot_zero: np.ndarray,
    tables: np.ndarray,
    weights: np.ndarray,
    poly: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """One leaf's contributions from its subset table, or from the hot polynomial."""
    # Branch-free (selects): a hot bit is a coin flip, and a mispredicted branch per
    # slot cost more than the arithmetic.
    cold_product = 1.0
    for j in range(depth):
        zero = slot_zero[slots + j]
        cold_product *= 1.0 if (hot >> j) & 1 else zero
    if mode == MODE_SUBSETS:
        for j in range(depth):
            hot_bit = (hot >> j) & 1
            factor = cold_product * (1.0 - slot_zero[slots + j]) if hot_bit else -cold_product
            contrib[slot_feature[slots + j]] += factor * tables[start + (hot ^ (hot_bit << j))]
        return
    # MODE_DIRECT: the polynomial prod over hot j of (z_j + t), then G.
    size = 0
    poly[0] = 1.0
    for j in range(depth):
        if (hot >> j) & 1:
            zero = slot_zero[slots + j]
            size += 1
            poly[size] = poly[size - 1]
            for k in range(size - 1, 0, -1):
                poly[k] = poly[k] * zero + poly[k - 1]
            poly[0] = poly[0] * zero
    total = 0.0
    for k in range(size + 1):
        total += weights[depth, k] * poly[k]
    cold_value = -cold_product * value * total
    for j in range(depth):
        if (hot >> j) & 1:
            # divide by (z_j + t), from the top coefficient down, into G(H - j)
            zero = slot_zero[slots + j]
            quotient = poly[size]
            unwound = weights[depth, size - 1] * quotient
            for k in range(size - 1, 0, -1):
                quotient = poly[k] - zero * quotient
                unwound += weights[depth, k - 1] * quotient
            contrib[slot_feature[slots + j]] += cold_product * (1.0 - zero) * value * unwound
        else:
            contrib[slot_feature[slots + j]] += cold_value


@numba.njit(cache=True, nogil=True)
def row_facts(
    row: np.ndarray, features: np.ndarray, codes: np.ndarray
) -> None:  # pragma: no cover - compiled
    """Per-row feature facts the node pass reads: value, is NaN, is zero, category code."""
    for f in range(row.shape[0]):
        value = row[f]
        if abs(value) <= K_ZERO_THRESHOLD:
            value = 0.0
        features[0, f] = value
        features[1, f] = 1.0 if value != value else 0.0
        features[2, f] = 1.0 if value == 0.0 else 0.0
        # categorical: NaN, negative (after truncation) or beyond int go right
        codes[f] = np.int64(value) if -1.0 < value < INT_LIMIT else CODE_NONE


@numba.njit(cache=True, nogil=True, inline="always")
def _explain_tree(
    tree: int,
    contrib: np.ndarray,
    raw: np.ndarray,
    masks: np.ndarray,
    entries: np.ndarray,
    poly: np.ndarray,
    features: np.ndarray,
    codes: np.ndarray,
    tree_info: np.ndarray,
    node_feature: np.ndarray,
    node_flags: np.ndarray,
    node_child: np.ndarray,
    node_cat: np.ndarray,
    node_threshold: np.ndarray,
    cat_bits: np.ndarray,
    leaf_info: np.ndarray,
    leaf_value: np.ndarray,
    slot_feature: np.ndarray,
    slot_zero: np.ndarray,
    op_feature: np.ndarray,
    op_index: np.ndarray,
    tables: np.ndarray,
    weights: np.ndarray,
    phase: int = 0,
) -> None:  # pragma: no cover - compiled
    """Add one tree's contributions to ``contrib`` (its service's row) and leaf to ``raw``.

    ``phase``: ``PHASE_PREPARE`` runs the node and leaf passes only (masks, entries,
    prefetches, the raw score), ``PHASE_FINISH`` the table reads only, 0 both.

    The node pass is branch-free (a data-dependent branch per node costs more than the
    node itself): the decision is bit arithmetic on per-row feature facts (NaN, zero,
    category code) and per-node flags.
    """
    service = tree_info[tree, 0]
    node_start = tree_info[tree, 1]
    num_nodes = tree_info[tree, 2]
    leaf_start = tree_info[tree, 3]
    num_leaves = tree_info[tree, 4]
    if num_leaves == 1:
        if phase != PHASE_FINISH:
            raw[service] += leaf_value[leaf_start]
        return
    # Leaves are grouped per tree (see ``forest``): sibling pairs, vector leaves,
    # subset and direct leaves, then the right leaves of pairs; no mode branch.
    pair_end = tree_info[tree, 7]
    vector_end = pair_end + tree_info[tree, 8]
    other_end = vector_end + tree_info[tree, 9]
    if phase != PHASE_FINISH:
        # Forward pass (parents first): the hot child keeps the mask, the cold child
        # loses the bit of the node's feature. masks[num_nodes + leaf] are the leaves'.
        masks[0] = FULL_MASK
        for local in range(num_nodes):
            node = node_start + local
            feature = node_feature[node]
            flags = node_flags[node]
            value = features[0, feature]
            below = np.int64(value <= node_threshold[node])
            is_nan = np.int64(features[1, feature])
            is_zero = np.int64(features[2, feature]) & ((flags >> ZERO_MISSING_SHIFT) & 1)
            left = below ^ ((below ^ ((flags >> DEFAULT_LEFT_SHIFT) & 1)) & -is_zero)
            left = left ^ ((left ^ ((flags >> NAN_LEFT_SHIFT) & 1)) & -is_nan)
            code = codes[feature]
            word = code >> 5
            in_bitset = np.int64(word < node_cat[node, 1])
            bits = np.int64(cat_bits[node_cat[node, 0] + word * in_bitset])
            in_category = (bits >> (code & 31)) & in_bitset
            categorical = (flags >> CATEGORICAL_SHIFT) & 1
            left = left ^ ((left ^ in_category) & -categorical)
            bit = np.int64(1) << (flags & BIT_MASK)
            mask = masks[local]
            masks[node_child[node, 0]] = mask & ~(bit & -(left ^ 1))
            masks[node_child[node, 1]] = mask & ~(bit & -left)
        for local in range(num_leaves):
            if masks[num_nodes + local] == FULL_MASK:
                raw[service] += leaf_value[leaf_start + local]
        for local in range(pair_end):
            leaf = leaf_start + local
            depth = leaf_info[leaf, 0]
            hot = masks[num_nodes + local] & ((np.int64(1) << depth) - 1)
            partner = leaf_info[leaf, 4] - leaf_start
            went_right = (masks[num_nodes + partner] >> leaf_info[leaf, 5]) & 1
            entry = leaf_info[leaf, 3] + (2 * hot + went_right) * depth
            entries[local] = entry
            prefetch(tables, entry)
            prefetch(tables, entry + depth - 1)
        for local in range(pair_end, vector_end):
            leaf = leaf_start + local
            depth = leaf_info[leaf, 0]
            hot = masks[num_nodes + local] & ((np.int64(1) << depth) - 1)
            entry = leaf_info[leaf, 3] + hot * depth
            entries[local] = entry
            prefetch(tables, entry)
            prefetch(tables, entry + depth - 1)
        for local in range(vector_end, other_end):
            leaf = leaf_start + local
            if leaf_info[leaf, 2] == MODE_SUBSETS:
                depth = leaf_info[leaf, 0]
                hot = masks[num_nodes + local] & ((np.int64(1) << depth) - 1)
                start = leaf_info[leaf, 3]
                prefetch(tables, start + hot)
                for j in range(depth):
                    prefetch(tables, start + (hot ^ (((hot >> j) & 1) << j)))
    if phase == PHASE_PREPARE:
        return
    # Leaves with contribution vectors: one flat stream of (feature, entry) pairs.
    for op in range(tree_info[tree, 5], tree_info[tree, 5] + tree_info[tree, 6]):
        index = op_index[op]
        contrib[op_feature[op]] += tables[entries[index >> 6] + (index & 63)]
    # Subset and direct leaves last, their table entries fetched meanwhile.
    for local in range(vector_end, other_end):
        leaf = leaf_start + local
        depth = leaf_info[leaf, 0]
        _leaf_without_vectors(
            contrib,
            masks[num_nodes + local] & ((np.int64(1) << depth) - 1),
            depth,
            leaf_info[leaf, 1],
            leaf_info[leaf, 2],
            leaf_info[leaf, 3],
            leaf_value[leaf],
            slot_feature,
            slot_zero,
            tables,
            weights,
            poly,
        )


@numba.njit(cache=True, nogil=True)
def explain_one(
    row: np.ndarray,
    out: np.ndarray,
    raw: np.ndarray,
    masks: np.ndarray,
    entries: np.ndarray,
    poly: np.ndarray,
    features: np.ndarray,
    codes: np.ndarray,
    tree_info: np.ndarray,
    node_feature: np.ndarray,
    node_flags: np.ndarray,
    node_child: np.ndarray,
    node_cat: np.ndarray,
    node_threshold: np.ndarray,
    cat_bits: np.ndarray,
    leaf_info: np.ndarray,
    leaf_value: np.ndarray,
    slot_feature: np.ndarray,
    slot_zero: np.ndarray,
    op_feature: np.ndarray,
    op_index: np.ndarray,
    tables: np.ndarray,
    weights: np.ndarray,
    base: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Contributions ``out`` (services, features + 1) and raw scores ``raw`` of one row.

    ``out`` and ``raw`` are overwritten; ``masks`` (PIPELINE_TREES + 1 x nodes + leaves
    of the largest tree), ``entries`` (PIPELINE_TREES + 1 x leaves), ``poly``
    (depth + 2) and ``features``/``codes`` (3 x features, features) are scratch.
    """
    num_features = row.shape[0]
    row_facts(row, features, codes)
    out[:, :] = 0.0
    raw[:] = 0.0
    # Pipelined: tree t + PIPELINE_TREES's node and leaf passes (which prefetch its
    # table entries) run before tree t's table reads, so the prefetches have time to land.
    # Each output sees the same additions in the same order as the block kernel.
    num_trees = tree_info.shape[0]
    for tree in range(num_trees + PIPELINE_TREES):
        if tree < num_trees:
            _explain_tree(
                tree,
                out[tree_info[tree, 0]],
                raw,
                masks[tree % (PIPELINE_TREES + 1)],
                entries[tree % (PIPELINE_TREES + 1)],
                poly,
                features,
                codes,
                tree_info,
                node_feature,
                node_flags,
                node_child,
                node_cat,
                node_threshold,
                cat_bits,
                leaf_info,
                leaf_value,
                slot_feature,
                slot_zero,
                op_feature,
                op_index,
                tables,
                weights,
                PHASE_PREPARE,
            )
        if tree >= PIPELINE_TREES:
            done = tree - PIPELINE_TREES
            _explain_tree(
                done,
                out[tree_info[done, 0]],
                raw,
                masks[done % (PIPELINE_TREES + 1)],
                entries[done % (PIPELINE_TREES + 1)],
                poly,
                features,
                codes,
                tree_info,
                node_feature,
                node_flags,
                node_child,
                node_cat,
                node_threshold,
                cat_bits,
                leaf_info,
                leaf_value,
                slot_feature,
                slot_zero,
                op_feature,
                op_index,
                tables,
                weights,
                PHASE_FINISH,
            )
    for service in range(base.shape[0]):
        out[service, num_features] = base[service]


@numba.njit(cache=True, nogil=True)
def explain_rows(
    rows: np.ndarray,
    out: np.ndarray,
    raw: np.ndarray,
    begin: int,
    end: int,
    max_masks: int,
    max_leaves: int,
    max_depth: int,
    tree_info: np.ndarray,
    node_feature: np.ndarray,
    node_flags: np.ndarray,
    node_child: np.ndarray,
    node_cat: np.ndarray,
    node_threshold: np.ndarray,
    cat_bits: np.ndarray,
    leaf_info: np.ndarray,
    leaf_value: np.ndarray,
    slot_feature: np.ndarray,
    slot_zero: np.ndarray,
    op_feature: np.ndarray,
    op_index: np.ndarray,
    tables: np.ndarray,
    weights: np.ndarray,
    base: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Rows ``begin:end``, tree by tree for ``BLOCK_ROWS`` rows at a time.

    Trees outside, rows inside: a tree's nodes and leaf tables (about 130 kB on the
    default model) are read from memory once per block and from the core's cache for
    the other rows, where one row at a time misses the cache at nearly every leaf.
    Each row still sees the trees in LightGBM's order, so its sums are bit-identical
    to :func:`explain_one`'s.
    """
    num_features = rows.shape[1]
    masks = np.empty(max_masks, dtype=np.int64)
    entries = np.empty(max_leaves, dtype=np.int64)
    poly = np.empty(max_depth + 2)
    features = np.empty((BLOCK_ROWS, 3, num_features))
    codes = np.empty((BLOCK_ROWS, num_features), dtype=np.int64)
    for first in range(begin, end, BLOCK_ROWS):
        last = min(first + BLOCK_ROWS, end)
        for row in range(first, last):
            row_facts(rows[row], features[row - first], codes[row - first])
            out[row, :, :] = 0.0
            raw[row, :] = 0.0
        for tree in range(tree_info.shape[0]):
            service = tree_info[tree, 0]
            for row in range(first, last):
                _explain_tree(
                    tree,
                    out[row, service],
                    raw[row],
                    masks,
                    entries,
                    poly,
                    features[row - first],
                    codes[row - first],
                    tree_info,
                    node_feature,
                    node_flags,
                    node_child,
                    node_cat,
                    node_threshold,
                    cat_bits,
                    leaf_info,
                    leaf_value,
                    slot_feature,
                    slot_zero,
                    op_feature,
                    op_index,
                    tables,
                    weights,
                )
        for row in range(first, last):
            for service in range(base.shape[0]):
                out[row, service, num_features] = base[service]


@numba.njit(cache=True, nogil=True, parallel=True)
def explain_block(
    rows: np.ndarray,
    out: np.ndarray,
    raw: np.ndarray,
    chunks: int,
    max_masks: int,
    max_leaves: int,
    max_depth: int,
    tree_info: np.ndarray,
    node_feature: np.ndarray,
    node_flags: np.ndarray,
    node_child: np.ndarray,
    node_cat: np.ndarray,
    node_threshold: np.ndarray,
    cat_bits: np.ndarray,
    leaf_info: np.ndarray,
    leaf_value: np.ndarray,
    slot_feature: np.ndarray,
    slot_zero: np.ndarray,
    op_feature: np.ndarray,
    op_index: np.ndarray,
    tables: np.ndarray,
    weights: np.ndarray,
    base: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """:func:`explain_rows` on ``chunks`` contiguous row ranges in parallel."""
    num_rows = rows.shape[0]
    for chunk in numba.prange(chunks):
        explain_rows(
            rows,
            out,
            raw,
            chunk * num_rows // chunks,
            (chunk + 1) * num_rows // chunks,
            max_masks,
            max_leaves,
            max_depth,
            tree_info,
            node_feature,
            node_flags,
            node_child,
            node_cat,
            node_threshold,
            cat_bits,
            leaf_info,
            leaf_value,
            slot_feature,
            slot_zero,
            op_feature,
            op_index,
            tables,
            weights,
            base,
        )


@numba.njit(cache=True, nogil=True)
def explain_block_serial(
    rows: np.ndarray,
    out: np.ndarray,
    raw: np.ndarray,
    max_masks: int,
    max_leaves: int,
    max_depth: int,
    tree_info: np.ndarray,
    node_feature: np.ndarray,
    node_flags: np.ndarray,
    node_child: np.ndarray,
    node_cat: np.ndarray,
    node_threshold: np.ndarray,
    cat_bits: np.ndarray,
    leaf_info: np.ndarray,
    leaf_value: np.ndarray,
    slot_feature: np.ndarray,
    slot_zero: np.ndarray,
    op_feature: np.ndarray,
    op_index: np.ndarray,
    tables: np.ndarray,
    weights: np.ndarray,
    base: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """:func:`explain_rows` for every row, in the calling thread."""
    explain_rows(
        rows,
        out,
        raw,
        0,
        rows.shape[0],
        max_masks,
        max_leaves,
        max_depth,
        tree_info,
        node_feature,
        node_flags,
        node_child,
        node_cat,
        node_threshold,
        cat_bits,
        leaf_info,
        leaf_value,
        slot_feature,
        slot_zero,
        op_feature,
        op_index,
        tables,
        weights,
        base,
    )
