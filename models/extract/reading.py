"""Read a register extract file (CSV or Parquet) exactly as it is, for validation.

A CSV file is read as text so that the validator sees what the file says, not what a
parser guessed: every value a string, only the empty string missing, no type
inference. A row with more or fewer fields than the header row is refused, never
padded or dropped, and duplicated column names are kept for the validator to report.
A Parquet file keeps its stored types. Errors name the file and never quote a value
that looks like a personal identity code.
"""

from __future__ import annotations

import csv
import gzip
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
from pyarrow import csv as pa_csv

from models.extract.identity_code import withhold_identity_codes
from models.extract.problems import ROW_SAMPLE_SIZE

CSV_SUFFIXES = (".csv", ".csv.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")

MSG_UNSUPPORTED_FORMAT = (
    "cannot read {path}: unsupported file type {suffix!r}; expected .csv, .csv.gz, .parquet or .pq"
)
MSG_NOT_FOUND = "cannot read {path}: no such file"
MSG_UNREADABLE = "cannot read {path}: {reason}"
MSG_WRONG_SEPARATOR = (
    "cannot read {path}: the header row has one column containing {separator!r}; "
    "tarve reads comma-separated files (save the extract as CSV with commas)"
)
MSG_EMPTY_FILE = "cannot read {path}: the file is empty (not even a header row)"
MSG_RAGGED_ROWS = (
    "cannot read {path}: {count} row(s) have a different number of fields than the header "
    "row (first lines: {lines}); nothing was filled in or dropped"
)


class ExtractReadError(ValueError):
    """An extract file cannot be read at all (missing, unsupported type, malformed)."""

    def __init__(self, message: str, *, path: str | Path) -> None:
        self.path = str(path)
        super().__init__(message)


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for suffix in CSV_SUFFIXES + PARQUET_SUFFIXES:
        if name.endswith(suffix):
            return suffix
    return path.suffix.lower()


def _csv_header(path: Path) -> list[str]:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as handle:
        return next(csv.reader(handle), [])


def _csv_table(
    path: Path, header: list[str], *, threads: bool
) -> tuple[pa.Table, list[int | None]]:
    ragged: list[int | None] = []

    def skip_ragged(row: Any) -> str:
        ragged.append(row.number)  # never row.text: it may hold personal data
        return "skip"

    table = pa_csv.read_csv(
        path,
        read_options=pa_csv.ReadOptions(use_threads=threads),
        parse_options=pa_csv.ParseOptions(newlines_in_values=True, invalid_row_handler=skip_ragged),
        convert_options=pa_csv.ConvertOptions(
            column_types={name: pa.string() for name in header},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    return table, ragged


def _read_csv(path: Path) -> pd.DataFrame:
    header = _csv_header(path)
    if not header:
        raise ExtractReadError(MSG_EMPTY_FILE.format(path=path), path=path)
    for separator in (";", "\t"):
        if len(header) == 1 and separator in header[0]:
            message = MSG_WRONG_SEPARATOR.format(path=path, separator=separator)
            raise ExtractReadError(message, path=path)
    table, ragged = _csv_table(path, header, threads=True)
    if ragged:
        # Line numbers are only known when reading on one thread: read again to name them.
        _, ragged = _csv_table(path, header, threads=False)
        lines = [str(line) for line in ragged if line is not None][:ROW_SAMPLE_SIZE]
        raise ExtractReadError(
            MSG_RAGGED_ROWS.format(path=path, count=len(ragged), lines=", ".join(lines) or "?"),
            path=path,
        )
    if table.column_names != header:
        reason = "the header row could not be parsed consistently"
        raise ExtractReadError(MSG_UNREADABLE.format(path=path, reason=reason), path=path)
    frame: pd.DataFrame = table.to_pandas()
    frame.columns = pd.Index(header, dtype=object)
    return frame


def read_extract(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet extract as it is, without converting any value.

    A CSV file (UTF-8, comma-separated, with a header row; ``.csv`` or ``.csv.gz``) is
    read as text: every value a string, the empty string meaning missing, nothing
    else (not "NA", not "null") treated as missing. Duplicated column names are kept
    (the validator reports them), and a row with more or fewer fields than the
    header is an error, never padded or dropped. A Parquet file (``.parquet`` or
    ``.pq``) keeps its stored types.

    Parameters
    ----------
    path : str or pathlib.Path
        The extract file.

    Returns
    -------
    pandas.DataFrame
        The raw frame, for :func:`validate_frame`.

    Raises
    ------
    ExtractReadError
        The file does not exist, has an unsupported type, or cannot be parsed; the
        message names the file.
    """
    file = Path(path)
    suffix = _suffix(file)
    if suffix not in CSV_SUFFIXES + PARQUET_SUFFIXES:
        raise ExtractReadError(MSG_UNSUPPORTED_FORMAT.format(path=file, suffix=suffix), path=file)
    if not file.is_file():
        raise ExtractReadError(MSG_NOT_FOUND.format(path=file), path=file)
    try:
        if suffix in CSV_SUFFIXES:
            return _read_csv(file)
        return pd.read_parquet(file)
    except UnicodeDecodeError as exc:
        reason = f"not UTF-8 text ({exc.reason} at byte {exc.start})"
        raise ExtractReadError(MSG_UNREADABLE.format(path=file, reason=reason), path=file) from exc
    except ExtractReadError:
        raise
    except (OSError, ValueError) as exc:
        # pyarrow's ArrowInvalid is a ValueError. Its text could quote a value: redact.
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        reason = withhold_identity_codes(first_line) or type(exc).__name__
        raise ExtractReadError(MSG_UNREADABLE.format(path=file, reason=reason), path=file) from exc
