"""Fitting: shared datasets give the same boosters as fresh ones; tuning; one-class labels."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest

from training.config import BoosterConfig, TuneConfig
from training.fit import fit_services

FEATURES = ["a", "b", "c", "kind"]
CONFIG = BoosterConfig(num_boost_round=40, early_stopping_rounds=5, num_threads=1, num_leaves=7)


def _data(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    matrix = rng.normal(size=(rows, 4))
    matrix[:, 3] = rng.integers(0, 4, rows)
    matrix[rng.random(rows) < 0.1, 1] = np.nan
    logits = np.column_stack(
        [matrix[:, 0] * 2, np.nan_to_num(matrix[:, 1]) - (matrix[:, 3] == 2), matrix[:, 2] ** 2 - 1]
    )
    labels = (rng.random(logits.shape) < 1 / (1 + np.exp(-logits))).astype(np.int8)
    return matrix, labels


def test_shared_datasets_give_the_same_models_as_plain_lightgbm() -> None:
    train_x, train_y = _data(3000, 1)
    cal_x, cal_y = _data(1000, 2)
    result = fit_services(
        train_x,
        train_y,
        cal_x,
        cal_y,
        services=["s0", "s1", "s2"],
        label_columns=["y0", "y1", "y2"],
        feature_names=FEATURES,
        categorical_features=["kind"],
        booster_config=CONFIG,
    )
    params = CONFIG.lightgbm_params()
    for column, service in enumerate(["s0", "s1", "s2"]):
        train_set = lgb.Dataset(
            train_x, train_y[:, column], feature_name=FEATURES, categorical_feature=["kind"]
        )
        valid_set = lgb.Dataset(cal_x, cal_y[:, column], reference=train_set)
        plain = lgb.train(
            params,
            train_set,
            num_boost_round=CONFIG.num_boost_round,
            valid_sets=[valid_set],
            callbacks=[lgb.early_stopping(CONFIG.early_stopping_rounds, verbose=False)],
        )
        ours = result.services[service]
        assert ours.best_iteration == plain.best_iteration
        np.testing.assert_array_equal(ours.booster.predict(cal_x), plain.predict(cal_x))


def test_tuning_runs_the_asked_trials_and_never_does_worse() -> None:
    train_x, train_y = _data(2000, 3)
    cal_x, cal_y = _data(800, 4)
    common = {
        "services": ["s0", "s1", "s2"],
        "label_columns": ["y0", "y1", "y2"],
        "feature_names": FEATURES,
        "categorical_features": ["kind"],
        "booster_config": CONFIG,
    }
    plain = fit_services(train_x, train_y, cal_x, cal_y, **common)  # type: ignore[arg-type]
    tuned = fit_services(train_x, train_y, cal_x, cal_y, tune_config=TuneConfig(trials=3), **common)  # type: ignore[arg-type]
    for service in ("s0", "s1", "s2"):
        assert tuned.services[service].trials == 3
        assert tuned.services[service].calibration_logloss <= (
            plain.services[service].calibration_logloss + 1e-12
        )


def test_a_label_with_one_class_is_an_error_naming_it() -> None:
    train_x, train_y = _data(500, 5)
    train_y[:, 1] = 0
    with pytest.raises(ValueError, match="only 0s in 'y1'"):
        fit_services(
            train_x,
            train_y,
            train_x,
            train_y,
            services=["s0", "s1", "s2"],
            label_columns=["y0", "y1", "y2"],
            feature_names=FEATURES,
            categorical_features=["kind"],
            booster_config=CONFIG,
        )
