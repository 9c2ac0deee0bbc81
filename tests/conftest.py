"""Shared fixtures: a small trained model (once per session) and a temporary MLflow store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import training  # noqa: F401  (sets OMP_WAIT_POLICY before LightGBM loads)

SMALL_REGISTER_ROWS = 4000
SMALL_REGISTER_SEED = 20210301


def fast_train_config(**changes: Any) -> Any:
    """A training config for tests: few boosting rounds, one thread, small samples."""
    from training.config import TrainConfig

    base: dict[str, Any] = {
        "lightgbm": {
            "learning_rate": 0.15,
            "num_leaves": 15,
            "min_data_in_leaf": 30,
            "num_boost_round": 60,
            "early_stopping_rounds": 10,
            "num_threads": 1,
        },
        "evaluation": {"baseline_sample": 1500},
        "tracking": {"enabled": False, "shap_sample": 50},
        "progress": False,
        "effects": {"enabled": False},
    }
    return TrainConfig().updated(base).updated(changes)


@pytest.fixture(scope="session")
def small_register() -> pd.DataFrame:
    """~4,000 rows of the synthetic register (default schema, bias on)."""
    from training.synth import generate_register

    return generate_register(SMALL_REGISTER_ROWS, seed=SMALL_REGISTER_SEED)


@pytest.fixture(scope="session")
def trained_result(small_register: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The :class:`training.TrainResult` of one fast training run (no MLflow)."""
    from training.pipeline import train

    out = tmp_path_factory.mktemp("trained") / "model"
    return train(small_register, config=fast_train_config(output_dir=str(out)))


@pytest.fixture(scope="session")
def trained_model_dir(trained_result: Any) -> Path:
    """A model artifact directory trained once per session on ~4,000 synthetic rows.

    Holds the boosters, calibrators, schema, ``evaluation.json``, ``model_card.md`` and
    ``fairness_audit.json``. Treat it as read-only.
    """
    return Path(trained_result.artifact_dir)


@pytest.fixture
def mlflow_tracking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A temporary MLflow store (SQLite + local artifacts) for one test; yields its URI."""
    import mlflow

    home = tmp_path / "tarve_home"
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("TARVE_HOME", str(home))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    yield uri
    while mlflow.active_run() is not None:
        mlflow.end_run()
