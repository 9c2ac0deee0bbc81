"""Work history and unemployment: experience, occupation, unemployment, benefit."""

from __future__ import annotations

import numpy as np

from training.synth.categories import BENEFIT_TYPES, EDUCATION_LEVELS, OCCUPATION_GROUPS, code
from training.synth.draft import Draft
from training.synth.sampling import bernoulli, categorical_rows

# Latest occupation per education level (rows follow EDUCATION_LEVELS; columns follow
# OCCUPATION_GROUPS without "none").
OCCUPATION_WEIGHTS_BY_LEVEL = np.array(
    [
        # mgr  prof  tech  cler  serv  agri  craft mach  elem
        [0.01, 0.02, 0.03, 0.06, 0.30, 0.02, 0.12, 0.10, 0.34],  # none_or_unknown
        [0.01, 0.01, 0.03, 0.06, 0.30, 0.02, 0.15, 0.12, 0.30],  # basic
        [0.02, 0.04, 0.08, 0.15, 0.40, 0.01, 0.07, 0.05, 0.18],  # upper_secondary_general
        [0.02, 0.03, 0.12, 0.10, 0.27, 0.03, 0.20, 0.13, 0.10],  # vocational
        [0.06, 0.25, 0.30, 0.14, 0.15, 0.01, 0.04, 0.02, 0.03],  # bachelor
        [0.10, 0.50, 0.20, 0.09, 0.07, 0.00, 0.02, 0.01, 0.01],  # master_or_higher
    ]
)
FEMALE_OCCUPATION_TILT = np.array([0.8, 1.1, 1.0, 1.6, 1.4, 0.7, 0.3, 0.4, 1.0])
"""Gendered occupations: weights for women are multiplied by this (men by its inverse)."""
DOWNGRADED_OCCUPATION_TILT = np.array([0.4, 0.4, 0.6, 0.6, 1.3, 1.0, 1.0, 1.2, 2.2])
"""Weak Finnish/Swedish or an unrecognised foreign degree pushes work towards elementary jobs."""

UNEMPLOYMENT_LOG_MONTHS_BASE = 2.05
"""Intercept of log unemployment months, tuned so ~38 % are unemployed 12+ months."""
UNEMPLOYMENT_LOG_MONTHS_NOISE = 1.0
UNEMPLOYMENT_MAX_MONTHS = 240
EXHAUSTED_EARNINGS_RELATED_MONTHS = 18
"""Earnings-related allowance runs ~400 days; after that, labour market subsidy."""


def draw_work_history(draft: Draft) -> None:
    """Work experience, latest occupation, part-time work."""
    rng = draft.rng
    age = draft.num("age")
    foreign = draft.flag("foreign_background")
    years = np.nan_to_num(draft.num("years_in_finland"), nan=0.0)
    level = draft.columns["education_level"]
    health = draft.latent["health_burden"]

    never_rate = (
        0.03
        + 0.35 * (age < 21)
        + 0.12 * ((age >= 21) & (age < 25))
        + 0.10 * (foreign & (years < 3))
        + 0.05 * (health > 2)
    )
    never_worked = bernoulli(rng, never_rate)
    potential = np.maximum(age - draft.latent["working_life_start"], 0.0)
    female = draft.is_in("gender", "female")
    mean_fraction = np.clip(
        0.80
        - 0.18 * (foreign & (draft.latent["age_at_arrival"] >= 20))
        - 0.06 * np.maximum(health, 0.0)
        - 0.06 * (female & (draft.num("children_under_18") > 0)),
        0.1,
        0.95,
    )
    fraction = rng.beta(6.0 * mean_fraction, 6.0 * (1.0 - mean_fraction))
    ceiling = np.minimum(np.maximum(age - 15.0, 0.0), 55.0)
    experience = np.minimum(np.maximum(potential * fraction, 0.3), ceiling)
    experience = np.where(never_worked, 0.0, np.round(experience, 1))

    tilt = draft.gender_tilt(FEMALE_OCCUPATION_TILT)
    downgraded = (draft.latent["language_skill"] < 3.0) | draft.flag("degree_obtained_abroad")
    tilt[downgraded] *= DOWNGRADED_OCCUPATION_TILT
    occupation = categorical_rows(rng, OCCUPATION_WEIGHTS_BY_LEVEL[level] * tilt) + 1
    occupation = np.where(never_worked, code(OCCUPATION_GROUPS, "none"), occupation)
    service_work = occupation == code(OCCUPATION_GROUPS, "service_sales")
    part_time = ~never_worked & bernoulli(rng, 0.06 + 0.08 * service_work + 0.03 * female)
    draft.columns.update(
        work_experience_years=experience,
        occupation_group=occupation.astype(np.int8),
        part_time_work=part_time,
    )


def draw_unemployment(draft: Draft) -> None:
    """Unemployment duration and spells, time since last job, benefit type."""
    rng, n = draft.rng, draft.rows
    age = draft.num("age")
    level = draft.columns["education_level"]
    latent = draft.latent
    never_worked = draft.is_in("occupation_group", "none")
    low_education = level <= code(EDUCATION_LEVELS, "basic")
    high_education = level >= code(EDUCATION_LEVELS, "bachelor")

    log_months = (
        UNEMPLOYMENT_LOG_MONTHS_BASE
        + 0.40 * latent["health_burden"]
        + 0.25 * latent["mental_strain"]
        + 0.25 * latent["life_difficulty"]
        - 0.30 * latent["motivation"]
        + 0.35 * low_education
        - 0.25 * high_education
        + 0.012 * (age - 40.0)
        + 0.12 * (6.0 - latent["language_skill"])
        + 0.30 * never_worked
        + 0.35 * (latent["work_ability"] < 5.0)
        + UNEMPLOYMENT_LOG_MONTHS_NOISE * rng.standard_normal(n)
    )
    cap = np.minimum(np.maximum((age - 15.5) * 12.0, 1.0), UNEMPLOYMENT_MAX_MONTHS)
    months = np.minimum(np.floor(np.exp(log_months)), np.floor(cap))

    churn = draft.is_in("occupation_group", "service_sales", "elementary", "craft_trades")
    spell_rate = np.exp(0.1 + 0.3 * churn + 0.3 * (age < 30) - 0.5 * np.log1p(months / 12.0))
    spells = np.where(months >= 60, 1.0, 1.0 + rng.poisson(spell_rate))

    part_time = draft.flag("part_time_work")
    gap = rng.geometric(0.3, n) - 1.0
    last_job = np.where(part_time, np.floor(rng.random(n) * 3.0), months + gap)
    last_job = np.minimum(last_job, np.minimum(np.floor((age - 15.0) * 12.0), 600.0))
    last_job = np.where(never_worked, np.nan, np.maximum(last_job, 0.0))

    short_history = never_worked | (draft.num("work_experience_years") < 1.0)
    exhausted = months >= EXHAUSTED_EARNINGS_RELATED_MONTHS
    foreign = draft.flag("foreign_background")
    studying = draft.flag("currently_studying")
    weights = np.empty((n, len(BENEFIT_TYPES)))
    weights[:] = np.column_stack(
        [
            0.62 + 0.15 * high_education - 0.25 * foreign,
            0.18 + 0.10 * foreign,
            np.full(n, 0.10),
            0.08 + 0.10 * studying,
        ]
    )
    weights[exhausted] = [0.04, 0.04, 0.82, 0.10]
    weights[short_history] = [0.0, 0.0, 0.75, 0.25]
    weights[age >= 65] = [0.05, 0.05, 0.10, 0.80]
    draft.columns.update(
        unemployment_months=months,
        unemployment_spells_5y=np.minimum(spells, 30.0),
        months_since_last_job=last_job,
        benefit_type=categorical_rows(rng, weights),
    )
