import numpy as np

from training.effects.policy import NO_SERVICE, allocate, policy_value


def test_allocation_respects_capacity_and_one_service_per_client() -> None:
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(500, 4))
    capacity = np.array([10, 20, 0, 5])
    assigned = allocate(scores, capacity)
    for service, limit in enumerate(capacity):
        assert (assigned == service).sum() == limit
    assert (assigned == NO_SERVICE).sum() == 500 - capacity.sum()


def test_allocation_takes_best_pairs_first_and_skips_nan_and_harm() -> None:
    scores = np.array([[0.3, 0.1], [0.2, np.nan], [-0.1, -0.2]])
    assigned = allocate(scores, np.array([1, 5]), positive_only=True)
    assert assigned.tolist() == [0, NO_SERVICE, NO_SERVICE]
    assigned = allocate(scores, np.array([1, 5]))
    assert assigned.tolist() == [0, NO_SERVICE, 1]


def test_policy_value_is_mean_untreated_plus_effect_of_assigned() -> None:
    untreated = np.array([0.2, 0.4])
    effects = np.array([[0.1, 0.3], [0.05, 0.0]])
    assert np.isclose(policy_value(np.array([1, NO_SERVICE]), untreated, effects), 0.45)
