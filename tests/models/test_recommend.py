"""Suggestions: eligibility rules see only the data the client consented to."""

from __future__ import annotations

from models.recommend import _consented
from models.schema import load_schema


def test_eligibility_does_not_read_unconsented_sources() -> None:
    schema = load_schema()
    record = {"age": 30, "chronic_illness": True}
    assert _consented(schema, record, set()) == {"age": 30}
    assert _consented(schema, record, {"health"}) is record
