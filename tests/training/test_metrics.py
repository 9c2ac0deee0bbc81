"""Per-service and per-client ranking metrics on hand-checked examples."""

from __future__ import annotations

import numpy as np
import pytest

from training.metrics import expected_calibration_error, ranking_metrics, service_metrics


def test_ranking_metrics_by_hand() -> None:
    labels = np.array([[1, 0, 0, 1], [0, 0, 0, 0], [0, 1, 1, 1]])
    scores = np.array([[0.9, 0.8, 0.1, 0.2], [0.4, 0.3, 0.2, 0.1], [0.9, 0.8, 0.7, 0.1]])
    result = ranking_metrics(labels, scores, top_k=3, ndcg_k=2)
    # top 3 hits: client 0 -> 2 (of 2 needs), client 1 -> 0, client 2 -> 2 (of 3 needs)
    assert result["precision_at_3"] == pytest.approx(4 / 9)
    assert result["recall_at_3"] == pytest.approx((1 + 2 / 3) / 2)
    dcg0, idcg0 = 1.0, 1.0 + 1 / np.log2(3)
    dcg2, idcg2 = 1 / np.log2(3), 1.0 + 1 / np.log2(3)
    assert result["ndcg_at_2"] == pytest.approx((dcg0 / idcg0 + dcg2 / idcg2) / 2)
    assert result["clients_with_need"] == 2


def test_perfect_scores_give_perfect_ranking() -> None:
    rng = np.random.default_rng(0)
    labels = (rng.random((200, 6)) < 0.3).astype(int)
    result = ranking_metrics(labels, labels + rng.random(labels.shape) * 0.1, top_k=3, ndcg_k=5)
    assert result["ndcg_at_5"] == pytest.approx(1.0)


def test_service_metrics_and_ece() -> None:
    label = np.array([0, 0, 1, 1])
    probability = np.array([0.1, 0.4, 0.35, 0.8])
    metrics = service_metrics(label, probability, ece_bins=10)
    assert metrics["roc_auc"] == pytest.approx(0.75)
    assert metrics["prevalence"] == pytest.approx(0.5)
    assert metrics["brier"] == pytest.approx(np.mean((probability - label) ** 2))
    assert expected_calibration_error(np.array([0, 1]), np.array([0.5, 0.5]), bins=10) == 0.0
    single_class = service_metrics(np.zeros(4), probability, ece_bins=5)
    assert np.isnan(single_class["roc_auc"])


def test_fast_metrics_agree_with_scikit_learn() -> None:
    from sklearn.metrics import average_precision_score, log_loss, roc_auc_score

    from training.calibrate import clipped_log_loss
    from training.metrics import average_precision, roc_auc

    rng = np.random.default_rng(4)
    label = (rng.random(3000) < 0.2).astype(int)
    score = np.round(rng.random(3000) * 0.5 + label * 0.2, 2)  # many ties
    assert roc_auc(label, score) == pytest.approx(roc_auc_score(label, score), abs=1e-12)
    assert average_precision(label, score) == pytest.approx(
        average_precision_score(label, score), abs=1e-12
    )
    assert clipped_log_loss(label, score) == pytest.approx(log_loss(label, score), abs=1e-6)

    from sklearn.linear_model import LogisticRegression

    from models.calibration import PlattCalibrator, fit_platt

    raw = rng.normal(size=3000) * 2 + label
    sklearn_fit = LogisticRegression(C=1e6, max_iter=1000).fit(raw.reshape(-1, 1), label)
    ours = fit_platt(raw, label)
    reference = PlattCalibrator(float(sklearn_fit.coef_[0, 0]), float(sklearn_fit.intercept_[0]))
    assert ours.slope == pytest.approx(reference.slope, rel=1e-3)
    assert ours.intercept == pytest.approx(reference.intercept, rel=1e-3, abs=1e-4)
