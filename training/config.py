"""Training configuration: one pydantic model with embedded defaults.

Every key has a default, so ``tarve train`` runs with no file at all. A YAML or TOML
file (``--config``) overrides any subset of keys; unknown keys are an error, so a typo
never silently falls back to a default. See ``docs/training.md`` for every key.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from models.store import CANDIDATE_ALIAS, DEFAULT_REGISTERED_MODEL

CalibrationMethod = Literal["isotonic", "platt", "none"]
CALIBRATION_METHODS: tuple[CalibrationMethod, ...] = ("isotonic", "platt", "none")
MSG_CONFIG_FILE = "cannot read training config {path}: {problem}"
MSG_CONFIG_INVALID = "invalid training config {path}:\n{problems}"
MSG_THRESHOLD_VALUE = "threshold rule {rule!r} needs a 'value'"
MSG_FRACTIONS = "test_fraction + calibration_fraction must be below 1 (got {total})"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SplitConfig(_Section):
    """How rows are divided into train, calibration and test parts."""

    test_fraction: float = Field(default=0.2, gt=0, lt=1)
    calibration_fraction: float = Field(default=0.2, gt=0, lt=1)
    out_of_time: bool | None = None
    """None: out-of-time when the schema names a split date column; else random."""
    seed: int = 20210301


class BoosterConfig(_Section):
    """LightGBM parameters shared by every service's binary model."""

    learning_rate: float = Field(default=0.05, gt=0)
    num_leaves: int = Field(default=31, ge=2)
    min_data_in_leaf: int = Field(default=100, ge=1)
    feature_fraction: float = Field(default=0.8, gt=0, le=1)
    bagging_fraction: float = Field(default=0.8, gt=0, le=1)
    bagging_freq: int = Field(default=1, ge=0)
    lambda_l2: float = Field(default=1.0, ge=0)
    max_bin: int = Field(default=255, ge=3)
    max_cat_to_onehot: int = Field(default=8, ge=1)
    num_boost_round: int = Field(default=2000, ge=1)
    early_stopping_rounds: int = Field(default=50, ge=1)
    num_threads: int = Field(default=0, ge=0)
    """0: LightGBM's default (all cores)."""
    seed: int = 7

    def lightgbm_params(self) -> dict[str, Any]:
        """Return the parameter dict for ``lightgbm.train`` (objective, metric and these keys)."""
        params: dict[str, Any] = {
            "objective": "binary",
            "metric": "binary_logloss",
            "verbosity": -1,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_data_in_leaf,
            "feature_fraction": self.feature_fraction,
            "bagging_fraction": self.bagging_fraction,
            "bagging_freq": self.bagging_freq,
            "lambda_l2": self.lambda_l2,
            "max_bin": self.max_bin,
            "max_cat_to_onehot": self.max_cat_to_onehot,
            "seed": self.seed,
            "deterministic": True,
            "force_row_wise": True,
        }
        if self.num_threads:
            params["num_threads"] = self.num_threads
        return params


class TuneConfig(_Section):
    """Optional Optuna search per service (``--tune N`` sets ``trials``)."""

    trials: int = Field(default=0, ge=0)
    timeout_seconds: float | None = Field(default=None, gt=0)
    """Time budget per service; None: no limit."""
    seed: int = 11


class CalibrationConfig(_Section):
    """Calibrator candidates; the one with the lowest cross-fitted log loss wins."""

    methods: list[CalibrationMethod] = Field(
        default_factory=lambda: list(CALIBRATION_METHODS), min_length=1
    )
    folds: int = Field(default=3, ge=2)
    selection_sample: int = Field(default=20_000, ge=100)
    """Calibration rows used for the cross-fitted choice (the chosen kind is then
    refitted on the whole calibration split)."""
    seed: int = 5


class ThresholdConfig(_Section):
    """The rule that picks each service's "recommended" threshold on the calibration split.

    ``max_f1``: maximise F1. ``fixed``: ``value`` for every service. ``min_precision``:
    the lowest threshold whose precision is at least ``value``. ``prevalence``: the
    threshold that recommends as many clients as have the need.
    """

    rule: Literal["max_f1", "fixed", "min_precision", "prevalence"] = "max_f1"
    value: float | None = Field(default=None, ge=0, le=1)

    @model_validator(mode="after")
    def _value_when_needed(self) -> ThresholdConfig:
        if self.rule in ("fixed", "min_precision") and self.value is None:
            raise ValueError(MSG_THRESHOLD_VALUE.format(rule=self.rule))
        return self


class EvaluationConfig(_Section):
    """Test-set evaluation; every costly part is bounded by a sample size."""

    top_k: int = Field(default=3, ge=1)
    ndcg_k: int = Field(default=5, ge=1)
    ece_bins: int = Field(default=10, ge=2)
    baseline_sample: int = Field(default=20_000, ge=100)
    """Training rows the logistic-regression baseline is fitted on."""
    logistic_c: float = Field(default=1.0, gt=0)
    seed: int = 3


class TrackingConfig(_Section):
    """MLflow run, plots and registry."""

    enabled: bool = True
    experiment: str = "tarve"
    run_name: str | None = None
    registered_model_name: str = DEFAULT_REGISTERED_MODEL
    register_model: bool = True
    alias: str = CANDIDATE_ALIAS
    plots: bool = True
    shap_sample: int = Field(default=300, ge=10)
    input_example_rows: int = Field(default=3, ge=1)


class FairnessConfig(_Section):
    """The fairness audit of the test split (the ``fairness`` package)."""

    enabled: bool = True
    policy: Path | None = None
    """Policy file; None: the fairness package's documented defaults."""


class EffectsConfig(_Section):
    """Effect models (expected benefit) fitted beside the need models (``training.effects``)."""

    enabled: bool = True
    n_folds: int = Field(default=3, ge=2)
    min_propensity: float = Field(default=0.005, gt=0, lt=0.5)
    """Common support: ``P(service | x, service or none)`` within [this, 1 - this]."""
    control: str = "none"
    """The treatment value meaning no service."""
    seed: int = 0
    final_stage: Literal["index", "trees"] = "index"
    """``index``: the effect varies through the need and the baseline chance (two
    coefficients per service); ``trees``: a LightGBM regressor on every field."""


class TrainConfig(_Section):
    """Everything ``tarve train`` can be told; every key has a default."""

    split: SplitConfig = SplitConfig()
    lightgbm: BoosterConfig = BoosterConfig()
    tune: TuneConfig = TuneConfig()
    calibration: CalibrationConfig = CalibrationConfig()
    threshold: ThresholdConfig = ThresholdConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    tracking: TrackingConfig = TrackingConfig()
    fairness: FairnessConfig = FairnessConfig()
    effects: EffectsConfig = EffectsConfig()
    output_dir: Path | None = None
    """Where the model artifact directory is written; None: under ``TARVE_HOME/models``."""
    progress: bool = True

    @model_validator(mode="after")
    def _fractions_leave_training_rows(self) -> TrainConfig:
        total = self.split.test_fraction + self.split.calibration_fraction
        if total >= 1:
            raise ValueError(MSG_FRACTIONS.format(total=total))
        return self

    def updated(self, changes: dict[str, Any]) -> TrainConfig:
        """Return a copy with nested ``{"section": {"key": value}}`` changes applied and checked."""
        merged = _deep_merge(self.model_dump(), changes)
        return TrainConfig.model_validate(merged)

    def flat(self) -> dict[str, Any]:
        """``section.key -> value`` for logging as MLflow parameters."""
        flat: dict[str, Any] = {}
        for section, values in self.model_dump(mode="json").items():
            if isinstance(values, dict):
                for key, value in values.items():
                    flat[f"{section}.{key}"] = value
            else:
                flat[section] = values
        return flat


def _deep_merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_config(path: str | Path | None = None) -> TrainConfig:
    """Read a YAML (``.yaml``/``.yml``) or TOML (``.toml``) training config.

    Parameters
    ----------
    path : str or Path, optional
        The config file; None gives the embedded defaults.

    Raises
    ------
    ValueError
        The file cannot be read or parsed, or a key is unknown or out of range; the
        message lists every problem.
    """
    if path is None:
        return TrainConfig()
    config_path = Path(path)
    try:
        text = config_path.read_text("utf-8")
        raw = tomllib.loads(text) if config_path.suffix == ".toml" else yaml.safe_load(text)
    except (OSError, tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ValueError(MSG_CONFIG_FILE.format(path=config_path, problem=exc)) from exc
    try:
        return TrainConfig.model_validate(raw or {})
    except ValidationError as exc:
        problems = "\n".join(
            f"  - {'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ValueError(MSG_CONFIG_INVALID.format(path=config_path, problems=problems)) from exc
