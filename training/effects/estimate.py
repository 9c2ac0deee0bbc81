"""Cross-fitted DR-learner: per service, the effect of receiving it against no service.

For each service ``s`` the contrast population is the eligible clients who received
``s`` or no service, inside common support: ``min_propensity <= e_s(x) <=
1 - min_propensity`` with ``e_s(x) = P(s | x, s or none)``. On it:

1. nuisances are cross-fitted (:mod:`training.effects.nuisance`);
2. the doubly robust pseudo-outcome ``phi`` is formed
   (:func:`training.effects.inference.dr_pseudo_outcome`);
3. the average effect, its interval and the sensitivity bounds come from DoubleML's IRM
   fed with these nuisances (:func:`training.effects.inference.doubleml_average_effect`);
4. the final stage is a LightGBM regressor on the features fitted with the R-loss
   (:func:`training.effects.inference.r_learner_target`: label ``(Y - m)/(D - e)``,
   weight ``(D - e)^2``), so what is served is LightGBM text and no distillation is
   needed: fitted per fold for out-of-fold estimates and the number of rounds (early
   stopping on the held-out fold's R-loss), then on all clients. The doubly robust
   ``phi`` is kept for everything that is an average (effects, groups, bands): its
   ``1/e`` terms make it a very noisy regression target where few clients got a
   service, which let noisy services win the top of a benefit ranking by chance;
6. the interval table: out-of-fold estimates are cut into bands, and each band's
   doubly robust average with its 95 % interval is what a served estimate in that band
   is shown with.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from models.effects import (
    IntervalBand,
    ServiceEffect,
    ServiceEffectModels,
)
from models.groups import audit_group_frame
from models.schema import Schema
from training.effects.data import CONTROL, History, read_history
from training.effects.inference import (
    AverageEffect,
    doubleml_average_effect,
    dr_pseudo_outcome,
    mean_interval,
    r_learner_target,
)
from training.effects.nuisance import BASE_PARAMS, MIN_ARM_CLIENTS, Nuisances, cross_fit_nuisances

MIN_PROPENSITY = 0.005
"""Common support: ``P(service | x, service or none)`` must lie in [this, 1 - this]."""
FINAL_PARAMS: dict[str, Any] = {
    **BASE_PARAMS,
    "objective": "regression",
    "learning_rate": 0.03,
    "num_leaves": 7,
    "min_data_in_leaf": 400,
    "lambda_l2": 10.0,
    "feature_fraction": 0.8,
}
FINAL_MAX_ROUNDS = 400
FINAL_EARLY_STOPPING = 40
FINAL_MIN_ROUNDS = 20
MAX_BANDS = 10
CLIENTS_PER_BAND_TREATED = 250
"""Bands are cut so that each holds about this many treated clients (at most MAX_BANDS)."""
MIN_GROUP_CLIENTS = 100
"""Group effects are reported for groups of at least this many clients in the contrast."""


@dataclass
class ServiceFit:
    """What estimation found for one service (training-side: arrays, not served)."""

    service: str
    rows: np.ndarray
    treated: np.ndarray
    pseudo_outcome: np.ndarray
    out_of_fold: np.ndarray
    average: AverageEffect
    naive_difference: float
    supported_share: float
    best_rounds: int
    groups: dict[str, dict[str, AverageEffect]] = field(default_factory=dict)


@dataclass
class EffectFit:
    """The served effect models plus everything needed to evaluate them."""

    models: ServiceEffectModels
    history: History
    nuisances: Nuisances
    services: dict[str, ServiceFit]
    skipped: dict[str, str]
    seconds: float

    def report(self) -> dict[str, Any]:
        """Per-service figures (JSON-ready): averages, sensitivity, support, groups."""
        return {
            "services": {
                name: {
                    "average_effect": fit.average.to_dict(),
                    "naive_difference": fit.naive_difference,
                    "supported_share": fit.supported_share,
                    "final_stage_rounds": fit.best_rounds,
                    "groups": {
                        attribute: {value: g.to_dict() for value, g in values.items()}
                        for attribute, values in fit.groups.items()
                    },
                }
                for name, fit in self.services.items()
            },
            "skipped": self.skipped,
            "seconds": self.seconds,
        }


def _bands(estimates: np.ndarray, pseudo: np.ndarray, treated: int) -> list[IntervalBand]:
    count = int(np.clip(treated // CLIENTS_PER_BAND_TREATED, 1, MAX_BANDS))
    edges = np.unique(np.quantile(estimates, np.linspace(0, 1, count + 1)[1:-1]))
    index = np.searchsorted(edges, estimates, side="left")
    bands = []
    for band in range(len(edges) + 1):
        members = pseudo[index == band]
        if len(members) == 0:
            continue
        mean, lower, upper = mean_interval(members)
        edge = float(edges[band]) if band < len(edges) else float("inf")
        bands.append(IntervalBand(edge, mean, lower, upper, len(members)))
    if bands:
        last = bands[-1]
        bands[-1] = IntervalBand(float("inf"), last.mean, last.lower, last.upper, last.clients)
    return bands


def _final_dataset(
    history: History, rows: np.ndarray, label: np.ndarray, weight: np.ndarray
) -> lgb.Dataset:
    return lgb.Dataset(
        history.matrix[rows],
        label=label,
        weight=weight,
        feature_name=history.feature_names,
        categorical_feature=history.categorical_features,
        params={"verbose": -1, "max_bin": FINAL_PARAMS["max_bin"]},
        free_raw_data=True,
    )


def _final_stage(
    history: History,
    rows: np.ndarray,
    target: tuple[np.ndarray, np.ndarray],
    folds: np.ndarray,
    *,
    seed: int,
    num_threads: int,
) -> tuple[lgb.Booster, np.ndarray, int]:
    """Per-fold fits (out-of-fold estimates, rounds by early stopping), then one on all.

    ``target`` is the R-learner's (label, weight) of the rows in ``rows``.
    """
    params = {**FINAL_PARAMS, "seed": seed, "num_threads": num_threads}
    label = np.zeros(len(rows))
    label[rows] = target[0]
    weight = np.zeros(len(rows))
    weight[rows] = target[1]
    out_of_fold = np.full(len(rows), np.nan)
    rounds = []
    for fold in np.unique(folds[rows]):
        train = rows & (folds != fold)
        valid = rows & (folds == fold)
        booster = lgb.train(
            params,
            _final_dataset(history, train, label[train], weight[train]),
            FINAL_MAX_ROUNDS,
            valid_sets=[_final_dataset(history, valid, label[valid], weight[valid])],
            callbacks=[lgb.early_stopping(FINAL_EARLY_STOPPING, verbose=False)],
        )
        best = max(int(booster.best_iteration or FINAL_MAX_ROUNDS), FINAL_MIN_ROUNDS)
        rounds.append(best)
        out_of_fold[valid] = booster.predict(history.matrix[valid], num_iteration=best)
    best_rounds = int(np.mean(rounds))
    final = lgb.train(params, _final_dataset(history, rows, label[rows], weight[rows]), best_rounds)
    return final, out_of_fold, best_rounds


def _group_effects(
    groups: pd.DataFrame | None, rows: np.ndarray, pseudo: np.ndarray, treated: np.ndarray
) -> dict[str, dict[str, AverageEffect]]:
    if groups is None:
        return {}
    result: dict[str, dict[str, AverageEffect]] = {}
    for attribute in groups.columns:
        values = groups[attribute].to_numpy()[rows]
        per_value = {}
        for value in pd.unique(values):
            member = values == value
            if member.sum() < MIN_GROUP_CLIENTS:
                continue
            mean, lower, upper = mean_interval(pseudo[member])
            per_value[str(value)] = AverageEffect(
                mean, lower, upper, int(member.sum()), int(treated[member].sum())
            )
        result[str(attribute)] = per_value
    return result


def fit_effects(
    frame: pd.DataFrame,
    schema: Schema,
    *,
    n_folds: int = 3,
    seed: int = 0,
    min_propensity: float = MIN_PROPENSITY,
    control: str = CONTROL,
    num_threads: int = 0,
    sensitivity: tuple[float, float] | None = None,
    final_stage: bool = True,
) -> EffectFit:
    """Fit the effect models of every service from a register's history.

    Parameters
    ----------
    frame : pandas.DataFrame
        A canonical register frame with the schema's treatment and outcome columns.
    schema : Schema
        Names the features, services, eligibility rules and the history columns.
    n_folds : int, default 3
        Cross-fitting folds (nuisances and final stage share them).
    seed : int, default 0
        Seeds the folds and every LightGBM fit.
    min_propensity : float, default 0.005
        Common-support bound on ``P(service | x, service or none)``.
    control : str, default "none"
        The treatment value meaning no service.
    num_threads : int, default 0
        LightGBM threads (0: LightGBM's default).
    sensitivity : tuple of float, optional
        ``(cf_y, cf_d)`` of the omitted-variable bounds; DoubleML's defaults-like
        0.03/0.03 when omitted.
    final_stage : bool, default True
        Fit the final-stage models (False: averages and bounds only, for experiments;
        the returned models then estimate nothing for any client).

    Returns
    -------
    EffectFit
    """
    started = time.perf_counter()
    history = read_history(frame, schema, control=control)
    nuisances = cross_fit_nuisances(history, n_folds=n_folds, seed=seed, num_threads=num_threads)
    try:
        groups: pd.DataFrame | None = audit_group_frame(schema, frame)
    except KeyError:
        groups = None
    cf = {} if sensitivity is None else {"cf_y": sensitivity[0], "cf_d": sensitivity[1]}
    observed = ~np.isnan(history.outcome)
    arm_probability = nuisances.arm_probability
    services: dict[str, ServiceFit] = {}
    served: dict[str, ServiceEffect] = {}
    skipped: dict[str, str] = {}
    for column, service in enumerate(history.services):
        if service not in history.arms or history.arms.index(service) not in nuisances.outcome:
            skipped[service] = f"fewer than {MIN_ARM_CLIENTS} clients received it"
            continue
        arm = history.arms.index(service)
        treated_all = history.arm == arm
        contrast = history.eligible[:, column] & observed & (treated_all | history.control)
        propensity = arm_probability[:, arm] / np.maximum(
            arm_probability[:, arm] + arm_probability[:, 0], 1e-12
        )
        inside = (propensity >= min_propensity) & (propensity <= 1.0 - min_propensity)
        rows = contrast & inside
        treated = treated_all[rows]
        if treated.sum() < MIN_ARM_CLIENTS // 2 or (~treated).sum() < MIN_ARM_CLIENTS:
            skipped[service] = "too few clients inside common support"
            continue
        mu_treated = nuisances.outcome[arm][rows]
        mu_control = nuisances.outcome[0][rows]
        outcome = history.outcome[rows]
        pseudo = dr_pseudo_outcome(outcome, treated, propensity[rows], mu_treated, mu_control)
        average = doubleml_average_effect(
            history.matrix[rows], outcome, treated, propensity[rows], mu_treated, mu_control, **cf
        )
        if final_stage:
            target = r_learner_target(outcome, treated, propensity[rows], mu_treated, mu_control)
            booster, out_of_fold, best_rounds = _final_stage(
                history, rows, target, nuisances.folds, seed=seed, num_threads=num_threads
            )
            bands = _bands(out_of_fold[rows], pseudo, int(treated.sum()))
        else:
            booster, out_of_fold, best_rounds, bands = None, np.full(len(rows), np.nan), 0, []
        naive = float(
            history.outcome[contrast & treated_all].mean()
            - history.outcome[contrast & history.control].mean()
        )
        fit = ServiceFit(
            service=service,
            rows=rows,
            treated=treated,
            pseudo_outcome=pseudo,
            out_of_fold=out_of_fold,
            average=average,
            naive_difference=naive,
            supported_share=float(rows.sum() / max(contrast.sum(), 1)),
            best_rounds=best_rounds,
            groups=_group_effects(groups, rows, pseudo, treated),
        )
        services[service] = fit
        if booster is None:
            continue
        served[service] = ServiceEffect(
            service=service,
            booster=booster,
            support=(min_propensity, 1.0 - min_propensity),
            bands=bands,
            summary={
                "average_effect": average.to_dict(),
                "supported_share": fit.supported_share,
                "naive_difference": naive,
            },
        )
    seconds = time.perf_counter() - started
    models = ServiceEffectModels(
        schema=schema,
        propensity=nuisances.propensity,
        effects=served,
        services=history.services,
        metadata={
            "method": (
                "cross-fitted nuisances (LightGBM); R-learner final stage (LightGBM); "
                "doubly robust averages, groups and interval bands"
            ),
            "n_folds": n_folds,
            "seed": seed,
            "min_propensity": min_propensity,
            "control": control,
            "treatment_column": schema.treatment_column,
            "outcome_column": schema.outcome_column,
            "clients": len(frame),
            "trained_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "skipped": skipped,
        },
    )
    return EffectFit(models, history, nuisances, services, skipped, seconds)
