"""Cross-fitted DR-learner: per service, the effect of receiving it against no service.

For each service ``s`` the contrast population is the eligible clients who received
``s`` or no service, inside common support: ``min_propensity <= e_s(x) <=
1 - min_propensity`` with ``e_s(x) = P(s | x, s or none)``. On it:

1. nuisances are cross-fitted (:mod:`training.effects.nuisance`);
2. the doubly robust pseudo-outcome ``phi`` is formed
   (:func:`training.effects.inference.dr_pseudo_outcome`);
3. the average effect, its interval and the sensitivity bounds come from DoubleML's IRM
   fed with these nuisances (:func:`training.effects.inference.doubleml_average_effect`);
4. the final stage minimises the R-loss ``sum ((Y - m) - (D - e) tau(x))^2`` (Nie and
   Wager 2021), per fold for out-of-fold estimates, then on all clients. Two kinds:

   - ``index`` (default): ``tau`` depends on the client through the need for the
     service and the baseline chance only, with two coefficients per service
     (:mod:`training.effects.index_stage`, :mod:`models.effect_index`). Measured on the
     synthetic register (``bench/bench_impact.py``), it ranks clients far better than a
     regressor on all fields, which learns from the few thousand treated clients alone;
   - ``trees``: a LightGBM regressor on the register fields (label ``(Y - m)/(D - e)``,
     weight ``(D - e)^2``, :func:`training.effects.inference.r_learner_target`; rounds
     by early stopping on the held-out fold's R-loss), for registers where the effect
     varies with fields the need does not capture.

   Either way what is served is LightGBM text and JSON, so no distillation is needed.
   The doubly robust ``phi`` is kept for everything that is an average (effects,
   groups, bands): its ``1/e`` terms make it a very noisy regression target where few
   clients got a service, which let noisy services win the top of a benefit ranking by
   chance;
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
    FINAL_STAGES,
    STAGE_INDEX,
    STAGE_TREES,
    IndexStage,
    IntervalBand,
    ServiceEffect,
    ServiceEffectModels,
)
from models.groups import audit_group_frame
from models.schema import Schema
from training.effects.data import CONTROL, History, read_history
from training.effects.index_stage import (
    NeedIndices,
    baseline_logit,
    fit_index_stage,
    fit_need_indices,
)
from training.effects.inference import (
    AverageEffect,
    doubleml_average_effect,
    dr_pseudo_outcome,
    mean_interval,
    r_learner_target,
    r_residuals,
)
from training.effects.nuisance import (
    BASE_PARAMS,
    MIN_ARM_CLIENTS,
    Binned,
    Nuisances,
    cross_fit_nuisances,
)

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
MSG_FINAL_STAGE = "final_stage must be one of {stages} or None, not {value!r}"


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
    final_stage: str | None = None
    coefficients: tuple[float, float] | None = None


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
                    "final_stage": fit.final_stage,
                    "final_stage_rounds": fit.best_rounds,
                    **(
                        {}
                        if fit.coefficients is None
                        else {"shift": fit.coefficients[0], "need_gain": fit.coefficients[1]}
                    ),
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


@dataclass(frozen=True)
class _Contrast:
    """One service's contrast population (``rows``) and its nuisances on those rows."""

    rows: np.ndarray
    treated: np.ndarray
    propensity: np.ndarray
    mu_treated: np.ndarray
    mu_control: np.ndarray
    outcome: np.ndarray
    naive: float
    supported_share: float

    def nuisances(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(Y, D, e, mu_1, mu_0)`` on the contrast rows, as the estimators take them."""
        return self.outcome, self.treated, self.propensity, self.mu_treated, self.mu_control


def _contrast(
    history: History, nuisances: Nuisances, column: int, min_propensity: float
) -> _Contrast | str:
    """Return the contrast of service ``column`` with no service, or why there is none."""
    service = history.services[column]
    if service not in history.arms or history.arms.index(service) not in nuisances.outcome:
        return f"fewer than {MIN_ARM_CLIENTS} clients received it"
    arm = history.arms.index(service)
    treated_all = history.arm == arm
    observed = ~np.isnan(history.outcome)
    contrast = history.eligible[:, column] & observed & (treated_all | history.control)
    probability = nuisances.arm_probability
    propensity = probability[:, arm] / np.maximum(probability[:, arm] + probability[:, 0], 1e-12)
    inside = (propensity >= min_propensity) & (propensity <= 1.0 - min_propensity)
    rows = contrast & inside
    treated = treated_all[rows]
    if treated.sum() < MIN_ARM_CLIENTS // 2 or (~treated).sum() < MIN_ARM_CLIENTS:
        return "too few clients inside common support"
    naive = float(
        history.outcome[contrast & treated_all].mean()
        - history.outcome[contrast & history.control].mean()
    )
    return _Contrast(
        rows=rows,
        treated=treated,
        propensity=propensity[rows],
        mu_treated=nuisances.outcome[arm][rows],
        mu_control=nuisances.outcome[0][rows],
        outcome=history.outcome[rows],
        naive=naive,
        supported_share=float(rows.sum() / max(contrast.sum(), 1)),
    )


@dataclass(frozen=True)
class _Stage:
    """A fitted final stage: what is served, and the out-of-fold estimates (all rows)."""

    kind: str
    out_of_fold: np.ndarray
    booster: lgb.Booster | None = None
    index: IndexStage | None = None
    best_rounds: int = 0
    coefficients: tuple[float, float] | None = None


def _fit_stage(
    kind: str,
    name: str,
    history: History,
    contrast: _Contrast,
    nuisances: Nuisances,
    indices: NeedIndices,
    *,
    seed: int,
    num_threads: int,
) -> _Stage:
    """Fit an index stage where the service has a need index, else a trees stage."""
    rows = contrast.rows
    folds = nuisances.folds
    if kind == STAGE_INDEX and name in indices.models and nuisances.baseline is not None:
        need_raw = indices.out_of_fold[name][rows]
        baseline = baseline_logit(contrast.mu_control)
        coefficients, estimates = fit_index_stage(
            r_residuals(*contrast.nuisances()), need_raw, baseline, folds[rows]
        )
        out_of_fold = np.full(len(rows), np.nan)
        out_of_fold[rows] = estimates
        index = IndexStage(coefficients[0], coefficients[1], indices.models[name])
        return _Stage(STAGE_INDEX, out_of_fold, index=index, coefficients=coefficients)
    target = r_learner_target(*contrast.nuisances())
    booster, out_of_fold, best_rounds = _final_stage(
        history, rows, target, folds, seed=seed, num_threads=num_threads
    )
    return _Stage(STAGE_TREES, out_of_fold, booster=booster, best_rounds=best_rounds)


def _service_results(
    service: str,
    history: History,
    contrast: _Contrast,
    stage: _Stage | None,
    groups: pd.DataFrame | None,
    *,
    cf: dict[str, float],
    min_propensity: float,
) -> tuple[ServiceFit, ServiceEffect | None]:
    """Return one service's averages, groups and bands, and what is served (if a stage)."""
    outcome, treated, propensity, mu_treated, mu_control = contrast.nuisances()
    pseudo = dr_pseudo_outcome(outcome, treated, propensity, mu_treated, mu_control)
    average = doubleml_average_effect(
        history.matrix[contrast.rows], outcome, treated, propensity, mu_treated, mu_control, **cf
    )
    fit = ServiceFit(
        service=service,
        rows=contrast.rows,
        treated=contrast.treated,
        pseudo_outcome=pseudo,
        out_of_fold=np.full(len(contrast.rows), np.nan) if stage is None else stage.out_of_fold,
        average=average,
        naive_difference=contrast.naive,
        supported_share=contrast.supported_share,
        best_rounds=0 if stage is None else stage.best_rounds,
        groups=_group_effects(groups, contrast.rows, pseudo, contrast.treated),
        final_stage=None if stage is None else stage.kind,
        coefficients=None if stage is None else stage.coefficients,
    )
    if stage is None:
        return fit, None
    effect = ServiceEffect(
        service=service,
        booster=stage.booster,
        support=(min_propensity, 1.0 - min_propensity),
        bands=_bands(stage.out_of_fold[contrast.rows], pseudo, int(contrast.treated.sum())),
        summary={
            "average_effect": average.to_dict(),
            "supported_share": fit.supported_share,
            "naive_difference": fit.naive_difference,
            "final_stage": stage.kind,
        },
        index=stage.index,
    )
    return fit, effect


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
    final_stage: str | None = STAGE_INDEX,
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
    final_stage : {"index", "trees"} or None, default "index"
        The kind of final stage (a service without a need index, because its need label
        is missing or too rarely recorded, gets a trees stage); None fits none (averages
        and bounds only, for experiments: the models then estimate nothing).

    Returns
    -------
    EffectFit
    """
    if final_stage is not None and final_stage not in FINAL_STAGES:
        raise ValueError(MSG_FINAL_STAGE.format(stages=list(FINAL_STAGES), value=final_stage))
    started = time.perf_counter()
    history = read_history(frame, schema, control=control)
    binned = Binned(history, seed=seed)
    nuisances = cross_fit_nuisances(
        history, n_folds=n_folds, seed=seed, num_threads=num_threads, binned=binned
    )
    indices = (
        fit_need_indices(binned, nuisances.folds, seed=seed, num_threads=num_threads)
        if final_stage == STAGE_INDEX
        else NeedIndices({}, {})
    )
    try:
        groups: pd.DataFrame | None = audit_group_frame(schema, frame)
    except KeyError:
        groups = None
    cf = {} if sensitivity is None else {"cf_y": sensitivity[0], "cf_d": sensitivity[1]}
    services: dict[str, ServiceFit] = {}
    served: dict[str, ServiceEffect] = {}
    skipped: dict[str, str] = {}
    for column, service in enumerate(history.services):
        contrast = _contrast(history, nuisances, column, min_propensity)
        if isinstance(contrast, str):
            skipped[service] = contrast
            continue
        stage = (
            None
            if final_stage is None
            else _fit_stage(
                final_stage,
                service,
                history,
                contrast,
                nuisances,
                indices,
                seed=seed,
                num_threads=num_threads,
            )
        )
        services[service], effect = _service_results(
            service, history, contrast, stage, groups, cf=cf, min_propensity=min_propensity
        )
        if effect is not None:
            served[service] = effect
    models = ServiceEffectModels(
        schema=schema,
        propensity=nuisances.propensity,
        effects=served,
        services=history.services,
        metadata=_metadata(schema, final_stage, n_folds, seed, min_propensity, control, len(frame)),
        baseline=nuisances.baseline if any(e.index for e in served.values()) else None,
    )
    models.metadata["skipped"] = skipped
    return EffectFit(models, history, nuisances, services, skipped, time.perf_counter() - started)


def _metadata(
    schema: Schema,
    final_stage: str | None,
    n_folds: int,
    seed: int,
    min_propensity: float,
    control: str,
    clients: int,
) -> dict[str, Any]:
    stage = {
        STAGE_INDEX: "index final stage (need and baseline indices, two coefficients per "
        "service, R-loss)",
        STAGE_TREES: "R-learner final stage (LightGBM)",
        None: "no final stage",
    }[final_stage]
    return {
        "method": f"cross-fitted nuisances (LightGBM); {stage}; doubly robust averages, "
        "groups and interval bands",
        "final_stage": final_stage,
        "n_folds": n_folds,
        "seed": seed,
        "min_propensity": min_propensity,
        "control": control,
        "treatment_column": schema.treatment_column,
        "outcome_column": schema.outcome_column,
        "clients": clients,
        "trained_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
