"""Expected benefit next to need: effect estimates aligned to the need model's services.

The need model ranks services by the calibrated probability of need; the effect models
(:mod:`models.effects`) estimate what receiving a service changes in the probability of
being employed or in education within six months. This module puts the two side by side
for the API and for ``tarve score`` alike, so that both give the same numbers:

- :func:`benefit_table`: estimates, intervals and statuses in the need model's service
  order, from the same encoded (consent-masked) matrix and the same eligibility the need
  suggestions use; a model without effect models answers ``no_effect_model`` everywhere;
- :func:`benefit_order`: the ``rank_by=benefit`` order: estimated services by estimate,
  largest first, then the not-estimable ones in the need order (eligible first, by
  probability); ties keep the catalogue order;
- :func:`benefit_reasons`: per-field contributions of a service's effect model
  (:meth:`models.effects.ServiceEffectModels.contributions`), in the sentence
  form of the need reasons (:meth:`models.reasons.ReasonWriter.explain`), in probability points.

The "recommended" flag is never changed by benefit: it stays the need model's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence, Set
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from models.effects import (
    CODE_ESTIMATED,
    CODE_NO_MODEL,
    NOT_ESTIMABLE_TEXT,
    STATUS_ESTIMATED,
    STATUS_NOT_ELIGIBLE,
    STATUSES,
    BenefitTable,
)
from models.model import ServiceNeedModel
from models.reasons import OtherFactor, Reason

RANK_BY = ("need", "benefit")
"""The orders a caller may ask for; ``need`` is the default."""

INTERVAL_LEVEL = 0.95
"""Confidence level of the served intervals (the effect models' interval tables)."""

ESTIMATED = "estimated"
NOT_ESTIMABLE = "not_estimable"

BENEFIT_HEADINGS = {
    "fi": {
        "raises": "Hyötyarviota nostavat tekijät",
        "lowers": "Hyötyarviota laskevat tekijät",
    },
    "sv": {
        "raises": "Faktorer som höjer den förväntade nyttan",
        "lowers": "Faktorer som sänker den förväntade nyttan",
    },
    "en": {
        "raises": "Factors raising the expected benefit",
        "lowers": "Factors lowering the expected benefit",
    },
}
"""Headings the benefit reasons are grouped under, by direction."""

MSG_NO_EFFECTS = (
    "rank_by=benefit needs effect estimates, and the served model {name} version {version} "
    "has no effect models (train it with effect models, the default of tarve train)"
)


def has_benefit(model: ServiceNeedModel) -> bool:
    """Whether the model carries effect models (expected benefit)."""
    return model.effects is not None


def interval_level(model: ServiceNeedModel) -> float:
    """Return the confidence level of the model's benefit intervals."""
    if model.effects is None:
        return INTERVAL_LEVEL
    return float(model.effects.metadata.get("interval_level", INTERVAL_LEVEL))


def benefit_table(
    model: ServiceNeedModel, matrix: np.ndarray, eligible: np.ndarray, *, num_threads: int = 0
) -> BenefitTable:
    """Benefit estimates in the need model's service order, shape (rows, services).

    Parameters
    ----------
    model : ServiceNeedModel
        The served model; ``model.effects`` may be None.
    matrix : ndarray, shape (rows, features)
        The encoded rows the need model saw (fields without consent are missing).
    eligible : ndarray of bool, shape (rows, services)
        Eligibility per service in ``model.services`` order, as the suggestions have it.
    num_threads : int, default 0
        LightGBM threads (0: its default).

    Returns
    -------
    BenefitTable
        ``services`` is ``model.services``; a service without an effect model has status
        ``no_effect_model``.
    """
    rows, services = len(matrix), list(model.services)
    effects = model.effects
    if effects is None:
        shape = (rows, len(services))
        return BenefitTable(
            services,
            np.full(shape, np.nan),
            np.full(shape, np.nan),
            np.full(shape, np.nan),
            np.full(shape, CODE_NO_MODEL, dtype=np.int8),
            np.full(shape, np.nan),
        )
    position = {service: column for column, service in enumerate(services)}
    # Effect services the need model does not serve are marked ineligible: never predicted.
    effect_eligible = np.zeros((rows, len(effects.services)), dtype=bool)
    for column, service in enumerate(effects.services):
        if service in position:
            effect_eligible[:, column] = eligible[:, position[service]]
    table = effects.predict_matrix(matrix, effect_eligible, num_threads=num_threads)
    effect_column = {service: column for column, service in enumerate(table.services)}

    def aligned(values: np.ndarray, fill: Any) -> np.ndarray:
        out = np.full((rows, len(services)), fill, dtype=values.dtype)
        for column, service in enumerate(services):
            if service in effect_column:
                out[:, column] = values[:, effect_column[service]]
        return out

    status = aligned(table.status_code, CODE_NO_MODEL)
    # Without an effect model the status stays no_effect_model, even for an ineligible client.
    return BenefitTable(
        services,
        aligned(table.estimate, np.nan),
        aligned(table.lower, np.nan),
        aligned(table.upper, np.nan),
        status,
        aligned(table.propensity, np.nan),
    )


def benefit_order(
    estimate: np.ndarray, probability: np.ndarray, eligible: np.ndarray
) -> np.ndarray:
    """Service indices by rank under ``rank_by=benefit``, shape (rows, services).

    Estimated services first, largest estimate first; then the others in the need order
    (eligible first, by probability). ``np.lexsort`` is stable: ties keep the catalogue
    order, as Python's sort does in the API.
    """
    missing = np.isnan(estimate)
    by_estimate = np.where(missing, 0.0, -estimate)
    return np.lexsort((-probability, ~eligible, by_estimate, missing), axis=-1)


def benefit_sort_key(estimate: float | None, probability: float, eligible: bool) -> tuple[Any, ...]:
    """Python sort key of one suggestion under ``rank_by=benefit`` (as :func:`benefit_order`)."""
    missing = estimate is None
    return (missing, 0.0 if estimate is None else -estimate, not eligible, -probability)


def not_estimable_text(status: str, lang: str) -> str:
    """Why a benefit is not estimable, in ``lang`` (English when the language is unknown)."""
    texts = NOT_ESTIMABLE_TEXT.get(status, NOT_ESTIMABLE_TEXT[STATUS_NOT_ELIGIBLE])
    return texts.get(lang, texts["en"])


def public_status(status: str) -> str:
    """``estimated`` or ``not_estimable`` (the reason code says why)."""
    return ESTIMATED if status == STATUS_ESTIMATED else NOT_ESTIMABLE


def benefit_headings(lang: str) -> dict[str, str]:
    """Return the two headings benefit reasons are grouped under, by direction."""
    return dict(BENEFIT_HEADINGS.get(lang, BENEFIT_HEADINGS["en"]))


def benefit_contributions(
    model: ServiceNeedModel, matrix: np.ndarray, service: str, *, num_threads: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Return a service's effect-model contributions per input field, and the base values.

    In probability points; ``base + contributions.sum(-1)`` equals the estimate.
    """
    if model.effects is None:
        raise KeyError(MSG_NO_EFFECTS.format(name=model.name, version=model.version))
    return model.effects.contributions(matrix, service, num_threads=num_threads)


def benefit_reasons(
    model: ServiceNeedModel,
    contributions: np.ndarray,
    values: Sequence[Any],
    *,
    granted: Set[str] | None,
    lang: str,
    limit: int,
) -> tuple[list[Reason], list[OtherFactor]]:
    """Top reasons and other factors of one benefit estimate (one client, one service).

    The same rules as the need reasons: protected attributes never shown, fields of a
    source without consent never a reason, everything accounted for in other factors.
    """
    writer = model.reason_writer(lang)
    return writer.explain(contributions, values, granted=granted, limit=limit)


@dataclass(frozen=True)
class ExpectedBenefit:
    """One service's expected benefit for one client, as a caseworker is shown it.

    ``status`` is ``estimated`` (``estimate``, ``low`` and ``high`` are set) or
    ``not_estimable`` (``reason_code`` and ``reason`` say why). Reasons are filled only
    when asked for and only for an estimate; ``base_value + sum(reasons) +
    sum(other_factors) == estimate`` (probability points, as a fraction).
    """

    service: str
    status: str
    estimate: float | None
    low: float | None
    high: float | None
    level: float
    reason_code: str | None = None
    reason: str | None = None
    base_value: float | None = None
    reasons: list[Reason] = field(default_factory=list)
    other_factors: list[OtherFactor] = field(default_factory=list)
    reason_headings: dict[str, str] | None = None


def _number(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def expected_benefits(
    model: ServiceNeedModel,
    matrix: np.ndarray,
    eligible: np.ndarray,
    *,
    lang: str,
    explain: bool = False,
    top_reasons: int = 5,
    granted: Sequence[Set[str]] | None = None,
    num_threads: int = 0,
) -> list[dict[str, ExpectedBenefit]]:
    """Each row's expected benefit per service (keyed by service id).

    Parameters
    ----------
    model : ServiceNeedModel
        The served model (``model.effects`` may be None: every status ``no_effect_model``).
    matrix : ndarray, shape (rows, features)
        The encoded rows the need model saw (fields without consent are missing).
    eligible : ndarray of bool, shape (rows, services)
        Eligibility in ``model.services`` order.
    lang : {"fi", "sv", "en"}
        Language of the not-estimable reason and of the reason sentences.
    explain : bool, default False
        Add the reasons of each estimate (:func:`benefit_contributions`).
    top_reasons : int, default 5
        Most reasons per estimate.
    granted : sequence of sets, optional
        Per row, the consent-only sources consented to (None: every source is used).
    num_threads : int, default 0
        LightGBM threads (0: its default).
    """
    table = benefit_table(model, matrix, eligible, num_threads=num_threads)
    level = interval_level(model)
    explained = (
        _estimate_contributions(model, matrix, table, num_threads=num_threads) if explain else {}
    )
    results: list[dict[str, ExpectedBenefit]] = []
    for row in range(len(matrix)):
        values: list[Any] | None = None
        out: dict[str, ExpectedBenefit] = {}
        for column, service in enumerate(model.services):
            status = STATUSES[table.status_code[row, column]]
            if status != STATUS_ESTIMATED:
                out[service] = _not_estimable(service, status, level, lang)
                continue
            base_value: float | None = None
            reasons: list[Reason] = []
            others: list[OtherFactor] = []
            headings: dict[str, str] | None = None
            found = explained.get(service, {}).get(row)
            if found is not None:
                per_field_row, base_row = found
                if values is None:
                    values = model.encoder.decode_row(matrix[row])
                reasons, others = benefit_reasons(
                    model,
                    per_field_row,
                    values,
                    granted=None if granted is None else granted[row],
                    lang=lang,
                    limit=top_reasons,
                )
                base_value = base_row
                headings = benefit_headings(lang)
            out[service] = ExpectedBenefit(
                service=service,
                status=ESTIMATED,
                estimate=_number(table.estimate[row, column]),
                low=_number(table.lower[row, column]),
                high=_number(table.upper[row, column]),
                level=level,
                base_value=base_value,
                reasons=reasons,
                other_factors=others,
                reason_headings=headings,
            )
        results.append(out)
    return results


def _not_estimable(service: str, status: str, level: float, lang: str) -> ExpectedBenefit:
    return ExpectedBenefit(
        service=service,
        status=NOT_ESTIMABLE,
        estimate=None,
        low=None,
        high=None,
        level=level,
        reason_code=status,
        reason=not_estimable_text(status, lang),
    )


def _estimate_contributions(
    model: ServiceNeedModel, matrix: np.ndarray, table: BenefitTable, *, num_threads: int
) -> dict[str, dict[int, tuple[np.ndarray, float]]]:
    """Per service, per estimated row: the per-field contributions and the base value."""
    explained: dict[str, dict[int, tuple[np.ndarray, float]]] = {}
    if model.effects is None:
        return explained
    for column, service in enumerate(model.services):
        rows = np.flatnonzero(table.status_code[:, column] == CODE_ESTIMATED)
        if len(rows):
            per_field, base = benefit_contributions(
                model, matrix[rows], service, num_threads=num_threads
            )
            explained[service] = {
                int(row): (per_field[position], float(base[position]))
                for position, row in enumerate(rows)
            }
    return explained
