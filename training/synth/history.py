"""History for impact analysis: the service received and the 6-month outcome.

Untreated chance: ``outcome_probability_untreated = sigmoid(OUTCOME_BASE + terms(x))``.
Individual effect of service ``s`` (column ``true_effect_<s>``): the change in the
chance of being employed or in education within 6 months if the client receives ``s``
instead of nothing::

    tau_s = GAIN[s] * true_need_s + modifier_s(x) - LOCK_IN[s]
    true_effect_s = sigmoid(logit(p_untreated) + tau_s) - p_untreated   (0 if ineligible)

So effects are heterogeneous: large for clients who truly need the service, slightly
negative for some who do not (lock-in of training). Assignment is confounded: the
chance of getting any service and which one depend on the recorded (and partly on the
true) needs and on covariates that also drive the outcome, so naive treated-vs-untreated
comparisons are biased, as in real registers.
"""

from __future__ import annotations

import numpy as np

from training.synth.draft import Draft
from training.synth.needs import NeedInputs
from training.synth.sampling import (
    BoolArray,
    FloatArray,
    bernoulli,
    categorical_rows,
    logit,
    sigmoid,
)

OUTCOME_BASE = -0.6
"""Intercept of the untreated outcome logit, tuned to a mean of ~0.40."""
ACTIVATION_BASE = -2.8
"""Intercept of the chance of receiving any service, tuned to an activation rate of ~20 %."""

GAIN: dict[str, float] = {
    "job_search_coaching": 0.9,
    "career_guidance": 0.9,
    "labour_market_training": 1.2,
    "self_motivated_study": 1.8,
    "pay_subsidy": 1.5,
    "work_trial": 1.0,
    "startup_grant": 2.0,
    "integration_training": 1.0,
    "work_ability_assessment": 0.8,
    "rehabilitative_work": 0.9,
    "multisectoral_service": 0.9,
    "youth_guidance": 0.8,
}
"""Log-odds gain of receiving a service, per unit of true need."""
LOCK_IN: dict[str, float] = {
    "job_search_coaching": 0.05,
    "career_guidance": 0.05,
    "labour_market_training": 0.35,
    "self_motivated_study": 0.1,
    "pay_subsidy": 0.0,
    "work_trial": 0.05,
    "startup_grant": 0.2,
    "integration_training": 0.1,
    "work_ability_assessment": 0.05,
    "rehabilitative_work": 0.1,
    "multisectoral_service": 0.05,
    "youth_guidance": 0.0,
}
"""Log-odds lost while in the service (lock-in), whatever the need."""
CAPACITY: dict[str, float] = {
    "job_search_coaching": 1.2,
    "career_guidance": 0.8,
    "labour_market_training": 1.0,
    "self_motivated_study": 0.6,
    "pay_subsidy": 0.8,
    "work_trial": 1.0,
    "startup_grant": 0.5,
    "integration_training": 1.5,
    "work_ability_assessment": 0.6,
    "rehabilitative_work": 0.8,
    "multisectoral_service": 0.6,
    "youth_guidance": 1.0,
}
"""Relative availability of each service when a caseworker picks one."""


def untreated_probability(x: NeedInputs) -> FloatArray:
    """Chance of work or education within 6 months without any service."""
    return sigmoid(
        OUTCOME_BASE
        + 0.45 * x.high_education
        - 0.35 * x.low_education
        + 0.3 * x.motivation
        - 0.45 * np.log1p(x.unemployment_months / 6.0)
        + 0.15 * (x.work_ability - 7.0)
        + 0.3 * (x.language >= 3)
        - 0.04 * np.maximum(x.age - 50.0, 0.0)
        + 0.4 * x.studying
        + 0.3 * (x.age < 25)
        - 0.3 * x.life
    )


def _effect_modifier(service: str, x: NeedInputs) -> FloatArray:
    if service == "labour_market_training":
        return np.asarray(0.3 * x.motivation, dtype=np.float64)
    if service == "pay_subsidy":
        return np.asarray(0.4 * x.long_term_unemployed, dtype=np.float64)
    if service == "job_search_coaching":
        return np.asarray(0.3 * (x.job_applications < 5), dtype=np.float64)
    return np.zeros(len(x.age))


def true_effects(
    x: NeedInputs,
    untreated: FloatArray,
    needs: dict[str, FloatArray],
    eligible: dict[str, BoolArray],
) -> dict[str, FloatArray]:
    """Individual effect of each service on the 6-month outcome probability."""
    base = logit(untreated)
    effects = {}
    for service, need in needs.items():
        tau = GAIN[service] * need + _effect_modifier(service, x) - LOCK_IN[service]
        effects[service] = np.where(eligible[service], sigmoid(base + tau) - untreated, 0.0)
    return effects


def assign_services(
    draft: Draft,
    x: NeedInputs,
    *,
    recorded: dict[str, BoolArray],
    needs: dict[str, FloatArray],
    eligible: dict[str, BoolArray],
) -> np.ndarray:
    """Which service each client received: an index into ``needs`` (-1 for none)."""
    rng = draft.rng
    services = list(needs)
    recorded_count = np.sum([recorded[s] for s in services], axis=0)
    contacts = draft.num("caseworker_contacts_6m")
    any_service = bernoulli(
        rng,
        sigmoid(
            ACTIVATION_BASE
            + 1.0 * np.minimum(recorded_count, 3)
            + 0.3 * x.motivation
            - 0.4 * (x.work_ability < 4)
            + 0.2 * (contacts > 3)
        ),
    )
    weights = np.column_stack(
        [eligible[s] * CAPACITY[s] * (0.05 + 3.0 * recorded[s] + 1.0 * needs[s]) for s in services]
    )
    # Everyone is eligible for something (job-search coaching has no rule), but guard anyway.
    weights[weights.sum(axis=1) <= 0, 0] = 1.0
    choice = categorical_rows(rng, weights).astype(np.int16)
    return np.where(any_service, choice, -1)


def draw_outcome(
    rng: np.random.Generator,
    untreated: FloatArray,
    effects: dict[str, FloatArray],
    received: np.ndarray,
) -> BoolArray:
    """Employed or in education within 6 months, given the service received."""
    stacked = np.column_stack([effects[s] for s in effects])
    rows = np.arange(len(untreated))
    effect = np.where(received >= 0, stacked[rows, np.maximum(received, 0)], 0.0)
    return bernoulli(rng, np.clip(untreated + effect, 0.0, 1.0))
