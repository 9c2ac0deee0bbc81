"""Reasons in words: TreeSHAP contributions turned into what a caseworker reads.

The sentence form needs no grammatical agreement: reasons are grouped under two
headings per service ("Palkkatuen tarvetta lisäävät tekijät" / "Factors lowering the
need for pay subsidy") and each reason is a "label: value" item ("Työhakemukset:
6 hakemusta / 3 kk"). Numbers carry the schema's units, singular after 1, and a
coarser unit for large values ("35 vuotta" rather than "420 kuukautta").

Every contribution is accounted for. Besides the top reasons, a service has "other
factors", each with its own figure: the rest of the fields that may be reasons,
protected attributes together (never shown one by one), and each consent-only source
the client did not consent to ("Tietoja ei käytetty (ei suostumusta): Kykyviisari").
Base value plus all figures equals the raw score. A value missing from the register
reads "not recorded"; a field of a source without consent is never a reason.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from models.schema import FieldSpec, LabelSpec, Schema

MIN_CONTRIBUTION = 1e-9
FALLBACK_LANGUAGE = "en"
BOOLEAN_WORDS = {"fi": ("kyllä", "ei"), "sv": ("ja", "nej"), "en": ("yes", "no")}
NOT_RECORDED = {
    "fi": "tietoa ei ole kirjattu",
    "sv": "ingen uppgift registrerad",
    "en": "not recorded",
}
HEADINGS = {
    # (need phrase given, direction) -> template; the need phrase is the schema's object form
    "fi": {
        "raises": "{need} lisäävät tekijät",
        "lowers": "{need} vähentävät tekijät",
        "raises_generic": "Tarvetta lisäävät tekijät",
        "lowers_generic": "Tarvetta vähentävät tekijät",
    },
    "sv": {
        "raises": "Faktorer som ökar {need}",
        "lowers": "Faktorer som minskar {need}",
        "raises_generic": "Faktorer som ökar behovet",
        "lowers_generic": "Faktorer som minskar behovet",
    },
    "en": {
        "raises": "Factors raising {need}",
        "lowers": "Factors lowering {need}",
        "raises_generic": "Factors raising the need",
        "lowers_generic": "Factors lowering the need",
    },
}
OTHER_FIELDS = {
    "fi": "Muut tekijät yhteensä",
    "sv": "Övriga faktorer sammanlagt",
    "en": "All other factors combined",
}
PROTECTED = {
    "fi": "Suojatut tiedot, joita ei näytetä perusteluina: {labels}",
    "sv": "Skyddade uppgifter som inte visas som skäl: {labels}",
    "en": "Protected attributes, not shown as reasons: {labels}",
}
NO_CONSENT = {
    "fi": "Tietoja ei käytetty (ei suostumusta): {source}",
    "sv": "Uppgifterna används inte (inget samtycke): {source}",
    "en": "Information not used (no consent): {source}",
}
DECIMAL_COMMA = {"fi", "sv"}

Direction = Literal["raises", "lowers"]
OtherKind = Literal["other_fields", "protected_attributes", "no_consent"]


@dataclass(frozen=True)
class Reason:
    """One field's contribution to a service's score, in words and in log-odds."""

    field: str
    label: str
    value: Any
    value_text: str
    direction: Direction
    contribution: float
    text: str


@dataclass(frozen=True)
class OtherFactor:
    """The summed contribution of fields not shown as reasons, with why."""

    kind: OtherKind
    fields: tuple[str, ...]
    contribution: float
    text: str
    source: str | None = None


@dataclass(frozen=True)
class IgnoredField:
    """A field sent in a request but not used, and why (no value is kept)."""

    field: str
    source: str
    reason: Literal["no_consent"] = "no_consent"


def _words(table: Mapping[str, Any], lang: str) -> Any:
    return table.get(lang, table[FALLBACK_LANGUAGE])


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def format_number(number: float, lang: str, *, integer: bool = False) -> str:
    """Return a number as written in ``lang``: at most one decimal, "," in fi and sv."""
    if integer:
        return f"{round(number):d}"
    rounded = round(number, 1)
    shown = f"{rounded:.0f}" if float(rounded).is_integer() else f"{rounded:.1f}"
    return shown.replace(".", ",") if lang in DECIMAL_COMMA else shown


def _with_unit(shown: str, number: float, unit: Any, unit_one: Any, lang: str) -> str:
    if unit is None:
        return shown
    text = (unit_one if unit_one is not None and number == 1 else unit).get(lang)
    return f"{shown}{text}" if text.startswith("/") else f"{shown} {text}"


def format_value(spec: FieldSpec, value: Any, lang: str) -> str:
    """Return a field value as a caseworker reads it, in ``lang`` ("18 kuukautta")."""
    if _is_missing(value):
        return str(_words(NOT_RECORDED, lang))
    if spec.type == "boolean":
        yes, no = _words(BOOLEAN_WORDS, lang)
        return str(yes if bool(value) else no)
    if spec.type == "category":
        return spec.category_label(str(value), lang)
    if spec.is_numeric:
        number = float(value)
        larger = spec.larger_unit
        if larger is not None and number >= larger.from_value:
            scaled = round(number / larger.factor, 1)
            shown = format_number(scaled, lang)
            return _with_unit(shown, scaled, larger.unit, larger.unit_one, lang)
        shown = format_number(number, lang, integer=spec.type == "integer")
        return _with_unit(shown, float(shown.replace(",", ".")), spec.unit, spec.unit_one, lang)
    return str(value)


def reason_item(label: str, value_text: str) -> str:
    """Return the "label: value" item a reason reads as."""
    return f"{label}: {value_text}"


def reason_text(spec: FieldSpec, value: Any, lang: str) -> str:
    """One reason item, e.g. "Työttömyyden kesto: 18 kuukautta"."""
    return reason_item(spec.label.get(lang), format_value(spec, value, lang))


def reason_headings(service: LabelSpec, lang: str) -> dict[str, str]:
    """Return the two headings reasons are grouped under, by direction."""
    words = _words(HEADINGS, lang)
    if service.need_phrase is None:
        return {d: str(words[f"{d}_generic"]) for d in ("raises", "lowers")}
    need = service.need_phrase.get(lang)
    headings = {d: str(words[d]).format(need=need) for d in ("raises", "lowers")}
    return {d: text[:1].upper() + text[1:] for d, text in headings.items()}


def _listed_label(text: str) -> str:
    """Return a label as listed: first letter lower-case unless it starts an acronym."""
    if len(text) > 1 and text[1].islower():
        return text[:1].lower() + text[1:]
    return text


def other_factor_texts(schema: Schema, lang: str) -> dict[str, str]:
    """Return the "other factors" lines of ``schema`` in ``lang``, keyed by kind or source."""
    protected = [spec for spec in schema.input_fields if spec.protected]
    texts = {
        "other_fields": str(_words(OTHER_FIELDS, lang)),
        "protected_attributes": str(_words(PROTECTED, lang)).format(
            labels=", ".join(_listed_label(spec.label.get(lang)) for spec in protected)
        ),
    }
    for name, source in schema.consent_sources.items():
        texts[f"no_consent:{name}"] = str(_words(NO_CONSENT, lang)).format(
            source=source.label.get(lang)
        )
    return texts


class ReasonWriter:
    """Reasons of one schema in one language: what does not depend on the client, once.

    The labels, the "other factors" lines and, per set of consented sources, which fields
    may be reasons are worked out here and kept; :meth:`explain` then only picks the top
    contributions and words their values (the API calls it for every service of every
    client, so it is on the hot path).

    Parameters
    ----------
    schema : Schema
        The model's schema (sources, labels).
    fields : sequence of FieldSpec
        The model's input fields, in the order of the contributions.
    lang : str
        Language of the reasons.
    """

    def __init__(self, schema: Schema, fields: Sequence[FieldSpec], lang: str) -> None:
        self.schema = schema
        self.fields = list(fields)
        self.lang = lang
        self.labels = [spec.label.get(lang) for spec in self.fields]
        self.names = [spec.name for spec in self.fields]
        self.texts = other_factor_texts(schema, lang)
        self._groups: dict[frozenset[str] | None, _FieldGroups] = {}

    def _groups_for(self, granted: Set[str] | None) -> _FieldGroups:
        key = None if granted is None else frozenset(granted)
        groups = self._groups.get(key)
        if groups is None:
            if len(self._groups) >= _GROUP_CACHE_LIMIT:
                self._groups.clear()
            groups = _FieldGroups.of(self.schema, self.fields, granted)
            self._groups[key] = groups
        return groups

    def explain(
        self,
        contributions: np.ndarray,
        values: Sequence[Any],
        *,
        granted: Set[str] | None,
        limit: int,
    ) -> tuple[list[Reason], list[OtherFactor]]:
        """Top reasons and the other factors of one service for one client.

        Parameters
        ----------
        contributions : ndarray, shape (fields,)
            Exact TreeSHAP contributions per input field (log-odds).
        values : sequence
            The value each field had for the model (None: missing).
        granted : set of str, optional
            Consent-only sources the client agreed to; None: every source is used.
        limit : int
            Most reasons shown; the rest goes into "other fields".

        Returns
        -------
        reasons, other_factors
            ``sum(r.contribution) + sum(o.contribution)`` equals ``contributions.sum()``.
        """
        groups = self._groups_for(granted)
        top, rest = self._top(contributions, groups.shown, limit)
        reasons = [self._reason(i, float(contributions[i]), values[i]) for i in top.tolist()]
        return reasons, self._others(groups, rest, contributions)

    @staticmethod
    def _top(
        contributions: np.ndarray, shown: np.ndarray, limit: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Split the shown fields into the top reasons and the rest.

        The top: above ``MIN_CONTRIBUTION``, largest first, at most ``limit``; the rest in
        field order.
        """
        sizes = np.abs(contributions[shown])
        # Stable: equal contributions keep the field order.
        ranked = np.argsort(-sizes, kind="stable")
        count = min(int(np.count_nonzero(sizes > MIN_CONTRIBUTION)), max(limit, 0))
        return shown[ranked[:count]], np.sort(shown[ranked[count:]])

    def _reason(self, index: int, contribution: float, value: Any) -> Reason:
        spec = self.fields[index]
        value_text = format_value(spec, value, self.lang)
        return Reason(
            field=spec.name,
            label=self.labels[index],
            value=value,
            value_text=value_text,
            direction="raises" if contribution > 0 else "lowers",
            contribution=contribution,
            text=reason_item(self.labels[index], value_text),
        )

    def _others(
        self, groups: _FieldGroups, rest: np.ndarray, contributions: np.ndarray
    ) -> list[OtherFactor]:
        """Return the other factors: the rest, the protected fields, each refused source."""
        others: list[OtherFactor] = []
        self._add(others, "other_fields", rest, contributions, self.texts["other_fields"])
        self._add(
            others,
            "protected_attributes",
            groups.protected,
            contributions,
            self.texts["protected_attributes"],
        )
        for source, indexes in groups.unconsented:
            text = self.texts[f"no_consent:{source}"]
            self._add(others, "no_consent", indexes, contributions, text, source)
        return others

    def _add(
        self,
        others: list[OtherFactor],
        kind: OtherKind,
        indexes: np.ndarray,
        contributions: np.ndarray,
        text: str,
        source: str | None = None,
    ) -> None:
        if len(indexes):
            others.append(
                OtherFactor(
                    kind=kind,
                    fields=tuple(self.names[i] for i in indexes.tolist()),
                    contribution=float(np.sum(contributions[indexes])),
                    text=text,
                    source=source,
                )
            )


_GROUP_CACHE_LIMIT = 256
"""Sets of consented sources a :class:`ReasonWriter` keeps the field groups of."""


@dataclass(frozen=True)
class _FieldGroups:
    """Which fields may be reasons, which are protected, which lack consent (indices)."""

    shown: np.ndarray
    protected: np.ndarray
    unconsented: tuple[tuple[str, np.ndarray], ...]

    @classmethod
    def of(
        cls, schema: Schema, fields: Sequence[FieldSpec], granted: Set[str] | None
    ) -> _FieldGroups:
        consent_sources = schema.consent_sources
        shown: list[int] = []
        protected: list[int] = []
        unconsented: dict[str, list[int]] = {}
        for index, spec in enumerate(fields):
            if spec.protected:
                protected.append(index)
            elif (
                granted is not None
                and spec.source in consent_sources
                and spec.source not in granted
            ):
                unconsented.setdefault(spec.source, []).append(index)
            else:
                shown.append(index)
        return cls(
            shown=np.array(shown, dtype=np.int64),
            protected=np.array(protected, dtype=np.int64),
            unconsented=tuple(
                (source, np.array(indexes, dtype=np.int64))
                for source, indexes in unconsented.items()
            ),
        )


def ignored_fields(
    schema: Schema, record: Mapping[str, Any], granted: Set[str] | None
) -> list[IgnoredField]:
    """Fields ``record`` carries a value for that were not used: no consent to their source."""
    if granted is None:
        return []
    consent_sources = schema.consent_sources
    return [
        IgnoredField(field=spec.name, source=spec.source)
        for spec in schema.fields
        if spec.source in consent_sources
        and spec.source not in granted
        and not _is_missing(record.get(spec.name))
    ]
