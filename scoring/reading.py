"""Read an extract in chunks of a fixed number of rows, with the shared reader's rules.

A CSV file is read as text exactly as :func:`models.extract.read_extract` reads it
(every value a string, only the empty string missing, a row with the wrong number of
fields refused), but streamed with ``pyarrow.csv.open_csv`` so that memory stays
bounded; a Parquet file is read by row batches. Chunk boundaries depend only on the
file and the chunk size, so an interrupted run can resume at a chunk.
"""

from __future__ import annotations

import csv
import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import csv as pa_csv

from models.extract.identity_code import withhold_identity_codes
from models.extract.reading import (
    CSV_SUFFIXES,
    MSG_EMPTY_FILE,
    MSG_NOT_FOUND,
    MSG_RAGGED_ROWS,
    MSG_UNREADABLE,
    MSG_UNSUPPORTED_FORMAT,
    MSG_WRONG_SEPARATOR,
    PARQUET_SUFFIXES,
    ExtractReadError,
)

CSV_BLOCK_BYTES = 8 << 20


@dataclass(frozen=True)
class Chunk:
    """Rows ``offset + 1`` to ``offset + len(frame)`` of the extract (raw, unvalidated)."""

    index: int
    offset: int
    frame: pd.DataFrame


def extract_format(path: Path) -> str:
    """``"csv"`` or ``"parquet"`` by the file name; raises for anything else."""
    name = path.name.lower()
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    raise ExtractReadError(MSG_UNSUPPORTED_FORMAT.format(path=path, suffix=path.suffix), path=path)


def _csv_header(path: Path) -> list[str]:
    opener: Any = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as handle:
        return next(csv.reader(handle), [])


class ExtractChunks:
    """Iterate an extract in chunks of ``chunk_rows`` rows.

    Parameters
    ----------
    path : pathlib.Path
        A CSV (``.csv``, ``.csv.gz``) or Parquet (``.parquet``, ``.pq``) file.
    chunk_rows : int
        Rows per chunk (the last one may hold fewer).
    """

    def __init__(self, path: Path, *, chunk_rows: int) -> None:
        self.path = path
        self.chunk_rows = chunk_rows
        self.format = extract_format(path)
        if not path.is_file():
            raise ExtractReadError(MSG_NOT_FOUND.format(path=path), path=path)
        self.header: list[str] = []
        self.ragged = 0
        if self.format == "csv":
            self.header = self._checked_header()
        else:
            self.header = list(pq.ParquetFile(path).schema_arrow.names)

    def _checked_header(self) -> list[str]:
        try:
            header = _csv_header(self.path)
        except UnicodeDecodeError as exc:
            reason = f"not UTF-8 text ({exc.reason} at byte {exc.start})"
            raise ExtractReadError(
                MSG_UNREADABLE.format(path=self.path, reason=reason), path=self.path
            ) from exc
        if not header:
            raise ExtractReadError(MSG_EMPTY_FILE.format(path=self.path), path=self.path)
        for separator in (";", "\t"):
            if len(header) == 1 and separator in header[0]:
                message = MSG_WRONG_SEPARATOR.format(path=self.path, separator=separator)
                raise ExtractReadError(message, path=self.path)
        return header

    def rows(self) -> int | None:
        """Return the number of data rows when known without reading (Parquet), else None."""
        if self.format == "parquet":
            return int(pq.ParquetFile(self.path).metadata.num_rows)
        return None

    def empty_frame(self) -> pd.DataFrame:
        """Return a frame with the header's columns and no rows."""
        return pd.DataFrame({name: pd.Series([], dtype=object) for name in self.header})

    def _batches(self) -> Iterator[pa.RecordBatch]:
        if self.format == "parquet":
            yield from pq.ParquetFile(self.path).iter_batches(batch_size=self.chunk_rows)
            return
        self.ragged = 0

        def skip_ragged(row: Any) -> str:
            self.ragged += 1  # never row.text: it may hold personal data
            return "skip"

        reader = pa_csv.open_csv(
            self.path,
            read_options=pa_csv.ReadOptions(use_threads=True, block_size=CSV_BLOCK_BYTES),
            parse_options=pa_csv.ParseOptions(
                newlines_in_values=True, invalid_row_handler=skip_ragged
            ),
            convert_options=pa_csv.ConvertOptions(
                column_types={name: pa.string() for name in self.header},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
        yield from reader

    def _frame(self, table: pa.Table) -> pd.DataFrame:
        if self.format == "csv":
            frame: pd.DataFrame = table.to_pandas()
            frame.columns = pd.Index(self.header, dtype=object)
            return frame
        # Booleans with missing values as pandas "boolean", not objects: same values, and
        # the validator checks them column-wise instead of value by value.
        typed: pd.DataFrame = table.to_pandas(types_mapper={pa.bool_(): pd.BooleanDtype()}.get)
        return typed

    def __iter__(self) -> Iterator[Chunk]:
        """Yield the chunks in file order."""
        pending: list[pa.RecordBatch] = []
        pending_rows = 0
        index = offset = 0
        try:
            for batch in self._batches():
                pending.append(batch)
                pending_rows += batch.num_rows
                while pending_rows >= self.chunk_rows:
                    table = pa.Table.from_batches(pending)
                    head, rest = table.slice(0, self.chunk_rows), table.slice(self.chunk_rows)
                    yield Chunk(index, offset, self._frame(head))
                    index, offset = index + 1, offset + self.chunk_rows
                    pending, pending_rows = rest.to_batches(), rest.num_rows
            if pending_rows:
                yield Chunk(index, offset, self._frame(pa.Table.from_batches(pending)))
        except (OSError, pa.ArrowInvalid) as exc:
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            reason = withhold_identity_codes(first_line) or type(exc).__name__
            raise ExtractReadError(
                MSG_UNREADABLE.format(path=self.path, reason=reason), path=self.path
            ) from exc

    def check_complete(self) -> None:
        """After a full pass: refuse the file if any row had the wrong number of fields."""
        if self.ragged:
            raise ExtractReadError(
                MSG_RAGGED_ROWS.format(path=self.path, count=self.ragged, lines="?"),
                path=self.path,
            )
