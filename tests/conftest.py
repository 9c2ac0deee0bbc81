"""Shared fixtures: a small trained model (once per session) and a temporary MLflow store.

The builders behind them live in :mod:`tests.support`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import training  # noqa: F401  (sets OMP_WAIT_POLICY before LightGBM loads)
from tests import support

EFFECTS_REGISTER_ROWS = 12_000


@pytest.fixture(scope="session")
def small_register() -> pd.DataFrame:
    """~4,000 rows of the synthetic register (default schema, bias on)."""
    frame: pd.DataFrame = support.small_register()
    return frame


@pytest.fixture(scope="session")
def trained_result(small_register: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Return the :class:`training.TrainResult` of one fast training run (no MLflow)."""
    from training.pipeline import train

    out = tmp_path_factory.mktemp("trained") / "model"
    return train(small_register, config=support.fast_train_config(output_dir=str(out)))


@pytest.fixture(scope="session")
def trained_model_dir(trained_result: Any) -> Path:
    """Return a model artifact directory trained once per session on ~4,000 synthetic rows.

    Holds the boosters, calibrators, schema, ``evaluation.json``, ``model_card.md`` and
    ``fairness_audit.json``. Treat it as read-only.
    """
    return Path(trained_result.artifact_dir)


@pytest.fixture(scope="session")
def trained_effects_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a model artifact trained once per session *with* effect models (~10 s).

    The fast run of :func:`trained_result` on 12,000 rows with the effect step on (two
    folds): need models and ``effects/`` side by side. At this size two services get an
    effect model (job_search_coaching, labour_market_training); the others have too
    little history and answer ``no_effect_model``. Treat it as read-only.
    """
    from training.pipeline import train

    out = tmp_path_factory.mktemp("trained_effects") / "model"
    result = train(
        support.small_register(EFFECTS_REGISTER_ROWS),
        config=support.fast_train_config(
            output_dir=str(out), effects={"enabled": True, "n_folds": 2}
        ),
    )
    return Path(result.artifact_dir)


@pytest.fixture
def mlflow_tracking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Return a temporary MLflow store (SQLite + local artifacts) for one test; yields its URI."""
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
