"""The ground truth: each client's true need for each service, and the recorded label.

True need is a probability: ``true_need = eligible * sigmoid(intercept + terms(x))``,
where ``terms`` is a hand-written function of observed fields and of the hidden traits
(:mod:`training.synth.traits`) *as the record shows them* (:func:`assessed_traits`: the
consent-only measurement where consented, a register-based assessment otherwise), with
thresholds and interactions so that a linear model cannot recover it exactly, while a
flexible model on the register's fields can (nearly). It is stored in the oracle column
``true_need_<service>``.

The recorded label is what a caseworker wrote down: a Bernoulli draw from
``recall * true_need + false_alarm * (1 - true_need)`` among eligible clients (0 for the
ineligible), where ``recall`` may be lowered for a group by the historical bias
(:mod:`training.synth.bias`). Models train on recorded labels, as they would on real data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from training.synth.categories import EDUCATION_LEVELS, code
from training.synth.draft import Draft
from training.synth.sampling import BoolArray, FloatArray, bernoulli, sigmoid

CASEWORKER_RECALL = 0.9
"""Share of true needs a caseworker records (without historical bias)."""
CASEWORKER_FALSE_ALARM = 0.01
"""Chance a caseworker records a need that is not there (eligible clients only)."""


@dataclass(frozen=True)
class NeedInputs:
    """The observed fields and assessed traits the true-need process reads."""

    age: FloatArray
    unemployment_months: FloatArray
    long_term_unemployed: BoolArray
    no_vocational: BoolArray
    low_education: BoolArray
    high_education: BoolArray
    upper_secondary_general: BoolArray
    studying: BoolArray
    foreign: BoolArray
    years_in_finland: FloatArray
    degree_abroad: BoolArray
    experience: FloatArray
    never_worked: BoolArray
    months_since_last_job: FloatArray
    months_since_graduation: FloatArray
    outdated_occupation: BoolArray
    skilled_occupation: BoolArray
    job_applications: FloatArray
    basic_digital_skills: BoolArray
    language: FloatArray
    work_ability: FloatArray
    health: FloatArray
    mental: FloatArray
    life: FloatArray
    motivation: FloatArray
    entrepreneurship: FloatArray

    @classmethod
    def from_draft(cls, draft: Draft) -> NeedInputs:
        """Read the need model's inputs from a drafted register."""
        level = draft.columns["education_level"]
        age = draft.num("age")
        months = draft.num("unemployment_months")
        return cls(
            age=age,
            unemployment_months=months,
            long_term_unemployed=months >= 12,
            no_vocational=level <= code(EDUCATION_LEVELS, "upper_secondary_general"),
            low_education=level <= code(EDUCATION_LEVELS, "basic"),
            high_education=level >= code(EDUCATION_LEVELS, "bachelor"),
            upper_secondary_general=level == code(EDUCATION_LEVELS, "upper_secondary_general"),
            studying=draft.flag("currently_studying"),
            foreign=draft.flag("foreign_background"),
            years_in_finland=np.nan_to_num(draft.num("years_in_finland"), nan=99.0),
            degree_abroad=draft.flag("degree_obtained_abroad"),
            experience=draft.num("work_experience_years"),
            never_worked=draft.is_in("occupation_group", "none"),
            months_since_last_job=np.nan_to_num(draft.num("months_since_last_job"), nan=999.0),
            months_since_graduation=np.nan_to_num(draft.num("months_since_graduation"), nan=999.0),
            outdated_occupation=draft.is_in(
                "occupation_group", "clerical", "craft_trades", "machine_operators"
            )
            & (age >= 40),
            skilled_occupation=draft.is_in(
                "occupation_group", "managers", "professionals", "technicians", "craft_trades"
            ),
            job_applications=draft.num("job_applications_3m"),
            basic_digital_skills=draft.is_in("digital_skills", "basic"),
            entrepreneurship=draft.latent["entrepreneurship"],
            **assessed_traits(draft),
        )


def _log_count(draft: Draft, name: str) -> FloatArray:
    return np.log1p(np.nan_to_num(draft.num(name), nan=0.0))


def assessed_traits(draft: Draft) -> dict[str, FloatArray]:
    """Return the hidden traits as the record shows them: what a need assessment can go on.

    Where the client consented, the consent-only source measures the trait (Kykyviisari
    scores, health history, the tested language level); otherwise the trait is assessed
    from register fields everyone has (job applications, caseworker contacts, services,
    plan goal, age, years in Finland). Each is on the scale of its hidden trait
    (:mod:`training.synth.traits`), so a need reads it the same way either way.
    """
    age = draft.num("age")
    months = draft.num("unemployment_months")
    level = draft.columns["education_level"].astype(np.float64)
    education_step = np.maximum(level - code(EDUCATION_LEVELS, "basic"), 0.0)
    kyky = draft.flag("consent_kykyviisari")
    health_consent = draft.flag("consent_health")
    language_consent = draft.flag("consent_language_test")
    rehabilitation_goal = draft.is_in("plan_goal", "rehabilitation")
    sick_leave = _log_count(draft, "sick_leave_days_12m")

    # Health burden and mental strain: Kykyviisari's health score, the health history.
    health_prior = 0.035 * (age - 45.0) + 0.4 * rehabilitation_goal
    health_history = (
        health_prior
        + 1.2 * draft.flag("chronic_illness")
        + 0.35 * sick_leave
        + 0.6 * draft.flag("rehabilitation_history")
        - 0.7
    )
    health = np.where(health_consent, health_history, health_prior)
    kyky_health = (8.0 - draft.num("kyky_health")) / 1.4
    both = np.where(health_consent, 0.5 * (health + kyky_health), kyky_health)
    health = np.where(kyky, both, health)
    mental_prior = -0.01 * (age - 40.0) + 0.4 * rehabilitation_goal
    mental = np.where(
        health_consent,
        mental_prior + 1.8 * draft.flag("mental_health_support") + 0.2 * sick_leave - 0.6,
        mental_prior,
    )

    # Life difficulty: Kykyviisari's life-situation score, else contacts and services.
    newcomer = draft.flag("foreign_background") & (
        np.nan_to_num(draft.num("years_in_finland"), nan=99.0) < 5
    )
    contacts_excess = draft.num("caseworker_contacts_6m") - (
        1.5 + 0.04 * np.minimum(months, 24.0) + 0.7 * (age < 25) + 0.4 * newcomer
    )
    services_excess = draft.num("services_received_3y") - (
        0.3 + 0.5 * np.minimum(months, 36.0) / 12.0 + 0.2 * newcomer
    )
    life_register = np.clip(0.35 * contacts_excess + 0.3 * services_excess - 0.3, -1.5, 3.0)
    life = np.where(kyky, (7.0 - draft.num("kyky_life_situation")) / 1.5, life_register)

    # Motivation: Kykyviisari's motivation score, else job applications against expectation.
    expected_applications = (
        2.2
        - 0.25 * np.log1p(months / 6.0)
        + 0.25 * (level >= code(EDUCATION_LEVELS, "bachelor"))
        - 0.6 * (age >= 60)
    )
    motivation_register = np.clip(
        0.8 * (_log_count(draft, "job_applications_3m") - expected_applications + 0.4)
        - 0.4 * draft.is_in("plan_goal", "undecided"),
        -2.5,
        2.5,
    )
    motivation = np.where(kyky, (draft.num("kyky_motivation") - 6.5) / 1.4, motivation_register)

    # Work ability: Kykyviisari's score, else what health, strain and plan goal suggest.
    work_ability_register = 10.0 * sigmoid(
        1.6 - 0.7 * health - 0.45 * mental - 1.0 * rehabilitation_goal
    )
    work_ability = np.where(kyky, draft.num("work_ability_score"), work_ability_register)

    # Language: natives are C2; the tested level; else expected from years and education.
    foreign = draft.flag("foreign_background")
    native = draft.is_in("mother_tongue", "fi", "sv")
    years = np.nan_to_num(draft.num("years_in_finland"), nan=0.0)
    young_arrival = foreign & (age - years < 12)
    expected_language = np.where(
        ~foreign,
        4.8,
        1.3 * np.log1p(years) + 0.3 * education_step + 2.0 * young_arrival,
    )
    tested = draft.columns["language_level"].astype(np.float64) + 0.5
    language = np.where(language_consent, tested, np.clip(expected_language, 0.0, 6.0))
    language = np.where(native, 6.0, language)
    return {
        "health": health,
        "mental": mental,
        "life": life,
        "motivation": motivation,
        "work_ability": work_ability,
        "language": language,
    }


def _f(mask: BoolArray) -> FloatArray:
    return np.asarray(mask, dtype=np.float64)


def job_search_coaching(x: NeedInputs) -> FloatArray:
    """Job-ready but searching ineffectively; peaks 3-18 months into unemployment."""
    duration_bell = np.exp(-((np.log1p(x.unemployment_months) - np.log(8.0)) ** 2))
    few_applications = _f(x.job_applications < 5)
    score: FloatArray = (
        1.6 * _f(x.work_ability >= 6.5)
        + 1.4 * few_applications
        + 0.8 * few_applications * _f(x.motivation > 0)
        + 0.8 * _f(x.basic_digital_skills)
        + 1.5 * duration_bell
        + 0.8 * _f(x.language >= 3)
        - 1.5 * _f(x.age >= 60)
        - 1.0 * _f(x.studying)
    )
    return score


def career_guidance(x: NeedInputs) -> FloatArray:
    """Direction lost: outdated occupation, young without a vocation, graduates adrift."""
    return (
        1.9 * _f(x.outdated_occupation)
        + 1.8 * _f((x.age < 30) & (x.upper_secondary_general | x.never_worked))
        + 1.7
        * _f(x.high_education & (x.months_since_graduation <= 24) & (x.unemployment_months >= 6))
        + 1.0 * _f(x.motivation < -0.5)
        + 1.5 * _f(x.foreign & x.high_education & x.degree_abroad)
        + 1.0 * _f((x.unemployment_months >= 24) & (x.age >= 35) & (x.age < 55))
        - 1.5 * _f(x.work_ability < 4)
    )


def labour_market_training(x: NeedInputs) -> FloatArray:
    """Missing or outdated vocational skills, if language and work ability allow training.

    Finnish or Swedish below A2 rules most training out for now.
    """
    return (
        1.3 * _f(x.no_vocational & (x.age >= 20) & (x.age < 55))
        + 1.7 * _f(x.outdated_occupation)
        - 1.0 * _f(x.language < 2)
        - 1.4 * _f(x.work_ability < 5)
        - 1.5 * _f(x.age >= 58)
        + 0.6 * x.motivation
        + 0.6 * _f((x.unemployment_months >= 6) & (x.unemployment_months < 36))
    )


def self_motivated_study(x: NeedInputs) -> FloatArray:
    """Adults without a vocation, or with a foreign degree to complete, who want to study."""
    return (
        1.3 * _f(x.no_vocational & (x.age >= 25))
        + 1.0 * x.motivation
        + 1.6 * _f(x.studying)
        + 1.0 * _f(x.foreign & (x.language >= 3) & x.degree_abroad)
        - 1.2 * _f(x.age >= 55)
        - 0.9 * _f(x.work_ability < 5)
        + 0.5 * _f(~x.basic_digital_skills)
    )


def pay_subsidy(x: NeedInputs) -> FloatArray:
    """Long unemployment or partly reduced work ability; strongest for the long-term 55+."""
    return (
        0.5 * _f(x.long_term_unemployed)
        + 0.3 * _f(x.unemployment_months >= 24)
        + 1.5 * _f((x.work_ability >= 4) & (x.work_ability < 7))
        + 0.6 * _f(x.low_education)
        + 0.9 * _f((x.age >= 55) & x.long_term_unemployed)
        + 0.8 * _f(x.foreign & (x.language >= 2) & (x.language < 4) & (x.experience < 3))
        - 1.5 * _f(x.work_ability < 3.5)
        - 0.9 * _f(x.high_education)
    )


def work_trial(x: NeedInputs) -> FloatArray:
    """Long away from work or never worked; newcomers without Finnish work experience."""
    return (
        1.5 * _f((x.months_since_last_job >= 24) | x.never_worked)
        + 1.2 * _f((x.age < 30) & (x.experience < 2))
        + 1.0 * _f(x.foreign & (x.years_in_finland < 8))
        + 0.8 * _f((x.work_ability >= 5) & (x.work_ability < 7))
        + 0.7 * _f((x.motivation < 0) & (x.age < 35))
        - 1.3 * _f(x.work_ability < 4)
    )


def startup_grant(x: NeedInputs) -> FloatArray:
    """Among business-plan holders: drive, experience and education; not after long idleness."""
    return (
        0.7 * x.entrepreneurship
        + 0.4 * x.motivation
        + 0.5 * _f((x.age >= 30) & (x.age < 55))
        + 1.0 * _f(x.experience >= 5)
        + 0.8 * _f(x.high_education)
        + 0.6 * _f(x.skilled_occupation)
        - 1.0 * _f(x.unemployment_months >= 24)
        - 1.2 * _f(x.work_ability < 5)
    )


def integration_training(x: NeedInputs) -> FloatArray:
    """Among newcomers: language level x years in Finland.

    Need falls as language improves and as years pass (most finish integration training
    early), but those still below A2 after some years keep needing it.
    """
    weak_language = _f(x.language < 1.5)
    return (
        -1.0 * (x.language - 1.5)
        - 0.30 * x.years_in_finland
        + 0.20 * x.years_in_finland * weak_language
        - 0.7 * _f(x.studying)
        - 0.6 * _f(x.age >= 60)
    )


def work_ability_assessment(x: NeedInputs) -> FloatArray:
    """Work ability below 7, weighing more with age (work ability x age interaction)."""
    ability_gap = np.maximum(7.0 - x.work_ability, 0.0)
    return (
        0.8 * ability_gap * (1.0 + 0.04 * np.maximum(x.age - 40.0, 0.0))
        + 0.9 * _f(x.mental > 1.5)
        + 0.6 * _f(x.health > 1.5)
        + 0.3 * _f(x.long_term_unemployed)
    )


def rehabilitative_work(x: NeedInputs) -> FloatArray:
    """Among the long-term unemployed: long unemployment x low education, life difficulties."""
    return (
        1.5 * _f(x.low_education & (x.unemployment_months >= 24))
        + 0.8 * _f(x.unemployment_months >= 36)
        + 1.4 * _f(x.life > 0.8)
        + 0.9 * _f(x.work_ability < 6)
        + 0.8 * _f(x.motivation < -0.5)
        - 1.0 * _f(x.high_education)
        - 0.8 * _f(x.age >= 60)
    )


def multisectoral_service(x: NeedInputs) -> FloatArray:
    """Several problems at once (social x health), with long or youth unemployment."""
    return (
        0.9 * x.life
        + 0.8 * _f(x.mental > 1)
        + 0.6 * _f(x.work_ability < 6)
        + 0.7 * _f((x.life > 1) & ((x.health > 1) | (x.mental > 1)))
        + 0.5 * _f(x.long_term_unemployed | ((x.age < 25) & (x.unemployment_months >= 6)))
    )


def youth_guidance(x: NeedInputs) -> FloatArray:
    """Among under-30s: not studying and no vocation, life difficulties, the youngest."""
    return (
        1.5 * _f(x.no_vocational & ~x.studying)
        + 0.9 * x.life
        + 0.8 * _f(x.motivation < -0.3)
        + 0.9 * _f(x.age < 25)
        + 0.6 * _f(x.experience < 1)
        - 1.2 * _f(x.high_education)
    )


NeedTerms = Callable[[NeedInputs], FloatArray]

NEED_TERMS: dict[str, NeedTerms] = {
    "job_search_coaching": job_search_coaching,
    "career_guidance": career_guidance,
    "labour_market_training": labour_market_training,
    "self_motivated_study": self_motivated_study,
    "pay_subsidy": pay_subsidy,
    "work_trial": work_trial,
    "startup_grant": startup_grant,
    "integration_training": integration_training,
    "work_ability_assessment": work_ability_assessment,
    "rehabilitative_work": rehabilitative_work,
    "multisectoral_service": multisectoral_service,
    "youth_guidance": youth_guidance,
}
"""The hand-written terms of each service's true-need logit."""

NEED_INTERCEPTS: dict[str, float] = {
    "job_search_coaching": -5.15,
    "career_guidance": -3.30,
    "labour_market_training": -2.83,
    "self_motivated_study": -4.00,
    "pay_subsidy": -2.81,
    "work_trial": -3.41,
    "startup_grant": -2.51,
    "integration_training": 2.56,
    "work_ability_assessment": -2.96,
    "rehabilitative_work": -2.48,
    "multisectoral_service": -3.00,
    "youth_guidance": -1.93,
}
"""Logit intercepts, tuned so true prevalences meet :data:`TRUE_PREVALENCE_TARGETS`."""

TRUE_PREVALENCE_TARGETS: dict[str, float] = {
    "job_search_coaching": 0.22,
    "career_guidance": 0.12,
    "labour_market_training": 0.16,
    "self_motivated_study": 0.08,
    "pay_subsidy": 0.12,
    "work_trial": 0.10,
    "startup_grant": 0.045,
    "integration_training": 0.06,
    "work_ability_assessment": 0.10,
    "rehabilitative_work": 0.09,
    "multisectoral_service": 0.08,
    "youth_guidance": 0.07,
}
"""Mean true need over all clients (ineligible count as 0), an assumption per service."""


def true_need(service: str, inputs: NeedInputs, eligible: BoolArray) -> FloatArray:
    """Compute the true need probability of one service per client (0 when ineligible).

    Parameters
    ----------
    service : str
        A service id of :data:`NEED_TERMS`.
    inputs : NeedInputs
        Observed fields and hidden traits.
    eligible : numpy.ndarray of bool
        The schema's eligibility rule for the service, evaluated on the register.

    Returns
    -------
    numpy.ndarray of float64
        The oracle: probability that the client truly needs the service.
    """
    probability = sigmoid(NEED_INTERCEPTS[service] + NEED_TERMS[service](inputs))
    return np.where(eligible, probability, 0.0)


def record_need(
    rng: np.random.Generator,
    need: FloatArray,
    eligible: BoolArray,
    *,
    recall_factor: FloatArray | float = 1.0,
) -> BoolArray:
    """Draw the caseworker's recorded label: a noisy draw from the true need.

    Parameters
    ----------
    rng : numpy.random.Generator
        The generator's random stream.
    need : numpy.ndarray of float64
        True need probability.
    eligible : numpy.ndarray of bool
        Only eligible clients can have the need recorded.
    recall_factor : float or numpy.ndarray of float64
        Multiplies :data:`CASEWORKER_RECALL` (below 1 where historical bias applies).

    Returns
    -------
    numpy.ndarray of bool
        Recorded need.
    """
    recall = CASEWORKER_RECALL * np.asarray(recall_factor, dtype=np.float64)
    probability = recall * need + CASEWORKER_FALSE_ALARM * (1.0 - need)
    return bernoulli(rng, probability) & eligible
