"""The model artifact on disk: a directory of LightGBM text models and JSON.

Layout::

    tarve_model.json     format version, services, thresholds, calibrators, feature
                         names, category maps, metadata
    schema.json          the input schema the model was trained on
    boosters/<svc>.txt   one LightGBM text model per service
    (anything else)      reports written next to it by training (evaluation, audit,
                         model card); loading ignores them

Loading reads only text and JSON: it never unpickles.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lightgbm as lgb

from models.calibration import calibrator_from_dict
from models.effects import ServiceEffectModels, has_effects
from models.schema import schema_from_dict

if TYPE_CHECKING:
    from models.model import ServiceNeedModel

FORMAT_VERSION = 1
MANIFEST = "tarve_model.json"
SCHEMA_FILE = "schema.json"
BOOSTER_DIR = "boosters"
MSG_NOT_AN_ARTIFACT = "{path} is not a tarve model directory (no {manifest})"
MSG_FORMAT = "{path}: model format version {found} is not supported (expected {expected})"
MSG_FEATURES = (
    "{path}: the stored feature names do not match the schema's model inputs: "
    "stored {stored}, schema {schema}"
)


def save_model(model: ServiceNeedModel, path: str | Path) -> Path:
    """Write ``model`` to directory ``path`` (created if missing) and return it."""
    directory = Path(path)
    (directory / BOOSTER_DIR).mkdir(parents=True, exist_ok=True)
    for service, booster in model.boosters.items():
        booster.save_model(str(directory / BOOSTER_DIR / f"{service}.txt"))
    manifest = {
        "format_version": FORMAT_VERSION,
        "services": model.services,
        "thresholds": model.thresholds,
        "calibrators": {name: cal.to_dict() for name, cal in model.calibrators.items()},
        "feature_names": model.encoder.feature_names,
        "feature_to_field": model.encoder.feature_to_field,
        "categorical_features": model.encoder.categorical_features,
        "category_maps": model.encoder.category_maps,
        "schema_fingerprint": model.schema.fingerprint(),
        "metadata": model.metadata,
    }
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str), "utf-8")
    (directory / SCHEMA_FILE).write_text(
        json.dumps(model.schema.to_dict(), indent=2, ensure_ascii=False), "utf-8"
    )
    if model.effects is not None:
        model.effects.save(directory)
    return directory


def read_manifest(path: str | Path) -> dict[str, Any]:
    directory = Path(path)
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        raise FileNotFoundError(MSG_NOT_AN_ARTIFACT.format(path=directory, manifest=MANIFEST))
    manifest: dict[str, Any] = json.loads(manifest_path.read_text("utf-8"))
    return manifest


def load_model(path: str | Path) -> ServiceNeedModel:
    """Load a model from an artifact directory or an MLflow URI (``models:/``, ``runs:/``)."""
    from models.model import ServiceNeedModel

    directory = resolve_model_uri(path)
    manifest = read_manifest(directory)
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            MSG_FORMAT.format(
                path=directory, found=manifest.get("format_version"), expected=FORMAT_VERSION
            )
        )
    schema = schema_from_dict(
        json.loads((directory / SCHEMA_FILE).read_text("utf-8")), origin=directory / SCHEMA_FILE
    )
    boosters = {
        service: lgb.Booster(model_file=str(directory / BOOSTER_DIR / f"{service}.txt"))
        for service in manifest["services"]
    }
    model = ServiceNeedModel(
        schema=schema,
        boosters=boosters,
        calibrators={
            name: calibrator_from_dict(data) for name, data in manifest["calibrators"].items()
        },
        thresholds=manifest["thresholds"],
        metadata=manifest.get("metadata", {}),
    )
    if model.encoder.feature_names != manifest["feature_names"]:
        raise ValueError(
            MSG_FEATURES.format(
                path=directory,
                stored=manifest["feature_names"],
                schema=model.encoder.feature_names,
            )
        )
    if has_effects(directory):
        model.effects = ServiceEffectModels.load(directory, schema)
    return model


def resolve_model_uri(uri: str | Path) -> Path:
    """A local artifact directory for a path or an MLflow ``models:/``/``runs:/`` URI.

    MLflow URIs are downloaded with ``mlflow.artifacts.download_artifacts``; the tarve
    artifact is the ``artifacts/model`` folder of the logged pyfunc model (or the
    downloaded folder itself).
    """
    text = str(uri)
    if "://" not in text and not text.startswith(("models:/", "runs:/")):
        return Path(text)
    import mlflow

    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=text))
    for candidate in (local, local / "artifacts" / "model", local / "model"):
        if (candidate / MANIFEST).is_file():
            return candidate
    matches = sorted(local.rglob(MANIFEST))
    if not matches:
        raise FileNotFoundError(
            MSG_NOT_AN_ARTIFACT.format(path=f"{text} ({local})", manifest=MANIFEST)
        )
    return matches[0].parent
