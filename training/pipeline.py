"""``train``: extract in, calibrated, evaluated, audited and registered model out.

Steps: validate -> split -> encode -> fit (one LightGBM per service) -> calibrate and
threshold -> evaluate against baselines (and the oracle) -> fairness audit -> model
artifact directory with reports -> MLflow run, registered version, alias ``candidate``.
The same function serves the CLI (``tarve train``) and Python callers.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from models.calibration import IdentityCalibrator
from models.features import FeatureEncoder
from models.model import ServiceNeedModel
from models.schema import Schema, load_schema
from models.store import tarve_home
from training.audit import FairnessOutcome, audit_test_split
from training.background import ChildProcess
from training.baselines import LogisticBaseline, PrevalenceBaseline
from training.calibrate import calibrate_services
from training.config import TrainConfig
from training.data import load_training_frame
from training.evaluate import LOGISTIC, MODEL, ORACLE, PREVALENCE, check_targets, evaluate_systems
from training.fit import fit_services
from training.model_card import render_model_card, write_model_card
from training.plots import ShapPlotTask, calibration_plots, render_shap_plots
from training.progress import ProgressReporter
from training.report import build_report, write_report
from training.split import SplitIndices, sample_positions, split_rows

DATA_PROFILE = "data_profile.json"
BLAS_THREADS = 1
PLOTS_DIR = "plots"


@dataclass
class TrainResult:
    """Everything a training run produced.

    Attributes
    ----------
    model : ServiceNeedModel
        The calibrated model (also saved in ``artifact_dir``).
    artifact_dir : Path
        The model artifact directory, with ``evaluation.json``/``.md``,
        ``model_card.md``, ``data_profile.json`` and ``fairness_audit.json``/``.html``.
    report : dict
        The evaluation report.
    fairness : FairnessOutcome or None
        The audit of the test split.
    split : SplitIndices
        Row positions of each part in the validated frame.
    run_id, model_version, registered_model_name : str or None
        MLflow run and registered version (None when tracking or registering is off).
    step_seconds : dict of str to float
        Duration of each step.
    """

    model: ServiceNeedModel
    artifact_dir: Path
    report: dict[str, Any]
    fairness: FairnessOutcome | None
    split: SplitIndices
    run_id: str | None = None
    model_version: str | None = None
    registered_model_name: str | None = None
    model_uri: str | None = None
    step_seconds: dict[str, float] = field(default_factory=dict)
    effects: str | None = None
    effects_card: str = ""


def _default_artifact_dir(name: str, trained_at: dt.datetime) -> Path:
    stamp = trained_at.strftime("%Y%m%dT%H%M%S%f")
    return tarve_home() / "models" / f"{name}-{stamp}"


def _oracle_scores(frame: pd.DataFrame, schema: Schema) -> np.ndarray | None:
    columns = schema.oracle_columns
    if len(columns) != len(schema.labels) or not set(columns) <= set(frame.columns):
        return None
    return frame[columns].to_numpy(dtype=np.float64)


def train(
    data: str | Path | pd.DataFrame,
    *,
    schema: Schema | str | Path | None = None,
    config: TrainConfig | None = None,
    reporter: ProgressReporter | None = None,
) -> TrainResult:
    """Train, calibrate, evaluate, audit and (by default) register a service-need model.

    Parameters
    ----------
    data : str, Path or DataFrame
        A CSV or Parquet extract, or a frame; validated against ``schema`` first.
    schema : Schema, str or Path, optional
        The schema (or its file); the default Finnish register schema when None.
    config : TrainConfig, optional
        Embedded defaults when None.
    reporter : ProgressReporter, optional
        Progress output; by default enabled as ``config.progress`` says.

    Returns
    -------
    TrainResult

    Raises
    ------
    models.extract.validation.ExtractValidationError
        The data breaks the schema (every problem listed); nothing is trained.
    """
    from threadpoolctl import threadpool_limits

    config = config or TrainConfig()
    if not isinstance(schema, Schema):
        schema = load_schema(schema)
    reporter = reporter or ProgressReporter(enabled=config.progress)
    # BLAS threads only help large dense algebra; on shared cores their spinning makes
    # the baselines and the audit many times slower. LightGBM keeps its own threads.
    with (
        threadpool_limits(limits=BLAS_THREADS, user_api="blas"),
        tempfile.TemporaryDirectory(prefix="tarve_train_") as scratch,
        ExitStack() as stack,
    ):
        return _train(
            data,
            schema=schema,
            config=config,
            reporter=reporter,
            scratch=Path(scratch),
            stack=stack,
        )


def _train(
    data: str | Path | pd.DataFrame,
    *,
    schema: Schema,
    config: TrainConfig,
    reporter: ProgressReporter,
    scratch: Path,
    stack: ExitStack,
) -> TrainResult:
    trained_at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    services = [label.name for label in schema.labels]
    label_columns = schema.label_columns
    name = config.tracking.registered_model_name
    schema_fingerprint = schema.fingerprint()

    with reporter.step("validate"):
        frame, profile = load_training_frame(data, schema=schema)
    with reporter.step("split"):
        split = split_rows(frame, schema=schema, config=config.split)
    reporter.note(f"  {split.method}: " + ", ".join(f"{k} {v:,}" for k, v in split.sizes().items()))
    with reporter.step("encode features"):
        encoder = FeatureEncoder(schema)
        matrix = encoder.encode_frame(frame)
        labels = frame[label_columns].to_numpy(dtype=np.int8)
        calibration_matrix = matrix[split.calibration]
        calibration_labels = labels[split.calibration]
        test_matrix, test_labels = matrix[split.test], labels[split.test]
    plots_wanted = config.tracking.enabled and config.tracking.plots
    child = ChildProcess()
    stack.callback(child.close, cancel=True)
    with reporter.step(f"fit {len(services)} services"):
        fitted = fit_services(
            matrix[split.train],
            labels[split.train],
            calibration_matrix,
            calibration_labels,
            services=services,
            label_columns=label_columns,
            feature_names=encoder.feature_names,
            categorical_features=encoder.categorical_features,
            booster_config=config.lightgbm,
            tune_config=config.tune,
            reporter=reporter,
        )
    store_warm_up = None
    if config.tracking.enabled:
        # Import MLflow and open the store in a thread while calibration and the audit
        # run (during the fit it would only take CPU from LightGBM's threads).
        from training.tracking import StoreWarmUp

        store_warm_up = StoreWarmUp(config.tracking)
    uncalibrated = ServiceNeedModel(
        schema=schema,
        boosters=fitted.boosters,
        calibrators={service: IdentityCalibrator() for service in services},
        thresholds={service: 0.5 for service in services},
    )
    with reporter.step("calibrate"):
        choices = calibrate_services(
            uncalibrated.raw_scores(calibration_matrix),
            calibration_labels,
            services=services,
            calibration_config=config.calibration,
            threshold_config=config.threshold,
        )
    del calibration_matrix
    from models.extract import data_fingerprint

    with reporter.step("fingerprint data"):
        fingerprint = data_fingerprint(frame)
    model = ServiceNeedModel(
        schema=schema,
        boosters=fitted.boosters,
        calibrators={s: choices[s].calibrator for s in services},
        thresholds={s: choices[s].threshold for s in services},
        metadata={
            "name": name,
            "trained_at": trained_at.isoformat(),
            "schema": schema.name,
            "schema_fingerprint": schema_fingerprint,
            "data_fingerprint": fingerprint,
            "rows": len(frame),
            "split": {"method": split.method, "cutoff": split.cutoff, "sizes": split.sizes()},
            "best_iterations": {s: fitted.services[s].best_iteration for s in services},
            "calibrators": {s: choices[s].method for s in services},
        },
    )
    result = TrainResult(
        model=model,
        artifact_dir=Path(config.output_dir or _default_artifact_dir(name, trained_at)),
        report={},
        fairness=None,
        split=split,
        step_seconds=reporter.step_seconds,
    )
    with reporter.step("score test split"):
        test_raw = model.raw_scores(test_matrix)
        calibrated_test = model.calibrate(test_raw)
        shap_future = None
        if plots_wanted:
            # SHAP summaries are drawn in the child process while the audit runs here.
            shap_rows = sample_positions(
                np.arange(len(test_matrix)), config.tracking.shap_sample, config.evaluation.seed
            )
            task = ShapPlotTask(
                model_dir=model.save(scratch / "plot_model"),
                directory=scratch / PLOTS_DIR,
                rows=test_matrix[shap_rows],
            )
            shap_future = child.submit(render_shap_plots, task)
    test_frame = frame.iloc[split.test]
    with reporter.step("fairness audit"):
        result.fairness = audit_test_split(
            model,
            test_frame,
            config=config.fairness,
            metadata={"audited_split": "test"},
            top_k=config.evaluation.top_k,
            scores=pd.DataFrame(calibrated_test, index=test_frame.index, columns=model.services),
        )
    if result.fairness is not None:
        failures = len(result.fairness.gate_failures)
        reporter.note(
            f"  fairness verdict: {result.fairness.verdict}"
            + (f" ({failures} gating failures)" if failures else "")
        )
    run = None
    if store_warm_up is not None:
        from training import tracking

        with reporter.step("open MLflow run"):
            store_warm_up.wait()
            run = stack.enter_context(tracking.mlflow_run(config.tracking))
            result.run_id = run.run_id
            model.metadata["run_id"] = run.run_id
            if config.tracking.register_model:
                model.metadata["version"] = tracking.next_version(name)
            if result.fairness is not None:
                result.fairness.stamp(run_id=run.run_id, version=model.metadata.get("version"))
    with reporter.step("evaluate"):
        scores = {MODEL: calibrated_test}
        oracle = _oracle_scores(test_frame, schema)
        if oracle is not None:
            scores[ORACLE] = oracle
        baseline_rows = sample_positions(
            split.train, config.evaluation.baseline_sample, config.evaluation.seed
        )
        logistic = LogisticBaseline(
            categorical_columns=[
                encoder.feature_names.index(feature) for feature in encoder.categorical_features
            ],
            c=config.evaluation.logistic_c,
        ).fit(matrix[baseline_rows], labels[baseline_rows])
        scores[LOGISTIC] = logistic.predict(test_matrix)
        scores[PREVALENCE] = PrevalenceBaseline().fit(labels[split.train]).predict(len(split.test))
        evaluation = evaluate_systems(
            test_labels,
            scores,
            services=services,
            config=config.evaluation,
            thresholds=model.thresholds,
        )
        targets = check_targets(evaluation, top_k=config.evaluation.top_k)
    result.report = build_report(
        evaluation=evaluation,
        targets=targets,
        split=model.metadata["split"],
        calibration={
            s: {
                "method": choices[s].method,
                "crossfit_logloss": choices[s].crossfit_logloss,
                "threshold": choices[s].threshold,
                "best_iteration": fitted.services[s].best_iteration,
                "calibration_split_logloss": fitted.services[s].calibration_logloss,
                "fit_seconds": fitted.services[s].seconds,
                "tuning_trials": fitted.services[s].trials,
            }
            for s in services
        },
        model={
            "name": name,
            "version": model.metadata.get("version"),
            "schema": schema.name,
            "schema_fingerprint": schema_fingerprint,
            "trained_at": model.metadata["trained_at"],
        },
    )
    del matrix
    ranking = result.report["ranking"][MODEL]
    headline = {key: value for key, value in ranking.items() if key != "clients_with_need"}
    aucs = [entry[MODEL]["roc_auc"] for entry in result.report["services"].values()]
    headline["mean_roc_auc"] = float(np.mean([auc for auc in aucs if auc is not None]))
    model.metadata["metrics"] = headline
    if config.effects.enabled:
        with reporter.step("fit effect models"):
            _fit_effects(result, frame, schema, split, config)
    with reporter.step("write model artifact"):
        files = _write_artifacts(result, profile)
    if run is None:
        return result

    from training import tracking

    if plots_wanted:
        with reporter.step("plots (calibration; SHAP waited for)"):
            files["plots"] = calibration_plots(
                services,
                test_labels,
                {"raw": uncalibrated.calibrate(test_raw), "calibrated": calibrated_test},
                directory=scratch / PLOTS_DIR,
            )
            if shap_future is not None:
                files["plots"] += shap_future.result()
    with reporter.step("log to MLflow and register"):
        version_tags = {
            tracking.TAG_SCHEMA: schema.name,
            tracking.TAG_SCHEMA_FINGERPRINT: schema_fingerprint,
            tracking.TAG_DATA_FINGERPRINT: fingerprint,
        }
        if result.fairness is not None:
            version_tags[tracking.TAG_FAIRNESS_VERDICT] = result.fairness.verdict
            version_tags[tracking.TAG_FAIRNESS_FAILURES] = str(len(result.fairness.gate_failures))
        registered = tracking.log_run(
            run=run,
            params={
                **config.flat(),
                "schema": schema.name,
                "schema_fingerprint": schema_fingerprint,
                "rows": len(frame),
                "split_method": split.method,
            },
            report=result.report,
            artifact_dir=result.artifact_dir,
            extra_artifacts=files,
            schema=schema,
            services=services,
            example=tracking.input_example(
                test_frame.head(200), schema, rows=config.tracking.input_example_rows
            ),
            config=config.tracking,
            version_tags=version_tags,
        )
    if registered is not None:
        result.model_version = registered.version
        result.registered_model_name = registered.name
        result.model_uri = registered.model_uri
        if registered.version != model.metadata.get("version"):
            reporter.note(
                f"[yellow]registered as version {registered.version}, not the expected "
                f"{model.metadata.get('version')} (concurrent registration)[/yellow]"
            )
    return result


def _fit_effects(
    result: TrainResult,
    frame: pd.DataFrame,
    schema: Schema,
    split: SplitIndices,
    config: TrainConfig,
) -> None:
    """Effect models on the training and calibration rows, saved into the artifact."""
    from training.effects.train_hook import EffectsSettings, train_effects

    rows = np.sort(np.concatenate([split.train, split.calibration]))
    outcome = train_effects(
        frame.iloc[rows].reset_index(drop=True),
        schema,
        result.artifact_dir,
        settings=EffectsSettings(
            n_folds=config.effects.n_folds,
            min_propensity=config.effects.min_propensity,
            control=config.effects.control,
            seed=config.effects.seed,
            num_threads=config.lightgbm.num_threads,
        ),
    )
    if outcome.fit is None:
        result.effects = outcome.note
        return
    result.effects = (
        f"{len(outcome.fit.services)} services estimated"
        + (f", {len(outcome.fit.skipped)} not estimable" if outcome.fit.skipped else "")
    )
    result.report["effect_metrics"] = outcome.metrics
    result.effects_card = outcome.card_section
    result.model.effects = outcome.fit.models


def _write_artifacts(result: TrainResult, profile: dict[str, Any]) -> dict[str, list[Path]]:
    """Write the artifact directory (model, reports, card); return files to log by folder."""
    model = result.model
    directory = result.artifact_dir
    model.save(directory)
    evaluation_files = list(write_report(result.report, directory))
    profile_path = directory / DATA_PROFILE
    profile_path.write_text(json.dumps(profile, indent=2, default=str), "utf-8")
    fairness_files = result.fairness.write(directory) if result.fairness else []
    card = render_model_card(
        schema=model.schema,
        report=result.report,
        metadata=model.metadata,
        fairness=(
            {"verdict": result.fairness.verdict, "failures": len(result.fairness.gate_failures)}
            if result.fairness
            else None
        ),
    )
    if result.effects_card:
        card = f"{card.rstrip()}\n\n{result.effects_card}"
    card_path = write_model_card(card, directory)
    return {
        "evaluation": evaluation_files,
        "": [card_path],
        "data": [profile_path],
        "fairness": fairness_files,
    }
