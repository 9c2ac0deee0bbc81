"""Who the jobseekers are: municipality, origin, language, age, gender, family.

Draw order matters for determinism; each function draws from ``draft.rng`` and adds
its columns to ``draft.columns``.
"""

from __future__ import annotations

import numpy as np

from training.synth.categories import CITIZENSHIPS, MOTHER_TONGUES, MUNICIPALITIES, code
from training.synth.draft import Draft
from training.synth.sampling import bernoulli, categorical, mix_complement, sigmoid
from training.synth.targets import (
    AGE_BAND_SHARES,
    AGE_BANDS,
    FEMALE_SHARE,
    FOREIGN_AGE_BAND_SHARES,
    FOREIGN_BACKGROUND_SHARE,
    FOREIGN_LANGUAGE_SHARE,
    MUNICIPALITY_SHARES,
    OTHER_GENDER_SHARE,
    SWEDISH_SHARE,
)

FOREIGN_BACKGROUND_BY_MUNICIPALITY = {
    "helsinki": 1.0,
    "espoo": 1.05,
    "vantaa": 1.25,
    "kauniainen": 0.5,
}
"""Relative foreign-background rate per municipality (Vantaa highest, Kauniainen lowest)."""
SWEDISH_BY_MUNICIPALITY = {"helsinki": 1.0, "espoo": 1.3, "vantaa": 0.5, "kauniainen": 5.0}
"""Relative Swedish-speaking rate per municipality."""
FOREIGN_TONGUE_SPLIT = {"fi": 0.12, "sv": 0.02}
"""Mother tongue of clients with a foreign background; the rest speak another language."""
SECOND_GENERATION_SHARE = 0.08
"""Share of foreign-background clients born in Finland (years in Finland = age)."""
YEARS_IN_FINLAND_GAMMA = (1.6, 5.5)
"""Shape and scale of years lived in Finland for those who moved here (mean ~9 years)."""


def _scaled_rates(target: float, factors: dict[str, float], municipality: np.ndarray) -> np.ndarray:
    """Per-row rates proportional to ``factors`` whose population mean is ``target``."""
    weights = np.array([MUNICIPALITY_SHARES[name] for name in MUNICIPALITIES])
    relative = np.array([factors[name] for name in MUNICIPALITIES])
    per_municipality = target * relative / float(weights @ relative)
    return np.asarray(per_municipality[municipality], dtype=np.float64)


def draw_origin(draft: Draft) -> None:
    """Municipality, foreign background, mother tongue and gender."""
    rng, n = draft.rng, draft.rows
    municipality = categorical(rng, [MUNICIPALITY_SHARES[m] for m in MUNICIPALITIES], n)
    foreign = bernoulli(
        rng,
        _scaled_rates(FOREIGN_BACKGROUND_SHARE, FOREIGN_BACKGROUND_BY_MUNICIPALITY, municipality),
    )
    # Foreign background: mostly another mother tongue. Others: Finnish, some Swedish, and
    # a few (one parent from abroad) another tongue, so that the totals meet the targets.
    foreign_other = 1.0 - sum(FOREIGN_TONGUE_SPLIT.values())
    native_sv_target = SWEDISH_SHARE - FOREIGN_BACKGROUND_SHARE * FOREIGN_TONGUE_SPLIT["sv"]
    native_other = (FOREIGN_LANGUAGE_SHARE - FOREIGN_BACKGROUND_SHARE * foreign_other) / (
        1 - FOREIGN_BACKGROUND_SHARE
    )
    sv_rate = _scaled_rates(native_sv_target, SWEDISH_BY_MUNICIPALITY, municipality) / (
        1 - FOREIGN_BACKGROUND_SHARE
    )
    u = rng.random(n)
    tongue = np.full(n, code(MOTHER_TONGUES, "fi"), dtype=np.int8)
    native_sv = ~foreign & (u < sv_rate)
    native_oth = ~foreign & (u >= sv_rate) & (u < sv_rate + max(native_other, 0.0))
    tongue[native_sv] = code(MOTHER_TONGUES, "sv")
    tongue[native_oth] = code(MOTHER_TONGUES, "other")
    foreign_sv = foreign & (u < FOREIGN_TONGUE_SPLIT["sv"])
    foreign_oth = foreign & (u >= sum(FOREIGN_TONGUE_SPLIT.values()))
    tongue[foreign_sv] = code(MOTHER_TONGUES, "sv")
    tongue[foreign_oth] = code(MOTHER_TONGUES, "other")
    gender = categorical(
        rng, [FEMALE_SHARE, 1 - FEMALE_SHARE - OTHER_GENDER_SHARE, OTHER_GENDER_SHARE], n
    )
    draft.columns.update(
        municipality=municipality, foreign_background=foreign, mother_tongue=tongue, gender=gender
    )


def draw_age_and_residence(draft: Draft) -> None:
    """Age (younger with a foreign background), years in Finland, citizenship, children."""
    rng, n = draft.rng, draft.rows
    foreign = draft.flag("foreign_background")
    native_bands = mix_complement(
        AGE_BAND_SHARES, FOREIGN_AGE_BAND_SHARES, FOREIGN_BACKGROUND_SHARE
    )
    band = np.where(
        foreign,
        categorical(rng, FOREIGN_AGE_BAND_SHARES, n),
        categorical(rng, native_bands, n),
    )
    low = np.array([lo for lo, _ in AGE_BANDS])[band]
    high = np.array([hi for _, hi in AGE_BANDS])[band]
    age = np.floor(low + rng.random(n) * (high - low + 1)).astype(np.float64)

    moved = rng.gamma(YEARS_IN_FINLAND_GAMMA[0], YEARS_IN_FINLAND_GAMMA[1], n)
    born_here = rng.random(n) < SECOND_GENERATION_SHARE
    years = np.where(born_here, age, np.minimum(moved, age - 1.0))
    years = np.round(np.maximum(years, 0.1), 1)
    years_in_finland = np.where(foreign, years, np.nan)

    # Naturalisation becomes likely after ~8 years; EU/EEA citizens are a quarter of the rest.
    naturalised = bernoulli(rng, 0.75 * sigmoid((np.nan_to_num(years_in_finland) - 8.0) / 2.0))
    eu = rng.random(n) < 0.25
    citizenship = np.full(n, code(CITIZENSHIPS, "finnish"), dtype=np.int8)
    citizenship[foreign & ~naturalised & eu] = code(CITIZENSHIPS, "eu_eea")
    citizenship[foreign & ~naturalised & ~eu] = code(CITIZENSHIPS, "other")
    citizenship[born_here & foreign] = code(CITIZENSHIPS, "finnish")

    parenting = 0.15 + 1.0 * np.exp(-(((age - 38.0) / 9.0) ** 2))
    children = rng.poisson(parenting * np.where(foreign, 1.4, 1.0))
    draft.columns.update(
        age=age,
        years_in_finland=years_in_finland,
        citizenship=citizenship,
        children_under_18=np.minimum(children, 12).astype(np.float64),
    )
    draft.latent["age_at_arrival"] = np.where(foreign, age - years_in_finland, 0.0)
