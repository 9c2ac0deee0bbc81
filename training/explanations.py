"""Explanations for the whole population: what drives each service's score on the test split.

Per service and input field: the mean absolute TreeSHAP contribution (log-odds), the
mean signed one, and the direction of effect (do higher values raise or lower the
need; for a category, which category raises it most and which lowers it most). The
protected attributes are summed, so the card says how much of the score they carry
even though they are never a reason. The result is plain JSON: it goes into the
model's metadata (the artifact), ``explanations.json`` (MLflow) and
``GET /v1/model/explanations``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from models.model import ServiceNeedModel

EXPLANATIONS_FILE = "explanations.json"
MIN_CORRELATION = 0.05


def _direction(values: np.ndarray, contributions: np.ndarray) -> tuple[str, float | None]:
    present = ~np.isnan(values)
    if present.sum() < 3 or np.std(values[present]) == 0 or np.std(contributions[present]) == 0:
        return "none", None
    correlation = float(np.corrcoef(values[present], contributions[present])[0, 1])
    if correlation >= MIN_CORRELATION:
        return "higher_raises", correlation
    if correlation <= -MIN_CORRELATION:
        return "higher_lowers", correlation
    return "mixed", correlation


def population_explanations(model: ServiceNeedModel, matrix: np.ndarray) -> dict[str, Any]:
    """Mean |SHAP| per field, direction of effect and protected share, per service.

    Parameters
    ----------
    model : ServiceNeedModel
        The fitted model.
    matrix : ndarray
        Encoded rows of the test split (a bounded sample).

    Returns
    -------
    dict
        ``{"rows": n, "unit": "log-odds", "services": {service: {...}}}``; each service
        holds ``fields`` (largest mean |SHAP| first) and ``protected_attributes``.
    """
    contributions, base = model.contributions(matrix)
    fields = model.encoder.fields
    protected = [i for i, spec in enumerate(fields) if spec.protected]
    services: dict[str, Any] = {}
    for column, service in enumerate(model.services):
        per_field = contributions[:, column, :]
        entries = []
        for index, spec in enumerate(fields):
            values = per_field[:, index]
            entry: dict[str, Any] = {
                "field": spec.name,
                "mean_abs": float(np.mean(np.abs(values))) if len(values) else 0.0,
                "mean": float(np.mean(values)) if len(values) else 0.0,
                "protected": spec.protected,
            }
            if spec.type == "category":
                by_category = {}
                for code, category in enumerate(spec.categories or []):
                    rows = matrix[:, index] == code
                    if rows.any():
                        by_category[category] = float(values[rows].mean())
                entry["direction"] = "by_category"
                entry["mean_by_category"] = by_category
                if by_category:
                    entry["raises_most"] = max(by_category, key=by_category.__getitem__)
                    entry["lowers_most"] = min(by_category, key=by_category.__getitem__)
            else:
                entry["direction"], entry["correlation"] = _direction(matrix[:, index], values)
            entries.append(entry)
        entries.sort(key=lambda e: -e["mean_abs"])
        protected_sum = per_field[:, protected].sum(axis=1) if protected else np.zeros(len(matrix))
        total_abs = float(np.mean(np.abs(per_field).sum(axis=1))) if len(matrix) else 0.0
        protected_abs = float(np.mean(np.abs(protected_sum))) if len(matrix) else 0.0
        services[service] = {
            "base_value": float(base[0, column]) if len(matrix) else None,
            "fields": entries,
            "protected_attributes": {
                "fields": [fields[i].name for i in protected],
                "mean_abs": protected_abs,
                "mean": float(np.mean(protected_sum)) if len(matrix) else 0.0,
                "share_of_mean_abs": protected_abs / total_abs if total_abs else 0.0,
            },
        }
    return {"rows": len(matrix), "split": "test", "unit": "log-odds", "services": services}
