"""Profile rows -> model matrix: the only feature code, shared by training and serving.

Each model input field becomes one numeric column: numbers as they are, booleans as
0/1, categories as their fixed code (the index in the schema's category list; LightGBM
treats them as categorical), dates as days since 1970-01-01. Missing is NaN, which
LightGBM routes natively. Fields of a consent-only source the client did not consent
to are set to missing before encoding. An unknown category is an error the caller
sees (:class:`UnknownCategoryError`), never a silent NaN.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from models.schema import FieldSpec, Schema

MSG_UNKNOWN_CATEGORY = "unknown category {value!r} in field {field!r}; expected one of {expected}"
MSG_NOT_NUMERIC = "value {value!r} in field {field!r} is not a {type}"
_EPOCH = dt.date(1970, 1, 1)


@dataclass(frozen=True)
class FeatureProblem:
    """One value the encoder cannot encode."""

    field: str
    value: Any
    message: str
    rows: tuple[int, ...] = ()


class UnknownCategoryError(ValueError):
    """Values the schema does not allow; ``problems`` lists every one found."""

    def __init__(self, problems: Sequence[FeatureProblem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(problem.message for problem in self.problems))


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


class FeatureEncoder:
    """Encodes profiles for the model; built from a schema, holds no fitted state.

    Parameters
    ----------
    schema : Schema
        The schema whose ``model_input`` fields are the features.
    """

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.fields: list[FieldSpec] = schema.input_fields
        self.feature_names: list[str] = [spec.name for spec in self.fields]
        self.category_maps: dict[str, dict[str, int]] = {
            spec.name: {value: code for code, value in enumerate(spec.categories or [])}
            for spec in self.fields
            if spec.type == "category"
        }
        self.categorical_features: list[str] = list(self.category_maps)
        self.feature_to_field: list[str] = list(self.feature_names)
        self._consent_fields: dict[str, list[int]] = {
            source: [i for i, spec in enumerate(self.fields) if spec.source == source]
            for source in schema.consent_sources
        }

    # -- frames (training, batch scoring) -------------------------------------------
    def encode_frame(
        self, frame: pd.DataFrame, *, consents: Iterable[str] | None = None
    ) -> np.ndarray:
        """Encode a canonical frame into a float64 matrix (rows x features).

        ``consents``: when given, fields of consent-only sources not in it are treated as
        missing for every row. When None, the data as given is used (consent flags in a
        register extract already left the fields empty).
        """
        matrix = np.empty((len(frame), len(self.fields)), dtype=np.float64)
        problems: list[FeatureProblem] = []
        for column, spec in enumerate(self.fields):
            values = frame[spec.name]
            if spec.type == "category":
                mapping = self.category_maps[spec.name]
                codes = values.map(mapping)
                unknown = values.notna() & codes.isna()
                if unknown.any():
                    bad_rows = np.flatnonzero(unknown.to_numpy())
                    first_bad = values.iloc[bad_rows[0]]
                    problems.append(
                        FeatureProblem(
                            spec.name,
                            first_bad,
                            MSG_UNKNOWN_CATEGORY.format(
                                value=first_bad, field=spec.name, expected=list(mapping)
                            ),
                            tuple(int(r) for r in bad_rows[:5]),
                        )
                    )
                matrix[:, column] = codes.to_numpy(dtype=np.float64, na_value=np.nan)
            elif spec.type == "date":
                days = (pd.to_datetime(values) - pd.Timestamp(_EPOCH)).dt.days
                matrix[:, column] = days.to_numpy(dtype=np.float64, na_value=np.nan)
            else:
                matrix[:, column] = pd.to_numeric(values).to_numpy(
                    dtype=np.float64, na_value=np.nan
                )
        if problems:
            raise UnknownCategoryError(problems)
        if consents is not None:
            self._mask_unconsented(matrix, consents)
        return matrix

    # -- single records (the API's hot path: no pandas) ------------------------------
    def encode_records(
        self,
        records: Sequence[Mapping[str, Any]],
        *,
        consents: Sequence[Iterable[str]] | Iterable[str] | None = None,
    ) -> np.ndarray:
        """Encode plain records (mappings of field -> value) into a float64 matrix.

        ``consents`` is one iterable of source names for all records, or one per record.
        Missing keys are missing values.
        """
        matrix = np.full((len(records), len(self.fields)), np.nan, dtype=np.float64)
        problems: list[FeatureProblem] = []
        for row, record in enumerate(records):
            for column, spec in enumerate(self.fields):
                value = record.get(spec.name)
                if _is_missing(value):
                    continue
                encoded = self._encode_value(spec, value, row, problems)
                if encoded is not None:
                    matrix[row, column] = encoded
        if problems:
            raise UnknownCategoryError(problems)
        if consents is not None:
            per_record = per_record_consents(consents, len(records))
            for row, sources in enumerate(per_record):
                self._mask_unconsented(matrix[row : row + 1], sources)
        return matrix

    def _encode_value(
        self, spec: FieldSpec, value: Any, row: int, problems: list[FeatureProblem]
    ) -> float | None:
        if spec.type == "category":
            code = self.category_maps[spec.name].get(value)
            if code is None:
                expected = list(self.category_maps[spec.name])
                message = MSG_UNKNOWN_CATEGORY.format(
                    value=value, field=spec.name, expected=expected
                )
                problems.append(FeatureProblem(spec.name, value, message, (row,)))
                return None
            return float(code)
        if spec.type == "date":
            day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
            if isinstance(day, dt.datetime):
                day = day.date()
            return float((day - _EPOCH).days)
        try:
            return float(value)
        except (TypeError, ValueError):
            message = MSG_NOT_NUMERIC.format(value=value, field=spec.name, type=spec.type)
            problems.append(FeatureProblem(spec.name, value, message, (row,)))
            return None

    def _mask_unconsented(self, matrix: np.ndarray, consents: Iterable[str]) -> None:
        granted = set(consents)
        for source, columns in self._consent_fields.items():
            if source not in granted and columns:
                matrix[:, columns] = np.nan

    def sources_used(self, consents: Iterable[str]) -> list[str]:
        """Return the data sources a prediction with these consents may read."""
        granted = set(consents)
        return [
            name
            for name, source in self.schema.sources.items()
            if not source.consent_required or name in granted
        ]

    def decode_value(self, field: str, code: float) -> Any:
        """Return the field value a feature code stands for (the inverse of encoding).

        None for missing; the category, a bool, an int, an ISO date or a float by the
        field's type.
        """
        if math.isnan(code):
            return None
        spec = self.schema.field_by_name[field]
        if spec.type == "category":
            return list(self.category_maps[field])[int(code)]
        if spec.type == "boolean":
            return bool(code)
        if spec.type == "integer":
            return int(code)
        if spec.type == "date":
            return (_EPOCH + dt.timedelta(days=int(code))).isoformat()
        return float(code)

    def decode_row(self, codes: Sequence[float]) -> list[Any]:
        """Return :meth:`decode_value` of every field of one encoded row, in field order."""
        return [
            self.decode_value(spec.name, code)
            for spec, code in zip(self.fields, codes, strict=True)
        ]


def per_record_consents(
    consents: Sequence[Iterable[str]] | Iterable[str], count: int
) -> list[set[str]]:
    """``consents`` (one iterable of sources for all records, or one per record) per record."""
    items = list(consents)
    if items and not isinstance(items[0], str):
        if len(items) != count:
            raise ValueError(f"got {len(items)} consent lists for {count} records")
        return [set(item) for item in items]
    return [{str(item) for item in items}] * count
