"""Calibration targets of the synthetic register and how to measure them on a frame.

Every share the generator aims at is a constant here, with where it comes from
(``../shared/domain.md`` figures, or a stated assumption where the brief has none).
:func:`calibration_report` measures each on a generated frame; the tests and the data
card (``docs/data.md``) use it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

# --- population (Helsinki-like jobseeker stock) -----------------------------------------
DEFAULT_ROWS = 50_000
"""Helsinki took over about 49,500 jobseeker clients in March 2021."""

MUNICIPALITY_SHARES: dict[str, float] = {
    "helsinki": 0.70,
    "espoo": 0.14,
    "vantaa": 0.14,
    "kauniainen": 0.02,
}
"""Mostly Helsinki; a capital-region tail so the category is not constant (assumption)."""

FOREIGN_BACKGROUND_SHARE = 0.31
"""Foreign background (both parents born abroad), a little above the foreign-language share."""

FOREIGN_LANGUAGE_SHARE = 0.27
"""Mother tongue other than Finnish or Swedish: ~25-30 % of Helsinki jobseekers (Espoo's
population is ~19 % foreign-language; foreign citizens' unemployment is more than twice
the general rate)."""

SWEDISH_SHARE = 0.045
"""Swedish mother tongue, ~4-5 % in the capital region."""

FEMALE_SHARE = 0.46
OTHER_GENDER_SHARE = 0.005

AGE_BANDS: tuple[tuple[int, int], ...] = (
    (16, 24),
    (25, 29),
    (30, 44),
    (45, 54),
    (55, 64),
    (65, 70),
)
AGE_BAND_SHARES = (0.08, 0.12, 0.35, 0.23, 0.20, 0.02)
"""Age bands of all jobseekers: under-30s ~20 %, 55+ ~22 % (assumption from public
jobseeker statistics; the 55+ group has its own labour-market problems)."""
FOREIGN_AGE_BAND_SHARES = (0.07, 0.15, 0.45, 0.20, 0.12, 0.01)
"""Jobseekers with a foreign background are younger; the rest follow the complement."""
UNDER_30_SHARE = AGE_BAND_SHARES[0] + AGE_BAND_SHARES[1]
AGE_55_PLUS_SHARE = AGE_BAND_SHARES[4] + AGE_BAND_SHARES[5]

# --- education ----------------------------------------------------------------------------
EDUCATION_LEVEL_SHARES: dict[str, float] = {
    "none_or_unknown": 0.10,
    "basic": 0.17,
    "upper_secondary_general": 0.11,
    "vocational": 0.32,
    "bachelor": 0.17,
    "master_or_higher": 0.13,
}
"""Education of all jobseekers, before young people are capped at the level their age allows."""
FOREIGN_EDUCATION_LEVEL_SHARES: dict[str, float] = {
    "none_or_unknown": 0.21,
    "basic": 0.16,
    "upper_secondary_general": 0.10,
    "vocational": 0.19,
    "bachelor": 0.19,
    "master_or_higher": 0.15,
}
"""Foreign background: many unknown (unrecognised) degrees, and about a third highly educated."""
HIGHLY_EDUCATED_FOREIGN_LANGUAGE_SHARE = 1 / 3
"""Almost a third of Espoo's foreign-language experiment clients are highly educated."""
RECENT_GRADUATE_SHARE = 0.06
"""Graduated within 12 months (assumption; the brief gives no figure)."""

# --- unemployment and services --------------------------------------------------------------
LONG_TERM_UNEMPLOYED_SHARE = 0.38
"""Unemployed 12+ months: ~35-40 % of Helsinki's jobseekers after the 2020 shock."""
ACTIVATION_RATE = 0.20
"""Share in services: 18.8 % (July 2021) to 21.9 % (September 2021) in Helsinki."""
OUTCOME_UNTREATED_RATE = 0.40
"""Mean chance of being employed or in education 6 months later without any service
(assumption; Omnia's immigrant centre reports 32 % employed and 55 % in education on
leaving, a selected group)."""

# --- consent ---------------------------------------------------------------------------------
CONSENT_KYKYVIISARI_RATE = 0.40
CONSENT_HEALTH_RATE = 0.30
CONSENT_LANGUAGE_TEST_FOREIGN_RATE = 0.80
"""Language tests are mostly taken by clients whose mother tongue is not Finnish or Swedish."""
CONSENT_LANGUAGE_TEST_NATIVE_RATE = 0.03


@dataclass(frozen=True)
class CalibrationTarget:
    """One share the generator aims at, and how to measure it on a generated frame."""

    name: str
    description: str
    target: float
    tolerance: float
    measure: Callable[[pd.DataFrame], float]


@dataclass(frozen=True)
class CalibrationResult:
    """A target beside the share achieved on one frame."""

    name: str
    description: str
    target: float
    achieved: float
    tolerance: float

    @property
    def within_tolerance(self) -> bool:
        """Whether the achieved value is within ``tolerance`` of the target."""
        return abs(self.achieved - self.target) <= self.tolerance


def _share(mask: pd.Series | np.ndarray) -> float:
    return float(np.mean(np.asarray(mask, dtype=bool)))


def _conditional_share(mask: pd.Series, among: pd.Series) -> float:
    selected = np.asarray(among, dtype=bool)
    return float(np.mean(np.asarray(mask, dtype=bool)[selected]))


def _level_share(level: str) -> Callable[[pd.DataFrame], float]:
    def measure(frame: pd.DataFrame) -> float:
        return _share(frame["education_level"] == level)

    return measure


def _targets() -> tuple[CalibrationTarget, ...]:
    targets = [
        CalibrationTarget(
            "foreign_language",
            "mother tongue other than Finnish or Swedish",
            FOREIGN_LANGUAGE_SHARE,
            0.02,
            lambda f: _share(f["mother_tongue"] == "other"),
        ),
        CalibrationTarget(
            "foreign_background",
            "foreign background",
            FOREIGN_BACKGROUND_SHARE,
            0.02,
            lambda f: _share(f["foreign_background"].astype(bool)),
        ),
        CalibrationTarget(
            "swedish",
            "Swedish mother tongue",
            SWEDISH_SHARE,
            0.01,
            lambda f: _share(f["mother_tongue"] == "sv"),
        ),
        CalibrationTarget(
            "female", "female", FEMALE_SHARE, 0.02, lambda f: _share(f["gender"] == "female")
        ),
        CalibrationTarget(
            "under_30", "aged under 30", UNDER_30_SHARE, 0.02, lambda f: _share(f["age"] < 30)
        ),
        CalibrationTarget(
            "age_55_plus",
            "aged 55 or over",
            AGE_55_PLUS_SHARE,
            0.02,
            lambda f: _share(f["age"] >= 55),
        ),
        CalibrationTarget(
            "helsinki",
            "living in Helsinki",
            MUNICIPALITY_SHARES["helsinki"],
            0.02,
            lambda f: _share(f["municipality"] == "helsinki"),
        ),
        CalibrationTarget(
            "long_term_unemployed",
            "unemployed 12 months or more",
            LONG_TERM_UNEMPLOYED_SHARE,
            0.025,
            lambda f: _share(f["unemployment_months"] >= 12),
        ),
        CalibrationTarget(
            "highly_educated_foreign_language",
            "bachelor's or higher, among foreign-language clients",
            HIGHLY_EDUCATED_FOREIGN_LANGUAGE_SHARE,
            0.03,
            lambda f: _conditional_share(
                f["education_level"].isin(["bachelor", "master_or_higher"]),
                f["mother_tongue"] == "other",
            ),
        ),
        CalibrationTarget(
            "recent_graduate",
            "graduated within 12 months",
            RECENT_GRADUATE_SHARE,
            0.02,
            lambda f: _share(f["months_since_graduation"] <= 12),
        ),
        CalibrationTarget(
            "activation",
            "received a service (activation rate)",
            ACTIVATION_RATE,
            0.025,
            lambda f: _share(f["received_service"] != "none"),
        ),
        CalibrationTarget(
            "outcome_untreated",
            "mean untreated chance of work or education in 6 months",
            OUTCOME_UNTREATED_RATE,
            0.03,
            lambda f: float(f["outcome_probability_untreated"].mean()),
        ),
        CalibrationTarget(
            "consent_kykyviisari",
            "consented to Kykyviisari",
            CONSENT_KYKYVIISARI_RATE,
            0.025,
            lambda f: _share(f["consent_kykyviisari"].astype(bool)),
        ),
        CalibrationTarget(
            "consent_health",
            "consented to health history",
            CONSENT_HEALTH_RATE,
            0.025,
            lambda f: _share(f["consent_health"].astype(bool)),
        ),
        CalibrationTarget(
            "consent_language_test_foreign",
            "consented to the language test, among foreign-language clients",
            CONSENT_LANGUAGE_TEST_FOREIGN_RATE,
            0.03,
            lambda f: _conditional_share(
                f["consent_language_test"].astype(bool), f["mother_tongue"] == "other"
            ),
        ),
    ]
    for level, share in EDUCATION_LEVEL_SHARES.items():
        targets.append(
            CalibrationTarget(
                f"education_{level}",
                f"education level {level}",
                share,
                0.025,
                _level_share(level),
            )
        )
    return tuple(targets)


CALIBRATION_TARGETS: tuple[CalibrationTarget, ...] = _targets()


def calibration_report(frame: pd.DataFrame) -> list[CalibrationResult]:
    """Measure every calibration target on a generated frame.

    Parameters
    ----------
    frame : pandas.DataFrame
        A frame from :func:`training.synth.generate_register`.

    Returns
    -------
    list of CalibrationResult
        One result per target in :data:`CALIBRATION_TARGETS`, in order.
    """
    return [
        CalibrationResult(
            name=target.name,
            description=target.description,
            target=target.target,
            achieved=target.measure(frame),
            tolerance=target.tolerance,
        )
        for target in CALIBRATION_TARGETS
    ]
