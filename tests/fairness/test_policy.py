"""The policy file, its documented defaults, and the pass/fail/uncertain rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fairness import Policy, load_policy
from fairness.policy import DEFAULT_POLICY_PATH, MSG_DUPLICATE_METRIC, flag_status


def test_the_default_file_is_the_documented_default() -> None:
    assert load_policy() == Policy()
    policy = load_policy()
    assert policy.min_group_size == 20
    assert policy.selection_rate_ratio_min == 0.8
    assert policy.reference == "rest"
    assert policy.confidence == 0.95
    text = DEFAULT_POLICY_PATH.read_text("utf-8")
    for field in Policy.model_fields:
        assert f"\n{field}:" in text, f"{field} is not documented in {DEFAULT_POLICY_PATH.name}"


def test_a_policy_file_overrides_some_keys(tmp_path: Path) -> None:
    path = tmp_path / "strict.yaml"
    path.write_text("tpr_gap_max: 0.05\ngate_metrics: [tpr_gap, selection_rate_ratio]\n")
    policy = load_policy(path)
    assert policy.tpr_gap_max == 0.05
    assert policy.gate_metrics == ["tpr_gap", "selection_rate_ratio"]
    assert policy.min_group_size == 20


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("min_group_sise: 10\n", "min_group_sise: Extra inputs are not permitted"),
        ("confidence: 1.5\n", "confidence: Input should be less than 1"),
        ("gate_metrics: [auc]\n", "gate_metrics.0"),
        ("gate_metrics: [tpr_gap, tpr_gap]\n", MSG_DUPLICATE_METRIC.format(metric="tpr_gap")),
        ("- a list\n", "the top level must be a mapping"),
    ],
)
def test_bad_policy_files_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match="invalid fairness policy") as error:
        load_policy(path)
    assert message in str(error.value)
    assert str(path) in str(error.value)


def test_a_missing_policy_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read fairness policy"):
        load_policy(tmp_path / "nope.yaml")


def _status(policy: Policy, metric: str, low: float, high: float) -> str:
    return str(flag_status(policy, metric, np.array([low]), np.array([high]))[0])


@pytest.mark.parametrize(
    ("metric", "low", "high", "expected"),
    [
        ("selection_rate_ratio", 0.5, 0.7, "fail"),
        ("selection_rate_ratio", 0.7, 0.9, "uncertain"),
        ("selection_rate_ratio", 0.85, 1.2, "pass"),
        ("tpr_gap", -0.3, -0.15, "fail"),
        ("tpr_gap", -0.15, 0.0, "uncertain"),
        ("tpr_gap", -0.05, 0.4, "pass"),  # a higher TPR is no disadvantage
        ("fpr_gap", 0.06, 0.1, "fail"),
        ("fpr_gap", 0.0, 0.08, "uncertain"),
        ("fpr_gap", -0.4, 0.04, "pass"),
        ("calibration_gap", 0.06, 0.08, "fail"),
        ("calibration_gap", -0.08, -0.06, "fail"),
        ("calibration_gap", -0.06, 0.0, "uncertain"),
        ("calibration_gap", -0.04, 0.04, "pass"),
        ("calibration_gap", float("nan"), float("nan"), "not_evaluable"),
    ],
)
def test_flag_status(metric: str, low: float, high: float, expected: str) -> None:
    assert _status(Policy(), metric, low, high) == expected


def test_both_sides() -> None:
    policy = Policy(gap_sides="both")
    assert _status(policy, "tpr_gap", 0.15, 0.3) == "fail"
    assert _status(policy, "fpr_gap", -0.2, -0.1) == "fail"
    assert _status(policy, "tpr_gap", -0.05, 0.05) == "pass"


def test_the_tolerance_itself_is_uncertain() -> None:
    assert _status(Policy(), "calibration_gap", 0.05, 0.07) == "uncertain"
    assert _status(Policy(), "selection_rate_ratio", 0.6, 0.8) == "uncertain"
