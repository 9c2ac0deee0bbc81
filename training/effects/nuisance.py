"""Cross-fitted nuisance models: which service a client got, and the outcome in each arm.

Every prediction used downstream for a client comes from models that did not see that
client (K-fold cross-fitting), so the doubly robust pseudo-outcomes stay honest.

- Propensity: a binary LightGBM of receiving any service times a multiclass LightGBM
  of which service among those who got one, giving ``P(arm | x)``; the contrast of a
  service with "none" uses
  ``P(service | x, service or none) = p_s / (p_s + p_none)``.
- Outcomes: one LightGBM classifier per arm, fitted on that arm's clients, giving
  ``mu_arm(x) = P(outcome | x, arm)`` for every client. The control arm's is also
  refitted on all its clients: it is the baseline index of the index final stage
  (:mod:`training.effects.index_stage`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np

from models.effects import PropensityModel
from training.effects.data import History

BASE_PARAMS: dict[str, Any] = {
    "learning_rate": 0.1,
    "num_leaves": 15,
    "min_data_in_leaf": 50,
    "feature_fraction": 0.8,
    "lambda_l2": 1.0,
    "max_bin": 63,
    "verbose": -1,
    "force_col_wise": True,
}
"""``force_col_wise``: LightGBM 4.7's row-wise histograms (its own choice for some small
training sets) corrupted the heap on 2 threads ("double free or corruption"), reproduced
on the need index of a service with about 2,700 eligible clients in the effect frame of
a 50,000-client register; with column-wise histograms it runs clean."""
ACTIVATION_ROUNDS = 150
"""Rounds of the binary model of receiving any service."""
CHOICE_ROUNDS = 60
"""Rounds of the multiclass model of which service, among clients who got one."""
MIN_ARM_CLIENTS = 200
"""An arm with fewer clients gets no outcome model (its service is not estimable)."""


def outcome_rounds(clients: int) -> int:
    """Boosting rounds for an outcome model: more data, more rounds."""
    return int(np.clip(clients / 80, 40, 150))


@dataclass(frozen=True)
class Nuisances:
    """Out-of-fold nuisance predictions for every client.

    Attributes
    ----------
    arm_probability : ndarray, shape (rows, arms)
        ``P(arm | x)``, out of fold.
    outcome : dict of int to ndarray
        Arm index -> ``P(outcome | x, arm)``, out of fold, for every client.
    folds : ndarray of int, shape (rows,)
        The cross-fitting fold of each client.
    propensity : PropensityModel
        The propensity model refitted on all clients (what is served).
    baseline : lightgbm.Booster or None
        The control arm's outcome model refitted on all its clients (what is served as
        the baseline index); None when the control arm is too small for one.
    """

    arm_probability: np.ndarray
    outcome: dict[int, np.ndarray]
    folds: np.ndarray
    propensity: PropensityModel
    baseline: lgb.Booster | None = None


class Binned:
    """The feature matrix's bins found once; every model trains on some rows with them.

    A model's rows are binned with the full matrix's bin mappers (``reference=``), not
    cut out with ``Dataset.subset``: on LightGBM 4.7, subsets corrupted the heap when
    trained on 2 threads (the start-up grant's eligible clients of the 140,000-client
    bench register, "double free or corruption"), a known class of LightGBM bugs
    (lightgbm-org/LightGBM#2744, #351). See also ``force_col_wise`` in
    :data:`BASE_PARAMS`.
    """

    def __init__(self, history: History, *, seed: int) -> None:
        self.history = history
        self.full = lgb.Dataset(
            history.matrix,
            label=np.zeros(len(history.arm)),
            feature_name=history.feature_names,
            categorical_feature=history.categorical_features,
            params={**BASE_PARAMS, "seed": seed},
            free_raw_data=False,
        ).construct()

    def subset(self, rows: np.ndarray, label: np.ndarray) -> lgb.Dataset:
        """Return the rows ``rows`` (a mask) of the binned matrix, labelled ``label[rows]``."""
        history = self.history
        return lgb.Dataset(
            history.matrix[rows],
            label=label[rows],
            reference=self.full,
            feature_name=history.feature_names,
            categorical_feature=history.categorical_features,
            free_raw_data=True,
        )


def draw_folds(rows: int, *, n_folds: int, seed: int) -> np.ndarray:
    """Draw a random fold number in ``0..n_folds-1`` for each row, balanced."""
    rng = np.random.default_rng(seed)
    return np.asarray(rng.permutation(np.arange(rows) % n_folds), dtype=np.int64)


def _params(seed: int, num_threads: int, **extra: Any) -> dict[str, Any]:
    return {**BASE_PARAMS, "seed": seed, "num_threads": num_threads, **extra}


def _fit_propensity(
    binned: Binned, rows: np.ndarray, *, seed: int, num_threads: int
) -> PropensityModel:
    history = binned.history
    labelled = rows & (history.arm >= 0)
    activation = lgb.train(
        _params(seed, num_threads, objective="binary"),
        binned.subset(labelled, (history.arm > 0).astype(np.float64)),
        ACTIVATION_ROUNDS,
    )
    treated = labelled & (history.arm > 0)
    choice = lgb.train(
        _params(seed, num_threads, objective="multiclass", num_class=len(history.arms) - 1),
        binned.subset(treated, (history.arm - 1).astype(np.float64)),
        CHOICE_ROUNDS,
    )
    return PropensityModel(activation=activation, choice=choice, arms=list(history.arms))


def cross_fit_nuisances(
    history: History,
    *,
    n_folds: int = 3,
    seed: int = 0,
    num_threads: int = 0,
    binned: Binned | None = None,
) -> Nuisances:
    """Cross-fit the propensity and the per-arm outcome models.

    Parameters
    ----------
    history : History
        The encoded register.
    n_folds : int, default 3
        Number of cross-fitting folds.
    seed : int, default 0
        Seeds the folds and LightGBM.
    num_threads : int, default 0
        LightGBM threads (0: LightGBM's default).
    binned : Binned, optional
        The history's matrix already binned (the effect step shares one with the need
        indices); binned here when omitted.

    Returns
    -------
    Nuisances
    """
    rows = len(history.arm)
    folds = draw_folds(rows, n_folds=n_folds, seed=seed)
    binned = Binned(history, seed=seed) if binned is None else binned
    observed = ~np.isnan(history.outcome) & (history.arm >= 0)
    outcome_label = np.nan_to_num(history.outcome)
    arm_probability = np.zeros((rows, len(history.arms)))
    outcome = {
        arm: np.full(rows, np.nan)
        for arm in range(len(history.arms))
        if np.sum(observed & (history.arm == arm)) >= MIN_ARM_CLIENTS
    }

    def outcome_model(train_rows: np.ndarray, model_seed: int) -> lgb.Booster:
        return lgb.train(
            _params(model_seed, num_threads, objective="binary"),
            binned.subset(train_rows, outcome_label),
            outcome_rounds(int(train_rows.sum())),
        )

    for fold in range(n_folds):
        held_out = folds == fold
        held_matrix = history.matrix[held_out]
        propensity = _fit_propensity(binned, ~held_out, seed=seed + fold, num_threads=num_threads)
        arm_probability[held_out] = propensity.arm_probability(held_matrix)
        for arm in outcome:
            model = outcome_model(~held_out & observed & (history.arm == arm), seed + fold)
            outcome[arm][held_out] = model.predict(held_matrix)
    full = _fit_propensity(binned, np.ones(rows, dtype=bool), seed=seed, num_threads=num_threads)
    baseline = outcome_model(observed & (history.arm == 0), seed) if 0 in outcome else None
    return Nuisances(arm_probability, outcome, folds, full, baseline)
