"""``models.tree_scores`` gives LightGBM's own raw scores and predictions, bit for bit."""

from __future__ import annotations

from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.tree_scores import TreeScores, normal_output, scores_for
from models.treeshap import UnsupportedModelError
from tests.models.treeshap.test_exactness import _data, _probe_rows


def _params(seed: int, depth: int, **extra: object) -> dict[str, object]:
    return {
        "verbosity": -1,
        "num_threads": 1,
        "max_depth": depth,
        "num_leaves": int(min(2**depth, 64)),
        "min_data_in_leaf": 2,
        "min_data_per_group": 2,
        "cat_smooth": 1.0,
        "learning_rate": 0.3,
        "seed": seed % 1000,
        "deterministic": True,
        **extra,
    }


@settings(
    max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    seed=st.integers(0, 2**31 - 1),
    depth=st.integers(1, 12),
    trees=st.sampled_from([1, 3, 40, 150]),
    features=st.integers(1, 10),
    categorical_share=st.sampled_from([0.0, 0.4]),
    nan_share=st.sampled_from([0.0, 0.1, 0.4]),
    zero_as_missing=st.booleans(),
    use_missing=st.booleans(),
    classes=st.sampled_from([3, 5]),
)
def test_random_models_equal_lightgbm(
    seed: int,
    depth: int,
    trees: int,
    features: int,
    categorical_share: float,
    nan_share: float,
    zero_as_missing: bool,
    use_missing: bool,
    classes: int,
) -> None:
    rng = np.random.default_rng(seed)
    categorical = [f for f in range(features) if rng.random() < categorical_share]
    matrix, labels = _data(rng, 600, features, categorical, nan_share)
    common = _params(
        seed,
        depth,
        zero_as_missing=zero_as_missing,
        use_missing=use_missing,
        max_cat_to_onehot=int(rng.integers(1, 8)),
    )
    multiclass_labels = rng.integers(0, classes, len(labels)).astype(np.float64)
    multiclass_labels[labels == 1] = 0
    boosters = [
        lgb.train(
            {**common, "objective": "binary"},
            lgb.Dataset(matrix, labels, categorical_feature=categorical),
            trees,
        ),
        lgb.train(
            {**common, "objective": "multiclass", "num_class": classes},
            lgb.Dataset(matrix, multiclass_labels, categorical_feature=categorical),
            max(1, trees // 5),
        ),
        lgb.train(
            {**common, "objective": "regression"},
            lgb.Dataset(matrix, matrix[:, 0] * 0 + labels + rng.normal(size=len(labels))),
            max(1, trees // 3),
        ),
    ]
    scores = TreeScores.from_boosters(boosters)
    rows = _probe_rows(rng, matrix, 300)
    raw = scores.raw(rows, num_threads=2)
    assert raw.shape == (300, 1 + classes + 1)
    assert np.array_equal(scores.raw(rows, num_threads=1), raw)
    assert np.array_equal(scores.raw(rows[7:8], num_threads=1), raw[7:8])
    for booster, columns, objective in zip(
        boosters, scores.columns, scores.objectives, strict=True
    ):
        expected = np.asarray(booster.predict(rows, raw_score=True)).reshape(len(rows), -1)
        np.testing.assert_array_equal(raw[:, columns], expected)
        if not objective.startswith("regression"):
            predicted = np.asarray(booster.predict(rows)).reshape(len(rows), -1)
            np.testing.assert_array_equal(normal_output(raw[:, columns], objective), predicted)


def test_a_tree_of_more_than_64_leaves_is_left_to_lightgbm() -> None:
    rng = np.random.default_rng(3)
    matrix, labels = _data(rng, 3000, 6, [], 0.0)
    params = {"objective": "binary", "num_leaves": 100, "min_data_in_leaf": 1, "verbosity": -1}
    booster = lgb.train(params, lgb.Dataset(matrix, labels), 3)
    assert max(tree["num_leaves"] for tree in booster.dump_model()["tree_info"]) > 64
    with pytest.raises(UnsupportedModelError, match="at most 64"):
        TreeScores.from_boosters([booster])
    assert scores_for([booster]) is None


def test_trees_of_one_leaf_give_their_value() -> None:
    matrix = np.random.default_rng(6).normal(size=(200, 3))
    params = {"objective": "regression", "verbosity": -1}
    booster = lgb.train(params, lgb.Dataset(matrix, np.full(200, 0.25)), 3)
    assert all(tree["num_leaves"] == 1 for tree in booster.dump_model()["tree_info"])
    expected = booster.predict(matrix, raw_score=True)
    np.testing.assert_array_equal(TreeScores.from_boosters([booster]).raw(matrix)[:, 0], expected)


def test_linear_trees_are_left_to_lightgbm() -> None:
    rng = np.random.default_rng(4)
    matrix, labels = _data(rng, 600, 4, [], 0.0)
    params = {"objective": "binary", "linear_tree": True, "verbosity": -1}
    booster = lgb.train(params, lgb.Dataset(matrix, labels), 3)
    assert scores_for([booster]) is None


def test_an_objective_without_a_conversion_is_refused() -> None:
    with pytest.raises(UnsupportedModelError, match="lambdarank"):
        normal_output(np.zeros((2, 1)), "lambdarank")


def test_a_matrix_of_the_wrong_width_is_refused() -> None:
    rng = np.random.default_rng(5)
    matrix, labels = _data(rng, 300, 3, [], 0.0)
    booster = lgb.train({"objective": "binary", "verbosity": -1}, lgb.Dataset(matrix, labels), 2)
    scores = TreeScores.from_boosters([booster])
    with pytest.raises(ValueError, match="4 columns; the boosters have 3 features"):
        scores.raw(np.zeros((2, 4)))


def test_served_models_predict_through_the_kernel_as_lightgbm_does(
    trained_effects_dir: Path,
) -> None:
    from models.model import ServiceNeedModel
    from training.synth import generate_register

    model = ServiceNeedModel.load(trained_effects_dir)
    matrix = model.encoder.encode_frame(generate_register(500, seed=21))
    assert model.tree_scores() is not None
    expected = np.column_stack(
        [model.boosters[s].predict(matrix, raw_score=True) for s in model.services]
    )
    np.testing.assert_array_equal(model.raw_scores(matrix), expected)
    effects = model.effects
    assert effects is not None
    assert effects.tree_scores() is not None
    np.testing.assert_array_equal(
        effects.propensities(matrix),
        effects._conditional(effects.propensity.arm_probability(matrix)),
    )
    eligible = np.ones((len(matrix), len(effects.services)), dtype=bool)
    table = effects.predict_matrix(matrix, eligible)
    for column, service in enumerate(effects.services):
        rows = table.status[:, column] == "estimated"
        if service in effects.effects and rows.any():
            effect = effects.effects[service]
            baseline = effects.baseline
            expected = effect.estimate(
                np.asarray(effect.scored_booster.predict(matrix[rows], raw_score=True)),
                None
                if baseline is None
                else np.asarray(baseline.predict(matrix[rows], raw_score=True)),
            )
            np.testing.assert_array_equal(table.estimate[rows, column], expected)


def test_without_the_kernel_the_same_numbers_come_from_predict(
    trained_effects_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from models import effects as effects_module
    from models import model as model_module
    from models.model import ServiceNeedModel
    from training.synth import generate_register

    fast = ServiceNeedModel.load(trained_effects_dir)
    assert fast.effects is not None
    # built before the kernel is taken away: fast keeps it, slow never gets it
    assert fast.tree_scores() is not None
    assert fast.effects.tree_scores() is not None
    monkeypatch.setattr(model_module, "scores_for", lambda boosters: None)
    monkeypatch.setattr(effects_module, "scores_for", lambda boosters: None)
    slow = ServiceNeedModel.load(trained_effects_dir)
    assert slow.tree_scores() is None
    assert slow.effects is not None
    assert slow.effects.tree_scores() is None
    matrix = fast.encoder.encode_frame(generate_register(300, seed=22))
    np.testing.assert_array_equal(fast.raw_scores(matrix), slow.raw_scores(matrix))
    eligible = np.ones((len(matrix), len(fast.effects.services)), dtype=bool)
    ours, theirs = (m.predict_matrix(matrix, eligible) for m in (fast.effects, slow.effects))
    np.testing.assert_array_equal(ours.status_code, theirs.status_code)
    np.testing.assert_array_equal(ours.estimate, theirs.estimate)
    np.testing.assert_array_equal(ours.propensity, theirs.propensity)


CONCURRENT_KERNELS = """
import threading
import lightgbm as lgb
import numpy as np
from models.tree_scores import TreeScores
from models.treeshap import TreeShapExplainer
rng = np.random.default_rng(0)
x = rng.normal(size=(3000, 6))
y = (x[:, 0] + rng.normal(size=3000) > 0).astype(float)
booster = lgb.train({"objective": "binary", "verbose": -1}, lgb.Dataset(x, y), 30)
explainer = TreeShapExplainer.from_boosters([booster])
scores = TreeScores.from_boosters([booster])
calls = [lambda: explainer.explain(x, num_threads=2), lambda: scores.raw(x, num_threads=2)]
threads = [threading.Thread(target=lambda c=c: [c() for _ in range(30)]) for c in calls]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print("done")
"""


def test_parallel_kernels_called_from_two_threads_share_one_lock() -> None:
    """The workqueue threading layer aborts the process when two threads enter it at once."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    completed = subprocess.run(
        [sys.executable, "-c", CONCURRENT_KERNELS],
        env={**os.environ, "NUMBA_THREADING_LAYER": "workqueue", "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stdout.strip() == "done"
