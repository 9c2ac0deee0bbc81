"""All services' trees in flat arrays, with what TreeSHAP needs precomputed per leaf.

Path-dependent TreeSHAP (Lundberg et al. 2020, arXiv 1802.03888) gives each leaf ``l`` of
value ``v`` a game over the ``d`` distinct features on its root-to-leaf path: feature
``j`` has a *zero fraction* ``z_j`` (the product of the cover ratios of the path's
splits on ``j``) and a *one fraction* ``o_j`` (1 when the row follows every split on
``j`` along the path, else 0). Its Shapley values are

    phi_j = v (o_j - z_j) sum_{S subset of P minus j} w(|S|, d) prod_{i in S} o_i
            prod_{i not in S, i != j} z_i,      w(k, d) = k! (d-1-k)! / d!.

Only the one fractions depend on the row, and they are bits: write ``H`` for the set of
path features with ``o = 1`` ("hot") and ``C`` for the product of the ``z`` of the others
("cold"). With ``G(M) = sum_k w(k, d) [t^k] prod_{i in M} (z_i + t)``,

    phi_j = C (1 - z_j) v G(H minus j)   for a hot j,
    phi_j = -C v G(H)                    for a cold j.

``v G(M)`` for every subset ``M`` of a leaf's path features is a table of ``2**d``
numbers that does not depend on the row (FastTreeSHAP v2's idea, arXiv 2109.09847,
in this compact per-leaf form). Leaves with more distinct features than
``table_limit``, or beyond the memory budget, keep no table: the kernel builds the
polynomial of the hot features for them, ``O(d**2)`` per leaf.

Two sibling leaves that both keep vectors share one table, indexed by the left leaf's
hot set and the right leaf's bit of the parent's feature (``MODE_PAIR``): the same
memory, one read instead of two. Each tree's leaves are renumbered in the order the
kernel visits them (pairs, vectors, subsets and direct, right leaves of pairs).

Everything else a row needs is structural and precomputed too: nodes renumbered so
that a parent precedes its children (one forward pass propagates the hot-bit masks),
each node's bit (the position of its feature among the distinct features of the path
to it), each leaf's zero fractions.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from models.treeshap.kernels import (
    FLAG_CATEGORICAL,
    FLAG_DEFAULT_LEFT,
    FLAG_NAN_LEFT,
    FLAG_ZERO_MISSING,
    MODE_DIRECT,
    MODE_PAIR,
    MODE_PAIRED,
    MODE_SUBSETS,
    MODE_VECTORS,
    fill_tables,
)
from models.treeshap.trees import (
    CATEGORICAL_MASK,
    DEFAULT_LEFT_MASK,
    MAX_UNIQUE_PATH_FEATURES,
    MISSING_NAN,
    MISSING_ZERO,
    MSG_DEEP_PATH,
    MSG_FEATURES,
    BoosterTrees,
    Tree,
    UnsupportedModelError,
)

DEFAULT_VECTOR_LIMIT = 10
"""Leaves with at most this many distinct path features keep every contribution vector."""
DEFAULT_TABLE_LIMIT = 11
"""Other leaves with at most this many keep ``v G(M)`` for every subset ``M``."""
DEFAULT_TABLE_BUDGET_BYTES = 180 * 1024 * 1024
"""Tables stop (largest leaves first lose theirs) when they would exceed this."""

# tree_info columns
TREE_SERVICE, TREE_NODE_START, TREE_NUM_NODES, TREE_LEAF_START, TREE_NUM_LEAVES = range(5)
# leaf_info columns
LEAF_DEPTH, LEAF_SLOT_START, LEAF_MODE, LEAF_TABLE_START, LEAF_PARTNER, LEAF_PAIR_BIT = range(6)


@dataclass(frozen=True)
class FlatForest:
    """The flat arrays the kernels read; see the module docstring."""

    num_features: int
    num_services: int
    tree_info: np.ndarray  # int64 (trees, 10): service, nodes, leaves, vector ops, leaf groups
    node_feature: np.ndarray  # int32 (nodes,)
    node_flags: np.ndarray  # int64 (nodes,): the bit of the feature on the path, flags
    node_child: np.ndarray  # int32 (nodes, 2): left, right; leaves after the tree's nodes
    node_cat: np.ndarray  # int32 (nodes, 2): bitset start and words (0, 0 if numerical)
    node_threshold: np.ndarray  # float64 (nodes,)
    cat_bits: np.ndarray  # uint32 (words,)
    leaf_info: np.ndarray  # int64 (leaves, 6): depth, slot start, mode, table start, pair
    leaf_value: np.ndarray  # float64 (leaves,)
    slot_feature: np.ndarray  # int32 (slots,)
    slot_zero: np.ndarray  # float64 (slots,)
    op_feature: np.ndarray  # int32 (ops,): vector-mode leaves, one op per path feature
    op_index: np.ndarray  # int32 (ops,): tree-local leaf << 6 | slot
    tables: np.ndarray  # float64 (table entries,)
    weights: np.ndarray  # float64 (max_depth + 1, max_depth + 1): w(k, d) at [d, k]
    base: np.ndarray  # float64 (services,): LightGBM's expected value, summed in its order
    max_nodes: int
    max_leaves: int
    max_depth: int

    @property
    def scratch_sizes(self) -> tuple[int, int, int]:
        """Mask slots (nodes + leaves), leaves and depth of the largest tree and path."""
        return (self.max_nodes + self.max_leaves, self.max_leaves, self.max_depth)

    def arrays(self) -> tuple[np.ndarray, ...]:
        """Return the arrays in the order the kernels take them."""
        return (
            self.tree_info,
            self.node_feature,
            self.node_flags,
            self.node_child,
            self.node_cat,
            self.node_threshold,
            self.cat_bits,
            self.leaf_info,
            self.leaf_value,
            self.slot_feature,
            self.slot_zero,
            self.op_feature,
            self.op_index,
            self.tables,
            self.weights,
            self.base,
        )

    @property
    def table_bytes(self) -> int:
        """Memory of all precomputed arrays (tables and per-leaf/per-node data)."""
        return int(sum(array.nbytes for array in self.arrays()))

    def leaves_by_mode(self) -> dict[str, int]:
        """Count how many leaves use each way of computing (vectors, subsets, direct)."""
        modes = self.leaf_info[:, LEAF_MODE]
        return {
            "vectors": int(np.sum(modes == MODE_VECTORS)),
            "sibling pairs": int(np.sum(modes == MODE_PAIR)),
            "subsets": int(np.sum(modes == MODE_SUBSETS)),
            "direct": int(np.sum(modes == MODE_DIRECT)),
        }


@dataclass
class _TreeLayout:
    order: list[int]  # internal nodes in preorder (old ids)
    node_bit: list[int]  # per new node id
    leaf_slots: list[list[tuple[int, float]]]  # per leaf: (feature, zero fraction) per slot


def _layout(tree: Tree, tree_index: int) -> _TreeLayout:
    left = tree.left_child.tolist()
    right = tree.right_child.tolist()
    feature = tree.split_feature.tolist()
    internal = tree.internal_count.tolist()
    leaf_count = tree.leaf_count.tolist()
    order: list[int] = []
    bit_of: dict[int, int] = {}
    leaf_slots: list[list[tuple[int, float]]] = [[] for _ in range(tree.num_leaves)]
    # (node, distinct path features so far, their zero fractions)
    # Breadth first: a parent precedes its children, and the kernel's forward pass
    # never stores a mask that the very next node loads (no store-to-load stall chain).
    queue: deque[tuple[int, list[int], list[float]]] = deque([(0, [], [])])
    while queue:
        node, features, zeros = queue.popleft()
        if node < 0:
            leaf_slots[~node] = list(zip(features, zeros, strict=True))
            continue
        order.append(node)
        split = feature[node]
        if split in features:
            slot = features.index(split)
        else:
            slot = len(features)
            if slot >= MAX_UNIQUE_PATH_FEATURES:
                raise UnsupportedModelError(
                    MSG_DEEP_PATH.format(
                        tree=tree_index, count=slot + 1, limit=MAX_UNIQUE_PATH_FEATURES
                    )
                )
        bit_of[node] = slot
        for child in (left[node], right[node]):
            count = internal[child] if child >= 0 else leaf_count[~child]
            ratio = count / internal[node]
            child_features = list(features)
            child_zeros = list(zeros)
            if slot == len(features):
                child_features.append(split)
                child_zeros.append(ratio)
            else:
                child_zeros[slot] = ratio * child_zeros[slot]
            queue.append((child, child_features, child_zeros))
    return _TreeLayout(order=order, node_bit=[bit_of[n] for n in order], leaf_slots=leaf_slots)


def shapley_weights(max_depth: int) -> np.ndarray:
    """``w[d, k] = k! (d-1-k)! / d!`` for ``0 <= k < d <= max_depth``."""
    weights = np.zeros((max_depth + 1, max_depth + 1))
    for depth in range(1, max_depth + 1):
        for size in range(depth):
            weights[depth, size] = 1.0 / (depth * math.comb(depth - 1, size))
    return weights


def split_flags(decision: int, threshold: float, bit: int) -> int:
    """Return the kernel's per-node flags: the feature bit, where NaN and zero go."""
    default_left = bool(decision & DEFAULT_LEFT_MASK)
    if decision & CATEGORICAL_MASK:
        return bit | FLAG_CATEGORICAL
    missing = (decision >> 2) & 3
    flags = bit | (FLAG_DEFAULT_LEFT if default_left else 0)
    if missing == MISSING_ZERO:
        flags |= FLAG_ZERO_MISSING
    # NaN: the default way for missing types NaN and Zero (NaN reads as 0.0, a missing
    # zero); for None it reads as 0.0 and meets the threshold.
    nan_left = default_left if missing in (MISSING_NAN, MISSING_ZERO) else threshold >= 0.0
    return flags | (FLAG_NAN_LEFT if nan_left else 0)


def _choose_modes(
    depths: np.ndarray, *, vector_limit: int, table_limit: int, budget_entries: int
) -> np.ndarray:
    """Per leaf: its mode; small leaves first, within the budget."""
    modes = np.full(len(depths), MODE_DIRECT, dtype=np.int64)
    order = np.argsort(depths, kind="stable")
    used = 0
    for leaf in order.tolist():
        depth = int(depths[leaf])
        if depth < 1:  # a tree of one leaf: nothing to explain
            continue
        if depth > table_limit or used + (1 << depth) > budget_entries:
            break
        modes[leaf] = MODE_SUBSETS
        used += 1 << depth
    for leaf in order.tolist():
        depth = int(depths[leaf])
        if depth < 1:
            continue
        extra = (depth - 1) << depth
        if depth > vector_limit or modes[leaf] != MODE_SUBSETS or used + extra > budget_entries:
            break
        modes[leaf] = MODE_VECTORS
        used += extra
    return modes


def _pair_siblings(
    modes: np.ndarray, depths: np.ndarray, pairs: list[tuple[int, int, int]]
) -> None:
    """Two sibling leaves that both keep vectors share one table (modes changed in place)."""
    for left, right, _bit in pairs:
        if modes[left] == MODE_VECTORS and modes[right] == MODE_VECTORS:
            if depths[left] != depths[right]:  # pragma: no cover - siblings share the path
                continue
            modes[left] = MODE_PAIR
            modes[right] = MODE_PAIRED


_GROUP_OF_MODE = np.array([2, 2, 1, 0, 3])  # direct, subsets, vectors, pair, paired


def _visit_order(
    modes: np.ndarray, leaf_tree: np.ndarray, tree_info: np.ndarray, node_child: np.ndarray
) -> np.ndarray:
    """Renumber each tree's leaves in the order the kernel visits them.

    Per tree: sibling pairs, vector leaves, subset and direct leaves, right leaves of
    pairs (whose contributions are in their pair's table); the kernel loops over each
    group without a branch on the mode, and the tables follow in the same order.
    Rewrites the leaf children in ``node_child`` and the group sizes in
    ``tree_info[:, 7:10]``; returns the old leaf of each new leaf.
    """
    count = len(modes)
    group = _GROUP_OF_MODE[modes]
    order = np.lexsort((np.arange(count), group, leaf_tree))
    new_of_old = np.empty(count, dtype=np.int64)
    new_of_old[order] = np.arange(count)
    num_trees = len(tree_info)
    node_tree = np.repeat(np.arange(num_trees), tree_info[:, TREE_NUM_NODES])
    nodes = tree_info[node_tree, TREE_NUM_NODES][:, np.newaxis]
    first_leaf = tree_info[node_tree, TREE_LEAF_START][:, np.newaxis]
    is_leaf = node_child >= nodes
    old_leaf = np.where(is_leaf, first_leaf + node_child - nodes, 0)
    node_child[:] = np.where(is_leaf, nodes + new_of_old[old_leaf] - first_leaf, node_child)
    for column, value in ((7, 0), (8, 1), (9, 2)):
        tree_info[:, column] = np.bincount(leaf_tree[group == value], minlength=num_trees)
    return order


def _table_starts(modes: np.ndarray, depths: np.ndarray) -> tuple[np.ndarray, int]:
    """Per leaf: where its table starts; and the total number of entries."""
    sizes = np.select(
        [modes == MODE_VECTORS, modes == MODE_PAIR, modes == MODE_SUBSETS],
        [depths << depths, 2 * depths << depths, np.int64(1) << depths],
        0,
    )
    starts = np.zeros(len(depths), dtype=np.int64)
    if len(depths):
        starts[1:] = np.cumsum(sizes)[:-1]
    return starts, int(sizes.sum())


def _vector_ops(
    leaf_info: np.ndarray, tree_info: np.ndarray, leaf_trees: np.ndarray, slot_features: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Return the (feature, leaf << 6 | slot) ops of vector and pair leaves.

    Also fills ``tree_info[:, 5:]`` (each tree's first op and op count).
    """
    vector = np.flatnonzero(np.isin(leaf_info[:, LEAF_MODE], (MODE_VECTORS, MODE_PAIR)))
    depths = leaf_info[vector, LEAF_DEPTH]
    leaf_of_op = np.repeat(vector, depths)
    first_op = np.repeat(np.cumsum(depths) - depths, depths)
    slot_of_op = np.arange(len(leaf_of_op)) - first_op
    features = np.array(slot_features, dtype=np.int64)
    op_feature = features[leaf_info[leaf_of_op, LEAF_SLOT_START] + slot_of_op]
    trees_of_op = leaf_trees[leaf_of_op] if len(leaf_of_op) else np.zeros(0, dtype=np.int64)
    local_leaf = leaf_of_op - tree_info[trees_of_op, TREE_LEAF_START]
    counts = np.bincount(trees_of_op, minlength=len(tree_info))
    tree_info[:, 6] = counts
    tree_info[:, 5] = np.cumsum(counts) - counts
    return (
        op_feature.astype(np.int32),
        ((local_leaf << 6) | slot_of_op).astype(np.int32),
    )


def build_forest(
    boosters: Sequence[BoosterTrees],
    *,
    vector_limit: int = DEFAULT_VECTOR_LIMIT,
    table_limit: int = DEFAULT_TABLE_LIMIT,
    table_budget_bytes: int = DEFAULT_TABLE_BUDGET_BYTES,
    pair_siblings: bool = True,
) -> FlatForest:
    """Flatten the boosters (one per service, in order) and precompute the leaf tables.

    With ``pair_siblings``, two sibling leaves that both keep vectors share one table
    (the same memory, one read and ``d`` additions instead of two and ``2 d``).
    """
    counts = {b.num_features for b in boosters}
    if len(counts) > 1:
        raise UnsupportedModelError(MSG_FEATURES.format(counts=sorted(counts)))
    num_features = counts.pop() if counts else 0
    tree_rows: list[list[int]] = []
    node_rows: list[list[int]] = []
    cat_rows: list[list[int]] = []
    thresholds: list[float] = []
    cat_words: list[np.ndarray] = [np.zeros(1, dtype=np.uint32)]  # word 0: no category
    cat_offset = 1
    leaf_depths: list[int] = []
    leaf_slot_starts: list[int] = []
    leaf_values: list[float] = []
    slot_features: list[int] = []
    slot_zeros: list[float] = []
    leaf_trees: list[int] = []
    pairs: list[tuple[int, int, int]] = []  # global left leaf, right leaf, parent's bit
    base = np.zeros(len(boosters))
    max_nodes = max_leaves = max_depth = 1
    for service, booster in enumerate(boosters):
        for tree in booster.trees:
            index = len(tree_rows)
            base[service] += tree.expected_value()
            tree_rows.append(
                [service, len(node_rows), tree.num_leaves - 1, len(leaf_values), tree.num_leaves]
            )
            leaf_trees.extend([index] * tree.num_leaves)
            max_leaves = max(max_leaves, tree.num_leaves)
            max_nodes = max(max_nodes, tree.num_leaves - 1)
            if tree.num_leaves == 1:
                leaf_depths.append(0)
                leaf_slot_starts.append(len(slot_features))
                leaf_values.append(float(tree.leaf_value[0]))
                continue
            layout = _layout(tree, index)
            new_id = {old: new for new, old in enumerate(layout.order)}
            left = tree.left_child.tolist()
            right = tree.right_child.tolist()
            split = tree.split_feature.tolist()
            decisions = tree.decision_type.tolist()
            tree_thresholds = tree.threshold.tolist()
            boundaries = tree.cat_boundaries.tolist()
            bitset_start = cat_offset
            cat_words.append(tree.cat_threshold)
            cat_offset += len(tree.cat_threshold)
            for new, old in enumerate(layout.order):
                decision = decisions[old]
                threshold = tree_thresholds[old]
                cat_start = cat_count = 0
                if decision & CATEGORICAL_MASK:
                    cat_index = int(threshold)
                    cat_count = boundaries[cat_index + 1] - boundaries[cat_index]
                    if cat_count > 0:
                        cat_start = bitset_start + boundaries[cat_index]
                nodes = tree.num_leaves - 1
                node_rows.append(
                    [
                        split[old],
                        new_id[left[old]] if left[old] >= 0 else nodes + ~left[old],
                        new_id[right[old]] if right[old] >= 0 else nodes + ~right[old],
                        split_flags(decision, threshold, layout.node_bit[new]),
                    ]
                )
                cat_rows.append([cat_start, cat_count])
                thresholds.append(threshold)
                if left[old] < 0 and right[old] < 0:
                    first = len(leaf_values)
                    pairs.append((first + ~left[old], first + ~right[old], layout.node_bit[new]))
            for leaf, slots in enumerate(layout.leaf_slots):
                leaf_depths.append(len(slots))
                leaf_slot_starts.append(len(slot_features))
                leaf_values.append(float(tree.leaf_value[leaf]))
                max_depth = max(max_depth, len(slots))
                for feature, zero in slots:
                    slot_features.append(feature)
                    slot_zeros.append(zero)
    depths = np.array(leaf_depths, dtype=np.int64)
    modes = _choose_modes(
        depths,
        vector_limit=vector_limit,
        table_limit=table_limit,
        budget_entries=table_budget_bytes // 8,
    )
    partner = np.zeros(len(depths), dtype=np.int64)
    pair_bit = np.zeros(len(depths), dtype=np.int64)
    if pair_siblings:
        _pair_siblings(modes, depths, pairs)
        for left_leaf, right_leaf, bit in pairs:
            partner[left_leaf], pair_bit[left_leaf] = right_leaf, bit
    tree_info = np.zeros((len(tree_rows), 10), dtype=np.int64)
    if tree_rows:
        tree_info[:, :5] = np.array(tree_rows, dtype=np.int64)
    node_child = np.array([r[1:3] for r in node_rows], dtype=np.int64).reshape(-1, 2)
    leaf_tree = np.array(leaf_trees, dtype=np.int64)
    order = _visit_order(modes, leaf_tree, tree_info, node_child)
    depths, modes, pair_bit = depths[order], modes[order], pair_bit[order]
    slot_starts = np.array(leaf_slot_starts, dtype=np.int64)[order]
    new_of_old = np.empty_like(order)
    new_of_old[order] = np.arange(len(order))
    partner = np.where(modes == MODE_PAIR, new_of_old[partner[order]], 0)
    starts, total = _table_starts(modes, depths)
    leaf_info = np.stack([depths, slot_starts, modes, starts, partner, pair_bit], 1)
    weights = shapley_weights(max_depth)
    leaf_value = np.array(leaf_values, dtype=np.float64)[order]
    slot_zero = np.array(slot_zeros, dtype=np.float64)
    tables = np.zeros(total)
    table_depth = int(depths[modes != MODE_DIRECT].max()) if np.any(modes != MODE_DIRECT) else 0
    fill_tables(leaf_info, leaf_value, slot_zero, weights, tables, table_depth)
    op_features, op_indexes = _vector_ops(leaf_info, tree_info, leaf_tree, slot_features)
    return FlatForest(
        num_features=num_features,
        num_services=len(boosters),
        tree_info=tree_info,
        node_feature=np.array([r[0] for r in node_rows], dtype=np.int32),
        node_flags=np.array([r[3] for r in node_rows], dtype=np.int64),
        node_child=node_child.astype(np.int32),
        node_cat=np.array(cat_rows, dtype=np.int32).reshape(-1, 2),
        node_threshold=np.array(thresholds, dtype=np.float64),
        cat_bits=np.concatenate(cat_words).astype(np.uint32),
        leaf_info=np.ascontiguousarray(leaf_info),
        leaf_value=leaf_value,
        slot_feature=np.array(slot_features, dtype=np.int32),
        slot_zero=slot_zero,
        op_feature=op_features,
        op_index=op_indexes,
        tables=tables,
        weights=weights,
        base=base,
        max_nodes=max_nodes,
        max_leaves=max_leaves,
        max_depth=max_depth,
    )
