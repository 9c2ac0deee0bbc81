"""The tarve model: input schema, feature code, and the per-service need model.

A *schema* (YAML) describes one jobseeker record, the services (labels) and the audit
groups. The *feature encoder* turns records into the model matrix, the same way in
training and serving. A *ServiceNeedModel* holds one LightGBM booster per service with
its calibrator and "recommended" threshold; it predicts calibrated probabilities and
explains them with exact TreeSHAP summed per field. ``recommend`` ranks services for a
client with readable reasons in Finnish, Swedish or English. This package imports
none of ``training``, ``service`` or ``fairness``.
"""

from models.artifact import load_model, resolve_model_uri, save_model
from models.features import FeatureEncoder, UnknownCategoryError
from models.model import ServiceNeedModel
from models.recommend import Reason, Suggestion, recommend
from models.schema import Schema, SchemaError, load_schema

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
