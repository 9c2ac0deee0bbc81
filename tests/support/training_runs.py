"""Small, fast training runs: the config tests train with and the register they train on."""

from __future__ import annotations

from typing import Any

import pandas as pd

SMALL_REGISTER_ROWS = 4000
SMALL_REGISTER_SEED = 20210301


def fast_train_config(**changes: Any) -> Any:
    """Build a training config for tests: few boosting rounds, one thread, small samples.

    Parameters
    ----------
    **changes
        Config sections or keys to change on top (``TrainConfig.updated``).

    Returns
    -------
    training.config.TrainConfig
    """
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


def small_register(rows: int = SMALL_REGISTER_ROWS, *, seed: int = SMALL_REGISTER_SEED) -> Any:
    """Generate a small synthetic register (default schema, bias on).

    Parameters
    ----------
    rows : int
        Number of jobseekers.
    seed : int
        Generator seed.

    Returns
    -------
    pandas.DataFrame
    """
    from training.synth import generate_register

    frame: pd.DataFrame = generate_register(rows, seed=seed)
    return frame
