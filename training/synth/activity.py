"""Activity and plan: services so far, contacts, applications, plan goal, skills, date."""

from __future__ import annotations

import numpy as np

from training.synth.categories import DIGITAL_SKILLS, EDUCATION_LEVELS, code
from training.synth.draft import Draft
from training.synth.sampling import bernoulli, categorical_rows, sigmoid

BUSINESS_PLAN_BASE = -2.8
"""Intercept of the business-plan logit, tuned so ~10 % have a business plan."""
FIRST_RECORD_DATE = np.datetime64("2021-03-01", "D")
"""Helsinki's employment experiment began on 1 March 2021."""
LAST_RECORD_DATE = np.datetime64("2024-12-31", "D")


def draw_activity(draft: Draft) -> None:
    """Services received, caseworker contacts, job applications, business plan, plan goal."""
    rng = draft.rng
    age = draft.num("age")
    months = draft.num("unemployment_months")
    level = draft.columns["education_level"]
    latent = draft.latent
    foreign = draft.flag("foreign_background")
    newcomer = foreign & (np.nan_to_num(draft.num("years_in_finland"), nan=99.0) < 5)
    high_education = level >= code(EDUCATION_LEVELS, "bachelor")
    no_vocational = level <= code(EDUCATION_LEVELS, "upper_secondary_general")

    services = rng.poisson(
        0.3
        + 0.5 * np.minimum(months, 36.0) / 12.0
        + 0.5 * np.maximum(latent["life_difficulty"], 0.0)
        + 0.2 * newcomer
    )
    contacts = rng.poisson(
        1.5
        + 0.04 * np.minimum(months, 24.0)
        + 1.2 * np.maximum(latent["life_difficulty"], 0.0)
        + 0.7 * (age < 25)
        + 0.4 * newcomer
    )
    mean_applications = np.exp(
        2.2
        + 0.45 * latent["motivation"]
        - 0.15 * latent["health_burden"]
        - 0.25 * np.log1p(months / 6.0)
        + 0.25 * high_education
        - 0.35 * (latent["language_skill"] < 2.0)
        - 0.6 * (age >= 60)
    )
    dispersion = 1.3
    applications = rng.negative_binomial(dispersion, dispersion / (dispersion + mean_applications))

    business_plan = bernoulli(
        rng,
        sigmoid(
            BUSINESS_PLAN_BASE
            + 1.0 * latent["entrepreneurship"]
            + 0.35 * high_education
            + 0.3 * ((age >= 30) & (age < 55))
            - 0.5 * (months >= 24)
            - 0.5 * (latent["work_ability"] < 5.0)
        ),
    )
    studying = draft.flag("currently_studying")
    goal_weights = np.column_stack(
        [
            3.0 + 1.0 * (latent["motivation"] > 0),
            0.3 + 1.2 * (age < 25) + 1.5 * studying + 0.5 * no_vocational + 0.4 * newcomer,
            0.03 + 4.0 * business_plan * np.exp(0.8 * latent["entrepreneurship"]),
            0.05 + 2.0 * (latent["work_ability"] < 5.0) + 0.6 * (latent["mental_strain"] > 1.5),
            0.4 + 0.8 * (latent["motivation"] < -0.7) + 0.5 * (age < 25),
        ]
    )
    draft.columns.update(
        services_received_3y=np.minimum(services, 30).astype(np.float64),
        caseworker_contacts_6m=np.minimum(contacts, 60).astype(np.float64),
        job_applications_3m=np.minimum(applications, 300).astype(np.float64),
        business_plan=business_plan,
        plan_goal=categorical_rows(rng, goal_weights),
    )


def draw_skills_and_date(draft: Draft) -> None:
    """Digital skills, driving licence and the record date."""
    rng, n = draft.rng, draft.rows
    age = draft.num("age")
    level = draft.columns["education_level"]
    foreign = draft.flag("foreign_background")
    newcomer = foreign & (np.nan_to_num(draft.num("years_in_finland"), nan=99.0) < 5)
    office_work = draft.is_in(
        "occupation_group", "managers", "professionals", "technicians", "clerical"
    )
    digital_score = (
        0.5 * (level >= code(EDUCATION_LEVELS, "upper_secondary_general"))
        + 0.5 * (level >= code(EDUCATION_LEVELS, "bachelor"))
        - 0.03 * (age - 40.0)
        + 0.3 * office_work
        + 0.8 * rng.standard_normal(n)
    )
    digital = np.where(
        digital_score < -0.35,
        code(DIGITAL_SKILLS, "basic"),
        np.where(
            digital_score < 0.85, code(DIGITAL_SKILLS, "good"), code(DIGITAL_SKILLS, "advanced")
        ),
    ).astype(np.int8)
    licence_rate = sigmoid(
        1.3
        - 1.4 * newcomer
        - 0.6 * foreign
        - 0.5 * (draft.latent["mental_strain"] > 1.5)
        + 0.3 * (age > 25)
    )
    licence = bernoulli(rng, np.where(age < 18, 0.03, licence_rate))
    span = int((LAST_RECORD_DATE - FIRST_RECORD_DATE).astype(int)) + 1
    offsets = np.floor(rng.random(n) * span).astype("timedelta64[D]")
    draft.columns.update(
        digital_skills=digital,
        driving_licence=licence,
        registered_on=FIRST_RECORD_DATE + offsets,
    )
