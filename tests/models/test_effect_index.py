"""The index final stage's formula and its per-field attributions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.effect_index import SLOPE_STEP, index_attributions, index_effect


def _sigmoid(value: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-value)))


def test_effect_is_the_change_in_probability() -> None:
    need_raw = np.array([-3.0, 0.0, 2.0])
    baseline = np.array([-1.0, 0.5, 0.0])
    effect = index_effect(-0.2, 1.5, need_raw, baseline)
    expected = _sigmoid(baseline - 0.2 + 1.5 * _sigmoid(need_raw)) - _sigmoid(baseline)
    np.testing.assert_allclose(effect, expected, rtol=1e-15)
    assert np.all(index_effect(0.0, 0.0, need_raw, baseline) == 0.0)


def test_a_positive_gain_raises_the_effect_with_the_need() -> None:
    need_raw = np.linspace(-4, 4, 50)
    effect = index_effect(-0.3, 2.0, need_raw, np.zeros(50))
    assert np.all(np.diff(effect) > 0)
    assert effect[0] < 0 < effect[-1]


def _contributions(rng: np.random.Generator, rows: int, features: int, base: float) -> np.ndarray:
    values = rng.normal(0.0, 0.5, (rows, features + 1))
    values[:, -1] = base
    return values


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    shift=st.floats(-2.0, 2.0),
    gain=st.floats(-3.0, 3.0),
)
def test_base_plus_contributions_is_the_estimate(seed: int, shift: float, gain: float) -> None:
    rng = np.random.default_rng(seed)
    need = _contributions(rng, 40, 6, base=rng.normal())
    baseline = _contributions(rng, 40, 6, base=rng.normal())
    # Rows whose index sits on its base value take the slope instead of the secant.
    need[:5, :-1] = 0.0
    baseline[3:8, :-1] = 0.0
    contributions, base = index_attributions(shift, gain, need, baseline)
    estimate = index_effect(shift, gain, need.sum(1), baseline.sum(1))
    np.testing.assert_allclose(base + contributions.sum(1), estimate, atol=1e-12)
    expected_base = index_effect(shift, gain, need[:, -1], baseline[:, -1])
    np.testing.assert_allclose(base, expected_base, atol=1e-15)


def test_a_field_only_in_the_need_index_moves_the_benefit_its_way() -> None:
    need = np.array([[1.2, 0.0, -0.5], [-0.8, 0.0, -0.5]])
    baseline = np.array([[0.0, 0.0, 0.3], [0.0, 0.0, 0.3]])
    contributions, _ = index_attributions(-0.1, 2.0, need, baseline)
    assert contributions[0, 0] > 0 > contributions[1, 0]
    np.testing.assert_array_equal(contributions[:, 1], 0.0)


def test_the_two_indices_share_by_shapley() -> None:
    """One field per index: each field gets exactly its index's Shapley share."""
    shift, gain = 0.2, 1.7
    need = np.array([[0.9, 0.0, -1.0]])
    baseline = np.array([[0.0, -0.6, 0.4]])
    contributions, base = index_attributions(shift, gain, need, baseline)
    n_full, n_base = -0.1, -1.0
    l_full, l_base = -0.2, 0.4

    def f(n: float, ell: float) -> float:
        return float(index_effect(shift, gain, np.array([n]), np.array([ell]))[0])

    need_share = 0.5 * (
        f(n_full, l_base) - f(n_base, l_base) + f(n_full, l_full) - f(n_base, l_full)
    )
    assert contributions[0, 0] == pytest.approx(need_share, abs=1e-14)
    assert contributions[0, 0] + contributions[0, 1] + base[0] == pytest.approx(
        f(n_full, l_full), abs=1e-14
    )
    assert SLOPE_STEP < 1e-3
