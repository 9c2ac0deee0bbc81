"""Fixtures of the fairness tests: simulated predictions with known properties."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest


@dataclass
class Predictions:
    labels: pd.DataFrame
    scores: pd.DataFrame
    decisions: pd.DataFrame
    groups: pd.DataFrame


def simulate(
    rows: int = 6000,
    *,
    seed: int = 0,
    services: tuple[str, ...] = ("coaching", "training", "subsidy", "guidance"),
    miscalibrate: dict[tuple[str, str, str], float] | None = None,
    tiny_group: int = 0,
) -> Predictions:
    """Calibrated scores with labels drawn from them, and three audit attributes.

    ``miscalibrate`` maps (service, attribute, value) to a factor applied to that group's
    label probability: the scores then overstate the group's need (a calibration gap and
    a higher FPR), like labels that under-record the group's need.
    """
    rng = np.random.default_rng(seed)
    groups = pd.DataFrame(
        {
            "immigrant": rng.choice(["yes", "no"], rows, p=[0.25, 0.75]),
            "gender": rng.choice(["female", "male"], rows),
            "age_band": rng.choice(["16-29", "30-54", "55+"], rows, p=[0.3, 0.5, 0.2]),
        }
    )
    if tiny_group:
        groups.loc[groups.index[:tiny_group], "gender"] = "other"
    scores = pd.DataFrame({name: rng.beta(1.5, 5.0, rows) for name in services}, index=groups.index)
    probability = scores.copy()
    for (service, attribute, value), factor in (miscalibrate or {}).items():
        member = groups[attribute].eq(value)
        probability.loc[member, service] *= factor
    labels = pd.DataFrame(
        (rng.random((rows, len(services))) < probability.to_numpy()).astype(int),
        columns=list(services),
        index=groups.index,
    )
    decisions = scores.ge(0.3)
    return Predictions(labels, scores, decisions, groups)


@pytest.fixture(scope="session")
def fair_predictions() -> Predictions:
    return simulate(6000, seed=1)


@pytest.fixture(scope="session")
def biased_predictions() -> Predictions:
    """Scores that overstate immigrants' need for "training" by half."""
    return simulate(6000, seed=2, miscalibrate={("training", "immigrant", "yes"): 0.5})
