"""Interval methods: known values, edge cases, and coverage on simulated data."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from fairness import Policy, run_audit
from fairness import intervals as ci
from fairness.metrics import group_auc

from .conftest import simulate

Z95 = ci.z_value(0.95)


def test_z_value_and_bonferroni() -> None:
    assert pytest.approx(1.959964, abs=1e-6) == Z95
    assert ci.z_value(0.95, tests=10) == pytest.approx(2.807034, abs=1e-6)
    assert ci.simultaneous_confidence(0.95, tests=10) == pytest.approx(0.995)
    with pytest.raises(ValueError, match=ci.MSG_CONFIDENCE.split("{")[0]):
        ci.z_value(1.5)


def test_wilson_matches_the_textbook_values() -> None:
    # Newcombe (1998), table I: 81/263 -> 0.2553 to 0.3662; 15/148 -> 0.0624 to 0.1605.
    low, high = ci.wilson_interval(np.array([81, 15]), np.array([263, 148]), z=Z95)
    np.testing.assert_allclose(low, [0.2553, 0.0624], atol=1e-4)
    np.testing.assert_allclose(high, [0.3662, 0.1605], atol=1e-4)


def test_wilson_edges() -> None:
    low, high = ci.wilson_interval(np.array([0, 5, 0]), np.array([5, 5, 0]), z=Z95)
    assert low[0] == 0
    assert 0 < high[0] < 1
    assert high[1] == 1
    assert 0 < low[1] < 1
    assert np.isnan(low[2])
    assert np.isnan(high[2])


def test_newcombe_matches_the_published_example() -> None:
    # Newcombe (1998b), example (a): 56/70 - 48/80 = 0.2, method 10: 0.0524 to 0.3339.
    low, high = ci.newcombe_difference_interval(56, 70, 48, 80, z=Z95)
    assert float(low) == pytest.approx(0.0524, abs=1e-4)
    assert float(high) == pytest.approx(0.3339, abs=1e-4)


def test_katz_ratio_interval_and_zero_counts() -> None:
    low, high = ci.katz_ratio_interval(20, 100, 40, 100, z=Z95)
    se = np.sqrt(1 / 20 - 1 / 100 + 1 / 40 - 1 / 100)
    assert float(low) == pytest.approx(0.5 * np.exp(-Z95 * se))
    assert float(high) == pytest.approx(0.5 * np.exp(Z95 * se))
    low, high = ci.katz_ratio_interval(0, 50, 10, 50, z=Z95)
    assert 0 < float(low) < float(high) < 1
    low, high = ci.katz_ratio_interval(0, 50, 0, 50, z=Z95)
    assert np.isnan(low)
    assert np.isnan(high)


def test_delong_auc_matches_sklearn_with_ties() -> None:
    rng = np.random.default_rng(3)
    rows = 4000
    scores = np.round(rng.random(rows), 2)  # many ties
    labels = (rng.random(rows) < scores).astype(float)
    codes = rng.integers(0, 3, rows)
    auc, variance = group_auc(codes, 4, scores, labels, 1 - labels, np.argsort(scores))
    for code in range(3):
        mask = codes == code
        assert auc[code] == pytest.approx(roc_auc_score(labels[mask], scores[mask]), abs=1e-12)
        assert 0 < variance[code] < 0.001
    assert np.isnan(auc[3])
    assert np.isnan(variance[3])


def test_delong_variance_matches_the_direct_formula() -> None:
    rng = np.random.default_rng(4)
    pos, neg = rng.normal(1, 1, 60), rng.normal(0, 1, 90)
    scores = np.concatenate([pos, neg])
    labels = np.concatenate([np.ones(60), np.zeros(90)])
    _, variance = group_auc(
        np.zeros(150, dtype=np.intp), 1, scores, labels, 1 - labels, np.argsort(scores)
    )
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    expected = v10.var(ddof=1) / 60 + v01.var(ddof=1) / 90
    assert variance[0] == pytest.approx(expected, rel=1e-10)


def test_intervals_cover_about_95_percent_on_simulated_data() -> None:
    """400 replicate "services" on the same simulated clients, through run_audit.

    Labels are drawn from the scores, so each group's true calibration gap is 0 and its
    true base rate, TPR and FPR are known from the score distribution (computed here
    from a very large sample of the same design).
    """
    replicates = 400
    services = tuple(f"r{i}" for i in range(replicates))
    data = simulate(1500, seed=5, services=services)
    policy = Policy(intersections=False, bootstrap_replicates=0, multiplicity="none")
    report = run_audit(
        labels=data.labels,
        scores=data.scores,
        decisions=data.decisions,
        groups=data.groups[["immigrant"]],
        policy=policy,
        allocation=False,
    )
    # Truth for Beta(1.5, 5) scores with labels ~ Bernoulli(score), decision score >= 0.3.
    big = np.random.default_rng(99).beta(1.5, 5.0, 4_000_000)
    truth = {
        "base_rate": big.mean(),
        "calibration_gap": 0.0,
        "tpr": (big * (big >= 0.3)).sum() / big.sum(),
        "fpr": ((1 - big) * (big >= 0.3)).sum() / (1 - big).sum(),
        "selection_rate": (big >= 0.3).mean(),
    }
    hits: dict[str, list[bool]] = {metric: [] for metric in truth}
    gap_hits = []
    for _, cell in report.iter_cells():
        for metric, true_value in truth.items():
            low, high = cell.metrics.get(metric).interval.bounds
            assert low is not None
            assert high is not None
            hits[metric].append(low <= true_value <= high)
        assert cell.comparisons is not None
        low, high = cell.comparisons.tpr.difference.interval.bounds
        assert low is not None
        assert high is not None
        gap_hits.append(low <= 0.0 <= high)  # equal TPR in every group
    for metric, values in hits.items():
        coverage = np.mean(values)
        assert 0.925 <= coverage <= 0.975, f"{metric}: coverage {coverage:.3f}"
    assert 0.925 <= np.mean(gap_hits) <= 0.985, f"TPR gap coverage {np.mean(gap_hits):.3f}"


def test_calibration_gap_interval_is_honest_in_small_cells_with_rare_positives() -> None:
    """30 clients scored 0.05 each, labels drawn from the scores: the true gap is 0.

    A normal interval on ``score - label`` collapses when a cell has no positives
    (about one cell in five here) and then excludes the truth; MOVER does not.
    """
    rng = np.random.default_rng(6)
    cells, rows = 4000, 30
    scores = np.full((cells, rows), 0.05) + rng.uniform(-0.01, 0.01, (cells, rows))
    labels = (rng.random((cells, rows)) < scores).astype(float)
    gap, low, high = ci.calibration_gap_interval(
        scores.sum(1),
        (scores**2).sum(1),
        (scores * labels).sum(1),
        labels.sum(1),
        np.full(cells, rows),
        z=Z95,
    )
    assert np.allclose(gap, scores.mean(1) - labels.mean(1))
    assert np.mean((low <= 0) & (high >= 0)) >= 0.93
    difference = scores - labels
    se = difference.std(1, ddof=1) / np.sqrt(rows)
    naive = (gap - Z95 * se <= 0) & (gap + Z95 * se >= 0)
    assert np.mean(naive) < 0.85
