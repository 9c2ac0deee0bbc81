"""What the audit computes itself agrees with fairlearn's MetricFrame on the same data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    count,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import precision_score, roc_auc_score

from fairness import AuditReport, Policy, run_audit

from .conftest import Predictions


def _mean_score(y_true: np.ndarray, y_score: np.ndarray) -> float:
    return float(np.mean(y_score))


def _calibration_gap(y_true: np.ndarray, y_score: np.ndarray) -> float:
    return float(np.mean(y_score) - np.mean(y_true))


def _base_rate(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(y_true))


def _precision(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(precision_score(y_true, y_pred, zero_division=np.nan))


DECISION_METRICS = {
    "n": count,
    "base_rate": _base_rate,
    "selection_rate": selection_rate,
    "tpr": true_positive_rate,
    "fpr": false_positive_rate,
    "fnr": false_negative_rate,
    "precision": _precision,
}
SCORE_METRICS = {
    "roc_auc": roc_auc_score,
    "mean_score": _mean_score,
    "calibration_gap": _calibration_gap,
}


@pytest.fixture(scope="module")
def unsuppressed_report(fair_predictions: Predictions) -> AuditReport:
    data = fair_predictions
    return run_audit(
        labels=data.labels,
        scores=data.scores,
        decisions=data.decisions,
        groups=data.groups,
        policy=Policy(min_group_size=1, bootstrap_replicates=0),
    )


@pytest.mark.parametrize("attributes", [("immigrant",), ("age_band",), ("immigrant", "age_band")])
def test_cells_agree_with_fairlearn(
    fair_predictions: Predictions, unsuppressed_report: AuditReport, attributes: tuple[str, ...]
) -> None:
    data, report = fair_predictions, unsuppressed_report
    features = data.groups[list(attributes)]
    compared = 0
    for service in data.labels.columns:
        by_decision = MetricFrame(
            metrics=DECISION_METRICS,
            y_true=data.labels[service],
            y_pred=data.decisions[service].astype(int),
            sensitive_features=features,
        ).by_group
        by_score = MetricFrame(
            metrics=SCORE_METRICS,
            y_true=data.labels[service],
            y_pred=data.scores[service],
            sensitive_features=features,
        ).by_group
        expected = pd.concat([by_decision, by_score], axis=1)
        for key, row in expected.iterrows():
            values = key if isinstance(key, tuple) else (key,)
            cell = report.cell(service, **dict(zip(attributes, values, strict=True)))
            assert cell is not None
            assert cell.n == row["n"]
            for metric in [*DECISION_METRICS, *SCORE_METRICS]:
                if metric == "n":
                    continue
                ours = cell.metrics.get(metric).value
                assert ours == pytest.approx(row[metric], abs=1e-5), (service, key, metric)
                compared += 1
    assert compared > 0


def test_differences_agree_with_fairlearn_between_groups(fair_predictions: Predictions) -> None:
    """Two groups, reference "rest": the TPR gap is fairlearn's between-groups difference."""
    data = fair_predictions
    report = run_audit(
        labels=data.labels,
        scores=data.scores,
        decisions=data.decisions,
        groups=data.groups[["immigrant"]],
        policy=Policy(bootstrap_replicates=0),
    )
    for service in data.labels.columns:
        frame = MetricFrame(
            metrics={"tpr": true_positive_rate, "selection_rate": selection_rate},
            y_true=data.labels[service],
            y_pred=data.decisions[service].astype(int),
            sensitive_features=data.groups["immigrant"],
        )
        cell = report.cell(service, immigrant="yes")
        assert cell is not None
        tpr = frame.by_group["tpr"]
        assert cell.comparisons is not None
        assert cell.comparisons.tpr.difference.value == pytest.approx(
            tpr["yes"] - tpr["no"], abs=1e-5
        )
        assert abs(cell.flags["tpr_gap"].value or 0.0) == pytest.approx(
            frame.difference(method="between_groups")["tpr"], abs=1e-5
        )
        rates = frame.by_group["selection_rate"]
        assert cell.comparisons.selection_rate.ratio.value == pytest.approx(
            rates["yes"] / rates["no"], abs=1e-4
        )
