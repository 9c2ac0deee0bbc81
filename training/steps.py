"""The steps of a training run, each one function; :func:`training.train` calls them in order.

validate -> split -> encode -> fit -> calibrate and threshold -> assemble the model ->
score the test split -> fairness audit -> (open the MLflow run) -> evaluate against the
baselines and the oracle -> write the artifact -> (plots, log and register). The steps
only compute; how the run uses the machine (threads, the child process, OpenMP and
BLAS settings) is :mod:`training.runtime`.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from models.artifact import manifest_sha256
from models.calibration import IdentityCalibrator
from models.drift import ReferenceProfile, build_reference, write_reference
from models.extract import data_fingerprint
from models.features import FeatureEncoder
from models.model import ServiceNeedModel
from models.schema import Schema
from models.store import tarve_home
from training.audit import FairnessOutcome, audit_test_split
from training.baselines import LogisticBaseline, PrevalenceBaseline
from training.calibrate import CalibrationChoice, calibrate_services
from training.config import TrainConfig
from training.data import load_training_frame
from training.evaluate import LOGISTIC, MODEL, ORACLE, PREVALENCE, check_targets, evaluate_systems
from training.explanations import EXPLANATIONS_FILE, population_explanations
from training.fit import FitResult, fit_services
from training.model_card import render_model_card, write_model_card
from training.plots import ShapPlotTask, calibration_plots, render_shap_plots
from training.progress import ProgressReporter
from training.report import build_report, write_report
from training.runtime import TrainingRuntime
from training.split import SplitIndices, sample_positions, split_rows

if TYPE_CHECKING:
    from concurrent.futures import Future

    from training.effects.train_hook import EffectsOutcome
    from training.tracking import RegisteredVersion, RunInfo

DATA_PROFILE = "data_profile.json"
PLOTS_DIR = "plots"
INPUT_EXAMPLE_SOURCE_ROWS = 200


@dataclass
class EncodedData:
    """The validated frame, its split and its model matrix with labels."""

    frame: pd.DataFrame
    split: SplitIndices
    encoder: FeatureEncoder
    matrix: np.ndarray
    labels: np.ndarray
    services: list[str]

    @property
    def test_frame(self) -> pd.DataFrame:
        """Canonical rows of the test split."""
        return self.frame.iloc[self.split.test]

    def part(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Matrix and labels of one split part (``train``, ``calibration`` or ``test``)."""
        positions = getattr(self.split, name)
        return self.matrix[positions], self.labels[positions]


@dataclass
class TestScores:
    """Raw and calibrated scores of the test split, shape (rows, services)."""

    raw: np.ndarray
    calibrated: np.ndarray


@dataclass
class Calibration:
    """The fitted boosters behind identity calibrators, and each service's choice."""

    uncalibrated: ServiceNeedModel
    choices: dict[str, CalibrationChoice]


def validate(data: str | Path | pd.DataFrame, schema: Schema) -> tuple[pd.DataFrame, Any]:
    """Read and validate the extract; return the canonical frame and its data profile."""
    return load_training_frame(data, schema=schema)


def feed_reference(frame: pd.DataFrame, schema: Schema) -> ReferenceProfile:
    """Profile the validated frame for the feed guard (``tarve score`` checks extracts with it)."""
    return build_reference(frame, schema)


def split(frame: pd.DataFrame, schema: Schema, config: TrainConfig) -> SplitIndices:
    """Split the rows into train, calibration and test (out of time with a date column)."""
    return split_rows(frame, schema=schema, config=config.split)


def encode(frame: pd.DataFrame, schema: Schema, split: SplitIndices) -> EncodedData:
    """Encode every row with the schema's feature encoder; take the label matrix."""
    encoder = FeatureEncoder(schema)
    return EncodedData(
        frame=frame,
        split=split,
        encoder=encoder,
        matrix=encoder.encode_frame(frame),
        labels=frame[schema.label_columns].to_numpy(dtype=np.int8),
        services=[label.name for label in schema.labels],
    )


def fit(
    data: EncodedData, schema: Schema, config: TrainConfig, reporter: ProgressReporter
) -> FitResult:
    """Fit one early-stopped LightGBM model per service (optionally tuned)."""
    train_matrix, train_labels = data.part("train")
    calibration_matrix, calibration_labels = data.part("calibration")
    return fit_services(
        train_matrix,
        train_labels,
        calibration_matrix,
        calibration_labels,
        services=data.services,
        label_columns=schema.label_columns,
        feature_names=data.encoder.feature_names,
        categorical_features=data.encoder.categorical_features,
        booster_config=config.lightgbm,
        tune_config=config.tune,
        reporter=reporter,
    )


def calibrate(
    fitted: FitResult, data: EncodedData, schema: Schema, config: TrainConfig
) -> Calibration:
    """Choose and fit each service's calibrator and its "recommended" threshold."""
    uncalibrated = ServiceNeedModel(
        schema=schema,
        boosters=fitted.boosters,
        calibrators={service: IdentityCalibrator() for service in data.services},
        thresholds={service: 0.5 for service in data.services},
    )
    calibration_matrix, calibration_labels = data.part("calibration")
    choices = calibrate_services(
        uncalibrated.raw_scores(calibration_matrix),
        calibration_labels,
        services=data.services,
        calibration_config=config.calibration,
        threshold_config=config.threshold,
    )
    return Calibration(uncalibrated=uncalibrated, choices=choices)


def assemble_model(
    fitted: FitResult,
    calibration: Calibration,
    data: EncodedData,
    *,
    schema: Schema,
    config: TrainConfig,
    trained_at: dt.datetime,
) -> ServiceNeedModel:
    """Build the calibrated model with its metadata (fingerprints, split, rounds)."""
    services, choices, split = data.services, calibration.choices, data.split
    return ServiceNeedModel(
        schema=schema,
        boosters=fitted.boosters,
        calibrators={s: choices[s].calibrator for s in services},
        thresholds={s: choices[s].threshold for s in services},
        metadata={
            "name": config.tracking.registered_model_name,
            "trained_at": trained_at.isoformat(),
            "schema": schema.name,
            "schema_fingerprint": schema.fingerprint(),
            "data_fingerprint": data_fingerprint(data.frame),
            "rows": len(data.frame),
            "split": {"method": split.method, "cutoff": split.cutoff, "sizes": split.sizes()},
            "best_iterations": {s: fitted.services[s].best_iteration for s in services},
            "calibrators": {s: choices[s].method for s in services},
        },
    )


def score_test(model: ServiceNeedModel, data: EncodedData) -> TestScores:
    """Raw and calibrated scores of the test split."""
    test_matrix, _ = data.part("test")
    raw = model.raw_scores(test_matrix)
    return TestScores(raw=raw, calibrated=model.calibrate(raw))


EXPLANATION_ROWS = 2000


def explain_population(model: ServiceNeedModel, data: EncodedData, config: TrainConfig) -> None:
    """Put the whole-population explanations of a test sample into the model's metadata."""
    test_matrix, _ = data.part("test")
    rows = sample_positions(np.arange(len(test_matrix)), EXPLANATION_ROWS, config.evaluation.seed)
    model.metadata["population_explanations"] = population_explanations(model, test_matrix[rows])


def start_shap_plots(
    runtime: TrainingRuntime, model: ServiceNeedModel, data: EncodedData, config: TrainConfig
) -> Future[list[Path]]:
    """Draw the SHAP summaries of a test sample in the child process; return its future."""
    test_matrix, _ = data.part("test")
    rows = sample_positions(
        np.arange(len(test_matrix)), config.tracking.shap_sample, config.evaluation.seed
    )
    task = ShapPlotTask(
        model_dir=model.save(runtime.scratch / "plot_model"),
        directory=runtime.scratch / PLOTS_DIR,
        rows=test_matrix[rows],
    )
    return runtime.in_child(render_shap_plots, task)


def audit(
    model: ServiceNeedModel, data: EncodedData, scores: TestScores, config: TrainConfig
) -> FairnessOutcome | None:
    """Audit fairness on the test split, reusing its calibrated scores."""
    test_frame = data.test_frame
    return audit_test_split(
        model,
        test_frame,
        config=config.fairness,
        metadata={"audited_split": "test"},
        top_k=config.evaluation.top_k,
        scores=pd.DataFrame(scores.calibrated, index=test_frame.index, columns=model.services),
    )


def verdict_note(fairness: FairnessOutcome | None) -> str | None:
    """Describe the audit's verdict in one progress line (None without an audit)."""
    if fairness is None:
        return None
    failures = len(fairness.gate_failures)
    return f"  fairness verdict: {fairness.verdict}" + (
        f" ({failures} gating failures)" if failures else ""
    )


def warm_up_tracking(config: TrainConfig) -> None:
    """Import the MLflow writer and open the store (run in a background thread)."""
    from training import tracking  # imports MLflow: seconds of pure Python

    tracking.open_store(config.tracking)


def open_run(
    runtime: TrainingRuntime,
    model: ServiceNeedModel,
    fairness: FairnessOutcome | None,
    config: TrainConfig,
) -> RunInfo:
    """Start the MLflow run (kept open until the run ends) and stamp the model with it.

    The version the registry will give is not known before registration, but the model
    artifact and the audit carry it: the next free number is written now and checked
    after registration (:func:`log_and_register`).
    """
    from training import tracking

    run = runtime.enter(tracking.mlflow_run(config.tracking))
    model.metadata["run_id"] = run.run_id
    if config.tracking.register_model:
        model.metadata["version"] = tracking.next_version(config.tracking.registered_model_name)
    if fairness is not None:
        fairness.stamp(run_id=run.run_id, version=model.metadata.get("version"))
    return run


def evaluate(
    model: ServiceNeedModel,
    data: EncodedData,
    scores: TestScores,
    *,
    schema: Schema,
    config: TrainConfig,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Score the baselines (and the oracle) on the test split; compare all systems.

    Returns
    -------
    evaluation : dict
        Per-system metrics.
    targets : dict or None
        The targets check (None without an oracle).
    """
    split = data.split
    test_matrix, test_labels = data.part("test")
    system_scores = {MODEL: scores.calibrated}
    oracle = _oracle_scores(data.test_frame, schema)
    if oracle is not None:
        system_scores[ORACLE] = oracle
    baseline_rows = sample_positions(
        split.train, config.evaluation.baseline_sample, config.evaluation.seed
    )
    feature_names = data.encoder.feature_names
    logistic = LogisticBaseline(
        categorical_columns=[feature_names.index(f) for f in data.encoder.categorical_features],
        c=config.evaluation.logistic_c,
    ).fit(data.matrix[baseline_rows], data.labels[baseline_rows])
    system_scores[LOGISTIC] = logistic.predict(test_matrix)
    prevalence = PrevalenceBaseline().fit(data.labels[split.train])
    system_scores[PREVALENCE] = prevalence.predict(len(split.test))
    evaluation = evaluate_systems(
        test_labels,
        system_scores,
        services=data.services,
        config=config.evaluation,
        thresholds=model.thresholds,
    )
    return evaluation, check_targets(evaluation, top_k=config.evaluation.top_k)


def _oracle_scores(frame: pd.DataFrame, schema: Schema) -> np.ndarray | None:
    columns = schema.oracle_columns
    if len(columns) != len(schema.labels) or not set(columns) <= set(frame.columns):
        return None
    return frame[columns].to_numpy(dtype=np.float64)


def report(
    evaluation: dict[str, Any],
    targets: dict[str, Any] | None,
    *,
    model: ServiceNeedModel,
    fitted: FitResult,
    calibration: Calibration,
) -> dict[str, Any]:
    """Build the evaluation report; put its headline metrics into the model metadata."""
    metadata = model.metadata
    fit_of, choice_of = fitted.services, calibration.choices
    result = build_report(
        evaluation=evaluation,
        targets=targets,
        split=metadata["split"],
        calibration={
            s: {
                "method": choice_of[s].method,
                "crossfit_logloss": choice_of[s].crossfit_logloss,
                "threshold": choice_of[s].threshold,
                "best_iteration": fit_of[s].best_iteration,
                "calibration_split_logloss": fit_of[s].calibration_logloss,
                "fit_seconds": fit_of[s].seconds,
                "tuning_trials": fit_of[s].trials,
            }
            for s in model.services
        },
        model={
            key: metadata.get(key)
            for key in ("name", "version", "schema", "schema_fingerprint", "trained_at")
        },
    )
    headline = {k: v for k, v in result["ranking"][MODEL].items() if k != "clients_with_need"}
    aucs = [entry[MODEL]["roc_auc"] for entry in result["services"].values()]
    headline["mean_roc_auc"] = float(np.mean([auc for auc in aucs if auc is not None]))
    metadata["metrics"] = headline
    return result


def default_artifact_dir(name: str, trained_at: dt.datetime) -> Path:
    """``$TARVE_HOME/models/<name>-<UTC time>``: where a run's artifact goes by default."""
    stamp = trained_at.strftime("%Y%m%dT%H%M%S%f")
    return tarve_home() / "models" / f"{name}-{stamp}"


def write_artifact(
    model: ServiceNeedModel,
    directory: Path,
    *,
    report: dict[str, Any],
    profile: Any,
    feed_reference: ReferenceProfile,
    fairness: FairnessOutcome | None,
    effects_card: str = "",
) -> dict[str, list[Path]]:
    """Write the artifact directory (model, reports, card); return files to log by folder."""
    model.save(directory)
    if fairness is not None:  # the report names the exact files it audited
        fairness.stamp(manifest_sha256=manifest_sha256(directory))
    evaluation_files = list(write_report(report, directory))
    profile_path = directory / DATA_PROFILE
    profile_path.write_text(json.dumps(profile, indent=2, default=str), "utf-8")
    # The feed guard's reference travels with the model (tarve score checks extracts with it).
    reference_path = write_reference(feed_reference, directory)
    explanation_files = []
    if "population_explanations" in model.metadata:
        explanation_path = directory / EXPLANATIONS_FILE
        explanations = model.metadata["population_explanations"]
        explanation_path.write_text(json.dumps(explanations, indent=2), "utf-8")
        explanation_files.append(explanation_path)
    fairness_files = fairness.write(directory) if fairness else []
    card = render_model_card(
        schema=model.schema,
        report=report,
        metadata=model.metadata,
        fairness=(
            {"verdict": fairness.verdict, "failures": len(fairness.gate_failures)}
            if fairness
            else None
        ),
    )
    if effects_card:
        card = f"{card.rstrip()}\n\n{effects_card}"
    return {
        "evaluation": evaluation_files,
        "": [write_model_card(card, directory)],
        "data": [profile_path, reference_path],
        "explanations": explanation_files,
        "fairness": fairness_files,
    }


def fit_effects(
    frame: pd.DataFrame,
    schema: Schema,
    split: SplitIndices,
    config: TrainConfig,
    *,
    artifact_dir: Path,
) -> EffectsOutcome:
    """Fit the effect models on the training and calibration rows; save them into the artifact.

    Returns the outcome of :func:`training.effects.train_effects` (``fit`` is None when
    the step was skipped, with ``note`` saying why).
    """
    from training.effects.train_hook import EffectsSettings, train_effects

    rows = np.sort(np.concatenate([split.train, split.calibration]))
    return train_effects(
        frame.iloc[rows].reset_index(drop=True),
        schema,
        artifact_dir,
        settings=EffectsSettings(
            n_folds=config.effects.n_folds,
            min_propensity=config.effects.min_propensity,
            control=config.effects.control,
            seed=config.effects.seed,
            final_stage=config.effects.final_stage,
            num_threads=config.lightgbm.num_threads,
        ),
    )


def plots(
    calibration: Calibration,
    data: EncodedData,
    scores: TestScores,
    *,
    runtime: TrainingRuntime,
    shap_plots: Future[list[Path]] | None,
    artifact_dir: Path | None = None,
) -> list[Path]:
    """Draw the calibration curves (raw and calibrated); wait for the SHAP summaries."""
    _, test_labels = data.part("test")
    files = calibration_plots(
        data.services,
        test_labels,
        {"raw": calibration.uncalibrated.calibrate(scores.raw), "calibrated": scores.calibrated},
        directory=runtime.scratch / PLOTS_DIR,
    )
    if shap_plots is not None:
        shap_files = shap_plots.result()
        files += shap_files
        if artifact_dir is not None:  # beside the model card, which shows them
            (artifact_dir / PLOTS_DIR).mkdir(parents=True, exist_ok=True)
            for path in shap_files:
                shutil.copyfile(path, artifact_dir / PLOTS_DIR / path.name)
    return files


def log_and_register(
    run: RunInfo,
    model: ServiceNeedModel,
    data: EncodedData,
    *,
    artifact_dir: Path,
    report: dict[str, Any],
    files: dict[str, list[Path]],
    fairness: FairnessOutcome | None,
    config: TrainConfig,
) -> RegisteredVersion | None:
    """Log the run to MLflow; register the version (tagged with fingerprints and verdict)."""
    from training import tracking

    schema, metadata = model.schema, model.metadata
    version_tags = {
        tracking.TAG_SCHEMA: schema.name,
        tracking.TAG_SCHEMA_FINGERPRINT: metadata["schema_fingerprint"],
        tracking.TAG_DATA_FINGERPRINT: metadata["data_fingerprint"],
    }
    if fairness is not None:
        version_tags[tracking.TAG_FAIRNESS_VERDICT] = fairness.verdict
        version_tags[tracking.TAG_FAIRNESS_FAILURES] = str(len(fairness.gate_failures))
    example_rows = data.test_frame.head(INPUT_EXAMPLE_SOURCE_ROWS)
    return tracking.log_run(
        run=run,
        params={
            **config.flat(),
            "schema": schema.name,
            "schema_fingerprint": metadata["schema_fingerprint"],
            "rows": len(data.frame),
            "split_method": data.split.method,
        },
        report=report,
        artifact_dir=artifact_dir,
        extra_artifacts=files,
        schema=schema,
        services=data.services,
        example=tracking.input_example(
            example_rows, schema, rows=config.tracking.input_example_rows
        ),
        config=config.tracking,
        version_tags=version_tags,
    )
