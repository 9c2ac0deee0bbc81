"""The model artifact on disk: a directory of LightGBM text models and JSON.

Layout::

    tarve_model.json     format version, services, thresholds, calibrators, feature
                         names, category maps, metadata
    schema.json          the input schema the model was trained on
    boosters/<svc>.txt   one LightGBM text model per service
    effects/             the effect models, when trained (:mod:`models.effects`)
    (anything else)      reports written next to it by training (evaluation, audit,
                         model card); loading ignores them

Loading reads only text and JSON: it never unpickles. This module knows the files;
:func:`models.model.load_model` builds the model from them and
:func:`models.registry.resolve_model_uri` turns MLflow URIs into such a directory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lightgbm as lgb

from models.calibration import Calibrator, calibrator_from_dict
from models.schema import Schema, schema_from_dict

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
    """Write ``model`` to directory ``path`` (created if missing).

    Parameters
    ----------
    model : ServiceNeedModel
        The model to write.
    path : str or Path
        The artifact directory.

    Returns
    -------
    Path
        The artifact directory.
    """
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
    """Return the manifest (``tarve_model.json``) of artifact directory ``path``.

    Parameters
    ----------
    path : str or Path
        A local artifact directory.

    Returns
    -------
    dict
        The parsed manifest.

    Raises
    ------
    FileNotFoundError
        ``path`` holds no manifest.
    """
    directory = Path(path)
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        raise FileNotFoundError(MSG_NOT_AN_ARTIFACT.format(path=directory, manifest=MANIFEST))
    manifest: dict[str, Any] = json.loads(manifest_path.read_text("utf-8"))
    return manifest


@dataclass(frozen=True)
class StoredModel:
    """What an artifact directory holds, read back from its text and JSON files."""

    directory: Path
    schema: Schema
    boosters: dict[str, lgb.Booster]
    calibrators: dict[str, Calibrator]
    thresholds: dict[str, float]
    metadata: dict[str, Any]
    feature_names: list[str]


def read_artifact(path: str | Path) -> StoredModel:
    """Read the parts of a model from artifact directory ``path``.

    Parameters
    ----------
    path : str or Path
        A local artifact directory (resolve MLflow URIs with
        :func:`models.registry.resolve_model_uri` first).

    Returns
    -------
    StoredModel

    Raises
    ------
    FileNotFoundError
        ``path`` holds no manifest.
    ValueError
        The format version is not supported.
    """
    directory = Path(path)
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
    return StoredModel(
        directory=directory,
        schema=schema,
        boosters=boosters,
        calibrators={
            name: calibrator_from_dict(data) for name, data in manifest["calibrators"].items()
        },
        thresholds=manifest["thresholds"],
        metadata=manifest.get("metadata", {}),
        feature_names=list(manifest["feature_names"]),
    )
