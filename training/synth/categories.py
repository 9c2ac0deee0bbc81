"""The category values the generator draws, one tuple per category field.

Internally the generator keeps a category column as ``int8`` codes (the index in the
tuple below, ``-1`` for missing) and turns them into strings only when the frame is
assembled. The frame builder checks that every value drawn here is allowed by the
schema, so a schema that renames a category fails loudly instead of drifting.
"""

from __future__ import annotations

MISSING_CODE = -1

MUNICIPALITIES = ("helsinki", "espoo", "vantaa", "kauniainen")
GENDERS = ("female", "male", "other")
MOTHER_TONGUES = ("fi", "sv", "other")
CITIZENSHIPS = ("finnish", "eu_eea", "other")
EDUCATION_LEVELS = (
    "none_or_unknown",
    "basic",
    "upper_secondary_general",
    "vocational",
    "bachelor",
    "master_or_higher",
)
EDUCATION_FIELDS = (
    "general",
    "education",
    "arts_humanities",
    "social_business_law",
    "science_ict",
    "engineering",
    "agriculture",
    "health_welfare",
    "services",
)
OCCUPATION_GROUPS = (
    "none",
    "managers",
    "professionals",
    "technicians",
    "clerical",
    "service_sales",
    "skilled_agriculture",
    "craft_trades",
    "machine_operators",
    "elementary",
)
BENEFIT_TYPES = ("earnings_related", "basic_allowance", "labour_market_subsidy", "none")
PLAN_GOALS = ("employment", "education", "entrepreneurship", "rehabilitation", "undecided")
DIGITAL_SKILLS = ("basic", "good", "advanced")
LANGUAGE_LEVELS = ("pre_a1", "a1", "a2", "b1", "b2", "c1", "c2")
SERVICES = (
    "job_search_coaching",
    "career_guidance",
    "labour_market_training",
    "self_motivated_study",
    "pay_subsidy",
    "work_trial",
    "startup_grant",
    "integration_training",
    "work_ability_assessment",
    "rehabilitative_work",
    "multisectoral_service",
    "youth_guidance",
)
NO_SERVICE = "none"
RECEIVED_SERVICES = (NO_SERVICE, *SERVICES)

CATEGORY_VALUES: dict[str, tuple[str, ...]] = {
    "municipality": MUNICIPALITIES,
    "gender": GENDERS,
    "mother_tongue": MOTHER_TONGUES,
    "citizenship": CITIZENSHIPS,
    "education_level": EDUCATION_LEVELS,
    "education_field": EDUCATION_FIELDS,
    "occupation_group": OCCUPATION_GROUPS,
    "benefit_type": BENEFIT_TYPES,
    "plan_goal": PLAN_GOALS,
    "digital_skills": DIGITAL_SKILLS,
    "language_level": LANGUAGE_LEVELS,
    "received_service": RECEIVED_SERVICES,
}


def code(values: tuple[str, ...], name: str) -> int:
    """Return the code of one category value (its index in ``values``)."""
    return values.index(name)
