"""Offline training: from a register extract to a calibrated, audited, registered model.

:func:`train` validates an extract against the schema, splits it honestly (a held-out
test part; out of time when the schema names a date column), fits one LightGBM binary
model per service with early stopping, calibrates each on held-out data, chooses the
"recommended" thresholds, evaluates against baselines (and the oracle of the synthetic
register), audits fairness, writes the model artifact with its reports and model card,
and logs and registers everything in MLflow. :class:`TrainConfig` holds every setting
with embedded defaults (``load_config`` reads YAML or TOML). ``promote`` moves the
``production`` alias behind the fairness gate. The synthetic register lives in
:mod:`training.synth`.

Importing this package changes no environment variable and loads no LightGBM; a
training run sets up OpenMP and BLAS threads itself when it begins
(:mod:`training.runtime`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from training.config import TrainConfig, load_config
    from training.pipeline import TrainResult, train
    from training.promote import PromotionRefused, promote

__all__ = ["PromotionRefused", "TrainConfig", "TrainResult", "load_config", "promote", "train"]

_EXPORTS = {
    "TrainConfig": "training.config",
    "load_config": "training.config",
    "TrainResult": "training.pipeline",
    "train": "training.pipeline",
    "PromotionRefused": "training.promote",
    "promote": "training.promote",
}


def __getattr__(name: str) -> Any:
    """Import the public names lazily, so ``tarve synth`` does not load LightGBM."""
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'training' has no attribute {name!r}")
