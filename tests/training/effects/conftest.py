"""A small fitted set of effect models, shared by the effect tests."""

from __future__ import annotations

import pandas as pd
import pytest

from models.schema import Schema, load_schema
from training.effects.estimate import EffectFit, fit_effects
from training.synth import generate_register

EFFECT_ROWS = 12_000
EFFECT_SEED = 14


@pytest.fixture(scope="session")
def effect_schema() -> Schema:
    return load_schema()


@pytest.fixture(scope="session")
def effect_register(effect_schema: Schema) -> pd.DataFrame:
    return generate_register(EFFECT_ROWS, seed=EFFECT_SEED, schema=effect_schema)


@pytest.fixture(scope="session")
def effect_fit(effect_register: pd.DataFrame, effect_schema: Schema) -> EffectFit:
    return fit_effects(effect_register, effect_schema, n_folds=2, seed=EFFECT_SEED, num_threads=1)
