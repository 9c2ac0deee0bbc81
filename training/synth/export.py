"""Write a register frame to CSV or Parquet (chosen by the file extension).

On disk: integer fields as integers (nullable), numbers as floats, booleans as
``true``/``false``, categories as text, dates as ``YYYY-MM-DD`` in CSV (a timestamp in
Parquet), missing values as empty CSV cells / Parquet nulls.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from models.schema import Schema, load_schema

MSG_UNSUPPORTED_FORMAT = "cannot write {path}: use a .csv or .parquet file name"
SUFFIXES = (".csv", ".parquet")


def _arrow_column(values: pd.Series, *, integer: bool, as_date: bool) -> pa.Array:
    if integer:
        numbers = values.to_numpy(dtype=np.float64)
        missing = np.isnan(numbers)
        return pa.array(np.where(missing, 0, numbers).astype(np.int64), mask=missing)
    if as_date:
        return pa.array(
            values.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]"), type=pa.date32()
        )
    if isinstance(values.dtype, pd.BooleanDtype):
        return pa.array(values, type=pa.bool_(), from_pandas=True)
    if values.dtype == object:
        return pa.array(values.to_numpy(), type=pa.string(), from_pandas=True)
    return pa.array(values.to_numpy(), from_pandas=True)


def register_table(frame: pd.DataFrame, *, schema: Schema, dates_as_text: bool) -> pa.Table:
    """Return the frame as an Arrow table with the on-disk types described above."""
    types = {spec.name: spec.type for spec in schema.fields}
    arrays = [
        _arrow_column(
            frame[name],
            integer=types.get(name) == "integer",
            as_date=dates_as_text and types.get(name) == "date",
        )
        for name in frame.columns
    ]
    return pa.Table.from_arrays(arrays, names=[str(name) for name in frame.columns])


def _write_csv(table: pa.Table, target: Path) -> None:
    """Plain CSV: no quotes unless a value needs them (a comma, quote or line break)."""
    header = ",".join(table.column_names) + "\n"
    for quoting in ("none", "needed"):
        options = pa_csv.WriteOptions(include_header=False, quoting_style=quoting)
        try:
            with target.open("wb") as sink:
                sink.write(header.encode("utf-8"))
                pa_csv.write_csv(table, sink, write_options=options)
        except pa.ArrowInvalid:
            continue
        return


def write_register(frame: pd.DataFrame, path: str | Path, *, schema: Schema | None = None) -> Path:
    """Write a register to ``path``; the extension (.csv or .parquet) picks the format.

    Parameters
    ----------
    frame : pandas.DataFrame
        A frame in canonical dtypes, e.g. from :func:`generate_register`.
    path : str or pathlib.Path
        Target file; parent folders are created.
    schema : Schema, optional
        Tells which fields are integers and dates; the default schema when omitted.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    ValueError
        The extension is neither .csv nor .parquet.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(MSG_UNSUPPORTED_FORMAT.format(path=target))
    schema = schema if schema is not None else load_schema()
    target.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        _write_csv(register_table(frame, schema=schema, dates_as_text=True), target)
    else:
        pq.write_table(register_table(frame, schema=schema, dates_as_text=False), target)
    return target
