"""The honest split: train, calibration and a held-out test part.

The test part is never seen by fitting, early stopping, calibration or threshold
choice. When the schema declares a ``split`` by a column, that column's values say
which rows are test rows and which may be used for training (a predefined split, as
public data sets often ship). When the schema names a split date column (and the
config does not turn it off) the split is *out of time*: the latest registrations
form the test part, with every row of the cut-off day on the test side, as a model
trained today is used on tomorrow's clients. Otherwise rows are drawn at random. The
calibration part (also used for early stopping) is drawn at random from what is left.
When the schema has an id column, a client whose id appears in the test part never
appears in the others.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.schema import Schema
from training.config import SplitConfig

MSG_TOO_FEW_ROWS = (
    "too few rows to split: {rows} rows give {train} training, {calibration} calibration "
    "and {test} test rows; each part needs at least {minimum}"
)
MSG_NO_DATE_COLUMN = "out_of_time split asked for, but the schema names no split_date_column"
MSG_SPLIT_COLUMN_ABSENT = (
    "the schema splits by column {column!r}, but the extract has no such column"
)
MIN_PART_ROWS = 10


@dataclass(frozen=True)
class SplitIndices:
    """Row positions (``iloc``) of each part; disjoint and sorted."""

    train: np.ndarray
    calibration: np.ndarray
    test: np.ndarray
    method: str
    cutoff: str | None = None

    def sizes(self) -> dict[str, int]:
        """Row counts per part."""
        return {
            "train": int(self.train.size),
            "calibration": int(self.calibration.size),
            "test": int(self.test.size),
        }


def split_rows(frame: pd.DataFrame, *, schema: Schema, config: SplitConfig) -> SplitIndices:
    """Divide ``frame``'s rows into train, calibration and test positions.

    Parameters
    ----------
    frame : DataFrame
        The validated canonical frame.
    schema : Schema
        Gives the split date column and the id column, when it names them.
    config : SplitConfig
        Fractions, seed and whether to split out of time.

    Returns
    -------
    SplitIndices
        Disjoint sorted row positions.
    """
    rows = len(frame)
    rng = np.random.default_rng(config.seed)
    out_of_time = config.out_of_time
    if out_of_time is None:
        out_of_time = schema.split_date_column is not None
    if out_of_time and schema.split_date_column is None:
        raise ValueError(MSG_NO_DATE_COLUMN)
    cutoff: str | None = None
    allowed = np.ones(rows, dtype=bool)
    if schema.split is not None:
        test_mask, allowed = _column_parts(frame, schema)
        method = f"column({schema.split.column})"
    elif out_of_time:
        assert schema.split_date_column is not None
        test_mask, cutoff = _latest_rows(frame[schema.split_date_column], config.test_fraction)
        method = f"out_of_time({schema.split_date_column})"
    else:
        test_mask = np.zeros(rows, dtype=bool)
        test_mask[rng.permutation(rows)[: round(rows * config.test_fraction)]] = True
        method = "random"
    rest = ~test_mask & allowed
    if schema.id_column is not None and schema.id_column in frame.columns:
        ids = frame[schema.id_column]
        rest &= ~ids.isin(ids[test_mask]).to_numpy()
    rest_positions = np.flatnonzero(rest)
    calibration_count = round(rows * config.calibration_fraction)
    if schema.split is not None:  # the same share of the rows the column leaves for training
        share = config.calibration_fraction / (1 - config.test_fraction)
        calibration_count = round(rest_positions.size * min(share, 0.5))
    chosen = rng.permutation(rest_positions.size)[:calibration_count]
    calibration = np.sort(rest_positions[chosen])
    train = np.setdiff1d(rest_positions, calibration, assume_unique=True)
    test = np.flatnonzero(test_mask)
    if min(train.size, calibration.size, test.size) < MIN_PART_ROWS:
        raise ValueError(
            MSG_TOO_FEW_ROWS.format(
                rows=rows,
                train=train.size,
                calibration=calibration.size,
                test=test.size,
                minimum=MIN_PART_ROWS,
            )
        )
    return SplitIndices(
        train=train, calibration=calibration, test=test, method=method, cutoff=cutoff
    )


def sample_positions(positions: np.ndarray, size: int, seed: int) -> np.ndarray:
    """At most ``size`` of ``positions``, drawn without replacement (seeded) and sorted."""
    if positions.size <= size:
        return positions
    return np.sort(np.random.default_rng(seed).choice(positions, size=size, replace=False))


def _as_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _column_parts(frame: pd.DataFrame, schema: Schema) -> tuple[np.ndarray, np.ndarray]:
    """Test rows and the rows the training and calibration parts may use."""
    assert schema.split is not None
    column = schema.split.column
    if column not in frame.columns:
        raise ValueError(MSG_SPLIT_COLUMN_ABSENT.format(column=column))
    values = frame[column]
    texts = values.map(_as_text).where(values.notna(), None)
    test_mask = texts.isin(schema.split.test).to_numpy(dtype=bool)
    if schema.split.train:
        allowed = texts.isin(schema.split.train).to_numpy(dtype=bool)
    else:
        allowed = ~test_mask
    return test_mask, allowed


def _latest_rows(dates: pd.Series, fraction: float) -> tuple[np.ndarray, str]:
    """Rows on or after the cut-off day that leaves about ``fraction`` of rows after it."""
    day_numbers = pd.to_datetime(dates).to_numpy(dtype="datetime64[D]").astype(np.int64)
    cutoff = int(np.quantile(day_numbers, 1 - fraction, method="higher"))
    mask = day_numbers >= cutoff
    if mask.all():  # every row on one day: fall back to the strictly later part
        mask = day_numbers > cutoff
    return mask, str(np.datetime64(cutoff, "D"))
