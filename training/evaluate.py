"""Evaluate the model on the held-out test split, side by side with baselines and the oracle.

Every *system* (the tarve model, the prevalence and logistic baselines, and the oracle
when the data carries the true need probabilities) is scored with the same metrics on
the same test rows. The quality targets of the synthetic register are checked against
the oracle: per service ROC AUC at least ``auc_ratio`` x the oracle's and above the
logistic baseline, and mean precision@k at least ``precision_ratio`` x the oracle's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from training.config import EvaluationConfig
from training.metrics import ranking_metrics, service_metrics

MODEL = "model"
LOGISTIC = "logistic"
PREVALENCE = "prevalence"
ORACLE = "oracle"
TARGET_AUC_RATIO = 0.97
TARGET_PRECISION_RATIO = 0.95
MSG_SHAPES = "scores of {system!r} have shape {shape}; the labels have {expected}"


def evaluate_systems(
    labels: np.ndarray,
    scores: Mapping[str, np.ndarray],
    *,
    services: Sequence[str],
    config: EvaluationConfig,
    thresholds: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """Per-service and ranking metrics of each system on the same rows.

    Parameters
    ----------
    labels : ndarray, shape (rows, services)
        0/1 needs of the test split.
    scores : mapping of str to ndarray
        System name -> probabilities with the shape of ``labels``.
    services : sequence of str
        Service names, in column order.
    config : EvaluationConfig
        k values and ECE bins.
    thresholds : mapping of str to float, optional
        The model's "recommended" thresholds; adds decision metrics for ``"model"``.

    Returns
    -------
    dict
        ``services``: {service: {system: metrics}}; ``ranking``: {system: metrics}.
    """
    for system, values in scores.items():
        if values.shape != labels.shape:
            raise ValueError(
                MSG_SHAPES.format(system=system, shape=values.shape, expected=labels.shape)
            )
    per_service: dict[str, dict[str, Any]] = {}
    for column, service in enumerate(services):
        label = labels[:, column]
        entry: dict[str, Any] = {}
        for system, values in scores.items():
            entry[system] = service_metrics(label, values[:, column], ece_bins=config.ece_bins)
        if thresholds is not None and MODEL in scores:
            entry[MODEL].update(
                _decision_metrics(label, scores[MODEL][:, column] >= thresholds[service])
            )
        per_service[service] = entry
    ranking = {
        system: ranking_metrics(
            labels, values, top_k=config.top_k, ndcg_k=config.ndcg_k, seed=config.seed
        )
        for system, values in scores.items()
    }
    return {"services": per_service, "ranking": ranking}


def _decision_metrics(label: np.ndarray, recommended: np.ndarray) -> dict[str, float]:
    chosen = int(recommended.sum())
    true_positive = int((recommended & (label == 1)).sum())
    positives = int(label.sum())
    precision = true_positive / chosen if chosen else math.nan
    recall = true_positive / positives if positives else math.nan
    f1 = (
        2 * precision * recall / (precision + recall)
        if chosen and positives and (precision + recall) > 0
        else math.nan
    )
    return {
        "recommended_rate": chosen / max(len(label), 1),
        "recommended_precision": precision,
        "recommended_recall": recall,
        "recommended_f1": f1,
    }


def check_targets(evaluation: Mapping[str, Any], *, top_k: int) -> dict[str, Any] | None:
    """Check the quality targets against the oracle; None when there is no oracle.

    Parameters
    ----------
    evaluation : mapping
        Output of :func:`evaluate_systems` with ``"model"``, ``"logistic"`` and
        ``"oracle"`` systems.
    top_k : int
        The k of the precision@k target.

    Returns
    -------
    dict or None
        Per service AUC ratio and whether it beats the logistic baseline; the
        precision@k ratio; ``passed`` overall.
    """
    if ORACLE not in evaluation["ranking"]:
        return None
    services: dict[str, Any] = {}
    for service, entry in evaluation["services"].items():
        model_auc = entry[MODEL]["roc_auc"]
        oracle_auc = entry[ORACLE]["roc_auc"]
        ratio = model_auc / oracle_auc if oracle_auc and not math.isnan(oracle_auc) else math.nan
        above_logistic = bool(model_auc > entry[LOGISTIC]["roc_auc"]) if LOGISTIC in entry else True
        services[service] = {
            "auc_ratio": ratio,
            "auc_ratio_ok": bool(ratio >= TARGET_AUC_RATIO),
            "above_logistic": above_logistic,
        }
    key = f"precision_at_{top_k}"
    oracle_precision = evaluation["ranking"][ORACLE][key]
    precision_ratio = evaluation["ranking"][MODEL][key] / oracle_precision
    passed = bool(
        all(item["auc_ratio_ok"] and item["above_logistic"] for item in services.values())
        and precision_ratio >= TARGET_PRECISION_RATIO
    )
    return {
        "auc_ratio_target": TARGET_AUC_RATIO,
        "precision_ratio_target": TARGET_PRECISION_RATIO,
        "services": services,
        "precision_ratio": precision_ratio,
        "precision_ratio_ok": bool(precision_ratio >= TARGET_PRECISION_RATIO),
        "passed": passed,
    }
