"""Log a training run to MLflow and register the model.

Run layout (experiment ``tracking.experiment``, default ``tarve``)::

    params      every config key (section.key), schema name and fingerprint, rows
    metrics     test_<service>_<metric> of the model, mean_* summaries,
                ranking metrics per system (model_/logistic_/prevalence_/oracle_)
    artifacts   evaluation/evaluation.json, evaluation/evaluation.md
                model_card.md
                data/profile.json, schema/schema.json
                plots/calibration_<service>.png, plots/shap_<service>.png
                fairness/fairness_audit.json, fairness/fairness_audit.html
    model       the pyfunc model ``model`` (models-from-code: ``models/pyfunc.py`` plus
                the tarve artifact directory as artifact ``model``), with a signature
                built from the schema and an input example

The logged model is registered as a new version of ``registered_model_name`` and
alias ``candidate`` is moved to it. Nothing is pickled.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata as package_metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from models import artifact, registry
from models import pyfunc as pyfunc_module
from models.schema import Schema
from training.config import TrackingConfig

PYFUNC_REQUIREMENTS = (
    "mlflow",
    "lightgbm",
    "numpy",
    "pandas",
    "scikit-learn",
    "pyyaml",
    "pydantic",
)
MLFLOW_PARAM_LIMIT = 6000
MODEL_ARTIFACT_KEY = "model"
LOCAL_STORE_SCHEMES = ("sqlite:", "file:", "/")
TAG_SCHEMA = "tarve.schema"
TAG_SCHEMA_FINGERPRINT = "tarve.schema_fingerprint"
TAG_DATA_FINGERPRINT = "tarve.data_fingerprint"
TAG_FAIRNESS_VERDICT = "tarve.fairness_verdict"
TAG_FAIRNESS_FAILURES = "tarve.fairness_failures"
TAG_RUN_ID = "tarve.run_id"
# The SHA-256 of the artifact's integrity manifest: the server refuses files that differ.
TAG_MANIFEST_SHA256 = artifact.TAG_MANIFEST_SHA256


@dataclass(frozen=True)
class RunInfo:
    """Where a training run went."""

    run_id: str
    experiment_id: str
    tracking_uri: str


@dataclass(frozen=True)
class RegisteredVersion:
    """A registered model version and the URI of its logged model."""

    name: str
    version: str
    model_uri: str
    alias: str | None


@contextmanager
def mlflow_run(config: TrackingConfig) -> Iterator[RunInfo]:
    """Start an MLflow run in tarve's store (``MLFLOW_TRACKING_URI`` or the local SQLite)."""
    import mlflow

    uri = registry.configure_mlflow()
    if registry.experiment_id(config.experiment) is None:
        # A local store keeps artifacts under TARVE_HOME, never in ./mlruns; a server
        # decides for itself.
        location = registry.artifact_location() if uri.startswith(LOCAL_STORE_SCHEMES) else None
        mlflow.create_experiment(config.experiment, artifact_location=location)
    experiment = mlflow.set_experiment(config.experiment)
    with mlflow.start_run(run_name=config.run_name) as run:
        yield RunInfo(
            run_id=run.info.run_id, experiment_id=experiment.experiment_id, tracking_uri=uri
        )


def open_store(config: TrackingConfig) -> None:
    """Import MLflow, open (or create) the tracking store and look up the experiment.

    Importing MLflow and creating a fresh SQLite store take seconds of pure Python;
    training runs this in a background thread (:mod:`training.runtime`) while it works.

    Parameters
    ----------
    config : TrackingConfig
        The experiment to look up.
    """
    registry.experiment_id(config.experiment)


def next_version(name: str) -> str:
    """Return the version number the registry will most likely give the next version of ``name``."""
    return registry.next_version(name)


def flat_metrics(report: dict[str, Any]) -> dict[str, float]:
    """MLflow metric names and values from the evaluation report (None values dropped)."""
    metrics: dict[str, float] = {}
    for service, entry in report["services"].items():
        for key, value in entry["model"].items():
            if isinstance(value, int | float):
                metrics[f"test_{service}_{key}"] = float(value)
    for system, values in report["ranking"].items():
        for key, value in values.items():
            if value is not None:
                metrics[f"{system}_{key}"] = float(value)
    for system in report["systems"]:
        for key in ("roc_auc", "pr_auc", "brier", "ece"):
            values = [
                entry[system][key]
                for entry in report["services"].values()
                if entry[system][key] is not None
            ]
            if values:
                metrics[f"{system}_mean_{key}"] = float(np.mean(values))
    # Effect models (training.effects): already flat, ``effects.<service>.<figure>``.
    metrics.update({k: float(v) for k, v in report.get("effect_metrics", {}).items()})
    return metrics


def model_signature(schema: Schema, services: list[str]) -> Any:
    """Build an MLflow signature: one column per model input, one output per service.

    Nullable fields are optional columns. An integer field that may not be missing is
    ``long``; one that may is declared ``Any``, because MLflow has no integer type with
    a missing value: such a column arrives as int64 when complete and as float64 with
    NaN otherwise, and the model's own encoder checks it is whole numbers either way.
    """
    from mlflow.models import ModelSignature
    from mlflow.types.schema import AnyType, ColSpec
    from mlflow.types.schema import Schema as MlflowSchema

    kinds: dict[str, Any] = {
        "number": "double",
        "integer": "long",
        "boolean": "boolean",
        "category": "string",
        "date": "datetime",
    }
    inputs = MlflowSchema(
        [
            ColSpec(
                AnyType() if spec.type == "integer" and spec.nullable else kinds[spec.type],
                spec.name,
                required=not spec.nullable,
            )
            for spec in schema.input_fields
        ]
    )
    outputs = MlflowSchema([ColSpec("double", service) for service in services])
    return ModelSignature(inputs=inputs, outputs=outputs)


def pyfunc_frame(frame: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """Model-input columns of ``frame`` in the pyfunc model's plain dtypes.

    Booleans and categories become Python objects with None for missing (what a JSON
    request carries); integers that may not be missing become int64; other numbers stay
    float64 with NaN.
    """
    plain: dict[str, Any] = {}
    for spec in schema.input_fields:
        values = frame[spec.name]
        if spec.type in ("boolean", "category"):
            plain[spec.name] = values.astype(object).where(values.notna(), None)
        elif spec.type == "integer" and not spec.nullable and values.notna().all():
            plain[spec.name] = values.astype("int64")
        else:
            plain[spec.name] = values
    return pd.DataFrame(plain).reset_index(drop=True)


def input_example(frame: pd.DataFrame, schema: Schema, *, rows: int) -> pd.DataFrame:
    """``rows`` rows of model inputs for MLflow's input example (complete rows first)."""
    columns = [spec.name for spec in schema.input_fields]
    complete = frame[columns].notna().all(axis=1).to_numpy()
    chosen = frame[complete] if complete.sum() >= rows else frame
    return pyfunc_frame(chosen.head(rows), schema)


def _requirements() -> list[str]:
    pins = []
    for name in PYFUNC_REQUIREMENTS:
        try:
            pins.append(f"{name}=={package_metadata.version(name)}")
        except package_metadata.PackageNotFoundError:
            pins.append(name)
    return pins


def log_run(
    *,
    run: RunInfo,
    params: dict[str, Any],
    report: dict[str, Any],
    artifact_dir: Path,
    extra_artifacts: dict[str, list[Path]],
    schema: Schema,
    services: list[str],
    example: pd.DataFrame,
    config: TrackingConfig,
    version_tags: dict[str, str],
) -> RegisteredVersion | None:
    """Log params, metrics, files and the pyfunc model; register a version and set the alias.

    Parameters
    ----------
    run : RunInfo
        The active run.
    params : dict
        Parameters (long values are cut to MLflow's limit).
    report : dict
        The evaluation report; its metrics are logged.
    artifact_dir : Path
        The tarve model artifact directory (becomes the pyfunc artifact ``model``).
    extra_artifacts : dict of str to list of Path
        MLflow artifact folder -> local files to log there.
    schema : Schema
        Builds the signature.
    services : list of str
        Output columns of the signature.
    example : DataFrame
        The input example.
    config : TrackingConfig
        Registered model name, whether to register, alias.
    version_tags : dict
        Tags set on the registered version (fairness verdict, fingerprints).

    Returns
    -------
    RegisteredVersion or None
        None when ``config.register`` is False.
    """
    import mlflow
    from mlflow import MlflowClient

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    mlflow.log_params({key: str(value)[:MLFLOW_PARAM_LIMIT] for key, value in params.items()})
    mlflow.log_metrics(flat_metrics(report))
    for folder, paths in extra_artifacts.items():
        for path in paths:
            mlflow.log_artifact(str(path), artifact_path=folder or None)
    with tempfile.TemporaryDirectory() as scratch:
        schema_path = Path(scratch) / "schema.json"
        schema_path.write_text(json.dumps(schema.to_dict(), indent=2, ensure_ascii=False), "utf-8")
        mlflow.log_artifact(str(schema_path), artifact_path="schema")
    with tempfile.TemporaryDirectory() as scratch:
        # MLflow stores an artifact under its folder name: copy it to ``model`` so the
        # registered model always holds it at ``artifacts/model``.
        staged = Path(scratch) / MODEL_ARTIFACT_KEY
        shutil.copytree(artifact_dir, staged)
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(Path(pyfunc_module.__file__)),
            artifacts={MODEL_ARTIFACT_KEY: str(staged)},
            signature=model_signature(schema, services),
            input_example=example,
            pip_requirements=_requirements(),
        )
    if not config.register_model:
        return None
    version = mlflow.register_model(info.model_uri, config.registered_model_name)
    client = MlflowClient()
    integrity = {TAG_MANIFEST_SHA256: artifact.manifest_sha256(artifact_dir)}
    for key, value in {**version_tags, **integrity, TAG_RUN_ID: run.run_id}.items():
        client.set_model_version_tag(config.registered_model_name, version.version, key, value)
    if config.alias:
        client.set_registered_model_alias(
            config.registered_model_name, config.alias, version.version
        )
    return RegisteredVersion(
        name=config.registered_model_name,
        version=str(version.version),
        model_uri=info.model_uri,
        alias=config.alias or None,
    )


# -- registry writes for promote (reads go through models.registry) ----------------------
def set_version_tags(name: str, version: str, tags: dict[str, str]) -> None:
    """Set tags on one registered model version.

    Parameters
    ----------
    name : str
        Registered model name.
    version : str
        Version number.
    tags : dict of str to str
        Tag names and values.
    """
    client = registry.client()
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)


def set_alias(name: str, alias: str, version: str) -> None:
    """Move ``alias`` of registered model ``name`` to ``version``.

    Parameters
    ----------
    name : str
        Registered model name.
    alias : str
        The alias to move.
    version : str
        Version number.
    """
    registry.client().set_registered_model_alias(name, alias, version)


def log_version_artifact(
    path: Path, *, model_id: str | None, run_id: str | None, model_folder: str, run_folder: str
) -> None:
    """Store a file with a logged model (``model_folder``) and with its run (``run_folder``).

    Parameters
    ----------
    path : Path
        The file to store.
    model_id : str, optional
        The logged model's id (``m-...``); skipped when None.
    run_id : str, optional
        The run's id; skipped when None.
    model_folder : str
        Artifact folder in the logged model.
    run_folder : str
        Artifact folder in the run.
    """
    client = registry.client()
    if model_id:
        client.log_model_artifact(model_id, str(path), model_folder)
    if run_id:
        client.log_artifact(run_id, str(path), run_folder)
