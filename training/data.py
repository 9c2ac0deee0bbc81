"""Training data in: an extract file or a frame, validated against the schema first.

A file goes through the shared validator (:mod:`models.extract.validation`); so does an
in-memory frame. Any problem stops training with :class:`ExtractValidationError`,
whose message lists every problem the validator found.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from models.extract.validation import ExtractValidationError, read_extract, validate_frame
from models.schema import Schema


def load_training_frame(
    data: str | Path | pd.DataFrame, *, schema: Schema
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read and validate the training frame; return it with its data profile.

    Parameters
    ----------
    data : str, Path or DataFrame
        A CSV or Parquet extract, or a frame (raw text or canonical dtypes).
    schema : Schema
        The schema the data must follow; every label column is required.

    Returns
    -------
    frame : DataFrame
        Canonical dtypes, a fresh RangeIndex.
    profile : dict
        Rows, missing share per field, label prevalences, ignored columns.

    Raises
    ------
    models.extract.validation.ExtractReadError
        The file cannot be read.
    models.extract.validation.ExtractValidationError
        The data breaks the schema; every problem is listed.
    """
    source: str | None = None
    if isinstance(data, pd.DataFrame):
        raw = data
    else:
        source = str(data)
        raw = read_extract(data, identity_codes="keep")  # the validator reports them
    result = validate_frame(raw, schema, require_labels=True)
    if result.frame is None:
        raise ExtractValidationError(result, source=source)
    return result.frame, result.profile.to_dict()
