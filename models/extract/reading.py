"""Read a register extract file (CSV or Parquet) exactly as it is, for validation.

A CSV file is read as text so that the validator sees what the file says, not what a
parser guessed: every value a string, only the empty string missing, no type
inference. A row with more or fewer fields than the header row is refused, never
padded or dropped, and duplicated column names are kept for the validator to report.
A Parquet file keeps its stored types. Errors name the file and never quote a value
that looks like a personal identity code.

Bounded: the number of columns (and, when asked, of rows) is checked *before* the file
is parsed, from the header row or the Parquet footer, so a file of ten million columns
is a short error, not an exhausted memory. Every *decoded* value (not the file's
bytes: a compressed Parquet file hides them from a byte scan) and every column name is
scanned for personal identity codes; a file holding one is refused unless the caller
asks to keep them for its own report (the extract validator does).
"""

from __future__ import annotations

import csv
import gzip
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import csv as pa_csv

from models.extract.identity_code import (
    contains_identity_code,
    scan_identity_codes,
    withhold_identity_codes,
)
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

MSG_TOO_MANY_COLUMNS = "cannot read {path}: {count} columns; at most {limit} are read"
MSG_HEADER_TOO_LONG = (
    "cannot read {path}: the header row is longer than {limit} bytes; "
    "at most {columns} columns are read"
)
MSG_TOO_MANY_ROWS = "cannot read {path}: more than {limit} rows; at most {limit} are read"
MSG_IDENTITY_CODES = (
    "cannot read {path}: {where} hold(s) values shaped like Finnish personal identity "
    "codes (henkilötunnus); values withheld. Refer to clients by a pseudonymous id"
)
MAX_COLUMNS = 10_000
MAX_HEADER_BYTES = 4 * 1024 * 1024
_CHUNK = 1024 * 1024
IdentityCodePolicy = Literal["refuse", "keep"]


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


class IdentityCodesInExtract(ExtractReadError):
    """The file holds identity codes; ``columns`` names where (positions when names hold them)."""

    def __init__(self, message: str, *, path: str | Path, columns: list[str]) -> None:
        self.columns = columns
        super().__init__(message, path=path)


def _open_binary(path: Path) -> Any:
    return gzip.open(path, "rb") if path.name.lower().endswith(".gz") else path.open("rb")


def _csv_header(path: Path, max_columns: int = MAX_COLUMNS) -> list[str]:
    """Return the header row, read with bounded memory; too long or too wide is an error."""
    with _open_binary(path) as handle:
        first = handle.readline(MAX_HEADER_BYTES + 1)
    if len(first) > MAX_HEADER_BYTES and not first.endswith(b"\n"):
        message = MSG_HEADER_TOO_LONG.format(path=path, limit=MAX_HEADER_BYTES, columns=max_columns)
        raise ExtractReadError(message, path=path)
    if first.count(b",") + 1 > max_columns and b'"' not in first:
        count = first.count(b",") + 1
        message = MSG_TOO_MANY_COLUMNS.format(path=path, count=count, limit=max_columns)
        raise ExtractReadError(message, path=path)
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as text:
        header = next(csv.reader(text), [])
    if len(header) > max_columns:
        message = MSG_TOO_MANY_COLUMNS.format(path=path, count=len(header), limit=max_columns)
        raise ExtractReadError(message, path=path)
    return header


def _count_lines_over(path: Path, limit: int) -> bool:
    """Whether the file has more than ``limit`` data rows (by line count, streamed)."""
    lines = 0
    with _open_binary(path) as handle:
        while chunk := handle.read(_CHUNK):
            lines += chunk.count(b"\n")
            if lines > limit + 1:
                return True
    return False


def check_extract_shape(
    path: str | Path, *, max_columns: int = MAX_COLUMNS, max_rows: int | None = None
) -> None:
    """Refuse a file with too many columns or rows before anything parses it.

    Raises
    ------
    ExtractReadError
        Over a cap (a short message: counts only), or not readable at all.
    """
    file = Path(path)
    suffix = _suffix(file)
    try:
        if suffix in PARQUET_SUFFIXES:
            metadata = pq.ParquetFile(file).metadata
            columns, rows = metadata.num_columns, metadata.num_rows
            if columns > max_columns:
                message = MSG_TOO_MANY_COLUMNS.format(path=file, count=columns, limit=max_columns)
                raise ExtractReadError(message, path=file)
            if max_rows is not None and rows > max_rows:
                raise ExtractReadError(
                    MSG_TOO_MANY_ROWS.format(path=file, limit=max_rows), path=file
                )
            return
        _csv_header(file, max_columns)
        if max_rows is not None and _count_lines_over(file, max_rows):
            raise ExtractReadError(MSG_TOO_MANY_ROWS.format(path=file, limit=max_rows), path=file)
    except (ExtractReadError, UnicodeDecodeError):
        raise
    except (OSError, ValueError) as exc:
        reason = withhold_identity_codes(str(exc).strip().split("\n")[0]) or type(exc).__name__
        raise ExtractReadError(MSG_UNREADABLE.format(path=file, reason=reason), path=file) from exc


def refuse_identity_codes(frame: pd.DataFrame, path: str | Path) -> None:
    """Raise :class:`IdentityCodesInExtract` if any decoded value or name holds a code."""
    where: list[str] = []
    for position, name in enumerate(frame.columns):
        label = f"column {position + 1}"
        if contains_identity_code(str(name)):
            where.append(label + " (its name)")
            continue
        column = frame.iloc[:, position]
        if isinstance(column.dtype, pd.CategoricalDtype):
            texts = pd.Series(column.cat.categories.astype(str))
        elif column.dtype == object or pd.api.types.is_string_dtype(column.dtype):
            texts = column.dropna().astype(str).reset_index(drop=True)
        else:
            continue
        if scan_identity_codes(texts).count:
            where.append(f"{label} ({name!s})")
    if where:
        message = MSG_IDENTITY_CODES.format(path=path, where=", ".join(where))
        raise IdentityCodesInExtract(message, path=path, columns=where)


def _csv_table(
    path: Path, header: list[str], *, threads: bool
) -> tuple[pa.Table, list[int | None]]:
    ragged: list[int | None] = []

    def skip_ragged(row: Any) -> str:
        ragged.append(row.number)  # never row.text: it may hold personal data
        return "skip"

    header_bytes = sum(len(name.encode()) + 3 for name in header)
    block_size = max(1 << 20, 2 * header_bytes)  # a wide header must fit in one block
    table = pa_csv.read_csv(
        path,
        read_options=pa_csv.ReadOptions(use_threads=threads, block_size=block_size),
        parse_options=pa_csv.ParseOptions(newlines_in_values=True, invalid_row_handler=skip_ragged),
        convert_options=pa_csv.ConvertOptions(
            column_types={name: pa.string() for name in header},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    return table, ragged


def _read_csv(path: Path, max_columns: int) -> pd.DataFrame:
    header = _csv_header(path, max_columns)
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


def read_extract(
    path: str | Path,
    *,
    max_columns: int = MAX_COLUMNS,
    max_rows: int | None = None,
    identity_codes: IdentityCodePolicy = "refuse",
) -> pd.DataFrame:
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
    max_columns : int
        Most columns read; checked before parsing.
    max_rows : int, optional
        Most rows read; checked before parsing (no limit by default).
    identity_codes : {"refuse", "keep"}
        Refuse a file whose decoded values or column names hold identity codes
        (:class:`IdentityCodesInExtract`), or keep them for a caller that reports them
        itself (the validator).

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
        check_extract_shape(file, max_columns=max_columns, max_rows=max_rows)
        frame = _read_csv(file, max_columns) if suffix in CSV_SUFFIXES else pd.read_parquet(file)
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
    if identity_codes == "refuse":
        refuse_identity_codes(frame, file)
    return frame
