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

from models.features import per_record_consents
from models.model import ServiceNeedModel
from models.reasons import OtherFactor, Reason, reason_headings
from models.rules import evaluate_rule_on_record
from models.schema import Schema

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
    """
    matrix = model.encode_records(records, consents=consents)
    if explain:  # one TreeSHAP call gives the raw scores too (bit-identical)
        raw, contributions, base = model.explain_matrix(matrix, num_threads=num_threads)
    else:
        raw = model.raw_scores(matrix, num_threads=num_threads)
    probabilities = model.calibrate(raw)
    fields = model.encoder.fields
    writer = model.reason_writer(lang)
    granted = None if consents is None else per_record_consents(consents, len(records))
    results: list[list[Suggestion]] = []
    for row, record in enumerate(records):
        # Eligibility rules, like the model, see no field of a source not consented to.
        visible = record if granted is None else _consented(model.schema, record, granted[row])
        values: list[Any] | None = None
        if explain:
            values = [
                model.encoder.decode_value(spec.name, code)
                for spec, code in zip(fields, matrix[row], strict=True)
            ]
        suggestions = []
        for column, service in enumerate(model.services):
            spec = model.schema.label_by_name[service]
            eligible, rule_text = True, None
            if spec.eligibility is not None and not evaluate_rule_on_record(
                spec.eligibility.rule, visible
            ):
                eligible, rule_text = False, spec.eligibility.text.get(lang)
            probability = float(probabilities[row, column])
            reasons: list[Reason] = []
            others: list[OtherFactor] = []
            headings = None
            base_value = None
            if explain:
                base_value = float(base[row, column])
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
                    base_value=base_value,
                    reasons=reasons,
                    other_factors=others,
                    reason_headings=headings,
                )
            )
        suggestions.sort(key=lambda s: (not s.eligible, -s.probability))
        results.append(suggestions[:top_k] if top_k else suggestions)
    return results


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
