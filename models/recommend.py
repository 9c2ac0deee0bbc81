"""Ranked service suggestions with readable reasons, for one or many clients.

A suggestion carries the calibrated probability, the "recommended" flag, eligibility
(with the excluding rule in the caller's language) and, for an eligible service, the top
reasons: exact TreeSHAP contributions summed per input field, worded by
:mod:`models.reasons`, with protected attributes and non-consented sources accounted for
as "other factors", never shown as reasons. Eligible services come first by
probability; ineligible ones are listed last.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from models.features import per_record_consents
from models.model import ServiceNeedModel
from models.reasons import OtherFactor, Reason, reason_headings
from models.rules import evaluate_rule_on_record
from models.schema import LabelSpec, Schema

__all__ = ["OtherFactor", "Reason", "Suggestion", "recommend"]


@dataclass(frozen=True)
class Suggestion:
    """One ranked service for a client: probability, decision, eligibility, reasons.

    ``reasons`` and ``other_factors`` are empty for an ineligible service (the rule that
    excludes it is the reason) and when explanations are off; otherwise
    ``base_value + sum(reasons) + sum(other_factors) == raw_score``.
    """

    service: str
    name: str
    probability: float
    recommended: bool
    eligible: bool
    ineligibility_reason: str | None
    raw_score: float
    base_value: float | None = None
    reasons: list[Reason] = field(default_factory=list)
    other_factors: list[OtherFactor] = field(default_factory=list)
    reason_headings: dict[str, str] | None = None


def recommend(
    model: ServiceNeedModel,
    records: Sequence[Mapping[str, Any]],
    *,
    consents: Sequence[Iterable[str]] | Iterable[str] | None = None,
    lang: str = "fi",
    explain: bool = True,
    top_reasons: int = 5,
    top_k: int | None = None,
    num_threads: int = 1,
    matrix: np.ndarray | None = None,
) -> list[list[Suggestion]]:
    """Ranked suggestions for each record.

    Parameters
    ----------
    records : sequence of mappings
        Client profiles (field name -> value); missing keys are missing values.
    consents : iterable of source names, or one per record
        Consent-only sources the client agreed to; other consent sources are ignored.
    lang : {"fi", "sv", "en"}
        Language of names, eligibility rules and reason sentences.
    explain : bool
        Compute TreeSHAP reasons (the costly part).
    top_k : int, optional
        Return only the first ``top_k`` suggestions per client.
    matrix : ndarray, optional
        ``model.encode_records(records, consents=consents)``, when the caller has it.
    """
    if matrix is None:
        matrix = model.encode_records(records, consents=consents)
    if explain:  # one TreeSHAP call gives the raw scores too (bit-identical)
        raw, contributions, base = model.explain_matrix(matrix, num_threads=num_threads)
    else:
        raw = model.raw_scores(matrix, num_threads=num_threads)
    probabilities = model.calibrate(raw)
    writer = model.reason_writer(lang)
    granted = None if consents is None else per_record_consents(consents, len(records))
    results: list[list[Suggestion]] = []
    for row, record in enumerate(records):
        # Eligibility rules, like the model, see no field of a source not consented to.
        visible = record if granted is None else _consented(model.schema, record, granted[row])
        values = model.encoder.decode_row(matrix[row]) if explain else None
        suggestions = []
        for column, service in enumerate(model.services):
            spec = model.schema.label_by_name[service]
            eligible, rule_text = _eligibility(spec, visible, lang)
            probability = float(probabilities[row, column])
            reasons: list[Reason] = []
            others: list[OtherFactor] = []
            headings = None
            if explain and eligible and values is not None:
                reasons, others = writer.explain(
                    contributions[row, column],
                    values,
                    granted=None if granted is None else granted[row],
                    limit=top_reasons,
                )
                headings = reason_headings(spec, lang)
            suggestions.append(
                Suggestion(
                    service=service,
                    name=spec.label.get(lang),
                    probability=probability,
                    recommended=eligible and probability >= model.thresholds[service],
                    eligible=eligible,
                    ineligibility_reason=rule_text,
                    raw_score=float(raw[row, column]),
                    base_value=float(base[row, column]) if explain else None,
                    reasons=reasons,
                    other_factors=others,
                    reason_headings=headings,
                )
            )
        suggestions.sort(key=lambda s: (not s.eligible, -s.probability))
        results.append(suggestions[:top_k] if top_k else suggestions)
    return results


def _eligibility(spec: LabelSpec, record: Mapping[str, Any], lang: str) -> tuple[bool, str | None]:
    """Whether the record is eligible for the service, else also the rule's text."""
    if spec.eligibility is not None and not evaluate_rule_on_record(spec.eligibility.rule, record):
        return False, spec.eligibility.text.get(lang)
    return True, None


def _consented(schema: Schema, record: Mapping[str, Any], granted: Set[str]) -> Mapping[str, Any]:
    """``record`` without the fields of consent-only sources not in ``granted``."""
    hidden = {
        spec.name
        for source in schema.consent_sources
        if source not in granted
        for spec in schema.fields_of_source(source)
    }
    if not hidden.intersection(record):
        return record
    return {name: value for name, value in record.items() if name not in hidden}
