"""Trees read from LightGBM's text model: exactly the numbers LightGBM predicts with.

The text model (``Booster.model_to_string()``) prints every double with round-trip
precision, so thresholds, leaf values and counts read here are bit-identical to the
ones in LightGBM's memory. Anything this reader does not understand (linear trees,
multi-class or averaged models, a path too deep for the kernel's 64-bit masks) raises
:class:`UnsupportedModelError`; the explainer then falls back to ``pred_contrib``.
"""

from __future__ import annotations

from dataclasses import dataclass

import lightgbm as lgb
import numpy as np

# decision_type bits (LightGBM include/LightGBM/tree.h)
CATEGORICAL_MASK = 1
DEFAULT_LEFT_MASK = 2
MISSING_NONE, MISSING_ZERO, MISSING_NAN = 0, 1, 2
MAX_UNIQUE_PATH_FEATURES = 63
"""The kernel keeps one bit per distinct feature of a root-to-leaf path in a uint64."""

MSG_NOT_TEXT_MODEL = "not a LightGBM text model (no 'tree' header)"
MSG_MULTI_TREE = "num_tree_per_iteration={value}: only one tree per iteration is supported"
MSG_TREE_COUNT = "{trees} trees is not a multiple of num_tree_per_iteration={value}"
MSG_AVERAGE_OUTPUT = "averaged output (random forest mode) is not supported"
MSG_LINEAR_TREE = "tree {tree} is a linear tree"
MSG_BAD_TREE = "tree {tree}: {problem}"
MSG_FEATURES = "boosters disagree on the number of features: {counts}"
MSG_DEEP_PATH = "tree {tree}: a path has {count} distinct features; at most {limit} supported"


class UnsupportedModelError(ValueError):
    """The booster uses a LightGBM feature the tarve kernel does not implement."""


@dataclass(frozen=True)
class Tree:
    """One tree, in LightGBM's own node numbering.

    Internal nodes are ``0 .. num_leaves - 2``; a child code ``c >= 0`` is an internal
    node, ``c < 0`` the leaf ``~c``.
    """

    split_feature: np.ndarray  # int64 (nodes,)
    threshold: np.ndarray  # float64 (nodes,); the bitset index for categorical nodes
    decision_type: np.ndarray  # int64 (nodes,)
    left_child: np.ndarray  # int64 (nodes,)
    right_child: np.ndarray  # int64 (nodes,)
    internal_count: np.ndarray  # float64 (nodes,)
    leaf_value: np.ndarray  # float64 (leaves,)
    leaf_count: np.ndarray  # float64 (leaves,)
    cat_boundaries: np.ndarray  # int64 (num_cat + 1,)
    cat_threshold: np.ndarray  # uint32 (words,)

    @property
    def num_leaves(self) -> int:
        """Leaves of the tree (1 for a constant tree)."""
        return len(self.leaf_value)

    def expected_value(self) -> float:
        """LightGBM's ``Tree::ExpectedValue``, summed in the same order (the base value)."""
        if self.num_leaves == 1:
            return float(self.leaf_value[0])
        total = float(self.internal_count[0])
        value = 0.0
        for count, leaf in zip(self.leaf_count.tolist(), self.leaf_value.tolist(), strict=True):
            value += (count / total) * leaf
        return value


@dataclass(frozen=True)
class BoosterTrees:
    """All trees of one booster, in prediction order.

    With ``trees_per_iteration`` > 1 (multiclass), tree ``i`` belongs to class
    ``i % trees_per_iteration``. ``objective`` is the text model's objective line
    (``"binary sigmoid:1"``, ``"multiclass num_class:12"``, ``"regression"``...).
    """

    num_features: int
    trees: list[Tree]
    trees_per_iteration: int = 1
    objective: str = ""


def _numbers(text: str, dtype: type) -> np.ndarray:
    return np.array(text.split(" ") if text else [], dtype=np.float64).astype(dtype)


def _parse_tree(index: int, block: dict[str, str]) -> Tree:
    if block.get("is_linear", "0") != "0":
        raise UnsupportedModelError(MSG_LINEAR_TREE.format(tree=index))
    num_leaves = int(block["num_leaves"])
    leaf_value = _numbers(block["leaf_value"], np.float64)
    if num_leaves == 1:
        empty_int = np.zeros(0, dtype=np.int64)
        return Tree(
            split_feature=empty_int,
            threshold=np.zeros(0),
            decision_type=empty_int,
            left_child=empty_int,
            right_child=empty_int,
            internal_count=np.zeros(0),
            leaf_value=leaf_value[:1],
            leaf_count=np.zeros(1),
            cat_boundaries=np.zeros(1, dtype=np.int64),
            cat_threshold=np.zeros(0, dtype=np.uint32),
        )
    num_cat = int(block.get("num_cat", "0"))
    tree = Tree(
        split_feature=_numbers(block["split_feature"], np.int64),
        threshold=_numbers(block["threshold"], np.float64),
        decision_type=_numbers(block["decision_type"], np.int64),
        left_child=_numbers(block["left_child"], np.int64),
        right_child=_numbers(block["right_child"], np.int64),
        internal_count=_numbers(block["internal_count"], np.float64),
        leaf_value=leaf_value,
        leaf_count=_numbers(block["leaf_count"], np.float64),
        cat_boundaries=(
            _numbers(block["cat_boundaries"], np.int64) if num_cat else np.zeros(1, dtype=np.int64)
        ),
        cat_threshold=(
            np.array(block["cat_threshold"].split(" "), dtype=np.uint64).astype(np.uint32)
            if num_cat
            else np.zeros(0, dtype=np.uint32)
        ),
    )
    nodes = num_leaves - 1
    for name in ("split_feature", "threshold", "decision_type", "left_child", "right_child"):
        if len(getattr(tree, name)) != nodes:
            raise UnsupportedModelError(MSG_BAD_TREE.format(tree=index, problem=name))
    if len(tree.leaf_value) != num_leaves or len(tree.leaf_count) != num_leaves:
        raise UnsupportedModelError(MSG_BAD_TREE.format(tree=index, problem="leaves"))
    if not np.all(np.isfinite(tree.leaf_value)):
        raise UnsupportedModelError(MSG_BAD_TREE.format(tree=index, problem="leaf values"))
    if np.any(tree.internal_count <= 0):
        raise UnsupportedModelError(MSG_BAD_TREE.format(tree=index, problem="zero count"))
    unknown_bits = tree.decision_type & ~np.int64(CATEGORICAL_MASK | DEFAULT_LEFT_MASK | 12)
    if np.any(unknown_bits) or np.any((tree.decision_type >> 2) & 3 == 3):
        raise UnsupportedModelError(MSG_BAD_TREE.format(tree=index, problem="decision type"))
    categorical = (tree.decision_type & CATEGORICAL_MASK) != 0
    if np.any(categorical):
        cat_index = tree.threshold[categorical]
        if np.any(cat_index != np.floor(cat_index)) or np.any(cat_index < 0):
            raise UnsupportedModelError(MSG_BAD_TREE.format(tree=index, problem="cat index"))
        if np.any(cat_index >= len(tree.cat_boundaries) - 1):
            raise UnsupportedModelError(MSG_BAD_TREE.format(tree=index, problem="cat index"))
    return tree


def read_booster(booster: lgb.Booster, *, multiclass: bool = False) -> BoosterTrees:
    """Read the trees of ``booster`` from its text model.

    Parameters
    ----------
    multiclass : bool, default False
        Accept several trees per iteration (TreeSHAP takes one output per booster;
        raw scores take any).

    Raises
    ------
    UnsupportedModelError
        For anything other than plain (non-linear) trees, one per iteration unless
        ``multiclass``.
    """
    text = booster.model_to_string()  # num_iteration=None: as Booster.predict
    lines = text.splitlines()
    if not lines or lines[0].strip() != "tree":
        raise UnsupportedModelError(MSG_NOT_TEXT_MODEL)
    header: dict[str, str] = {}
    blocks: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    for line in lines[1:]:
        if line.startswith("end of trees"):
            break
        if line.startswith("Tree="):
            current = {}
            blocks.append(current)
            continue
        key, sep, value = line.partition("=")
        if not sep:
            if line.strip() == "average_output":
                raise UnsupportedModelError(MSG_AVERAGE_OUTPUT)
            continue
        (header if current is None else current)[key] = value
    per_iteration = int(header.get("num_tree_per_iteration", "1"))
    if per_iteration < 1 or (per_iteration != 1 and not multiclass):
        raise UnsupportedModelError(MSG_MULTI_TREE.format(value=per_iteration))
    num_features = int(header["max_feature_idx"]) + 1
    trees = [_parse_tree(index, block) for index, block in enumerate(blocks)]
    for index, tree in enumerate(trees):
        if len(tree.split_feature) and (
            tree.split_feature.min() < 0 or tree.split_feature.max() >= num_features
        ):
            raise UnsupportedModelError(MSG_BAD_TREE.format(tree=index, problem="feature"))
    if len(trees) % per_iteration:
        raise UnsupportedModelError(MSG_TREE_COUNT.format(trees=len(trees), value=per_iteration))
    return BoosterTrees(
        num_features=num_features,
        trees=trees,
        trees_per_iteration=per_iteration,
        objective=header.get("objective", ""),
    )
