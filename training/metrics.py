"""Metrics of probability scores: per service and per client ranking.

Per service: ROC AUC and PR AUC (average precision), both from scikit-learn, Brier
score, log loss, expected calibration error (equal-width bins, weighted by bin size),
prevalence and mean score. The expected calibration error is the fairness audit's own
(:func:`fairness.metrics.expected_calibration_error`), so both report the same number.
Per client, ranking the services by score: precision@k (share of the top k that the
client needs), recall@k (share of the client's needs in the top k) and NDCG@k with
binary relevance. Recall and NDCG are averaged over clients with at least one need;
precision over all clients.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from fairness.metrics import expected_calibration_error
from training.calibrate import clipped_log_loss


def roc_auc(label: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC (:func:`sklearn.metrics.roc_auc_score`); NaN when only one class is present.

    Parameters
    ----------
    label : ndarray
        0/1 outcomes.
    score : ndarray
        Scores, higher meaning more likely 1.

    Returns
    -------
    float
    """
    label = np.asarray(label)
    if not 0 < label.sum() < len(label):
        return math.nan
    return float(roc_auc_score(label, score))


def average_precision(label: np.ndarray, score: np.ndarray) -> float:
    """PR AUC as :func:`sklearn.metrics.average_precision_score`; NaN without a positive.

    Parameters
    ----------
    label : ndarray
        0/1 outcomes.
    score : ndarray
        Scores, higher meaning more likely 1.

    Returns
    -------
    float
    """
    label = np.asarray(label)
    if label.sum() == 0:
        return math.nan
    return float(average_precision_score(label, score))


def service_metrics(
    label: np.ndarray, probability: np.ndarray, *, ece_bins: int
) -> dict[str, float]:
    """Discrimination and calibration of one service's scores.

    Parameters
    ----------
    label : ndarray
        0/1 outcomes.
    probability : ndarray
        Scores in [0, 1].
    ece_bins : int
        Bins of the expected calibration error.

    Returns
    -------
    dict
        ``roc_auc``, ``pr_auc``, ``brier``, ``log_loss``, ``ece``, ``prevalence``,
        ``mean_score``, ``n``; AUCs are NaN when only one class is present.
    """
    label = np.asarray(label, dtype=np.int64)
    probability = np.asarray(probability, dtype=np.float64)
    both_classes = 0 < label.sum() < len(label)
    return {
        "roc_auc": roc_auc(label, probability),
        "pr_auc": average_precision(label, probability) if both_classes else math.nan,
        "brier": float(np.mean((probability - label) ** 2)),
        "log_loss": clipped_log_loss(label, probability),
        "ece": expected_calibration_error(label, probability, bins=ece_bins),
        "prevalence": float(label.mean()),
        "mean_score": float(probability.mean()),
        "n": len(label),
    }


def ranking_metrics(
    labels: np.ndarray, scores: np.ndarray, *, top_k: int, ndcg_k: int, seed: int = 0
) -> dict[str, float]:
    """Per-client ranking quality of services, averaged over clients.

    Parameters
    ----------
    labels : ndarray, shape (clients, services)
        0/1 needs.
    scores : ndarray, shape (clients, services)
        Scores to rank services by (higher first). Ties are broken at random (seeded),
        so a constant score ranks like chance, not like column order.
    top_k : int
        k of precision@k and recall@k.
    ndcg_k : int
        k of NDCG@k.
    seed : int
        Tie-breaking seed.

    Returns
    -------
    dict
        ``precision_at_{k}``, ``recall_at_{k}``, ``ndcg_at_{k}``, and
        ``clients_with_need``.
    """
    labels = np.asarray(labels, dtype=np.float64)
    clients, services = labels.shape
    jitter = np.random.default_rng(seed).random(size=scores.shape) * 1e-12
    order = np.argsort(-(np.asarray(scores, dtype=np.float64) + jitter), axis=1, kind="stable")
    ranked = np.take_along_axis(labels, order, axis=1)
    needs = labels.sum(axis=1)
    has_need = needs > 0
    k = min(top_k, services)
    hits = ranked[:, :k].sum(axis=1)
    precision = float(hits.mean() / k) if clients else math.nan
    recall = float((hits[has_need] / needs[has_need]).mean()) if has_need.any() else math.nan
    depth = min(ndcg_k, services)
    discounts = 1.0 / np.log2(np.arange(2, depth + 2))
    dcg = (ranked[:, :depth] * discounts).sum(axis=1)
    ideal_counts = np.minimum(needs, depth).astype(np.int64)
    ideal_cumulative = np.concatenate([[0.0], np.cumsum(discounts)])
    idcg = ideal_cumulative[ideal_counts]
    ndcg = float((dcg[has_need] / idcg[has_need]).mean()) if has_need.any() else math.nan
    return {
        f"precision_at_{top_k}": precision,
        f"recall_at_{top_k}": recall,
        f"ndcg_at_{ndcg_k}": ndcg,
        "clients_with_need": int(has_need.sum()),
    }
