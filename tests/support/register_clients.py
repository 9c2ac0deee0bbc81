"""API clients from register rows: each row's profile and consents as a request carries them."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from models.schema import Schema


def request_value(value: Any, kind: str) -> Any:
    """Return a canonical frame value as JSON sends it (None for missing)."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if kind == "integer":
        return int(value)
    if kind == "number":
        return float(value)
    if kind == "boolean":
        return bool(value)
    if kind == "date":
        return pd.Timestamp(value).date().isoformat()
    return value


def register_clients(
    frame: pd.DataFrame, schema: Schema, *, all_consents: bool = False
) -> list[dict[str, Any]]:
    """Build one API client per row of a canonical (validated) register frame.

    Parameters
    ----------
    frame : pandas.DataFrame
        Validated rows (``models.extract.validate_frame(...).frame``).
    schema : Schema
        The served model's schema.
    all_consents : bool, default False
        Consent to every consent-only source, whatever the row's consent columns say.

    Returns
    -------
    list of dict
        ``client_ref``, ``consents`` and ``profile`` of each row.
    """
    from service.request_model import request_fields

    specs = request_fields(schema)
    clients = []
    for row in frame.to_dict("records"):
        profile = {
            spec.name: value
            for spec in specs
            if (value := request_value(row[spec.name], spec.type)) is not None
        }
        consents = [
            name
            for name, source in schema.consent_sources.items()
            if all_consents or bool(row[str(source.consent_column)])
        ]
        clients.append({"client_ref": row["client_ref"], "consents": consents, "profile": profile})
    return clients
