"""Validate a register extract against the schema before anything uses it.

Deployed profiling systems failed on wrong input data more than on their models, so
tarve refuses to train on or score a broken extract. :func:`validate_frame` checks a
frame against a :class:`~models.schema.Schema` and reports *every* problem at once
(missing or duplicated column, wrong type, value out of range, unknown category,
missing value in a field that may not be missing, a label that is not 0/1, duplicated
client references, and any column that looks like it holds Finnish personal identity
codes). It never coerces or drops anything silently: if there is any problem, there is
no frame to use. A clean extract yields the *canonical frame* that the feature code
expects, plus a short profile.

Canonical frame: the id column (object of str) first, then the schema's fields in
schema order (number and integer -> float64 with NaN; boolean -> ``boolean``; category
-> object of str with None; date -> datetime64[ns]), the label columns (int8 0/1), the
oracle columns if present (float64), then any other columns unchanged. Other columns
are allowed and listed as *ignored* in the profile.

Row numbers in problems count data rows from 1, header excluded: row 1 is the first
record after the header, i.e. line 2 of a CSV file without blank lines or multi-line
quoted values.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from models.extract.column_parsing import (
    ColumnValues,
    ParsedColumn,
    ValueIssue,
    parse_boolean,
    parse_category,
    parse_date,
    parse_identifier,
    parse_label,
    parse_number,
    range_issue,
)
from models.extract.identity_code import may_contain_identity_code, scan_identity_codes
from models.extract.problems import (
    EXAMPLE_MAX_CHARS,
    EXAMPLE_SAMPLE_SIZE,
    MSG_DUPLICATE_COLUMN,
    MSG_DUPLICATE_ID,
    MSG_IDENTITY_CODE,
    MSG_IDENTITY_CODE_NAME,
    MSG_MISSING_COLUMN,
    MSG_MISSING_LABEL_COLUMN,
    MSG_MISSING_VALUE,
    MSG_NO_ROWS,
    ROW_SAMPLE_SIZE,
    WITHHELD_COLUMN_NAME,
    Problem,
    ProblemKind,
)
from models.extract.reading import ExtractReadError, read_extract
from models.extract.report import render_problems
from models.schema import FieldSpec, Schema

__all__ = [
    "ExtractProfile",
    "ExtractReadError",
    "ExtractValidationError",
    "Problem",
    "ProblemKind",
    "ValidationResult",
    "load_validated_extract",
    "read_extract",
    "validate_frame",
]

EXPECTED_NO_IDENTITY_CODES = "no personal identity codes; refer to clients by a pseudonymous id"
EXPECTED_ONE_COLUMN = "each column once"
EXPECTED_PRESENT = "a value in every row"
EXPECTED_UNIQUE_ID = "one row per client"
EXPECTED_ROWS = "at least one data row"
ORACLE_RANGE = (0.0, 1.0)
_EXAMPLE_SCAN_LIMIT = 1000


@dataclass(frozen=True)
class ExtractProfile:
    """A short description of an extract.

    Attributes
    ----------
    rows : int
        Data rows.
    columns : int
        Columns in the extract.
    missing_share : dict of str to float
        Share of rows (0-1) where each schema field present in the extract is missing.
    label_prevalence : dict of str to float or None
        Share of 1s among the valid values of each label column present (None if none).
    ignored_columns : list of str
        Columns the schema does not know; they pass through unchecked.
    """

    rows: int
    columns: int
    missing_share: dict[str, float]
    label_prevalence: dict[str, float | None]
    ignored_columns: list[str]

    def to_dict(self) -> dict[str, Any]:
        """Return the profile as JSON-ready data."""
        return {
            "rows": self.rows,
            "columns": self.columns,
            "missing_share": dict(self.missing_share),
            "label_prevalence": dict(self.label_prevalence),
            "ignored_columns": list(self.ignored_columns),
        }


@dataclass(frozen=True)
class ValidationResult:
    """The outcome of validating an extract.

    Attributes
    ----------
    problems : list of Problem
        Every problem found; empty when the extract is valid.
    profile : ExtractProfile
        Rows, missing shares, label prevalences, ignored columns.
    frame : pandas.DataFrame or None
        The canonical typed frame when there is no problem, else None.
    """

    problems: list[Problem]
    profile: ExtractProfile
    frame: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        """True when the extract has no problem."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """Return the result (without the frame) as JSON-ready data."""
        return {
            "ok": self.ok,
            "problems": [problem.to_dict() for problem in self.problems],
            "profile": self.profile.to_dict(),
        }


class ExtractValidationError(ValueError):
    """An extract failed validation; ``result.problems`` lists every problem."""

    def __init__(self, result: ValidationResult, *, source: str | Path | None = None) -> None:
        self.result = result
        self.source = None if source is None else str(source)
        super().__init__(render_problems(result.problems, source=self.source))

    @property
    def problems(self) -> list[Problem]:
        """Every problem found."""
        return self.result.problems


def _shown_name(name: str, position: int) -> str:
    if may_contain_identity_code(name):
        return WITHHELD_COLUMN_NAME.format(position=position + 1)
    return name


def _examples(series: pd.Series, mask: np.ndarray) -> tuple[str, ...]:
    found: list[str] = []
    for position in np.flatnonzero(mask)[:_EXAMPLE_SCAN_LIMIT]:
        text = str(series.iloc[position])
        if may_contain_identity_code(text):
            continue
        if len(text) > EXAMPLE_MAX_CHARS:
            text = text[: EXAMPLE_MAX_CHARS - 3] + "..."
        if text not in found:
            found.append(text)
        if len(found) == EXAMPLE_SAMPLE_SIZE:
            break
    return tuple(found)


def _rows(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(position) + 1 for position in np.flatnonzero(mask)[:ROW_SAMPLE_SIZE])


def _problem(issue: ValueIssue, *, column: str, values: ColumnValues, withhold: bool) -> Problem:
    count = int(issue.mask.sum())
    show = not withhold and issue.kind != ProblemKind.MISSING_VALUE
    return Problem(
        column=column,
        kind=issue.kind,
        message=issue.template.format(count=count),
        count=count,
        rows=_rows(issue.mask),
        expected=issue.expected,
        examples=_examples(values.series, issue.mask) if show else (),
    )


def _parse_field(values: ColumnValues, spec: FieldSpec) -> tuple[ParsedColumn, list[ValueIssue]]:
    if spec.type == "boolean":
        parsed = parse_boolean(values)
    elif spec.type == "category":
        parsed = parse_category(values, categories=list(spec.categories or []))
    elif spec.type == "date":
        parsed = parse_date(values)
    else:
        parsed = parse_number(values, integer=spec.type == "integer")
    issues = list(parsed.issues)
    if spec.type in ("number", "integer", "date"):
        outside = range_issue(parsed, low=spec.min, high=spec.max, kind=spec.type)
        if outside is not None:
            issues.append(outside)
    if not spec.nullable and values.missing.any():
        issues.append(
            ValueIssue(
                ProblemKind.MISSING_VALUE, MSG_MISSING_VALUE, EXPECTED_PRESENT, values.missing
            )
        )
    return parsed, issues


def _id_issues(values: ColumnValues, parsed: ParsedColumn) -> list[ValueIssue]:
    issues = list(parsed.issues)
    if values.missing.any():
        issues.append(
            ValueIssue(
                ProblemKind.MISSING_VALUE, MSG_MISSING_VALUE, EXPECTED_PRESENT, values.missing
            )
        )
    return issues


def _duplicate_ids(parsed: ParsedColumn, *, column: str, withhold: bool) -> Problem | None:
    ids: pd.Series = parsed.values
    valid = parsed.valid if parsed.valid is not None else ids.notna().to_numpy()
    repeated = ids.duplicated(keep=False).to_numpy(dtype=bool) & valid
    if not repeated.any():
        return None
    count = int(repeated.sum())
    distinct = int(ids[repeated].nunique())
    return Problem(
        column=column,
        kind=ProblemKind.DUPLICATE_ID,
        message=MSG_DUPLICATE_ID.format(count=count, distinct=distinct),
        count=count,
        rows=_rows(repeated),
        expected=EXPECTED_UNIQUE_ID,
        examples=() if withhold else _examples(ids, repeated),
    )


class _FrameCheck:
    """The state of one validation: the frame split into columns, and problems found."""

    def __init__(self, frame: pd.DataFrame, schema: Schema, *, require_labels: bool) -> None:
        self.schema = schema
        self.require_labels = require_labels
        self.names = [str(name) for name in frame.columns]
        self.shown = [_shown_name(name, position) for position, name in enumerate(self.names)]
        self.occurrences = Counter(self.names)
        self.first_position: dict[str, int] = {}
        for position, name in enumerate(self.names):
            self.first_position.setdefault(name, position)
        self.columns = [ColumnValues.of(frame.iloc[:, i]) for i in range(len(self.names))]
        self.rows = len(frame)
        self.problems: list[Problem] = []
        self.withheld: set[int] = set()
        self.canonical: dict[str, Any] = {}
        self.missing_share: dict[str, float] = {}
        self.label_prevalence: dict[str, float | None] = {}

    def locate(self, name: str, *, required: bool, message: str = MSG_MISSING_COLUMN) -> int | None:
        """Return the position of a column present exactly once; report it missing if required."""
        if self.occurrences[name] == 1:
            return self.first_position[name]
        if self.occurrences[name] == 0 and required:
            self.problems.append(
                Problem(
                    name, ProblemKind.MISSING_COLUMN, message, expected=f"a column named {name}"
                )
            )
        return None

    def report(self, issues: list[ValueIssue], position: int) -> None:
        for issue in issues:
            self.problems.append(
                _problem(
                    issue,
                    column=self.shown[position],
                    values=self.columns[position],
                    withhold=position in self.withheld,
                )
            )

    def check_structure(self) -> None:
        """No rows, identity codes in names or values, duplicated columns."""
        if self.rows == 0:
            self.problems.append(
                Problem(None, ProblemKind.NO_ROWS, MSG_NO_ROWS, count=0, expected=EXPECTED_ROWS)
            )
        for position, values in enumerate(self.columns):
            if self.shown[position] != self.names[position]:
                self.problems.append(
                    Problem(
                        self.shown[position],
                        ProblemKind.IDENTITY_CODE,
                        MSG_IDENTITY_CODE_NAME,
                        expected=EXPECTED_NO_IDENTITY_CODES,
                    )
                )
            if values.text.any():
                self.check_identity_codes(position)
        for name, times in self.occurrences.items():
            if times > 1:
                self.problems.append(
                    Problem(
                        self.shown[self.first_position[name]],
                        ProblemKind.DUPLICATE_COLUMN,
                        MSG_DUPLICATE_COLUMN.format(count=times),
                        count=times,
                        expected=EXPECTED_ONE_COLUMN,
                    )
                )

    def check_identity_codes(self, position: int) -> None:
        scan = scan_identity_codes(self.columns[position].texts)
        if not scan.count:
            return
        self.withheld.add(position)
        mask = np.zeros(self.rows, dtype=bool)
        mask[scan.positions] = True
        invalid = scan.count - scan.valid_check
        self.problems.append(
            Problem(
                self.shown[position],
                ProblemKind.IDENTITY_CODE,
                MSG_IDENTITY_CODE.format(count=scan.count, valid=scan.valid_check, invalid=invalid),
                count=scan.count,
                rows=_rows(mask),
                expected=EXPECTED_NO_IDENTITY_CODES,
            )
        )

    def check_id(self, name: str) -> None:
        position = self.locate(name, required=True)
        if position is None:
            return
        parsed = parse_identifier(self.columns[position])
        self.report(_id_issues(self.columns[position], parsed), position)
        duplicate = _duplicate_ids(
            parsed, column=self.shown[position], withhold=position in self.withheld
        )
        if duplicate is not None:
            self.problems.append(duplicate)
        self.canonical[name] = parsed.values

    def check_field(self, spec: FieldSpec) -> None:
        position = self.locate(spec.name, required=True)
        if position is None:
            return
        values = self.columns[position].with_missing_markers(self.schema.missing_markers(spec))
        self.columns[position] = values
        self.missing_share[spec.name] = float(values.missing.mean()) if self.rows else 0.0
        parsed, issues = _parse_field(values, spec)
        self.report(issues, position)
        self.canonical[spec.name] = parsed.values

    def check_label(self, column: str) -> None:
        position = self.locate(
            column, required=self.require_labels, message=MSG_MISSING_LABEL_COLUMN
        )
        if position is None:
            return
        parsed = parse_label(self.columns[position])
        self.report(parsed.issues, position)
        valid = parsed.valid if parsed.valid is not None else np.ones(self.rows, dtype=bool)
        prevalence = float(parsed.values[valid].mean()) if valid.any() else None
        self.label_prevalence[column] = prevalence
        self.canonical[column] = parsed.values

    def check_oracle(self, column: str) -> None:
        position = self.locate(column, required=False)
        if position is None:
            return
        parsed = parse_number(self.columns[position], integer=False)
        issues = list(parsed.issues)
        low, high = ORACLE_RANGE
        outside = range_issue(parsed, low=low, high=high, kind="number")
        if outside is not None:
            issues.append(outside)
        self.report(issues, position)
        self.canonical[column] = parsed.values

    def result(self) -> ValidationResult:
        schema = self.schema
        known = {spec.name for spec in schema.fields} | set(schema.label_columns)
        known |= set(schema.oracle_columns)
        if schema.id_column is not None:
            known.add(schema.id_column)
        extra = [position for position, name in enumerate(self.names) if name not in known]
        profile = ExtractProfile(
            rows=self.rows,
            columns=len(self.names),
            missing_share=self.missing_share,
            label_prevalence=self.label_prevalence,
            ignored_columns=[self.shown[position] for position in extra],
        )
        if self.problems:
            return ValidationResult(self.problems, profile, None)
        typed = dict(self.canonical)
        for position in extra:
            typed[self.names[position]] = self.columns[position].series
        return ValidationResult([], profile, pd.DataFrame(typed, index=pd.RangeIndex(self.rows)))


def validate_frame(
    frame: pd.DataFrame, schema: Schema, *, require_labels: bool = True
) -> ValidationResult:
    """Check an extract against a schema and report every problem at once.

    Parameters
    ----------
    frame : pandas.DataFrame
        A raw text frame (:func:`read_extract` of a CSV) or a typed frame (Parquet,
        or an already canonical in-memory frame).
    schema : Schema
        The schema the extract must follow.
    require_labels : bool, default True
        Whether every label column must be present (training). When False (scoring),
        label columns may be absent; those present must still be complete and 0/1.

    Returns
    -------
    ValidationResult
        ``problems`` (all of them), ``profile``, and ``frame``: the canonical typed
        frame when there is no problem, else None. Nothing is coerced or dropped.
    """
    check = _FrameCheck(frame, schema, require_labels=require_labels)
    check.check_structure()
    if schema.id_column is not None:
        check.check_id(schema.id_column)
    for spec in schema.fields:
        check.check_field(spec)
    for label in schema.labels:
        check.check_label(label.column)
    for oracle in schema.oracle_columns:
        check.check_oracle(oracle)
    return check.result()


def load_validated_extract(
    path: str | Path, schema: Schema, *, require_labels: bool = True
) -> pd.DataFrame:
    """Read an extract, validate it and return the canonical frame; refuse a broken one.

    The one entry point for training and batch scoring.

    Parameters
    ----------
    path : str or pathlib.Path
        A CSV or Parquet extract.
    schema : Schema
        The schema it must follow.
    require_labels : bool, default True
        Whether the label columns must be present (False for scoring).

    Returns
    -------
    pandas.DataFrame
        The canonical typed frame.

    Raises
    ------
    ExtractReadError
        The file cannot be read.
    ExtractValidationError
        The extract has problems; the message lists every one.
    """
    result = validate_frame(
        read_extract(path, identity_codes="keep"), schema, require_labels=require_labels
    )
    if result.frame is None:
        raise ExtractValidationError(result, source=path)
    return result.frame
