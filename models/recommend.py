"""Ranked service suggestions with readable reasons, for one or many clients.

A suggestion carries the calibrated probability, the "recommended" flag, eligibility
(with the excluding rule in the caller's language) and the top reasons: exact TreeSHAP
contributions summed per input field, with protected attributes never shown. Eligible
services come first by probability; ineligible ones are listed last.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from models.features import per_record_consents
from models.model import ServiceNeedModel
from models.rules import evaluate_rule_on_record
from models.schema import FieldSpec, Schema

VERBS = {"fi": ("lisää", "vähentää"), "sv": ("ökar", "minskar"), "en": ("raises", "lowers")}
BOOLEAN_WORDS = {"fi": ("kyllä", "ei"), "sv": ("ja", "nej"), "en": ("yes", "no")}
MISSING_WORDS = {"fi": "ei tiedossa", "sv": "uppgift saknas", "en": "not known"}
MIN_CONTRIBUTION = 1e-9


@dataclass(frozen=True)
class Reason:
    """One field's contribution to a service's score, in words and in log-odds."""

    field: str
    label: str
    value: Any
    direction: str  # "raises" | "lowers"
    contribution: float
    text: str


@dataclass(frozen=True)
class Suggestion:
    """One ranked service for a client: probability, decision, eligibility, reasons."""

    service: str
    name: str
    probability: float
    recommended: bool
    eligible: bool
    ineligibility_reason: str | None
    raw_score: float
    base_value: float | None = None
    reasons: list[Reason] = field(default_factory=list)


def format_value(spec: FieldSpec, value: Any, lang: str) -> str:
    """Return a field value as a caseworker reads it, in ``lang``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING_WORDS[lang]
    if spec.type == "boolean":
        yes, no = BOOLEAN_WORDS[lang]
        return yes if bool(value) else no
    if spec.type == "category":
        return spec.category_label(str(value), lang)
    if spec.is_numeric:
        number = float(value)
        shown = f"{number:g}" if spec.type == "number" else f"{round(number):d}"
        if lang in ("fi", "sv"):
            shown = shown.replace(".", ",")
        if spec.unit is None:
            return shown
        unit = spec.unit.get(lang)
        return f"{shown}{unit}" if unit.startswith("/") else f"{shown} {unit}"
    return str(value)


def reason_text(spec: FieldSpec, value: Any, raises: bool, need_phrase: str, lang: str) -> str:
    """One sentence, e.g. "Työttömyyden kesto 18 kk lisää palkkatuen tarvetta"."""
    verb = VERBS[lang][0 if raises else 1]
    shown = format_value(spec, value, lang)
    label = spec.label.get(lang)
    if spec.is_numeric and value is not None and not _isnan(value):
        return f"{label} {shown} {verb} {need_phrase}"
    return f"{label} ({shown}) {verb} {need_phrase}"


def _isnan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


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
    raw = model.raw_scores(matrix, num_threads=num_threads)
    probabilities = model.calibrate(raw)
    if explain:
        contributions, base = model.contributions(matrix, num_threads=num_threads)
    fields = model.encoder.fields
    shown_fields = [i for i, spec in enumerate(fields) if not spec.protected]
    granted = None if consents is None else per_record_consents(consents, len(records))
    results: list[list[Suggestion]] = []
    for row, record in enumerate(records):
        # Eligibility rules, like the model, see no field of a source not consented to.
        visible = record if granted is None else _consented(model.schema, record, granted[row])
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
            base_value = None
            if explain:
                base_value = float(base[row, column])
                reasons = _reasons(
                    model,
                    contributions[row, column],
                    matrix[row],
                    shown_fields,
                    need_phrase=(spec.need_phrase or spec.label).get(lang),
                    lang=lang,
                    limit=top_reasons,
                )
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


def _reasons(
    model: ServiceNeedModel,
    contributions: np.ndarray,
    encoded_row: np.ndarray,
    shown_fields: list[int],
    *,
    need_phrase: str,
    lang: str,
    limit: int,
) -> list[Reason]:
    candidates = [i for i in shown_fields if abs(contributions[i]) > MIN_CONTRIBUTION]
    candidates.sort(key=lambda i: -abs(contributions[i]))
    reasons = []
    for index in candidates[:limit]:
        spec = model.encoder.fields[index]
        value = model.encoder.decode_value(spec.name, encoded_row[index])
        raises = bool(contributions[index] > 0)
        reasons.append(
            Reason(
                field=spec.name,
                label=spec.label.get(lang),
                value=value,
                direction="raises" if raises else "lowers",
                contribution=float(contributions[index]),
                text=reason_text(spec, value, raises, need_phrase, lang),
            )
        )
    return reasons
