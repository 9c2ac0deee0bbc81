"""Effect estimates against the truth the synthetic register carries.

The synthetic register (:mod:`training.synth`) stores each client's true effect of every
service (``true_effect_<s>``) and the untreated outcome probability, so recovery can be
measured: rank correlation and RMSE (PEHE) of individual effects, coverage of the
average and group-effect intervals, and the policy value of allocation rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from models.effects import (
    STATUS_ESTIMATED,
    STATUS_NOT_ELIGIBLE,
    BenefitTable,
    eligibility_matrix,
)
from models.groups import audit_group_frame
from training.effects.estimate import EffectFit
from training.effects.policy import allocate, policy_value
from training.synth.generate import UNTREATED_COLUMN, effect_column

MSG_NO_TRUTH = "the frame has no true-effect columns ({column!r}); only synthetic data has them"


@dataclass(frozen=True)
class ServiceRecovery:
    """How well one service's individual effects were recovered on held-out clients."""

    service: str
    estimable_share: float
    rank_correlation: float
    pehe: float
    true_sd: float
    true_mean: float
    estimated_mean: float
    ate: float
    ate_lower: float
    ate_upper: float
    ate_true: float
    ate_bound_lower: float | None
    ate_bound_upper: float | None
    naive_difference: float
    group_intervals: int
    group_covered: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return dict(self.__dict__)


def true_effect_matrix(frame: pd.DataFrame, services: list[str]) -> np.ndarray:
    """Return the true effects (rows, services) of a synthetic frame."""
    missing = [effect_column(s) for s in services if effect_column(s) not in frame.columns]
    if missing:
        raise ValueError(MSG_NO_TRUTH.format(column=missing[0]))
    return np.column_stack([frame[effect_column(s)].to_numpy(dtype=float) for s in services])


def group_coverage(fit: EffectFit, train_frame: pd.DataFrame) -> dict[str, tuple[int, int]]:
    """Per service: (intervals, intervals covering the true group mean) on the training clients."""
    groups = audit_group_frame(fit.models.schema, train_frame)
    result: dict[str, tuple[int, int]] = {}
    for service, service_fit in fit.services.items():
        truth = train_frame[effect_column(service)].to_numpy(dtype=float)[service_fit.rows]
        total = covered = 0
        for attribute, values in service_fit.groups.items():
            labels = groups[attribute].to_numpy()[service_fit.rows]
            for value, effect in values.items():
                true_mean = float(truth[labels == value].mean())
                total += 1
                covered += int(effect.lower <= true_mean <= effect.upper)
        result[service] = (total, covered)
    return result


def recovery(
    fit: EffectFit, train_frame: pd.DataFrame, test_frame: pd.DataFrame
) -> tuple[list[ServiceRecovery], BenefitTable]:
    """Per-service recovery of individual effects on ``test_frame`` (held-out clients)."""
    models = fit.models
    matrix = models.encoder.encode_frame(test_frame)
    eligible = eligibility_matrix(models.schema, test_frame, models.services)
    table = models.predict_matrix(matrix, eligible)
    truth = true_effect_matrix(test_frame, models.services)
    coverage = group_coverage(fit, train_frame)
    results = []
    for column, service in enumerate(models.services):
        if service not in fit.services:
            continue
        service_fit = fit.services[service]
        estimated = table.status[:, column] == STATUS_ESTIMATED
        est = table.estimate[estimated, column]
        true = truth[estimated, column]
        train_truth = train_frame[effect_column(service)].to_numpy(dtype=float)[service_fit.rows]
        average = service_fit.average
        intervals, covered = coverage[service]
        results.append(
            ServiceRecovery(
                service=service,
                estimable_share=float(estimated.sum() / max(eligible[:, column].sum(), 1)),
                rank_correlation=float(spearmanr(est, true)[0]) if len(est) > 2 else float("nan"),
                pehe=float(np.sqrt(np.mean((est - true) ** 2))),
                true_sd=float(np.std(true)),
                true_mean=float(np.mean(true)),
                estimated_mean=float(np.mean(est)),
                ate=average.estimate,
                ate_lower=average.lower,
                ate_upper=average.upper,
                ate_true=float(train_truth.mean()),
                ate_bound_lower=average.bound_lower,
                ate_bound_upper=average.bound_upper,
                naive_difference=service_fit.naive_difference,
                group_intervals=intervals,
                group_covered=covered,
            )
        )
    return results, table


def policy_values(
    test_frame: pd.DataFrame,
    table: BenefitTable,
    *,
    need_scores: dict[str, np.ndarray],
    treatment_column: str,
) -> dict[str, float]:
    """Compute the true mean outcome on ``test_frame`` under each allocation rule.

    Rules: ``no_service``; ``as_given`` (the history); ``benefit`` (largest estimated
    benefit, positive only, estimable pairs); ``oracle`` (largest true effect); and one
    need rule per entry of ``need_scores`` (largest need score, eligible pairs). Every
    rule but the history fills at most the history's count of each service.
    """
    services = table.services
    truth = true_effect_matrix(test_frame, services)
    untreated = test_frame[UNTREATED_COLUMN].to_numpy(dtype=float)
    received = test_frame[treatment_column].astype(object).to_numpy()
    given = np.array([services.index(v) if v in services else -1 for v in received], dtype=np.int64)
    capacity = np.array([(given == k).sum() for k in range(len(services))])
    eligible = table.status != STATUS_NOT_ELIGIBLE
    values = {
        "no_service": float(untreated.mean()),
        "as_given": policy_value(given, untreated, truth),
        "benefit": policy_value(
            allocate(table.estimate, capacity, positive_only=True), untreated, truth
        ),
        "oracle": policy_value(
            allocate(np.where(eligible, truth, np.nan), capacity, positive_only=True),
            untreated,
            truth,
        ),
    }
    for name, scores in need_scores.items():
        values[f"need_{name}"] = policy_value(
            allocate(np.where(eligible, scores, np.nan), capacity), untreated, truth
        )
    return values
