"""The honest split: disjoint parts, test never leaks, out-of-time cut by date."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.schema import Schema, load_schema
from training.config import SplitConfig
from training.split import MSG_NO_DATE_COLUMN, split_rows


def _frame(rows: int, *, seed: int = 0, repeat_ids: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ids = [f"C{i % (rows // 2) if repeat_ids else i:06d}" for i in range(rows)]
    days = pd.Timestamp("2021-03-01") + pd.to_timedelta(rng.integers(0, 400, rows), unit="D")
    return pd.DataFrame({"client_ref": ids, "registered_on": days})


@pytest.fixture(scope="module")
def schema() -> Schema:
    return load_schema()


def _assert_partition(split, rows: int) -> None:
    parts = [split.train, split.calibration, split.test]
    together = np.concatenate(parts)
    assert len(np.unique(together)) == together.size, "parts overlap"
    assert set(together) <= set(range(rows))
    for part in parts:
        assert part.size > 0


@pytest.mark.parametrize("out_of_time", [True, False])
def test_parts_are_disjoint_and_test_never_leaks(schema: Schema, out_of_time: bool) -> None:
    frame = _frame(5000)
    split = split_rows(frame, schema=schema, config=SplitConfig(out_of_time=out_of_time))
    _assert_partition(split, len(frame))
    assert not set(split.test) & (set(split.train) | set(split.calibration))
    test_ids = set(frame["client_ref"].iloc[split.test])
    seen_ids = set(frame["client_ref"].iloc[np.concatenate([split.train, split.calibration])])
    assert not test_ids & seen_ids
    assert split.test.size == pytest.approx(1000, rel=0.1)


def test_out_of_time_test_part_is_the_latest_registrations(schema: Schema) -> None:
    frame = _frame(5000)
    split = split_rows(frame, schema=schema, config=SplitConfig())
    assert split.method.startswith("out_of_time")
    dates = frame["registered_on"]
    assert dates.iloc[split.test].min() > dates.iloc[split.train].max()
    assert dates.iloc[split.test].min() > dates.iloc[split.calibration].max()
    assert split.cutoff == dates.iloc[split.test].min().date().isoformat()


def test_a_client_in_test_never_appears_in_training(schema: Schema) -> None:
    frame = _frame(4000, repeat_ids=True)
    split = split_rows(frame, schema=schema, config=SplitConfig(out_of_time=False))
    test_ids = set(frame["client_ref"].iloc[split.test])
    other = np.concatenate([split.train, split.calibration])
    assert not test_ids & set(frame["client_ref"].iloc[other])


def test_split_is_deterministic_for_a_seed(schema: Schema) -> None:
    frame = _frame(3000)
    config = SplitConfig(out_of_time=False, seed=3)
    first = split_rows(frame, schema=schema, config=config)
    second = split_rows(frame, schema=schema, config=config)
    np.testing.assert_array_equal(first.calibration, second.calibration)
    np.testing.assert_array_equal(first.test, second.test)


def test_out_of_time_without_a_date_column_is_an_error() -> None:
    schema = load_schema().model_copy(update={"split_date_column": None})
    with pytest.raises(ValueError, match=MSG_NO_DATE_COLUMN):
        split_rows(_frame(100), schema=schema, config=SplitConfig(out_of_time=True))


def test_too_few_rows_is_an_error(schema: Schema) -> None:
    with pytest.raises(ValueError, match="too few rows to split"):
        split_rows(_frame(20), schema=schema, config=SplitConfig(out_of_time=False))
