"""The tarve model: input schema, feature code, and the per-service need model.

A *schema* (YAML) describes one jobseeker record, the services (labels) and the audit
groups. The *feature encoder* turns records into the model matrix, the same way in
training and serving. A *ServiceNeedModel* holds one LightGBM booster per service with
its calibrator and "recommended" threshold; it predicts calibrated probabilities and
explains them with exact TreeSHAP summed per field. ``recommend`` ranks services for a
client with readable reasons in Finnish, Swedish or English. This package imports
none of ``training``, ``service`` or ``fairness``. Reading extracts is
:mod:`models.extract`; every MLflow read goes through :mod:`models.registry`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from models.artifact import save_model
    from models.features import FeatureEncoder, UnknownCategoryError
    from models.model import ServiceNeedModel, load_model
    from models.recommend import Reason, Suggestion, recommend
    from models.registry import resolve_model_uri
    from models.schema import Schema, SchemaError, load_schema

# Imported on first use, so `import models.schema` does not load LightGBM and MLflow.
_EXPORTS = {
    "FeatureEncoder": "models.features",
    "Reason": "models.recommend",
    "Schema": "models.schema",
    "SchemaError": "models.schema",
    "ServiceNeedModel": "models.model",
    "Suggestion": "models.recommend",
    "UnknownCategoryError": "models.features",
    "load_model": "models.model",
    "load_schema": "models.schema",
    "recommend": "models.recommend",
    "resolve_model_uri": "models.registry",
    "save_model": "models.artifact",
}
__all__ = [
    "FeatureEncoder",
    "Reason",
    "Schema",
    "SchemaError",
    "ServiceNeedModel",
    "Suggestion",
    "UnknownCategoryError",
    "load_model",
    "load_schema",
    "recommend",
    "resolve_model_uri",
    "save_model",
]


def __getattr__(name: str) -> Any:
    """Import an exported name on first use."""
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'models' has no attribute {name!r}")
