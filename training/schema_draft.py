"""A starter schema drawn from an extract: the first step of bringing your own register.

:func:`draft_schema` looks at every column of an extract and writes what the data
shows: the type (integer, number, boolean, date or category), the observed range, the
categories, whether values are missing, and ``TODO`` labels in each language asked
for. The draft loads with :func:`models.schema.load_schema` and the extract validates
against it as it is; what it cannot know (labels, units, sources and consent,
protected attributes, audit groups, the description for the model card) is left for
a person to write, marked ``TODO``. ``tarve schema draft`` is its command line.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes

from models.extract.column_parsing import DATE_PATTERN, NUMBER_PATTERN, ColumnValues

MSG_NO_SUCH_COLUMN = "{role} column {column!r} is not in the extract (columns: {columns})"
MSG_LABEL_NOT_BINARY = (
    "label column {column!r} must hold only 0 and 1 (found {examples}); recode it first"
)
MSG_NO_FIELDS = "the extract has no column left to be a field once labels and id are taken"
COMMON_MISSING_MARKERS = ("?", "NA", "N/A", "NULL", "null", "NaN")
"""Texts taken as missing-value markers when present and not told otherwise."""
MAX_CATEGORIES = 100
"""A text column with more distinct values is left out (free text or an identifier)."""
TRUE_FALSE = {"true", "false"}


def _todo(name: str, languages: list[str]) -> dict[str, str]:
    return {code: f"TODO {name}" for code in languages}


def _number_or_int(value: float) -> float | int:
    return int(value) if float(value).is_integer() else float(value)


def _present_texts(values: ColumnValues) -> pd.Series:
    return values.texts.astype(str)


def _numeric_field(numbers: np.ndarray) -> dict[str, Any]:
    integral = bool(np.all(np.equal(np.mod(numbers, 1), 0))) if numbers.size else True
    spec: dict[str, Any] = {"type": "integer" if integral else "number"}
    if numbers.size:
        low, high = float(np.min(numbers)), float(np.max(numbers))
        spec["min"] = _number_or_int(np.floor(low))  # whole bounds: a draft, not a fence
        spec["max"] = _number_or_int(np.ceil(high))
    return spec


def _typed_field(series: pd.Series) -> dict[str, Any] | None:
    """Return the spec of a typed (Parquet or in-memory) column; None for text or objects."""
    present = series.dropna()
    if ptypes.is_bool_dtype(series.dtype):
        return {"type": "boolean"}
    if ptypes.is_datetime64_any_dtype(series.dtype):
        spec: dict[str, Any] = {"type": "date"}
        if len(present):
            spec["min"] = str(present.min().date())
            spec["max"] = str(present.max().date())
        return spec
    if ptypes.is_numeric_dtype(series.dtype):
        return _numeric_field(present.to_numpy(dtype=float))
    return None


def _text_field(texts: pd.Series) -> dict[str, Any] | None:
    """Return the spec of a text column from its present values; None for free text."""
    if texts.empty:
        return {"type": "number"}
    if texts.str.fullmatch(NUMBER_PATTERN).all():
        return _numeric_field(texts.astype(float).to_numpy())
    if set(texts.str.lower().unique()) <= TRUE_FALSE:
        return {"type": "boolean"}
    if texts.str.fullmatch(DATE_PATTERN).all():
        try:
            days = pd.to_datetime(texts, format="%Y-%m-%d")
        except ValueError:
            days = None
        if days is not None:
            return {"type": "date", "min": str(days.min().date()), "max": str(days.max().date())}
    categories = sorted(texts.unique())
    if len(categories) > MAX_CATEGORIES:
        return None
    return {"type": "category", "categories": categories}


def _label_problem(values: ColumnValues, column: str) -> str | None:
    if values.missing.any():
        return MSG_LABEL_NOT_BINARY.format(column=column, examples="missing values")
    raw = values.series.to_numpy(dtype=object)
    shown = {str(_number_or_int(v)) if isinstance(v, float) else str(v) for v in raw}
    if not shown <= {"0", "1"}:
        return MSG_LABEL_NOT_BINARY.format(column=column, examples=sorted(shown)[:5])
    return None


def detect_missing_markers(frame: pd.DataFrame) -> list[str]:
    """Return the common missing-value markers (``?``, ``NA`` ...) present in ``frame``."""
    found = set()
    for name in frame.columns:
        column = frame[name]
        if ptypes.is_object_dtype(column.dtype) or ptypes.is_string_dtype(column.dtype):
            found.update(set(column.dropna().astype(str).unique()) & set(COMMON_MISSING_MARKERS))
    return [marker for marker in COMMON_MISSING_MARKERS if marker in found]


def draft_schema(
    frame: pd.DataFrame,
    *,
    labels: list[str],
    id_column: str | None = None,
    name: str = "my-register",
    languages: list[str] | None = None,
    missing_values: list[str] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Draft a schema for ``frame``: a dict ready to dump as YAML, and notes for the user.

    Parameters
    ----------
    frame : pandas.DataFrame
        The extract, as :func:`models.extract.read_extract` reads it.
    labels : list of str
        The label (service) columns; each must hold only 0 and 1.
    id_column : str, optional
        The pseudonymous client reference column.
    name : str, default "my-register"
        The schema's name.
    languages : list of str, optional
        Languages of the TODO labels; ``["en"]`` when None.
    missing_values : list of str, optional
        Texts that mean missing; None: the common markers found in the data.

    Returns
    -------
    schema : dict
        The draft schema.
    notes : list of str
        What the draft could not decide (columns left out, markers assumed).

    Raises
    ------
    ValueError
        A named column is absent, a label column is not 0/1, or no field is left.
    """
    languages = list(languages or ["en"])
    columns = [str(column) for column in frame.columns]
    for role, wanted in [("label", label) for label in labels] + [("id", id_column)]:
        if wanted is not None and wanted not in columns:
            raise ValueError(
                MSG_NO_SUCH_COLUMN.format(role=role, column=wanted, columns=", ".join(columns))
            )
    notes: list[str] = []
    markers = detect_missing_markers(frame) if missing_values is None else list(missing_values)
    if missing_values is None and markers:
        notes.append(f"taken as missing values: {markers} (override with --missing-value)")
    fields: list[dict[str, Any]] = []
    label_specs: list[dict[str, Any]] = []
    for position, column in enumerate(columns):
        values = ColumnValues.of(frame.iloc[:, position])
        if column in labels:
            problem = _label_problem(values, column)
            if problem:
                raise ValueError(problem)
            label_specs.append(
                {"name": column, "column": column, "label": _todo(column, languages)}
            )
            continue
        if column == id_column:
            continue
        values = values.with_missing_markers(markers)
        spec = _typed_field(values.series) if not values.text.any() else None
        if spec is None and (values.text.any() or values.missing.all()):
            spec = _text_field(_present_texts(values))
        if spec is None:
            notes.append(f"column {column!r} left out: free text or an identifier")
            continue
        if spec["type"] == "category":  # the code itself until a person writes a label
            spec["category_labels"] = {
                value: dict.fromkeys(languages, value.strip() or value)
                for value in spec["categories"]
            }
        fields.append(
            {
                "name": column,
                **spec,
                "label": _todo(column, languages),
                **({"nullable": True} if values.missing.any() else {}),
            }
        )
    if not fields:
        raise ValueError(MSG_NO_FIELDS)
    schema: dict[str, Any] = {
        "name": re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "my-register",
        "version": 1,
        "languages": languages,
        "missing_values": markers,
        "description": {
            part: _todo(part.replace("_", " "), languages)
            for part in ("population", "label_meaning", "intended_use")
        },
    }
    if id_column is not None:
        schema["id_column"] = id_column
    schema["fields"] = fields
    schema["labels"] = label_specs
    return schema, notes
