"""Parse one extract column into its canonical dtype, flagging (never coercing) bad values.

A column arrives as *text* (a CSV read with ``dtype=str``: every value a string, the
empty string meaning missing) or *typed* (Parquet, an in-memory frame: numbers,
booleans, datetimes, or Python objects). Both are accepted. Each parser returns the
canonical values, with every bad value set to missing, and the list of issues; the
caller refuses the whole extract when there is any issue, so a bad value never
reaches a model as a silently changed or dropped one.

Text grammars (no surrounding spaces, no thousands separators, decimal point only):

- number: ``12``, ``-3.5``, ``.5``, ``1e3``; integer: a number without a fraction
  (``12`` or ``12.0``; ``12.5`` is an error, never rounded);
- boolean: ``true``/``false``/``1``/``0`` in any letter case;
- date: ``YYYY-MM-DD``, a real calendar day;
- category: exactly one of the schema's categories;
- label: exactly ``0`` or ``1``.

Canonical dtypes: number and integer -> float64 with NaN; boolean -> pandas
``boolean``; category -> object of str with None; date -> datetime64[ns] with NaT;
label -> int8; identifier -> object of str.
"""

from __future__ import annotations

import datetime as dt
import numbers
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api import types as ptypes

from models.extract.problems import (
    MSG_LABEL_MISSING,
    MSG_LABEL_NOT_BINARY,
    MSG_NOT_A_BOOLEAN,
    MSG_NOT_A_DATE,
    MSG_NOT_A_NUMBER,
    MSG_NOT_AN_INTEGER,
    MSG_NOT_TEXT,
    MSG_OUT_OF_RANGE,
    MSG_TIME_OF_DAY,
    MSG_UNKNOWN_CATEGORY,
    ProblemKind,
)

NUMBER_PATTERN = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
DATE_PATTERN = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
TRUE_TEXTS = ("true", "1")
FALSE_TEXTS = ("false", "0")

EXPECTED_NUMBER = "a number, e.g. 12 or 3.5 (decimal point, no spaces)"
EXPECTED_INTEGER = "a whole number, e.g. 12"
EXPECTED_BOOLEAN = "true/false or 1/0"
EXPECTED_DATE = "a date as YYYY-MM-DD"
EXPECTED_TEXT = "text (a pseudonymous reference)"
EXPECTED_LABEL = "0 or 1"

# The days a datetime64[ns] can hold; compared in days so that no unit conversion overflows.
_EARLIEST_DAY = np.datetime64("1677-09-22")
_LATEST_DAY = np.datetime64("2262-04-11")


@dataclass(frozen=True)
class ValueIssue:
    """Values of one column with the same fault."""

    kind: ProblemKind
    template: str
    expected: str
    mask: np.ndarray


@dataclass(frozen=True)
class ParsedColumn:
    """A column's canonical values (bad ones missing) and its issues."""

    values: Any
    issues: list[ValueIssue] = field(default_factory=list)
    valid: np.ndarray | None = None


@dataclass(frozen=True)
class ColumnValues:
    """One column split into missing values, text values and typed (non-text) values.

    Attributes
    ----------
    series : pandas.Series
        The column, re-indexed 0..n-1 (positions).
    missing : numpy.ndarray
        True where the value is missing (NaN, None, NA, NaT or the empty string).
    text : numpy.ndarray
        True where the value is a non-empty string.
    native : numpy.ndarray
        True where the value is present and not a string.
    """

    series: pd.Series
    missing: np.ndarray
    text: np.ndarray
    native: np.ndarray

    @classmethod
    def of(cls, column: pd.Series) -> ColumnValues:
        """Split a column (any dtype) into missing, text and native values."""
        series = column.reset_index(drop=True)
        if isinstance(series.dtype, pd.CategoricalDtype):
            series = series.astype(object)
        absent = series.isna().to_numpy(dtype=bool)
        if ptypes.is_object_dtype(series.dtype):
            raw = series.to_numpy(dtype=object)
            if pd.api.types.infer_dtype(raw, skipna=True) in ("string", "empty"):
                is_text = ~absent
            else:
                is_text = np.fromiter((isinstance(v, str) for v in raw), bool, count=len(raw))
            empty = np.zeros(len(raw), dtype=bool)
            if is_text.any():
                empty[is_text] = raw[is_text] == ""
            missing = absent | empty
            return cls(series, missing, is_text & ~missing, ~is_text & ~missing)
        if ptypes.is_string_dtype(series.dtype):
            empty = (series == "").to_numpy(dtype=bool, na_value=False)
            missing = absent | empty
            return cls(series, missing, ~missing, np.zeros(len(series), dtype=bool))
        return cls(series, absent, np.zeros(len(series), dtype=bool), ~absent)

    def __len__(self) -> int:
        """Return the number of rows."""
        return len(self.series)

    def with_missing_markers(self, markers: list[str]) -> ColumnValues:
        """Return the column with every value equal to a marker (e.g. ``"?"``) missing.

        A marker matches a text value exactly, or a typed value whose text is the
        marker (``-1`` matches the number -1).
        """
        if not markers:
            return self
        raw = self.series.to_numpy(dtype=object)
        present = ~self.missing
        hits = np.zeros(len(raw), dtype=bool)
        if present.any():
            hits[present] = np.isin(
                np.array([str(value) for value in raw[present]], dtype=object), markers
            )
        if self.native.any():  # a typed number: 2.0 is "2" too
            for position in np.flatnonzero(self.native & ~hits):
                value = raw[position]
                if _is_real_number(value) and float(value).is_integer():
                    hits[position] = str(int(value)) in markers
        if not hits.any():
            return self
        cleaned = raw.copy()
        cleaned[hits] = None
        column = pd.Series(list(cleaned), dtype="object")
        if self.native[~hits].any():  # typed values left: let them take their own dtype
            column = column.infer_objects()
        return ColumnValues.of(column)

    @cached_property
    def texts(self) -> pd.Series:
        """The text values as a ``str`` series indexed by position."""
        if not ptypes.is_object_dtype(self.series.dtype) and ptypes.is_string_dtype(
            self.series.dtype
        ):
            return self.series if self.text.all() else self.series[self.text]
        positions = np.flatnonzero(self.text)
        values = self.series.to_numpy(dtype=object)[positions]
        return pd.Series(values, index=positions, dtype="str")

    def native_items(self) -> list[tuple[int, Any]]:
        """(position, value) of every typed (non-text) value; for object columns."""
        raw = self.series.to_numpy(dtype=object)
        return [(int(i), raw[i]) for i in np.flatnonzero(self.native)]


def _text_to_float(texts: pd.Series) -> np.ndarray:
    """Convert texts already matched against NUMBER_PATTERN (arrow's cast is fast)."""
    as_arrow = pa.array(texts, type=pa.large_string())
    return np.asarray(pc.cast(as_arrow, pa.float64()).to_numpy(zero_copy_only=False))


def _is_real_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


def _native_by_element(
    column: ColumnValues, convert: Callable[[Any], Any], out: np.ndarray, bad: np.ndarray
) -> None:
    """Convert each typed value of an object column; ``convert`` raises ValueError if bad."""
    for position, value in column.native_items():
        try:
            out[position] = convert(value)
        except (TypeError, ValueError, OverflowError):
            bad[position] = True


def _number_from_object(value: Any) -> float:
    if not _is_real_number(value):
        raise ValueError("not a number")
    return float(value)


def parse_number(column: ColumnValues, *, integer: bool) -> ParsedColumn:
    """Parse a number or integer column into float64 (NaN where missing or bad)."""
    size = len(column)
    values = np.full(size, np.nan)
    bad = np.zeros(size, dtype=bool)
    if column.text.any():
        texts = column.texts
        ok = texts.str.fullmatch(NUMBER_PATTERN).to_numpy(dtype=bool)
        positions = texts.index.to_numpy()
        bad[positions[~ok]] = True
        if ok.any():
            values[positions[ok]] = _text_to_float(texts[ok])
    if column.native.any():
        dtype = column.series.dtype
        if ptypes.is_bool_dtype(dtype):
            bad |= column.native
        elif ptypes.is_numeric_dtype(dtype):
            numeric = column.series.to_numpy(dtype=float, na_value=np.nan)
            values[column.native] = numeric[column.native]
        elif ptypes.is_object_dtype(dtype):
            _native_by_element(column, _number_from_object, values, bad)
        else:
            bad |= column.native
    with np.errstate(invalid="ignore"):
        bad |= ~column.missing & ~bad & ~np.isfinite(values)
    values[bad] = np.nan
    issues = []
    if bad.any():
        expected = EXPECTED_INTEGER if integer else EXPECTED_NUMBER
        issues.append(ValueIssue(ProblemKind.WRONG_TYPE, MSG_NOT_A_NUMBER, expected, bad))
    if integer:
        with np.errstate(invalid="ignore"):
            fraction = ~np.isnan(values) & (np.mod(values, 1.0) != 0.0)
        if fraction.any():
            issues.append(
                ValueIssue(ProblemKind.WRONG_TYPE, MSG_NOT_AN_INTEGER, EXPECTED_INTEGER, fraction)
            )
            values[fraction] = np.nan
    return ParsedColumn(values, issues, ~np.isnan(values))


def _boolean_from_object(value: Any) -> bool:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if _is_real_number(value) and value in (0, 1):
        return bool(value == 1)
    raise ValueError("not a boolean")


def parse_boolean(column: ColumnValues) -> ParsedColumn:
    """Parse a boolean column into pandas ``boolean`` (NA where missing or bad)."""
    size = len(column)
    truth = np.zeros(size, dtype=bool)
    bad = np.zeros(size, dtype=bool)
    if column.text.any():
        texts = column.texts
        lowered = texts.str.lower()
        is_true = lowered.isin(TRUE_TEXTS).to_numpy(dtype=bool)
        is_false = lowered.isin(FALSE_TEXTS).to_numpy(dtype=bool)
        positions = texts.index.to_numpy()
        truth[positions[is_true]] = True
        bad[positions[~(is_true | is_false)]] = True
    if column.native.any():
        dtype = column.series.dtype
        if ptypes.is_bool_dtype(dtype):
            flags = column.series.to_numpy(dtype=bool, na_value=False)
            truth[column.native] = flags[column.native]
        elif ptypes.is_numeric_dtype(dtype):
            numeric = column.series.to_numpy(dtype=float, na_value=np.nan)
            truth[column.native] = numeric[column.native] == 1.0
            bad |= column.native & ~np.isin(numeric, (0.0, 1.0))
        elif ptypes.is_object_dtype(dtype):
            _native_by_element(column, _boolean_from_object, truth, bad)
        else:
            bad |= column.native
    issues = []
    if bad.any():
        issues.append(ValueIssue(ProblemKind.WRONG_TYPE, MSG_NOT_A_BOOLEAN, EXPECTED_BOOLEAN, bad))
    unknown = column.missing | bad
    values = pd.arrays.BooleanArray(truth & ~unknown, unknown)
    return ParsedColumn(values, issues, ~unknown)


def _date_from_object(value: Any) -> np.datetime64:
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            raise ValueError("timezone-aware")
        if value.time() != dt.time(0, 0):
            raise TypeError("time of day")
        value = value.date()
    if not isinstance(value, dt.date):
        raise ValueError("not a date")
    return np.datetime64(pd.Timestamp(value), "ns")


def parse_date(column: ColumnValues) -> ParsedColumn:
    """Parse a date column into datetime64[ns] (NaT where missing or bad)."""
    size = len(column)
    values = np.full(size, np.datetime64("NaT"), dtype="datetime64[ns]")
    bad = np.zeros(size, dtype=bool)
    timed = np.zeros(size, dtype=bool)
    if column.text.any():
        texts = column.texts
        ok = np.array(texts.str.fullmatch(DATE_PATTERN), dtype=bool)
        positions = texts.index.to_numpy()
        if ok.any():
            parsed = pd.to_datetime(texts[ok], format="%Y-%m-%d", errors="coerce").to_numpy()
            fits = (parsed >= _EARLIEST_DAY) & (parsed <= _LATEST_DAY)
            ok_positions = positions[ok]
            values[ok_positions[fits]] = parsed[fits].astype("datetime64[ns]")
            ok[np.flatnonzero(ok)[~fits]] = False
        bad[positions[~ok]] = True
    if column.native.any():
        dtype = column.series.dtype
        if ptypes.is_datetime64_dtype(dtype):
            stamps = column.series.to_numpy()
            fits = column.native & (stamps >= _EARLIEST_DAY) & (stamps <= _LATEST_DAY)
            bad |= column.native & ~fits
            values[fits] = stamps[fits].astype("datetime64[ns]")
            timed |= fits & (stamps.astype("datetime64[D]") != stamps)
        elif ptypes.is_object_dtype(dtype):
            for position, value in column.native_items():
                try:
                    values[position] = _date_from_object(value)
                except TypeError:
                    timed[position] = True
                except (ValueError, OverflowError, pd.errors.OutOfBoundsDatetime):
                    bad[position] = True
        else:
            bad |= column.native
    issues = []
    if bad.any():
        issues.append(ValueIssue(ProblemKind.WRONG_TYPE, MSG_NOT_A_DATE, EXPECTED_DATE, bad))
    if timed.any():
        issues.append(ValueIssue(ProblemKind.WRONG_TYPE, MSG_TIME_OF_DAY, EXPECTED_DATE, timed))
        values[timed] = np.datetime64("NaT")
    return ParsedColumn(values, issues, ~np.isnat(values))


def parse_category(column: ColumnValues, *, categories: list[str]) -> ParsedColumn:
    """Parse a category column into object str values (None where missing or bad)."""
    size = len(column)
    values = np.full(size, None, dtype=object)
    unknown = column.native.copy()
    if column.text.any():
        texts = column.texts
        known = texts.isin(categories).to_numpy(dtype=bool)
        positions = texts.index.to_numpy()
        values[positions[known]] = texts[known].to_numpy(dtype=object)
        unknown[positions[~known]] = True
    issues = []
    if unknown.any():
        expected = "one of " + ", ".join(categories)
        issues.append(
            ValueIssue(ProblemKind.UNKNOWN_CATEGORY, MSG_UNKNOWN_CATEGORY, expected, unknown)
        )
    return ParsedColumn(pd.Series(values, dtype=object), issues, column.text & ~unknown)


def parse_identifier(column: ColumnValues) -> ParsedColumn:
    """Parse an id column into object str values (text only; numbers are not ids)."""
    values = np.full(len(column), None, dtype=object)
    values[column.text] = column.series.to_numpy(dtype=object)[column.text]
    issues = []
    if column.native.any():
        issues.append(
            ValueIssue(ProblemKind.WRONG_TYPE, MSG_NOT_TEXT, EXPECTED_TEXT, column.native.copy())
        )
    return ParsedColumn(pd.Series(values, dtype=object), issues, column.text.copy())


def _label_from_object(value: Any) -> int:
    if isinstance(value, bool | np.bool_):
        return int(value)
    if _is_real_number(value) and value in (0, 1):
        return int(value)
    raise ValueError("not 0/1")


def parse_label(column: ColumnValues) -> ParsedColumn:
    """Parse a label column into int8 0/1; missing or other values are issues."""
    size = len(column)
    values = np.zeros(size, dtype=np.int8)
    bad = np.zeros(size, dtype=bool)
    if column.text.any():
        texts = column.texts
        ones = (texts == "1").to_numpy(dtype=bool)
        ok = ones | (texts == "0").to_numpy(dtype=bool)
        positions = texts.index.to_numpy()
        values[positions[ones]] = 1
        bad[positions[~ok]] = True
    if column.native.any():
        dtype = column.series.dtype
        if ptypes.is_bool_dtype(dtype) or ptypes.is_numeric_dtype(dtype):
            numeric = column.series.to_numpy(dtype=float, na_value=np.nan)
            ok = np.isin(numeric, (0.0, 1.0))
            values[column.native & ok] = (numeric[column.native & ok] == 1.0).astype(np.int8)
            bad |= column.native & ~ok
        elif ptypes.is_object_dtype(dtype):
            _native_by_element(column, _label_from_object, values, bad)
        else:
            bad |= column.native
    issues = []
    if bad.any():
        issues.append(
            ValueIssue(ProblemKind.INVALID_LABEL, MSG_LABEL_NOT_BINARY, EXPECTED_LABEL, bad)
        )
    if column.missing.any():
        issues.append(
            ValueIssue(
                ProblemKind.MISSING_VALUE, MSG_LABEL_MISSING, EXPECTED_LABEL, column.missing.copy()
            )
        )
    values[bad] = 0
    return ParsedColumn(values, issues, ~bad & ~column.missing)


def _bound_text(value: float | pd.Timestamp) -> str:
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    return f"{value:g}"


def range_issue(
    parsed: ParsedColumn, *, low: float | str | None, high: float | str | None, kind: str
) -> ValueIssue | None:
    """Return the values of a parsed number, integer or date column outside ``[low, high]``."""
    if low is None and high is None:
        return None
    convert: Callable[[float | str], float | pd.Timestamp]
    convert = pd.Timestamp if kind == "date" else float
    lower = convert(low) if low is not None else None
    upper = convert(high) if high is not None else None
    values = parsed.values
    outside = np.zeros(len(values), dtype=bool)
    with np.errstate(invalid="ignore"):
        if lower is not None:
            outside |= values < np.asarray(lower, dtype=values.dtype)
        if upper is not None:
            outside |= values > np.asarray(upper, dtype=values.dtype)
    if parsed.valid is not None:
        outside &= parsed.valid
    if not outside.any():
        return None
    if lower is not None and upper is not None:
        expected = f"between {_bound_text(lower)} and {_bound_text(upper)}"
    elif lower is not None:
        expected = f"at least {_bound_text(lower)}"
    else:
        assert upper is not None
        expected = f"at most {_bound_text(upper)}"
    return ValueIssue(ProblemKind.OUT_OF_RANGE, MSG_OUT_OF_RANGE, expected, outside)
