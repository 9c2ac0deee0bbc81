"""The kernel equals LightGBM's ``pred_contrib`` on random models and random rows."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.treeshap import (
    KERNEL_PATH,
    PRED_CONTRIB_PATH,
    TreeShapExplainer,
    UnsupportedModelError,
    explainer_for,
)

TOLERANCE = 1e-9


def _column(rng: np.random.Generator, rows: int, *, categorical: bool) -> np.ndarray:
    if categorical:
        return rng.integers(0, rng.integers(2, 40), rows).astype(np.float64)
    kind = rng.integers(0, 3)
    if kind == 0:
        return rng.normal(size=rows)
    if kind == 1:  # many exact zeros (the Zero missing type)
        return np.where(rng.random(rows) < 0.4, 0.0, rng.exponential(size=rows))
    return rng.integers(-3, 4, rows).astype(np.float64)


def _data(
    rng: np.random.Generator, rows: int, features: int, categorical: list[int], nan_share: float
) -> tuple[np.ndarray, np.ndarray]:
    matrix = np.column_stack(
        [_column(rng, rows, categorical=f in categorical) for f in range(features)]
    )
    matrix[rng.random(matrix.shape) < nan_share] = np.nan
    signal = np.nan_to_num(matrix[:, 0]) + np.sin(np.nan_to_num(matrix[:, -1]))
    labels = (signal + rng.normal(size=rows) > 0).astype(np.float64)
    return matrix, labels


def _probe_rows(rng: np.random.Generator, matrix: np.ndarray, count: int) -> np.ndarray:
    """Rows like the data, plus the edge values LightGBM treats specially."""
    rows = matrix[rng.integers(0, len(matrix), count)].copy()
    edges = np.array([np.nan, 0.0, -0.0, 1e-36, -1e-36, -0.5, -1.0, 2.7, 1e12, -np.inf, np.inf])
    mask = rng.random(rows.shape) < 0.25
    rows[mask] = rng.choice(edges, size=int(mask.sum()))
    return rows


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 2**31 - 1),
    depth=st.integers(1, 15),
    trees=st.sampled_from([1, 2, 7, 40, 300]),
    features=st.integers(1, 12),
    categorical_share=st.sampled_from([0.0, 0.3, 0.7]),
    nan_share=st.sampled_from([0.0, 0.1, 0.4]),
    zero_as_missing=st.booleans(),
    use_missing=st.booleans(),
)
def test_random_models_equal_pred_contrib(
    seed: int,
    depth: int,
    trees: int,
    features: int,
    categorical_share: float,
    nan_share: float,
    zero_as_missing: bool,
    use_missing: bool,
) -> None:
    rng = np.random.default_rng(seed)
    categorical = [f for f in range(features) if rng.random() < categorical_share]
    matrix, labels = _data(rng, 600, features, categorical, nan_share)
    params = {
        "objective": "binary",
        "verbosity": -1,
        "num_threads": 1,
        "max_depth": depth,
        "num_leaves": int(min(2**depth, 64)),
        "min_data_in_leaf": 2,
        "min_data_per_group": 2,
        "cat_smooth": 1.0,
        "max_cat_to_onehot": int(rng.integers(1, 8)),
        "learning_rate": 0.3,
        "zero_as_missing": zero_as_missing,
        "use_missing": use_missing,
        "seed": seed % 1000,
        "deterministic": True,
    }
    dataset = lgb.Dataset(matrix, labels, categorical_feature=categorical, params=params)
    booster = lgb.train(params, dataset, num_boost_round=trees)
    second = lgb.train(
        {**params, "seed": 1 + seed % 1000}, dataset, num_boost_round=max(1, trees // 3)
    )
    explainer = TreeShapExplainer.from_boosters([booster, second])
    rows = _probe_rows(rng, matrix, 40)
    contributions, raw = explainer.explain(rows, num_threads=2)
    for column, model in enumerate((booster, second)):
        expected = np.asarray(model.predict(rows, pred_contrib=True))
        expected_raw = model.predict(rows, raw_score=True)
        np.testing.assert_allclose(contributions[:, column], expected, rtol=0, atol=TOLERANCE)
        np.testing.assert_array_equal(raw[:, column], expected_raw)
        np.testing.assert_allclose(
            contributions[:, column].sum(axis=1), expected_raw, rtol=0, atol=TOLERANCE
        )
    one, one_raw = explainer.explain_row(rows[0])
    np.testing.assert_array_equal(one, contributions[0])
    np.testing.assert_array_equal(one_raw, raw[0])


@pytest.mark.parametrize(
    ("vector_limit", "table_limit", "pair_siblings"),
    [(0, 0, True), (0, 15, True), (15, 15, True), (15, 15, False), (4, 8, True), (4, 8, False)],
)
def test_every_leaf_mode_agrees(vector_limit: int, table_limit: int, pair_siblings: bool) -> None:
    rng = np.random.default_rng(3)
    matrix, labels = _data(rng, 2000, 10, [2, 5], 0.1)
    params = {
        "objective": "binary",
        "verbosity": -1,
        "num_threads": 1,
        "num_leaves": 63,
        "max_depth": 15,
        "min_data_in_leaf": 3,
    }
    booster = lgb.train(params, lgb.Dataset(matrix, labels, categorical_feature=[2, 5]), 30)
    explainer = TreeShapExplainer.from_boosters(
        [booster], vector_limit=vector_limit, table_limit=table_limit, pair_siblings=pair_siblings
    )
    modes = explainer.forest.leaves_by_mode()
    assert (modes["sibling pairs"] > 0) == (pair_siblings and vector_limit > 0)
    rows = _probe_rows(rng, matrix, 200)
    expected = np.asarray(booster.predict(rows, pred_contrib=True))
    contributions = explainer.contributions(rows)
    np.testing.assert_allclose(contributions[:, 0], expected, rtol=0, atol=TOLERANCE)
    one, _ = explainer.explain_row(rows[7])
    np.testing.assert_array_equal(one, contributions[7])


def test_budget_limits_tables() -> None:
    rng = np.random.default_rng(4)
    matrix, labels = _data(rng, 1000, 8, [], 0.0)
    booster = lgb.train(
        {"objective": "binary", "verbosity": -1, "num_leaves": 31}, lgb.Dataset(matrix, labels), 20
    )
    small = TreeShapExplainer.from_boosters([booster], table_budget_bytes=10_000)
    assert small.forest.tables.nbytes <= 10_000
    rows = _probe_rows(rng, matrix, 50)
    expected = np.asarray(booster.predict(rows, pred_contrib=True))
    np.testing.assert_allclose(small.contributions(rows)[:, 0], expected, atol=TOLERANCE)


def test_linear_trees_fall_back_to_pred_contrib() -> None:
    rng = np.random.default_rng(5)
    matrix, labels = _data(rng, 500, 4, [], 0.0)
    params = {"objective": "binary", "verbosity": -1, "linear_tree": True}
    booster = lgb.train(params, lgb.Dataset(matrix, labels, params=params), 5)
    with pytest.raises(UnsupportedModelError, match="linear tree"):
        TreeShapExplainer.from_boosters([booster])
    explainer = explainer_for([booster])
    assert explainer.path == PRED_CONTRIB_PATH
    assert "linear tree" in explainer.describe()["fallback_reason"]
    # LightGBM itself has no SHAP for linear trees: the fallback says so, as today.
    with pytest.raises(lgb.basic.LightGBMError, match="linear trees"):
        explainer.explain(matrix[:5])


def test_kernel_path_is_described() -> None:
    rng = np.random.default_rng(6)
    matrix, labels = _data(rng, 500, 4, [1], 0.1)
    booster = lgb.train({"objective": "binary", "verbosity": -1}, lgb.Dataset(matrix, labels), 5)
    explainer = explainer_for([booster])
    facts = explainer.describe()
    assert facts["shap_path"] == KERNEL_PATH
    assert facts["compile_seconds"] >= 0
    assert facts["table_bytes"] > 0


def test_wrong_width_is_refused() -> None:
    rng = np.random.default_rng(7)
    matrix, labels = _data(rng, 300, 3, [], 0.0)
    booster = lgb.train({"objective": "binary", "verbosity": -1}, lgb.Dataset(matrix, labels), 3)
    explainer = TreeShapExplainer.from_boosters([booster])
    with pytest.raises(ValueError, match="columns"):
        explainer.explain(np.zeros((2, 4)))
