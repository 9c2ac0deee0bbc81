"""Calibration choice by cross-fitted log loss, and the threshold rules."""

from __future__ import annotations

import numpy as np
import pytest

from training.calibrate import (
    calibrate_services,
    choose_threshold,
    clipped_log_loss,
    crossfit_log_loss,
)
from training.config import CalibrationConfig, ThresholdConfig


def _scores(rows: int, *, seed: int, distortion: float) -> tuple[np.ndarray, np.ndarray]:
    """Raw log-odds whose sigmoid is miscalibrated by ``distortion`` (1.0: calibrated)."""
    rng = np.random.default_rng(seed)
    true_logit = rng.normal(-1.0, 1.5, rows)
    label = (rng.random(rows) < 1 / (1 + np.exp(-true_logit))).astype(np.int64)
    return true_logit * distortion + 0.7 * (distortion != 1.0), label


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


@pytest.mark.parametrize("distortion", [1.0, 2.5, 0.4])
def test_calibration_improves_or_keeps_held_out_log_loss(distortion: float) -> None:
    raw, label = _scores(6000, seed=1, distortion=distortion)
    held_raw, held_label = _scores(6000, seed=2, distortion=distortion)
    choices = calibrate_services(
        raw[:, None],
        label[:, None],
        services=["s"],
        calibration_config=CalibrationConfig(),
        threshold_config=ThresholdConfig(),
    )
    calibrated = choices["s"].calibrator.transform(held_raw)
    before = clipped_log_loss(held_label, _sigmoid(held_raw))
    after = clipped_log_loss(held_label, calibrated)
    assert after <= before + 0.002
    if distortion != 1.0:
        assert after < before - 0.01
        assert choices["s"].method != "none"


def test_choice_is_the_lowest_cross_fitted_loss() -> None:
    raw, label = _scores(3000, seed=3, distortion=2.0)
    choice = calibrate_services(
        raw[:, None],
        label[:, None],
        services=["s"],
        calibration_config=CalibrationConfig(),
        threshold_config=ThresholdConfig(),
    )["s"]
    assert choice.method == min(choice.crossfit_logloss, key=choice.crossfit_logloss.__getitem__)
    assert choice.crossfit_logloss[choice.method] == pytest.approx(
        crossfit_log_loss(raw, label, method=choice.method, folds=3, seed=5)
    )


def test_unknown_method_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown calibration method"):
        crossfit_log_loss(np.zeros(10), np.zeros(10), method="magic", folds=2, seed=0)


def test_threshold_rules() -> None:
    probability = np.array([0.9, 0.8, 0.7, 0.4, 0.3, 0.2, 0.1])
    label = np.array([1, 1, 0, 1, 0, 0, 0])
    assert choose_threshold(probability, label, config=ThresholdConfig()) == pytest.approx(0.4)
    fixed = ThresholdConfig(rule="fixed", value=0.33)
    assert choose_threshold(probability, label, config=fixed) == pytest.approx(0.33)
    precise = ThresholdConfig(rule="min_precision", value=1.0)
    assert choose_threshold(probability, label, config=precise) == pytest.approx(0.8)
    prevalence = ThresholdConfig(rule="prevalence")
    assert choose_threshold(probability, label, config=prevalence) == pytest.approx(0.7)


def test_rule_that_needs_a_value_without_one_is_rejected() -> None:
    with pytest.raises(ValueError, match="needs a 'value'"):
        ThresholdConfig(rule="fixed")
