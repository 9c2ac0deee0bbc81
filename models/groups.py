"""Audit-group membership of each client, computed from the schema's audit groups."""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.rules import evaluate_rule
from models.schema import AuditGroup, Schema

NOT_IN_ANY_BIN = "other"


def audit_group_values(group: AuditGroup, frame: pd.DataFrame) -> pd.Series:
    """One audit attribute's value per row, as strings.

    Rule groups give ``"yes"``/``"no"``; field groups give the category (or ``"missing"``);
    binned groups give the bin name.
    """
    if group.rule is not None:
        member = evaluate_rule(group.rule, frame)
        return pd.Series(np.where(member, "yes", "no"), index=frame.index, name=group.name)
    assert group.field is not None
    values = frame[group.field]
    if group.bins:
        numeric = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        labels = np.full(len(frame), NOT_IN_ANY_BIN, dtype=object)
        for band in group.bins:
            labels[(numeric >= band.min) & (numeric <= band.max)] = band.name
        return pd.Series(labels, index=frame.index, name=group.name)
    as_text = values.astype("string").fillna("missing").astype(object)
    return pd.Series(as_text, index=frame.index, name=group.name)


def audit_group_frame(schema: Schema, frame: pd.DataFrame) -> pd.DataFrame:
    """All audit attributes of the schema for every row (columns named by group)."""
    return pd.DataFrame(
        {group.name: audit_group_values(group, frame) for group in schema.audit_groups},
        index=frame.index,
    )
