"""Exact path-dependent Shapley values of a LightGBM model by brute force, for tests.

An independent reference for the service's reasons: for each tree, the value of a
coalition S is the tree's expected output when the features in S are fixed to the
client's values and the others are averaged over the training data as the tree's node
counts say (the "path-dependent" conditional expectation of TreeSHAP). Shapley values
are then computed from their definition, over every subset of the features the tree
uses, and summed over trees. Only the tree dump (``Booster.dump_model``) is read, and
numerical, categorical and missing-value splits are decided as LightGBM decides them.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import lightgbm as lgb
import numpy as np


def _goes_left(node: dict[str, Any], value: float) -> bool:
    if node["decision_type"] == "==":
        if math.isnan(value) or value < 0:
            return False
        categories = {int(c) for c in str(node["threshold"]).split("||")}
        return int(value) in categories
    missing_type = node.get("missing_type", "None")
    if math.isnan(value) and missing_type != "NaN":
        value = 0.0
    if (missing_type == "Zero" and abs(value) <= 1e-35) or (
        missing_type == "NaN" and math.isnan(value)
    ):
        return bool(node["default_left"])
    return value <= float(node["threshold"])


def _count(node: dict[str, Any]) -> float:
    return float(node["leaf_count"] if "leaf_value" in node else node["internal_count"])


def _expected(node: dict[str, Any], row: np.ndarray, fixed: frozenset[int]) -> float:
    if "leaf_value" in node:
        return float(node["leaf_value"])
    left, right = node["left_child"], node["right_child"]
    feature = int(node["split_feature"])
    if feature in fixed:
        return _expected(left if _goes_left(node, float(row[feature])) else right, row, fixed)
    total = _count(left) + _count(right)
    return (
        _count(left) * _expected(left, row, fixed) + _count(right) * _expected(right, row, fixed)
    ) / total


def _features(node: dict[str, Any]) -> set[int]:
    if "leaf_value" in node:
        return set()
    return (
        {int(node["split_feature"])}
        | _features(node["left_child"])
        | _features(node["right_child"])
    )


def shapley_values(booster: lgb.Booster, row: np.ndarray) -> tuple[np.ndarray, float]:
    """Per-feature Shapley values (log-odds) and the base value for one encoded row."""
    phi = np.zeros(len(row))
    base = 0.0
    for tree in booster.dump_model()["tree_info"]:
        root = tree["tree_structure"]
        used = sorted(_features(root))
        size = len(used)
        values = {
            frozenset(subset): _expected(root, row, frozenset(subset))
            for r in range(size + 1)
            for subset in itertools.combinations(used, r)
        }
        base += values[frozenset()]
        for feature in used:
            others = [f for f in used if f != feature]
            for r in range(size):
                weight = math.factorial(r) * math.factorial(size - r - 1) / math.factorial(size)
                for subset in itertools.combinations(others, r):
                    without = frozenset(subset)
                    phi[feature] += weight * (values[without | {feature}] - values[without])
    return phi, base
