"""Builders shared by the tests and the benchmarks.

A small model fitted on random data without the training package (``fixture_model``),
random in-schema profiles and request bodies (``requests``), small valid register
extracts (``sample_extracts``), fast training runs (``training_runs``) and a brute-force
Shapley reference (``tree_shapley``). Fixtures stay in the ``conftest.py`` files; this
package holds plain functions they and ``bench/*.py`` call.
"""

from __future__ import annotations

from tests.support.fixture_model import (
    fit_fixture_model,
    random_profile,
    random_value,
    save_fixture_model,
)
from tests.support.requests import CONSENTS, request_bodies
from tests.support.training_runs import (
    SMALL_REGISTER_ROWS,
    SMALL_REGISTER_SEED,
    fast_train_config,
    small_register,
)

__all__ = [
    "CONSENTS",
    "SMALL_REGISTER_ROWS",
    "SMALL_REGISTER_SEED",
    "fast_train_config",
    "fit_fixture_model",
    "random_profile",
    "random_value",
    "request_bodies",
    "save_fixture_model",
    "small_register",
]
