"""Education: level, field, foreign degree, graduation, studying, digital skills, licence."""

from __future__ import annotations

import numpy as np

from training.synth.categories import EDUCATION_LEVELS, code
from training.synth.draft import Draft
from training.synth.sampling import bernoulli, categorical, categorical_rows, mix_complement
from training.synth.targets import (
    EDUCATION_LEVEL_SHARES,
    FOREIGN_BACKGROUND_SHARE,
    FOREIGN_EDUCATION_LEVEL_SHARES,
)

MINIMUM_AGE_FOR_LEVEL = {
    "vocational": 18,
    "upper_secondary_general": 19,
    "bachelor": 21,
    "master_or_higher": 23,
}
"""A level drawn for someone younger is capped to the next lower level (coherence)."""
CAPPED_TO = {
    "master_or_higher": "bachelor",
    "bachelor": "vocational",
    "upper_secondary_general": "basic",
    "vocational": "basic",
}
TYPICAL_GRADUATION_AGE = {
    "upper_secondary_general": 19.0,
    "vocational": 20.0,
    "bachelor": 24.0,
    "master_or_higher": 26.5,
}
ADULT_LEARNER_SHARE = 0.2
"""Share who took their latest degree later in life (graduation age uniform up to now)."""

# Field of education per level (rows follow EDUCATION_LEVELS; columns EDUCATION_FIELDS).
FIELD_WEIGHTS_BY_LEVEL = np.array(
    [
        # gen  edu  arts  soc  sci  eng  agr  health serv
        [1.00, 0, 0, 0, 0, 0, 0, 0, 0],  # none_or_unknown
        [1.00, 0, 0, 0, 0, 0, 0, 0, 0],  # basic
        [1.00, 0, 0, 0, 0, 0, 0, 0, 0],  # upper_secondary_general
        [0.00, 0.02, 0.06, 0.18, 0.07, 0.27, 0.04, 0.18, 0.18],  # vocational
        [0.00, 0.06, 0.10, 0.27, 0.13, 0.18, 0.02, 0.18, 0.06],  # bachelor
        [0.00, 0.10, 0.17, 0.27, 0.17, 0.14, 0.02, 0.11, 0.02],  # master_or_higher
    ]
)
FEMALE_FIELD_TILT = np.array([1.0, 2.0, 1.3, 1.2, 0.6, 0.35, 0.9, 2.2, 1.3])
"""Gendered field choice: weights for women are multiplied by this (men by its inverse)."""


def _cap_to_age(level: np.ndarray, age: np.ndarray) -> np.ndarray:
    capped = level.copy()
    for name in ("master_or_higher", "bachelor", "upper_secondary_general", "vocational"):
        too_young = (capped == code(EDUCATION_LEVELS, name)) & (age < MINIMUM_AGE_FOR_LEVEL[name])
        capped[too_young] = code(EDUCATION_LEVELS, CAPPED_TO[name])
    return capped


def draw_education(draft: Draft) -> None:
    """Education level and field, degree from abroad, time since graduation, studying."""
    rng, n = draft.rng, draft.rows
    foreign = draft.flag("foreign_background")
    age = draft.num("age")
    overall = [EDUCATION_LEVEL_SHARES[name] for name in EDUCATION_LEVELS]
    foreign_shares = [FOREIGN_EDUCATION_LEVEL_SHARES[name] for name in EDUCATION_LEVELS]
    native_shares = mix_complement(overall, foreign_shares, FOREIGN_BACKGROUND_SHARE)
    level = np.where(
        foreign, categorical(rng, foreign_shares, n), categorical(rng, native_shares, n)
    ).astype(np.int8)
    level = _cap_to_age(level, age)

    field = categorical_rows(
        rng, FIELD_WEIGHTS_BY_LEVEL[level] * draft.gender_tilt(FEMALE_FIELD_TILT)
    )

    has_degree = level >= code(EDUCATION_LEVELS, "upper_secondary_general")
    adult_arrival = draft.latent["age_at_arrival"] >= 20
    abroad_rate = np.where(
        foreign,
        np.where(adult_arrival, np.where(has_degree, 0.75, 0.40), 0.10),
        0.01,
    )
    abroad = bernoulli(rng, abroad_rate) & (level != code(EDUCATION_LEVELS, "basic"))

    typical = np.full(n, np.nan)
    for name, grad_age in TYPICAL_GRADUATION_AGE.items():
        typical[level == code(EDUCATION_LEVELS, name)] = grad_age
    usual = typical + rng.exponential(2.0, n)
    late = typical + rng.random(n) * np.maximum(age - typical, 0.0)
    graduation_age = np.where(rng.random(n) < ADULT_LEARNER_SHARE, late, usual)
    exact_age = age + rng.random(n)
    graduation_age = np.minimum(graduation_age, exact_age)
    months = np.floor((exact_age - graduation_age) * 12.0)
    months_since_graduation = np.where(has_degree, np.clip(months, 0, 660), np.nan)

    studying_rate = np.where(age < 25, 0.14, 0.05) + np.where(foreign & (age < 40), 0.03, 0.0)
    draft.columns.update(
        education_level=level,
        education_field=field,
        degree_obtained_abroad=abroad,
        months_since_graduation=months_since_graduation,
        currently_studying=bernoulli(rng, studying_rate),
    )
    # Working life starts after the usual graduation age (adult learners worked before).
    draft.latent["working_life_start"] = np.minimum(
        np.where(has_degree, np.maximum(usual, 16.0), 17.0), age
    )
