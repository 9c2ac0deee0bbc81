"""Fit one LightGBM binary model per service, with early stopping on the calibration split.

The training and calibration matrices are binned into LightGBM datasets *once*; each
service only swaps the label vector (``Dataset.set_label``). The models are identical
to fitting each service on its own freshly built dataset, but binning is not repeated
twelve times. ``tune.trials > 0`` runs an Optuna search per service on the same
datasets, scored by the calibration split's log loss; the test split is never used.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np

from training.config import BoosterConfig, TuneConfig
from training.progress import ProgressReporter, ServiceBars

MSG_ONE_CLASS = (
    "service {service!r}: the training split has only {value}s in {column!r}; "
    "a model needs both needs and non-needs"
)
PROGRESS_EVERY = 10


@dataclass
class FittedService:
    """One service's fitted booster and how it was found."""

    booster: lgb.Booster
    best_iteration: int
    calibration_logloss: float
    params: dict[str, Any]
    seconds: float
    trials: int = 0


@dataclass
class FitResult:
    """Every service's booster plus timing."""

    services: dict[str, FittedService] = field(default_factory=dict)
    dataset_seconds: float = 0.0

    @property
    def boosters(self) -> dict[str, lgb.Booster]:
        """Service name -> booster."""
        return {name: fitted.booster for name, fitted in self.services.items()}


def build_datasets(
    train_matrix: np.ndarray,
    calibration_matrix: np.ndarray,
    *,
    feature_names: Sequence[str],
    categorical_features: Sequence[str],
    params: dict[str, Any],
) -> tuple[lgb.Dataset, lgb.Dataset]:
    """Bin the training matrix and the calibration matrix (on the training bins) once."""
    dataset_params = {**params, "feature_pre_filter": False}
    placeholder = np.zeros(len(train_matrix))
    train_set = lgb.Dataset(
        train_matrix,
        label=placeholder,
        feature_name=list(feature_names),
        categorical_feature=list(categorical_features),
        params=dataset_params,
        free_raw_data=False,
    ).construct()
    calibration_set = lgb.Dataset(
        calibration_matrix,
        label=np.zeros(len(calibration_matrix)),
        reference=train_set,
        feature_name=list(feature_names),
        categorical_feature=list(categorical_features),
        params=dataset_params,
        free_raw_data=False,
    ).construct()
    return train_set, calibration_set


def fit_services(
    train_matrix: np.ndarray,
    train_labels: np.ndarray,
    calibration_matrix: np.ndarray,
    calibration_labels: np.ndarray,
    *,
    services: Sequence[str],
    label_columns: Sequence[str],
    feature_names: Sequence[str],
    categorical_features: Sequence[str],
    booster_config: BoosterConfig,
    tune_config: TuneConfig | None = None,
    reporter: ProgressReporter | None = None,
) -> FitResult:
    """Fit one early-stopped binary booster per service.

    Parameters
    ----------
    train_matrix, calibration_matrix : ndarray, shape (rows, features)
        Encoded features of the training and calibration splits.
    train_labels, calibration_labels : ndarray, shape (rows, services)
        0/1 labels, one column per service in ``services`` order.
    services, label_columns : sequence of str
        Service names and their label columns (for messages).
    feature_names, categorical_features : sequence of str
        From the feature encoder.
    booster_config : BoosterConfig
        LightGBM parameters, round limit and early-stopping patience.
    tune_config : TuneConfig, optional
        ``trials > 0`` runs an Optuna search per service.
    reporter : ProgressReporter, optional
        Shows a bar per service with elapsed time.

    Returns
    -------
    FitResult
    """
    reporter = reporter or ProgressReporter(enabled=False)
    _check_both_classes(train_labels, services=services, label_columns=label_columns)
    params = booster_config.lightgbm_params()
    started = time.perf_counter()
    train_set, calibration_set = build_datasets(
        train_matrix,
        calibration_matrix,
        feature_names=feature_names,
        categorical_features=categorical_features,
        params=params,
    )
    result = FitResult(dataset_seconds=time.perf_counter() - started)
    trials = tune_config.trials if tune_config is not None else 0
    with reporter.services(booster_config.num_boost_round) as bars:
        for column, service in enumerate(services):
            train_set.set_label(train_labels[:, column].astype(np.float64))
            calibration_set.set_label(calibration_labels[:, column].astype(np.float64))
            task = bars.start(service)
            service_started = time.perf_counter()
            if trials and tune_config is not None:
                fitted = _tuned_fit(
                    train_set, calibration_set, params, booster_config, tune_config, bars, task
                )
            else:
                fitted = _fit_one(train_set, calibration_set, params, booster_config, bars, task)
            fitted.seconds = time.perf_counter() - service_started
            bars.finish(
                task,
                best_iteration=fitted.best_iteration,
                status=f"logloss {fitted.calibration_logloss:.4f}",
            )
            result.services[service] = fitted
    return result


def _check_both_classes(
    labels: np.ndarray, *, services: Sequence[str], label_columns: Sequence[str]
) -> None:
    """Raise ``ValueError`` (:data:`MSG_ONE_CLASS`) for a service with one label value."""
    for column, (service, label_column) in enumerate(zip(services, label_columns, strict=True)):
        values = np.unique(labels[:, column])
        if values.size < 2:
            raise ValueError(
                MSG_ONE_CLASS.format(service=service, value=int(values[0]), column=label_column)
            )


def _fit_one(
    train_set: lgb.Dataset,
    calibration_set: lgb.Dataset,
    params: dict[str, Any],
    booster_config: BoosterConfig,
    bars: ServiceBars,
    task: Any,
) -> FittedService:
    scores: dict[str, dict[str, list[float]]] = {}
    booster = lgb.train(
        params,
        train_set,
        num_boost_round=booster_config.num_boost_round,
        valid_sets=[calibration_set],
        valid_names=["calibration"],
        callbacks=[
            lgb.early_stopping(booster_config.early_stopping_rounds, verbose=False),
            lgb.record_evaluation(scores),
            _progress_callback(bars, task),
        ],
    )
    best = int(booster.best_iteration or booster.current_iteration())
    losses = scores["calibration"]["binary_logloss"]
    return FittedService(
        booster=booster,
        best_iteration=best,
        calibration_logloss=float(losses[best - 1]),
        params=dict(params),
        seconds=0.0,
    )


def _progress_callback(bars: ServiceBars, task: Any) -> Callable[[Any], None]:
    def callback(env: Any) -> None:
        done = env.iteration + 1
        if done % PROGRESS_EVERY == 0:
            bars.advance(task, done)

    return callback


def _tuned_fit(
    train_set: lgb.Dataset,
    calibration_set: lgb.Dataset,
    params: dict[str, Any],
    booster_config: BoosterConfig,
    tune_config: TuneConfig,
    bars: ServiceBars,
    task: Any,
) -> FittedService:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    best: dict[str, FittedService] = {}

    def objective(trial: optuna.Trial) -> float:
        trial_params = {
            **params,
            "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.2, log=True),
            "num_leaves": trial.suggest_int("num_leaves", 8, 128, log=True),
            "min_data_in_leaf": trial.suggest_int("min_data_in_leaf", 20, 500, log=True),
            "feature_fraction": trial.suggest_float("feature_fraction", 0.5, 1.0),
            "bagging_fraction": trial.suggest_float("bagging_fraction", 0.5, 1.0),
            "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 10.0, log=True),
        }
        fitted = _fit_one(train_set, calibration_set, trial_params, booster_config, bars, task)
        if "best" not in best or fitted.calibration_logloss < best["best"].calibration_logloss:
            best["best"] = fitted
        return fitted.calibration_logloss

    study = optuna.create_study(
        direction="minimize", sampler=optuna.samplers.TPESampler(seed=tune_config.seed)
    )
    # The configured parameters are the first trial, so tuning never does worse on them.
    study.enqueue_trial(
        {
            key: params[key]
            for key in (
                "learning_rate",
                "num_leaves",
                "min_data_in_leaf",
                "feature_fraction",
                "bagging_fraction",
                "lambda_l2",
            )
        }
    )
    study.optimize(objective, n_trials=tune_config.trials, timeout=tune_config.timeout_seconds)
    fitted = best["best"]
    fitted.trials = len(study.trials)
    return fitted
