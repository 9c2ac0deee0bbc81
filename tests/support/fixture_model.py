"""A small service-need model fitted on random data, independent of the training package.

Profiles are drawn inside the schema's ranges and categories; each service's label is
a noisy function of a few fields, always including a Kykyviisari field (so consent
masking visibly changes predictions) and a protected one (so the "never a reason" rule
is tested against real contributions).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from models.calibration import fit_isotonic
from models.features import FeatureEncoder
from models.model import ServiceNeedModel
from models.schema import FieldSpec, Schema, load_schema
from service.request_model import request_fields

BOOSTER_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "num_leaves": 7,
    "learning_rate": 0.2,
    "min_data_in_leaf": 20,
    "max_cat_to_onehot": 4,
    "verbose": -1,
    "num_threads": 1,
    "deterministic": True,
    "seed": 7,
}


def random_value(spec: FieldSpec, rng: np.random.Generator) -> Any:
    """One random in-schema value for ``spec`` (never missing)."""
    if spec.type == "category":
        categories = spec.categories or []
        return categories[int(rng.integers(len(categories)))]
    if spec.type == "boolean":
        return bool(rng.random() < 0.4)
    if spec.type == "date":
        first = dt.date.fromisoformat(str(spec.min or "2020-01-01"))
        last = dt.date.fromisoformat(str(spec.max or "2024-12-31"))
        return (first + dt.timedelta(days=int(rng.integers((last - first).days + 1)))).isoformat()
    low = float(spec.min if spec.min is not None else 0.0)
    high = float(spec.max if spec.max is not None else low + 10.0)
    # Skewed toward the low end, like most register counts.
    value = low + (high - low) * float(rng.beta(1.2, 3.0))
    return round(value) if spec.type == "integer" else round(value, 2)


def random_profile(
    schema: Schema, rng: np.random.Generator, *, missing_rate: float = 0.1
) -> dict[str, Any]:
    """Return a valid request profile (only the fields a request may carry)."""
    profile: dict[str, Any] = {}
    for spec in request_fields(schema):
        if spec.nullable and rng.random() < missing_rate:
            continue
        profile[spec.name] = random_value(spec, rng)
    return profile


def fit_fixture_model(
    *,
    seed: int = 0,
    rows: int = 3000,
    trees: int = 25,
    version: str = "fixture-1",
    schema: Schema | None = None,
    leaves: int = 7,
) -> ServiceNeedModel:
    """Fit one small booster per service of ``schema`` (default: the default schema)."""
    schema = schema or load_schema()
    rng = np.random.default_rng(seed)
    profiles = [random_profile(schema, rng, missing_rate=0.15) for _ in range(rows)]
    encoder = FeatureEncoder(schema)
    matrix = encoder.encode_records(profiles)
    filled = np.where(np.isnan(matrix), np.nanmean(matrix, axis=0), matrix)
    standardised = (filled - filled.mean(axis=0)) / (filled.std(axis=0) + 1e-9)
    names = encoder.feature_names
    always = [names.index("work_ability_score"), names.index("age")]
    frame = pd.DataFrame(matrix, columns=names)
    boosters: dict[str, lgb.Booster] = {}
    calibrators = {}
    thresholds = {}
    cut = int(rows * 0.7)
    for label in schema.labels:
        chosen = sorted({*always, *rng.choice(len(names), size=5, replace=False).tolist()})
        weights = np.zeros(len(names))
        weights[chosen] = rng.normal(0.0, 1.2, size=len(chosen))
        weights[always[0]] = 1.5 * np.sign(weights[always[0]] or 1.0)
        logit = standardised @ weights - 0.8 + rng.normal(0.0, 0.5, size=rows)
        target = (rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))).astype(int)
        train = lgb.Dataset(
            frame.iloc[:cut],
            label=target[:cut],
            categorical_feature=encoder.categorical_features,
            free_raw_data=False,
        )
        params = {**BOOSTER_PARAMS, "num_leaves": leaves}
        booster = lgb.train(params, train, num_boost_round=trees)
        raw = booster.predict(matrix[cut:], raw_score=True)
        boosters[label.name] = booster
        calibrators[label.name] = fit_isotonic(np.asarray(raw), target[cut:])
        thresholds[label.name] = 0.35
    metadata = {
        "name": "tarve-service-need",
        "version": version,
        "trained_at": "2026-01-01T00:00:00+00:00",
        "metrics": {"roc_auc_mean": 0.75},
    }
    return ServiceNeedModel(
        schema=schema,
        boosters=boosters,
        calibrators=calibrators,
        thresholds=thresholds,
        metadata=metadata,
    )


def save_fixture_model(path: Path, **kwargs: Any) -> Path:
    return fit_fixture_model(**kwargs).save(path)
