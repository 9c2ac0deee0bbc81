"""Fixtures of the extract tests: the default schema and a valid six-row extract."""

from __future__ import annotations

import pandas as pd
import pytest

from models.schema import Schema, load_schema
from tests.support.sample_extracts import canonical_sample, text_sample


@pytest.fixture(scope="module")
def schema() -> Schema:
    return load_schema()


@pytest.fixture
def canonical_frame(schema: Schema) -> pd.DataFrame:
    """Return a valid extract as the canonical typed frame (6 rows)."""
    return canonical_sample(schema)


@pytest.fixture
def text_frame(schema: Schema) -> pd.DataFrame:
    """Return the same extract as raw text, the way a CSV file is read."""
    return text_sample(schema)
