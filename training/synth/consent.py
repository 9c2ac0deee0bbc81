"""Consent-only sources: the consent flags and the values they unlock.

Every client has a Kykyviisari self-assessment, a health history and a language level
in the generator's world; the register shows them only with consent. Who consents is
not random (people with health problems share health data more often, language tests
are taken by foreign-language speakers), as in reality.
"""

from __future__ import annotations

import numpy as np

from training.synth.categories import EDUCATION_LEVELS, LANGUAGE_LEVELS, code
from training.synth.draft import Draft
from training.synth.sampling import bernoulli, logit, sigmoid
from training.synth.targets import (
    CONSENT_HEALTH_RATE,
    CONSENT_KYKYVIISARI_RATE,
    CONSENT_LANGUAGE_TEST_FOREIGN_RATE,
    CONSENT_LANGUAGE_TEST_NATIVE_RATE,
)

WORK_ABILITY_SCORE_NOISE = 0.7
"""Self-assessed work ability = true work ability + noise of this standard deviation."""
LANGUAGE_TEST_NOISE = 0.2
"""Tested CEFR level = floor(language skill + noise of this standard deviation)."""


def _score(values: np.ndarray) -> np.ndarray:
    return np.asarray(np.round(np.clip(values, 0.0, 10.0), 1), dtype=np.float64)


def draw_consents(draft: Draft) -> None:
    """Return the three consent flags."""
    rng = draft.rng
    latent = draft.latent
    foreign_language = ~draft.is_in("mother_tongue", "fi", "sv") | (
        draft.flag("foreign_background") & (latent["language_skill"] < 6.0)
    )
    kyky = sigmoid(
        logit(CONSENT_KYKYVIISARI_RATE)
        + 0.35 * latent["motivation"]
        + 0.3 * (latent["work_ability"] < 6.0)
        - 0.4 * (latent["language_skill"] < 1.5)
        - 0.05
    )
    health = sigmoid(
        logit(CONSENT_HEALTH_RATE)
        + 0.5 * (latent["health_burden"] > 1.0)
        + 0.3 * (latent["mental_strain"] > 1.0)
        - 0.15
    )
    language = np.where(
        foreign_language,
        CONSENT_LANGUAGE_TEST_FOREIGN_RATE,
        CONSENT_LANGUAGE_TEST_NATIVE_RATE,
    )
    draft.columns.update(
        consent_kykyviisari=bernoulli(rng, kyky),
        consent_health=bernoulli(rng, health),
        consent_language_test=bernoulli(rng, language),
    )


def draw_consent_sources(draft: Draft) -> None:
    """Kykyviisari scores, health history and tested language level, for everyone.

    Masking by consent happens when the frame is assembled, from the schema's sources.
    """
    rng, n = draft.rng, draft.rows
    latent = draft.latent
    level = draft.columns["education_level"].astype(np.float64)
    education_step = np.maximum(level - code(EDUCATION_LEVELS, "basic"), 0.0)
    health, mental = latent["health_burden"], latent["mental_strain"]

    draft.columns.update(
        work_ability_score=_score(
            latent["work_ability"] + WORK_ABILITY_SCORE_NOISE * rng.standard_normal(n)
        ),
        kyky_health=_score(8.0 - 1.4 * health + rng.standard_normal(n)),
        kyky_competence=_score(
            4.8
            + 0.7 * education_step
            + 0.05 * np.minimum(draft.num("work_experience_years"), 20.0)
            + 1.2 * rng.standard_normal(n)
        ),
        kyky_motivation=_score(6.5 + 1.4 * latent["motivation"] + rng.standard_normal(n)),
        kyky_life_situation=_score(7.0 - 1.5 * latent["life_difficulty"] + rng.standard_normal(n)),
        chronic_illness=(health + 0.5 * rng.standard_normal(n)) > 1.1,
        rehabilitation_history=bernoulli(rng, sigmoid(-2.6 + 0.9 * health + 0.6 * mental)),
        sick_leave_days_12m=np.minimum(
            rng.negative_binomial(0.8, 0.8 / (0.8 + np.exp(0.8 + 0.9 * health + 0.5 * mental))),
            365,
        ).astype(np.float64),
        mental_health_support=(mental + 0.5 * rng.standard_normal(n)) > 1.2,
    )
    tested = np.floor(latent["language_skill"] + LANGUAGE_TEST_NOISE * rng.standard_normal(n))
    tested = np.clip(tested, 0, len(LANGUAGE_LEVELS) - 1).astype(np.int8)
    draft.columns["language_level"] = tested
