"""Request bodies for the recommendation API, built from a model's schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from models.schema import Schema
from tests.support.fixture_model import random_profile

CONSENTS = ["kykyviisari", "health", "language_test"]


def request_bodies(
    schema: Schema | Path, count: int, *, seed: int = 5, missing_rate: float = 0.1
) -> list[dict[str, Any]]:
    """Build valid request bodies with random in-schema profiles.

    Parameters
    ----------
    schema : Schema or Path
        The model's schema, or a model directory to read it from.
    count : int
        Number of bodies (``client_ref`` ``bench-00000``, ``bench-00001``, ...).
    seed : int
        Random seed of the profiles.
    missing_rate : float
        Share of optional fields left out.

    Returns
    -------
    list of dict
    """
    if not isinstance(schema, Schema):
        from models.model import load_model

        schema = load_model(schema).schema
    rng = np.random.default_rng(seed)
    return [
        {
            "client_ref": f"bench-{i:05d}",
            "consents": CONSENTS,
            "profile": random_profile(schema, rng, missing_rate=missing_rate),
        }
        for i in range(count)
    ]
