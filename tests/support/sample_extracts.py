"""Small, valid register extracts built from a schema, for validation and CLI tests.

Every field gets a deterministic in-range value per row; nullable fields are missing
in row 2 (1-based) so that the profile has something to report.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
import pandas as pd

from models.extract.problems import Problem
from models.extract.report import render_problems, render_profile
from models.extract.validation import ExtractValidationError, ValidationResult
from models.schema import FieldSpec, Schema

EXTRA_COLUMN = "true_effect_pay_subsidy"
# A syntactically valid identity code with a correct check character (from the
# domain brief's example), and one with a wrong check character.
IDENTITY_CODE = "131052-308T"
IDENTITY_CODE_BAD_CHECK = "131052-308U"


def _field_values(spec: FieldSpec, rows: int) -> Any:
    index = np.arange(rows)
    if spec.type in ("number", "integer"):
        low = float(spec.min) if spec.min is not None else 0.0
        high = float(spec.max) if spec.max is not None else low + 10.0
        step = 1.0 if spec.type == "integer" else 0.5
        values = np.minimum(low + step * (index % 3), high)
        if spec.nullable and rows > 1:
            values[1] = np.nan
        return values
    if spec.type == "boolean":
        flags = pd.array(index % 2 == 0, dtype="boolean")
        if spec.nullable and rows > 1:
            flags[1] = pd.NA
        return flags
    if spec.type == "category":
        categories = list(spec.categories or [])
        labels = np.array([categories[i % len(categories)] for i in index], dtype=object)
        if spec.nullable and rows > 1:
            labels[1] = None
        return pd.Series(labels, dtype=object)
    start = dt.date.fromisoformat(str(spec.min)) if spec.min is not None else dt.date(2020, 1, 1)
    days = pd.to_datetime([start + dt.timedelta(days=int(i % 28)) for i in index])
    stamps = np.asarray(days, dtype="datetime64[ns]").copy()
    if spec.nullable and rows > 1:
        stamps[1] = np.datetime64("NaT")
    return stamps


def canonical_sample(schema: Schema, *, rows: int = 6, extra: bool = True) -> pd.DataFrame:
    """Return a valid extract as a canonical typed frame (the validator's output contract)."""
    data: dict[str, Any] = {}
    if schema.id_column is not None:
        data[schema.id_column] = pd.Series([f"c{i:05d}" for i in range(rows)], dtype=object)
    for spec in schema.fields:
        data[spec.name] = _field_values(spec, rows)
    for position, label in enumerate(schema.labels):
        data[label.column] = ((np.arange(rows) + position) % 2).astype(np.int8)
    for column in schema.oracle_columns:
        data[column] = (np.arange(rows) % 10) / 10.0
    if extra:
        data[EXTRA_COLUMN] = np.linspace(-0.1, 0.1, rows)
    return pd.DataFrame(data, index=pd.RangeIndex(rows))


def text_sample(schema: Schema, *, rows: int = 6, extra: bool = True) -> pd.DataFrame:
    """Return the same extract as raw text, the way :func:`read_extract` reads a CSV file."""
    frame = canonical_sample(schema, rows=rows, extra=extra)
    text: dict[str, list[str]] = {}
    for column in frame.columns:
        values = frame[column]
        if values.dtype.kind == "M":
            text[column] = [v.date().isoformat() if pd.notna(v) else "" for v in values]
        else:
            text[column] = ["" if pd.isna(v) else str(v) for v in values]
    return pd.DataFrame(text, dtype="str")


def only_problem(result: ValidationResult) -> Problem:
    """Return the one problem of ``result`` (fails when there are more or none)."""
    assert len(result.problems) == 1, render_problems(result.problems)
    return result.problems[0]


def everything_said(result: ValidationResult) -> str:
    """Join all text the validator produces about a result: messages, report, JSON, repr."""
    return "\n".join(
        [
            render_problems(result.problems),
            render_profile(result.profile),
            json.dumps(result.to_dict(), ensure_ascii=False),
            repr(result.problems),
            str(ExtractValidationError(result, source="extract.csv")),
        ]
    )
