"""Hidden traits behind the observed record (never written out).

These latent variables drive the observed fields, so that an observed field is evidence
about a trait without being the trait itself. The true needs read the traits as the
record shows them (:func:`training.synth.needs.assessed_traits`), so they stay
recoverable from the register.

- ``health_burden``: standard-normal-ish, rising with age (chronic illness, sick leave).
- ``mental_strain``: correlated with health burden (mental-health support).
- ``life_difficulty``: debts, housing, substance use; correlated with mental strain.
- ``motivation``: job-search motivation, lower under mental strain.
- ``work_ability``: the true 0-10 work ability (what Kykyviisari's score measures with noise).
- ``language_skill``: Finnish/Swedish proficiency on the CEFR index 0 (below A1) .. 6 (C2);
  natives are 6; immigrants improve with years in Finland, education and young arrival.
- ``entrepreneurship``: drive and opportunity to start a business.
"""

from __future__ import annotations

import numpy as np

from training.synth.categories import EDUCATION_LEVELS, code
from training.synth.draft import Draft
from training.synth.sampling import sigmoid

LANGUAGE_BASE = 0.0
LANGUAGE_PER_LOG_YEAR = 1.3
LANGUAGE_PER_EDUCATION_STEP = 0.3
LANGUAGE_CHILD_ARRIVAL_BONUS = 2.0
LANGUAGE_NOISE = 0.9


def draw_traits(draft: Draft) -> None:
    """Draw the hidden traits from age, origin and education."""
    rng, n = draft.rng, draft.rows
    age = draft.num("age")
    foreign = draft.flag("foreign_background")
    native = draft.is_in("mother_tongue", "fi", "sv")
    level = draft.columns["education_level"].astype(np.float64)
    education_step = np.maximum(level - code(EDUCATION_LEVELS, "basic"), 0.0)

    health = rng.standard_normal(n) + 0.035 * (age - 45.0)
    mental = 0.35 * rng.standard_normal(n) + 0.9 * rng.standard_normal(n) - 0.01 * (age - 40.0)
    mental += 0.3 * (health - health.mean())
    life = 0.45 * mental + 0.85 * rng.standard_normal(n) - 0.15 * education_step
    motivation = rng.standard_normal(n) - 0.25 * mental
    work_ability = 10.0 * sigmoid(1.6 - 0.7 * health - 0.45 * mental + 0.3 * rng.standard_normal(n))

    years = np.nan_to_num(draft.num("years_in_finland"), nan=0.0)
    young_arrival = foreign & (draft.latent["age_at_arrival"] < 12)
    learned = (
        LANGUAGE_BASE
        + LANGUAGE_PER_LOG_YEAR * np.log1p(years)
        + LANGUAGE_PER_EDUCATION_STEP * education_step
        + LANGUAGE_CHILD_ARRIVAL_BONUS * young_arrival
        + LANGUAGE_NOISE * rng.standard_normal(n)
    )
    other_tongue_native_born = ~foreign & ~native
    learned = np.where(other_tongue_native_born, 4.8 + 0.5 * rng.standard_normal(n), learned)
    language = np.where(native, 6.0, np.clip(learned, 0.0, 6.0))

    entrepreneurship = rng.standard_normal(n) + 0.3 * foreign
    draft.latent.update(
        health_burden=health,
        mental_strain=mental,
        life_difficulty=life,
        motivation=motivation,
        work_ability=work_ability,
        language_skill=language,
        entrepreneurship=entrepreneurship,
    )
