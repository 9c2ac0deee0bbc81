"""Declarative yes/no rules over a record: eligibility of a service, derived audit groups.

A rule is ``{field, op, value}`` or ``{all: [rules]}`` / ``{any: [rules]}``. A missing
value never satisfies a comparison (only ``is_missing`` matches it), so an eligibility
rule on a missing field reads "not shown to be eligible".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, model_validator

Op = Literal[
    "eq", "ne", "lt", "le", "gt", "ge", "in", "not_in", "is_true", "is_false", "is_missing",
    "not_missing",
]  # fmt: skip
_UNARY = {"is_true", "is_false", "is_missing", "not_missing"}


class Rule(BaseModel):
    """A condition on a record: a comparison of one field, or ``all``/``any`` of rules."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str | None = None
    op: Op | None = None
    value: Any = None
    all: list[Rule] | None = None
    any: list[Rule] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Rule:
        kinds = sum(x is not None for x in (self.field, self.all, self.any))
        if kinds != 1:
            raise ValueError("a rule needs exactly one of 'field', 'all' or 'any'")
        if self.field is not None:
            if self.op is None:
                raise ValueError(f"rule on {self.field!r} needs an 'op'")
            if self.op not in _UNARY and self.value is None:
                raise ValueError(f"rule on {self.field!r} with op {self.op!r} needs a 'value'")
            if self.op in ("in", "not_in") and not isinstance(self.value, list):
                raise ValueError(f"rule on {self.field!r}: op {self.op!r} needs a list value")
        return self


def rule_fields(rule: Rule) -> list[str]:
    """Return the field names a rule reads."""
    if rule.field is not None:
        return [rule.field]
    return [name for child in (rule.all or rule.any or []) for name in rule_fields(child)]


def _compare(values: pd.Series, op: str, value: Any) -> np.ndarray:
    present = values.notna().to_numpy()
    if op == "is_missing":
        return ~present
    if op == "not_missing":
        return present
    if op in ("is_true", "is_false"):
        wanted = op == "is_true"
        result = values.map(lambda v: bool(v) == wanted if pd.notna(v) else False)
        return result.to_numpy(dtype=bool)
    if op == "in":
        return values.isin(value).to_numpy() & present
    if op == "not_in":
        return ~values.isin(value).to_numpy() & present
    filled = values.where(values.notna(), other=np.nan)
    comparisons = {
        "eq": filled == value,
        "ne": filled != value,
    }
    if op in comparisons:
        return np.asarray(comparisons[op].to_numpy(dtype=bool) & present)
    numeric = pd.to_numeric(filled, errors="coerce").to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        result = {
            "lt": numeric < value,
            "le": numeric <= value,
            "gt": numeric > value,
            "ge": numeric >= value,
        }[op]
    return np.asarray(result & present)


def evaluate_rule(rule: Rule, frame: pd.DataFrame) -> np.ndarray:
    """Evaluate a rule on every row of a frame; returns a boolean array."""
    if rule.all is not None:
        result = np.ones(len(frame), dtype=bool)
        for child in rule.all:
            result &= evaluate_rule(child, frame)
        return result
    if rule.any is not None:
        result = np.zeros(len(frame), dtype=bool)
        for child in rule.any:
            result |= evaluate_rule(child, frame)
        return result
    assert rule.field is not None
    assert rule.op is not None
    if rule.field not in frame.columns:
        return np.zeros(len(frame), dtype=bool) | (rule.op == "is_missing")
    return _compare(frame[rule.field], rule.op, rule.value)


def evaluate_rule_on_record(rule: Rule, record: Mapping[str, Any]) -> bool:
    """Evaluate a rule on one record (a mapping of field name to value)."""
    if rule.all is not None:
        return all(evaluate_rule_on_record(child, record) for child in rule.all)
    if rule.any is not None:
        return any(evaluate_rule_on_record(child, record) for child in rule.any)
    value = record.get(str(rule.field))
    missing = value is None or (isinstance(value, float) and np.isnan(value))
    op = rule.op
    if op == "is_missing":
        return missing
    if op == "not_missing":
        return not missing
    if missing:
        return False
    if op == "is_true":
        return bool(value)
    if op == "is_false":
        return not bool(value)
    if op == "in":
        return bool(value in rule.value)
    if op == "not_in":
        return bool(value not in rule.value)
    if op == "eq":
        return bool(value == rule.value)
    if op == "ne":
        return bool(value != rule.value)
    numeric = float(value)  # type: ignore[arg-type]
    return bool(
        {
            "lt": numeric < rule.value,
            "le": numeric <= rule.value,
            "gt": numeric > rule.value,
            "ge": numeric >= rule.value,
        }[str(op)]
    )
