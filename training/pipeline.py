"""``train``: extract in, calibrated, evaluated, audited and registered model out.

:func:`train` is the run's step list, in order; each step is one function of
:mod:`training.steps`, and how the run uses the machine (passive OpenMP, one BLAS
thread, a child process for plots, a warm-up thread for MLflow) is
:mod:`training.runtime`. The same function serves the CLI (``tarve train``) and Python
callers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from models.schema import Schema, load_schema
from training.config import TrainConfig
from training.progress import ProgressReporter
from training.runtime import Background, TrainingRuntime
from training.split import SplitIndices

if TYPE_CHECKING:
    from concurrent.futures import Future

    from models.drift import ReferenceProfile
    from models.model import ServiceNeedModel
    from training.audit import FairnessOutcome
    from training.effects.train_hook import EffectsOutcome
    from training.fit import FitResult
    from training.steps import Calibration, EncodedData, TestScores
    from training.tracking import RegisteredVersion, RunInfo

MSG_VERSION_RACE = (
    "[yellow]registered as version {registered}, not the expected {expected} "
    "(concurrent registration)[/yellow]"
)


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
    effects : str or None
        What the effect step did (services estimated, or why it was skipped); None
        when it did not run.
    effects_card : str
        The model card's section on the effect models (empty without them).
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
    config = config or TrainConfig()
    schema = schema if isinstance(schema, Schema) else load_schema(schema)
    reporter = reporter or ProgressReporter(enabled=config.progress)
    with TrainingRuntime() as runtime:
        trained = _fit_and_calibrate(
            data, schema=schema, config=config, reporter=reporter, runtime=runtime
        )
        return _audit_evaluate_and_publish(
            trained, config=config, reporter=reporter, runtime=runtime
        )


@dataclass
class _Trained:
    """What the fitting half of a run hands to the evaluating half."""

    trained_at: dt.datetime
    profile: Any
    feed_reference: ReferenceProfile
    encoded: EncodedData
    fitted: FitResult
    calibration: Calibration
    model: ServiceNeedModel
    warm_up: Background[None] | None
    frame: pd.DataFrame | None = None
    """The validated frame, kept for the effect step (None when effects are off)."""


def _fit_and_calibrate(
    data: str | Path | pd.DataFrame,
    *,
    schema: Schema,
    config: TrainConfig,
    reporter: ProgressReporter,
    runtime: TrainingRuntime,
) -> _Trained:
    """Validate, split, encode, fit, calibrate and threshold; assemble the model."""
    # Imported inside the runtime, not at the top: LightGBM loads after OpenMP is set up.
    from training import steps

    trained_at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    with reporter.step("validate"):
        frame, profile = steps.validate(data, schema)
        feed_reference = steps.feed_reference(frame, schema)
    with reporter.step("split"):
        split = steps.split(frame, schema, config)
    reporter.note(f"  {split.method}: " + ", ".join(f"{k} {v:,}" for k, v in split.sizes().items()))
    with reporter.step("encode features"):
        encoded = steps.encode(frame, schema, split)
    with reporter.step(f"fit {len(encoded.services)} services"):
        fitted = steps.fit(encoded, schema, config, reporter)
    # MLflow warms up in a thread while calibration and the audit run (not during the
    # fit, where it would only take CPU from LightGBM's threads).
    warm_up = (
        runtime.in_thread(steps.warm_up_tracking, config, name="mlflow-warm-up")
        if config.tracking.enabled
        else None
    )
    with reporter.step("calibrate and threshold"):
        calibration = steps.calibrate(fitted, encoded, schema, config)
    with reporter.step("assemble model (fingerprint data)"):
        model = steps.assemble_model(
            fitted, calibration, encoded, schema=schema, config=config, trained_at=trained_at
        )
    return _Trained(
        trained_at,
        profile,
        feed_reference,
        encoded,
        fitted,
        calibration,
        model,
        warm_up,
        frame=frame if config.effects.enabled else None,
    )


def _audit_evaluate_and_publish(
    trained: _Trained,
    *,
    config: TrainConfig,
    reporter: ProgressReporter,
    runtime: TrainingRuntime,
) -> TrainResult:
    """Score the test split, audit, evaluate, write the artifact; log and register it."""
    from training import steps

    tracking, warm_up = config.tracking.enabled, trained.warm_up
    model, encoded = trained.model, trained.encoded
    with reporter.step("score test split"):
        scores = steps.score_test(model, encoded)
    with reporter.step("explain the whole population"):
        steps.explain_population(model, encoded, config)
    plots_wanted = tracking and config.tracking.plots
    shap_plots = steps.start_shap_plots(runtime, model, encoded, config) if plots_wanted else None
    with reporter.step("fairness audit"):
        fairness = steps.audit(model, encoded, scores, config)
    if (note := steps.verdict_note(fairness)) is not None:
        reporter.note(note)
    run = None
    if warm_up is not None:
        with reporter.step("open MLflow run"):
            warm_up.result()
            run = steps.open_run(runtime, model, fairness, config)
    with reporter.step("evaluate"):
        evaluation, targets = steps.evaluate(
            model, encoded, scores, schema=model.schema, config=config
        )
    report = steps.report(
        evaluation, targets, model=model, fitted=trained.fitted, calibration=trained.calibration
    )
    name = model.metadata["name"]
    result = TrainResult(
        model=model,
        artifact_dir=Path(
            config.output_dir or steps.default_artifact_dir(name, trained.trained_at)
        ),
        report=report,
        fairness=fairness,
        split=encoded.split,
        run_id=run.run_id if run else None,
        step_seconds=reporter.step_seconds,
    )
    if trained.frame is not None:
        with reporter.step("fit effect models"):
            outcome = steps.fit_effects(
                trained.frame,
                model.schema,
                encoded.split,
                config,
                artifact_dir=result.artifact_dir,
            )
        _record_effects(result, outcome)
        if fairness is not None and model.effects is not None:
            test_frame = encoded.test_frame
            calibrated = pd.DataFrame(
                scores.calibrated, index=test_frame.index, columns=model.services
            )
            fairness.add_benefit_view(model, test_frame, calibrated)
    with reporter.step("write model artifact"):
        files = steps.write_artifact(
            model,
            result.artifact_dir,
            report=report,
            profile=trained.profile,
            feed_reference=trained.feed_reference,
            fairness=fairness,
            effects_card=result.effects_card,
        )
    if run is not None:
        _publish(
            result,
            run,
            files,
            trained=trained,
            scores=scores,
            shap_plots=shap_plots,
            config=config,
            reporter=reporter,
            runtime=runtime,
        )
    return result


def _record_effects(result: TrainResult, outcome: EffectsOutcome) -> None:
    """Put what the effect step produced into the result, the report and the model."""
    if outcome.fit is None:
        result.effects = outcome.note
        return
    result.effects = f"{len(outcome.fit.services)} services estimated" + (
        f", {len(outcome.fit.skipped)} not estimable" if outcome.fit.skipped else ""
    )
    result.report["effect_metrics"] = outcome.metrics
    result.effects_card = outcome.card_section
    result.model.effects = outcome.fit.models


def _publish(
    result: TrainResult,
    run: RunInfo,
    files: dict[str, list[Path]],
    *,
    trained: _Trained,
    scores: TestScores,
    shap_plots: Future[list[Path]] | None,
    config: TrainConfig,
    reporter: ProgressReporter,
    runtime: TrainingRuntime,
) -> None:
    """Finish the plots; log the run to MLflow and register the version."""
    from training import steps

    if config.tracking.plots:
        with reporter.step("plots (calibration; SHAP waited for)"):
            files["plots"] = steps.plots(
                trained.calibration,
                trained.encoded,
                scores,
                runtime=runtime,
                shap_plots=shap_plots,
                artifact_dir=result.artifact_dir,
            )
    with reporter.step("log to MLflow and register"):
        registered = steps.log_and_register(
            run,
            result.model,
            trained.encoded,
            artifact_dir=result.artifact_dir,
            report=result.report,
            files=files,
            fairness=result.fairness,
            config=config,
        )
    _record_registration(result, registered, reporter)


def _record_registration(
    result: TrainResult, registered: RegisteredVersion | None, reporter: ProgressReporter
) -> None:
    """Put the registered version into the result; say so if it is not the one expected."""
    if registered is None:
        return
    result.model_version = registered.version
    result.registered_model_name = registered.name
    result.model_uri = registered.model_uri
    expected = result.model.metadata.get("version")
    if registered.version != expected:
        reporter.note(MSG_VERSION_RACE.format(registered=registered.version, expected=expected))
