"""The output table: one row per client and service, in rank order, as the API answers.

Columns (Parquet types; CSV writes the same as text):

============================  ====================================================
``client_ref``                the client's pseudonymous reference
``rank``                      1 = first suggestion (eligible services first)
``service``, ``service_name`` id and name in the run's language
``probability``               calibrated probability of need
``recommended``, ``eligible`` as in the API
``ineligibility_reason``      the excluding rule in the run's language, else null
``raw_score``, ``base_value`` log-odds; base value null without reasons
``sources_used``              data sources read, comma-separated
``reasons``                   list of {field, label, value, direction,
                              contribution, text}; ``value`` is JSON text (``18``,
                              ``true``, ``"vocational"``, ``null``); null without
                              reasons. CSV: the API's JSON array as text.
``benefit_estimate``          expected benefit (the API's ``expected_benefit``):
                              change in the probability of employment or education
                              within six months, probability points as a fraction;
                              null when not estimable
``benefit_low``,              its interval (level 0.95); null when not estimable
``benefit_high``
``benefit_status``            ``estimated``, or why not: ``not_eligible``,
                              ``outside_common_support``, ``no_effect_model`` (the
                              API's ``reason_code``; every row of a model without
                              effect models says ``no_effect_model``)
============================  ====================================================

Everything is built with array operations: value texts and sentences are made once per
distinct (field, value) and shared by reference.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

import numpy as np
import pyarrow as pa

from models.benefit import benefit_table
from models.effects import STATUSES, BenefitTable
from models.model import ServiceNeedModel
from models.ranking import RankedFrame
from models.reasons import format_value, reason_text

SENTENCE_CACHE_LIMIT = 500_000
_MISSING_CODE = -1.0e300  # stands for NaN in keys (NaN never equals itself)

_TEXT = pa.dictionary(pa.int32(), pa.string())  # written without hashing every value again
REASON_TYPE = pa.struct(
    [
        ("field", _TEXT),
        ("label", _TEXT),
        ("value", _TEXT),
        ("value_text", _TEXT),
        ("direction", _TEXT),
        ("contribution", pa.float64()),
        ("text", _TEXT),
    ]
)
OUTPUT_SCHEMA = pa.schema(
    [
        ("client_ref", pa.string()),
        ("rank", pa.int16()),
        ("service", pa.dictionary(pa.int32(), pa.string())),
        ("service_name", pa.dictionary(pa.int32(), pa.string())),
        ("probability", pa.float64()),
        ("recommended", pa.bool_()),
        ("eligible", pa.bool_()),
        ("ineligibility_reason", pa.dictionary(pa.int32(), pa.string())),
        ("raw_score", pa.float64()),
        ("base_value", pa.float64()),
        ("sources_used", pa.dictionary(pa.int32(), pa.string())),
        ("reasons", pa.list_(REASON_TYPE)),
        ("benefit_estimate", pa.float64()),
        ("benefit_low", pa.float64()),
        ("benefit_high", pa.float64()),
        ("benefit_status", pa.dictionary(pa.int32(), pa.string())),
    ]
)


def _json_value(value: Any) -> str:
    if isinstance(value, dt.date):
        value = value.isoformat()
    return json.dumps(value, ensure_ascii=False)


def _factorize(columns: list[np.ndarray], sizes: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of small non-negative integer columns, and each row's position.

    One int64 key per row (a mixed-radix number; a size of 0 means "max + 1") keeps this
    a 1-D sort, far faster than ``np.unique(axis=0)``.
    """
    radices = [
        size or int(column.max(initial=0)) + 1 for column, size in zip(columns, sizes, strict=True)
    ]
    key = np.zeros(len(columns[0]), dtype=np.int64)
    for column, radix in zip(columns, radices, strict=True):
        key = key * radix + column.astype(np.int64)
    unique, inverse = np.unique(key, return_inverse=True)
    decoded = np.empty((len(unique), len(columns)), dtype=np.int64)
    rest = unique
    for position in range(len(columns) - 1, -1, -1):
        decoded[:, position] = rest % radices[position]
        rest = rest // radices[position]
    return decoded, inverse.reshape(-1)


class OutputBuilder:
    """Turns a :class:`~models.ranking.RankedFrame` into the output table.

    Parameters
    ----------
    model : ServiceNeedModel
        The model that ranked the rows.
    lang : {"fi", "sv", "en"}
        Language of names, rules and sentences.
    top_k : int, optional
        Keep only the first ``top_k`` suggestions per client.
    """

    def __init__(self, model: ServiceNeedModel, *, lang: str, top_k: int | None = None) -> None:
        self.model = model
        self.lang = lang
        schema = model.schema
        labels = [schema.label_by_name[service] for service in model.services]
        self.keep = min(top_k or len(labels), len(labels))
        self.services = pa.array(model.services, pa.string())
        self.statuses = pa.array(STATUSES, pa.string())
        self.service_names = pa.array([label.label.get(lang) for label in labels], pa.string())
        self.rule_texts = pa.array(
            # A service without a rule is always eligible: its entry is never referenced.
            [label.eligibility.text.get(lang) if label.eligibility else "" for label in labels],
            pa.string(),
        )
        self.need_phrases = [(label.need_phrase or label.label).get(lang) for label in labels]
        fields = model.encoder.fields
        self.field_names = pa.array([spec.name for spec in fields], pa.string())
        self.field_labels = pa.array([spec.label.get(lang) for spec in fields], pa.string())
        self.directions = pa.array(["lowers", "raises"], pa.string())
        sources = list(schema.sources)
        self.always_sources = [name for name in sources if name not in schema.consent_sources]
        self.consent_sources = [name for name in sources if name in schema.consent_sources]
        self._texts: dict[tuple[int, float], tuple[str, str, str]] = {}

    # -- per-client columns ---------------------------------------------------------
    def _sources_used(self, ranked: RankedFrame, rows: int) -> tuple[np.ndarray, pa.Array]:
        code = np.zeros(rows, dtype=np.int32)
        for bit, source in enumerate(self.consent_sources):
            code |= ranked.granted[source].astype(np.int32) << bit
        texts = []
        for combination in range(1 << len(self.consent_sources)):
            granted = [s for b, s in enumerate(self.consent_sources) if combination >> b & 1]
            used = [
                s for s in self.model.schema.sources if s in self.always_sources or s in granted
            ]
            texts.append(",".join(used))
        return code, pa.array(texts, pa.string())

    # -- reasons ----------------------------------------------------------------------
    def _value_columns(
        self, fields: np.ndarray, codes: np.ndarray
    ) -> tuple[pa.Array, pa.Array, pa.Array]:
        """Each reason's value as JSON text, as the caller reads it, and its item.

        The item is issue 9's "label: value" (it names neither the service nor the
        direction). All three are made once per distinct (field, value) and kept.
        """
        unique_codes, code_index = np.unique(codes, return_inverse=True)
        keys, inverse = _factorize([code_index.reshape(-1), fields], [len(unique_codes), 0])
        if len(self._texts) > SENTENCE_CACHE_LIMIT:
            self._texts.clear()
        columns: tuple[list[str], list[str], list[str]] = ([], [], [])
        for code_position, field in keys.tolist():
            code = float(unique_codes[code_position])
            key = (int(field), code)
            texts = self._texts.get(key)
            if texts is None:
                spec = self.model.encoder.fields[int(field)]
                value = self.model.encoder.decode_value(
                    spec.name, math.nan if code == _MISSING_CODE else code
                )
                texts = (
                    _json_value(value),
                    format_value(spec, value, self.lang),
                    reason_text(spec, value, self.lang),
                )
                self._texts[key] = texts
            for column, text in zip(columns, texts, strict=True):
                column.append(text)
        indices = pa.array(inverse.astype(np.int32))
        json_texts, shown_texts, items = (
            pa.DictionaryArray.from_arrays(indices, pa.array(column, pa.string()))
            for column in columns
        )
        return json_texts, shown_texts, items

    def _reasons(self, ranked: RankedFrame, order: np.ndarray) -> pa.Array:
        rows, keep = order.shape
        index = order[..., np.newaxis]
        fields = np.take_along_axis(ranked.reason_fields, index, axis=1).reshape(rows * keep, -1)
        values = np.take_along_axis(ranked.reason_contributions, index, axis=1).reshape(
            rows * keep, -1
        )
        present = fields >= 0
        offsets = np.zeros(rows * keep + 1, dtype=np.int32)
        np.cumsum(present.sum(axis=1), out=offsets[1:])
        suggestion, slot = np.nonzero(present)
        field = fields[suggestion, slot]
        contribution = values[suggestion, slot]
        row = suggestion // keep
        codes = ranked.matrix[row, field]
        codes = np.where(np.isnan(codes), _MISSING_CODE, codes)
        raises = contribution > 0
        json_texts, shown_texts, items = self._value_columns(field, codes)
        children = pa.StructArray.from_arrays(
            [
                pa.DictionaryArray.from_arrays(pa.array(field.astype(np.int32)), self.field_names),
                pa.DictionaryArray.from_arrays(pa.array(field.astype(np.int32)), self.field_labels),
                json_texts,
                shown_texts,
                pa.DictionaryArray.from_arrays(pa.array(raises.astype(np.int32)), self.directions),
                pa.array(contribution, pa.float64()),
                items,
            ],
            fields=list(REASON_TYPE),
        )
        return pa.ListArray.from_arrays(pa.array(offsets), children, type=pa.list_(REASON_TYPE))

    # -- the table ------------------------------------------------------------------------
    def table(
        self,
        client_refs: np.ndarray,
        ranked: RankedFrame,
        *,
        explain: bool,
        benefit: BenefitTable | None = None,
    ) -> pa.Table:
        """Build the output rows of one chunk (see the module docstring).

        ``benefit`` is :func:`models.benefit.benefit_table` of the chunk (computed here
        when not given).
        """
        rows = len(client_refs)
        if benefit is None:
            benefit = benefit_table(self.model, ranked.matrix, ranked.eligible)
        order = ranked.order[:, : self.keep]
        flat = order.reshape(-1).astype(np.int32)

        def ranked_values(values: np.ndarray) -> np.ndarray:
            return np.take_along_axis(values, order, axis=1).reshape(-1)

        eligible = ranked_values(ranked.eligible)
        per_client = pa.array(np.repeat(np.arange(rows), self.keep))
        reasons: pa.Array
        if explain and ranked.reason_fields.shape[-1]:
            reasons = self._reasons(ranked, order)
        elif explain:
            empty = np.zeros(rows * self.keep + 1, dtype=np.int32)
            reasons = pa.ListArray.from_arrays(
                pa.array(empty), pa.array([], REASON_TYPE), type=pa.list_(REASON_TYPE)
            )
        else:
            reasons = pa.nulls(rows * self.keep, pa.list_(REASON_TYPE))
        base = ranked_values(ranked.base_value)
        source_codes, source_texts = self._sources_used(ranked, rows)
        columns = [
            pa.array(client_refs.astype(object), pa.string()).take(per_client),
            pa.array(np.tile(np.arange(1, self.keep + 1, dtype=np.int16), rows)),
            pa.DictionaryArray.from_arrays(pa.array(flat), self.services),
            pa.DictionaryArray.from_arrays(pa.array(flat), self.service_names),
            pa.array(ranked_values(ranked.probability)),
            pa.array(ranked_values(ranked.recommended)),
            pa.array(eligible),
            pa.DictionaryArray.from_arrays(pa.array(flat, mask=eligible), self.rule_texts),
            pa.array(ranked_values(ranked.raw_score)),
            pa.array(base, mask=np.isnan(base)),
            pa.DictionaryArray.from_arrays(
                pa.array(np.repeat(source_codes, self.keep)), source_texts
            ),
            reasons,
            *self._benefit_columns(benefit, order),
        ]
        return pa.Table.from_arrays(columns, schema=OUTPUT_SCHEMA)

    def _benefit_columns(self, benefit: BenefitTable, order: np.ndarray) -> list[pa.Array]:
        def ranked_values(values: np.ndarray) -> np.ndarray:
            return np.take_along_axis(values, order, axis=1).reshape(-1)

        estimate = ranked_values(benefit.estimate)
        low = ranked_values(benefit.lower)
        high = ranked_values(benefit.upper)
        codes = ranked_values(benefit.status_code)
        return [
            pa.array(estimate, mask=np.isnan(estimate)),
            pa.array(low, mask=np.isnan(low)),
            pa.array(high, mask=np.isnan(high)),
            pa.DictionaryArray.from_arrays(pa.array(codes), self.statuses),
        ]


def text_columns(table: pa.Table) -> pa.Table:
    """Prepare a table for CSV: dictionary columns as text, ``reasons`` as JSON text."""
    for position, column in enumerate(table.schema):
        if pa.types.is_dictionary(column.type):
            table = table.set_column(
                position, column.name, table.column(position).cast(pa.string())
            )
    texts: list[str | None] = []
    for reasons in table.column("reasons").to_pylist():
        if reasons is None:
            texts.append(None)
            continue
        items = [
            {
                "field": reason["field"],
                "label": reason["label"],
                "value": json.loads(reason["value"]),
                "value_text": reason["value_text"],
                "direction": reason["direction"],
                "contribution": reason["contribution"],
                "text": reason["text"],
            }
            for reason in reasons
        ]
        texts.append(json.dumps(items, ensure_ascii=False, separators=(",", ":")))
    position = table.schema.get_field_index("reasons")
    return table.set_column(position, "reasons", pa.array(texts, pa.string()))
