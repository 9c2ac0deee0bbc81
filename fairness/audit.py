"""Run a fairness audit: per service and group metrics, intervals, comparisons and flags.

Three entry points share one engine:

- :func:`run_audit` takes labels, scores, decisions and audit groups as data frames;
- :func:`audit_model` takes a tarve model and a labelled extract;
- :func:`audit_predictions_file` takes a CSV or Parquet file of any system's predictions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from fairness import intervals as ci
from fairness.metrics import (
    GroupStatistics,
    Partition,
    build_partitions,
    expected_calibration_error,
    group_statistics,
    safe_ratio,
    top_k_membership,
)
from fairness.policy import FLAG_METRICS, Policy, flag_status, load_policy
from fairness.report_json import FORMAT, FORMAT_VERSION, AuditReport
from models.extract.fingerprint import data_fingerprint, file_fingerprint

if TYPE_CHECKING:
    from models.model import ServiceNeedModel

MSG_NOT_FRAME = "{name} must be a pandas DataFrame, got {type}"
MSG_INDEX = "{name} does not have the same index as labels"
MSG_COLUMNS = "{name} has columns {found}; expected the label columns {expected}"
MSG_NO_GROUPS = "groups has no columns: name at least one audit attribute"
MSG_NO_ROWS = "nothing to audit: the input has no rows"
MSG_LABEL_VALUES = "labels of {service!r} must be 0/1 (or missing), found {values}"
MSG_SCORE_RANGE = "scores of {service!r} must be probabilities in [0, 1], found {low} to {high}"
MSG_SCORE_MISSING = "scores of {service!r} are missing for {count} row(s) that have a label"
MSG_DECISION_VALUES = "decisions of {service!r} must be boolean or 0/1, found {values}"
MSG_FILE_FORMAT = "cannot read {path}: expected a .csv or .parquet file"
MSG_FILE_COLUMNS = "{path} has no column(s) {missing}; it has {available}"
MSG_DECISION_OR_THRESHOLD = "give exactly one of decision (a column) or threshold (a number)"
MSG_MODEL_LABELS = "the data has no label column(s) {missing} for the model's services"

RATE_METRICS = ("base_rate", "selection_rate", "tpr", "fpr", "fnr", "precision")
METRIC_ORDER = (
    "base_rate",
    "mean_score",
    "selection_rate",
    "tpr",
    "fpr",
    "fnr",
    "precision",
    "roc_auc",
    "calibration_gap",
    "ece",
)


# -- input checks ------------------------------------------------------------------------
def _check_frames(
    labels: pd.DataFrame, scores: pd.DataFrame, decisions: pd.DataFrame, groups: pd.DataFrame
) -> list[str]:
    for name, frame in (
        ("labels", labels),
        ("scores", scores),
        ("decisions", decisions),
        ("groups", groups),
    ):
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(MSG_NOT_FRAME.format(name=name, type=type(frame).__name__))
    services = [str(column) for column in labels.columns]
    for name, frame in (("scores", scores), ("decisions", decisions)):
        if sorted(map(str, frame.columns)) != sorted(services):
            raise ValueError(
                MSG_COLUMNS.format(name=name, found=list(frame.columns), expected=services)
            )
    for name, frame in (("scores", scores), ("decisions", decisions), ("groups", groups)):
        if not frame.index.equals(labels.index):
            raise ValueError(MSG_INDEX.format(name=name))
    if groups.shape[1] == 0:
        raise ValueError(MSG_NO_GROUPS)
    if len(labels) == 0:
        raise ValueError(MSG_NO_ROWS)
    return services


def _as_arrays(
    services: list[str], labels: pd.DataFrame, scores: pd.DataFrame, decisions: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    label_matrix = np.column_stack(
        [pd.to_numeric(labels[s], errors="coerce").to_numpy(dtype=np.float64) for s in services]
    )
    score_matrix = np.column_stack(
        [pd.to_numeric(scores[s], errors="coerce").to_numpy(dtype=np.float64) for s in services]
    )
    decision_matrix = np.column_stack(
        [decisions[s].astype("float64").to_numpy(dtype=np.float64) for s in services]
    )
    for column, service in enumerate(services):
        label = label_matrix[:, column]
        bad = ~np.isnan(label) & (label != 0) & (label != 1)
        if bad.any():
            values = sorted(set(labels[service][bad].astype(str)))[:5]
            raise ValueError(MSG_LABEL_VALUES.format(service=service, values=values))
        score = score_matrix[:, column]
        missing = np.isnan(score) & ~np.isnan(label)
        if missing.any():
            raise ValueError(MSG_SCORE_MISSING.format(service=service, count=int(missing.sum())))
        present = score[~np.isnan(score)]
        if present.size and (present.min() < 0 or present.max() > 1):
            raise ValueError(
                MSG_SCORE_RANGE.format(service=service, low=present.min(), high=present.max())
            )
        decision = decision_matrix[:, column]
        if ((decision != 0) & (decision != 1)).any():
            values = sorted(set(decisions[service].astype(str)))[:5]
            raise ValueError(MSG_DECISION_VALUES.format(service=service, values=values))
    return label_matrix, score_matrix, decision_matrix


# -- the engine --------------------------------------------------------------------------
@dataclass
class _Estimate:
    value: np.ndarray
    low: np.ndarray
    high: np.ndarray


def _sums(stats: GroupStatistics) -> dict[str, np.ndarray]:
    return {
        "n": stats.n,
        "pos": stats.positives,
        "sel": stats.selected,
        "tp": stats.true_positives,
        "s": stats.score_sum,
        "ss": stats.score_square_sum,
        "sy": stats.score_label_sum,
    }


def _reference_sums(
    sums: dict[str, np.ndarray], partitions: list[Partition], offsets: np.ndarray, policy: Policy
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Sums of each cell's reference group, shape (cells, services).

    Also returns which cells are their own reference (the largest cell of each
    partition under ``reference: largest``; none otherwise).
    """
    total = {name: value[0:1, :] for name, value in sums.items()}  # the population cell
    is_reference = np.zeros(sums["n"].shape, dtype=bool)
    if policy.reference == "overall":
        broadcast = {
            name: np.broadcast_to(value, sums[name].shape).copy() for name, value in total.items()
        }
        return broadcast, is_reference
    if policy.reference == "rest":
        return {name: total[name] - value for name, value in sums.items()}, is_reference
    reference_index = np.zeros(sums["n"].shape, dtype=np.intp)
    for part, start in zip(partitions, offsets[:-1], strict=True):
        block = sums["n"][start : start + part.size]
        reference_index[start : start + part.size] = start + np.argmax(block, axis=0)
    is_reference = reference_index == np.arange(sums["n"].shape[0])[:, None]
    columns = np.arange(sums["n"].shape[1])[None, :]
    return {name: value[reference_index, columns] for name, value in sums.items()}, is_reference


def _rate(x: np.ndarray, n: np.ndarray, z: float) -> _Estimate:
    low, high = ci.wilson_interval(x, n, z=z)
    return _Estimate(safe_ratio(x, n), low, high)


def _mean(
    total: np.ndarray, squares: np.ndarray, n: np.ndarray, z: float
) -> tuple[_Estimate, np.ndarray]:
    mean, variance = ci.mean_and_variance(total, squares, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.sqrt(variance / n)
    low, high = ci.normal_interval(mean, se, z=z)
    return _Estimate(mean, low, high), se


def _calibration(s: dict[str, np.ndarray], z: float) -> _Estimate:
    gap, low, high = ci.calibration_gap_interval(s["s"], s["ss"], s["sy"], s["pos"], s["n"], z=z)
    return _Estimate(gap, low, high)


def _rate_counts(d: dict[str, np.ndarray]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(successes, trials) of each rate metric, from a cell's or reference's sums."""
    return {
        "base_rate": (d["pos"], d["n"]),
        "selection_rate": (d["sel"], d["n"]),
        "tpr": (d["tp"], d["pos"]),
        "fpr": (d["sel"] - d["tp"], d["n"] - d["pos"]),
        "fnr": (d["pos"] - d["tp"], d["pos"]),
        "precision": (d["tp"], d["sel"]),
    }


def _cell_metrics(
    s: dict[str, np.ndarray], stats: GroupStatistics, policy: Policy, z: float
) -> dict[str, _Estimate]:
    metrics = {metric: _rate(x, n, z) for metric, (x, n) in _rate_counts(s).items()}
    metrics["mean_score"], _ = _mean(s["s"], s["ss"], s["n"], z)
    metrics["calibration_gap"] = _calibration(s, z)
    with np.errstate(invalid="ignore"):
        auc_se = np.sqrt(stats.auc_variance)
    low, high = ci.normal_interval(stats.auc, auc_se, z=z)
    metrics["roc_auc"] = _Estimate(stats.auc, np.clip(low, 0, 1), np.clip(high, 0, 1))
    counts, score_sums, squares = stats.calibration_strata
    ece = expected_calibration_error(counts, score_sums)
    low = np.full(ece.shape, np.nan)
    high = np.full(ece.shape, np.nan)
    shown = s["n"] >= policy.min_group_size
    if shown.any():
        low[shown], high[shown] = ci.ece_bootstrap_interval(
            counts[shown],
            score_sums[shown],
            squares[shown],
            confidence=policy.confidence,
            replicates=policy.bootstrap_replicates,
            seed=policy.seed,
        )
    metrics["ece"] = _Estimate(ece, low, high)
    return metrics


def _comparisons(
    s: dict[str, np.ndarray], r: dict[str, np.ndarray], z: float
) -> dict[str, dict[str, _Estimate]]:
    """Differences (and ratios, for rates) of each cell against its reference."""
    cell_counts, ref_counts = _rate_counts(s), _rate_counts(r)
    result: dict[str, dict[str, _Estimate]] = {}
    for metric in RATE_METRICS:
        (x1, n1), (x2, n2) = cell_counts[metric], ref_counts[metric]
        difference = safe_ratio(x1, n1) - safe_ratio(x2, n2)
        d_low, d_high = ci.newcombe_difference_interval(x1, n1, x2, n2, z=z)
        ratio = safe_ratio(safe_ratio(x1, n1), safe_ratio(x2, n2))
        r_low, r_high = ci.katz_ratio_interval(x1, n1, x2, n2, z=z)
        result[metric] = {
            "difference": _Estimate(difference, d_low, d_high),
            "ratio": _Estimate(ratio, r_low, r_high),
        }
    cell_mean, se1 = _mean(s["s"], s["ss"], s["n"], z)
    ref_mean, se2 = _mean(r["s"], r["ss"], r["n"], z)
    difference = cell_mean.value - ref_mean.value
    low, high = ci.normal_interval(difference, np.sqrt(se1**2 + se2**2), z=z)
    result["mean_score"] = {"difference": _Estimate(difference, low, high)}
    cell_gap, ref_gap = _calibration(s, z), _calibration(r, z)
    low, high = ci.mover_difference_interval(
        cell_gap.value, (cell_gap.low, cell_gap.high), ref_gap.value, (ref_gap.low, ref_gap.high)
    )
    result["calibration_gap"] = {"difference": _Estimate(cell_gap.value - ref_gap.value, low, high)}
    return result


def _flag_intervals(
    s: dict[str, np.ndarray], r: dict[str, np.ndarray], z: float
) -> dict[str, _Estimate]:
    """Value and decision interval (at ``z``) of each flag metric."""
    negatives, ref_negatives = s["n"] - s["pos"], r["n"] - r["pos"]
    fp, ref_fp = s["sel"] - s["tp"], r["sel"] - r["tp"]
    ratio_low, ratio_high = ci.katz_ratio_interval(s["sel"], s["n"], r["sel"], r["n"], z=z)
    tpr_low, tpr_high = ci.newcombe_difference_interval(s["tp"], s["pos"], r["tp"], r["pos"], z=z)
    fpr_low, fpr_high = ci.newcombe_difference_interval(fp, negatives, ref_fp, ref_negatives, z=z)
    calibration = _calibration(s, z)
    return {
        "selection_rate_ratio": _Estimate(
            safe_ratio(safe_ratio(s["sel"], s["n"]), safe_ratio(r["sel"], r["n"])),
            ratio_low,
            ratio_high,
        ),
        "tpr_gap": _Estimate(
            safe_ratio(s["tp"], s["pos"]) - safe_ratio(r["tp"], r["pos"]), tpr_low, tpr_high
        ),
        "fpr_gap": _Estimate(
            safe_ratio(fp, negatives) - safe_ratio(ref_fp, ref_negatives), fpr_low, fpr_high
        ),
        "calibration_gap": calibration,
    }


def _number(value: float) -> float | None:
    if value is None or not np.isfinite(value):
        return None
    return round(float(value), 5)


def _estimate(est: _Estimate, index: tuple[int, int]) -> dict[str, Any]:
    return {
        "value": _number(est.value[index]),
        "interval": [_number(est.low[index]), _number(est.high[index])],
    }


@dataclass
class _CellIndex:
    cell: int
    partition: Partition
    position: int

    @property
    def attributes(self) -> list[str]:
        return list(self.partition.attributes)

    @property
    def values(self) -> list[str]:
        return list(self.partition.values[self.position])


def _cell_indices(partitions: list[Partition], offsets: np.ndarray) -> list[_CellIndex]:
    return [
        _CellIndex(int(start) + position, part, position)
        for part, start in zip(partitions, offsets[:-1], strict=True)
        for position in range(part.size)
    ]


def _group_name(attributes: list[str], values: list[str]) -> tuple[str, str]:
    return " × ".join(attributes), " × ".join(values)


def _column_sums(part: Partition, values: np.ndarray) -> np.ndarray:
    """Sum of each column of ``values`` per cell of ``part``, shape (cells, columns)."""
    return np.column_stack(
        [
            np.bincount(part.codes, weights=values[:, j], minlength=part.size)
            for j in range(values.shape[1])
        ]
    )


def _allocation(
    partitions: list[Partition],
    labels: np.ndarray,
    scores: np.ndarray,
    services: list[str],
    policy: Policy,
    top_k: int,
    z: float,
) -> dict[str, Any]:
    """Share of each group with a service in its top ``k`` vs the group's need rate."""
    ranked = np.where(np.isnan(labels), np.nan, scores)
    member = top_k_membership(ranked, top_k).astype(np.float64)
    need = np.nan_to_num(labels)
    groups: list[dict[str, Any]] = []
    suppressed: list[dict[str, Any]] = []
    for part in partitions:
        if len(part.attributes) > 1:
            continue
        n = np.bincount(part.codes, minlength=part.size).astype(np.float64)
        trials = n[:, None]
        top, needs = _column_sums(part, member), _column_sums(part, need)
        top_share = _Estimate(safe_ratio(top, trials), *ci.wilson_interval(top, trials, z=z))
        need_rate = _Estimate(safe_ratio(needs, trials), *ci.wilson_interval(needs, trials, z=z))
        difference = _Estimate(
            top_share.value - need_rate.value,
            *ci.newcombe_difference_interval(top, trials, needs, trials, z=z),
        )
        for position, values in enumerate(part.values):
            if n[position] == 0:
                continue
            if n[position] < policy.min_group_size:
                suppressed.append({"attributes": list(part.attributes), "values": list(values)})
                continue
            per_service = {
                service: {
                    "top_k_share": _estimate(top_share, (position, j)),
                    "need_rate": _estimate(need_rate, (position, j)),
                    "difference": _estimate(difference, (position, j)),
                }
                for j, service in enumerate(services)
            }
            groups.append(
                {
                    "kind": part.kind,
                    "attributes": list(part.attributes),
                    "values": list(values),
                    "n": int(n[position]),
                    "services": per_service,
                }
            )
    return {"top_k": top_k, "groups": groups, "suppressed": suppressed}


def run_audit(
    *,
    labels: pd.DataFrame,
    scores: pd.DataFrame,
    decisions: pd.DataFrame,
    groups: pd.DataFrame,
    policy: Policy | None = None,
    service_labels: Mapping[str, Mapping[str, str]] | None = None,
    metadata: Mapping[str, Any] | None = None,
    top_k: int = 3,
    allocation: bool = True,
) -> AuditReport:
    """Audit predictions for every service, group and pair of groups.

    Parameters
    ----------
    labels : DataFrame
        One column per service: recorded need 0/1. ``NaN`` leaves a row out of that
        service's audit (for example a client not eligible for it).
    scores : DataFrame
        Same columns and index: calibrated probabilities in ``[0, 1]``.
    decisions : DataFrame
        Same columns and index: the "recommended" decision (bool or 0/1).
    groups : DataFrame
        Same index; one column per audit attribute (values are compared as text).
    policy : Policy, optional
        Tolerances and gate settings; the default policy when omitted.
    service_labels : mapping, optional
        Display names per service, e.g. ``{"pay_subsidy": {"fi": ..., "sv": ..., "en": ...}}``.
    metadata : mapping, optional
        Stamped on the report: ``name`` and ``version`` of the model and anything else;
        ``data_fingerprint`` and ``data_source`` describe the data (the fingerprint is
        computed from the inputs when absent).
    top_k : int, default 3
        Size of the ranking used by the allocation view.
    allocation : bool, default True
        Whether to compute the allocation view (it needs every service scored on the
        same clients; it is skipped when there are no more services than ``top_k``).

    Returns
    -------
    AuditReport
    """
    policy = policy if policy is not None else load_policy()
    services = _check_frames(labels, scores, decisions, groups)
    label_matrix, score_matrix, decision_matrix = _as_arrays(services, labels, scores, decisions)
    partitions = build_partitions(groups, intersections=policy.intersections)
    stats = group_statistics(
        partitions, label_matrix, score_matrix, decision_matrix, bins=policy.ece_bins
    )
    sums = _sums(stats)
    reference, is_reference = _reference_sums(sums, partitions, stats.offsets, policy)
    z = ci.z_value(policy.confidence)
    metrics = _cell_metrics(sums, stats, policy, z)
    comparisons = _comparisons(sums, reference, z)

    cells = _cell_indices(partitions, stats.offsets)
    reference_rate = safe_ratio(reference["pos"], reference["n"])
    shown = sums["n"] >= policy.min_group_size
    comparable = shown & (reference["n"] >= policy.min_group_size)
    kind = np.array([len(c.partition.attributes) for c in cells])[:, None]
    comparable &= (kind > 0) & ~is_reference
    gating_cell = comparable & ((kind == 1) | policy.gate_intersections)

    plain = _flag_intervals(sums, reference, z)
    tests = sum(int((gating_cell & ~np.isnan(plain[m].value)).sum()) for m in policy.gate_metrics)
    if policy.multiplicity == "bonferroni" and tests > 1:
        flag_z = ci.z_value(policy.confidence, tests=tests)
        flag_confidence = ci.simultaneous_confidence(policy.confidence, tests=tests)
    else:
        flag_z, flag_confidence = z, policy.confidence
    flags = _flag_intervals(sums, reference, flag_z)
    status = {m: flag_status(policy, m, flags[m].low, flags[m].high) for m in FLAG_METRICS}

    service_names = {
        service: dict((service_labels or {}).get(service, {"en": service})) for service in services
    }
    service_blocks: list[dict[str, Any]] = []
    findings: list[dict[str, Any]] = []
    suppressed: dict[tuple[tuple[str, ...], tuple[str, ...]], list[str]] = {}
    for j, service in enumerate(services):
        block: dict[str, Any] = {
            "service": service,
            "label": service_names[service],
            "population": None,
            "cells": [],
        }
        for cell in cells:
            index = (cell.cell, j)
            n = sums["n"][index]
            if n == 0:
                continue
            if not shown[index]:
                key = (tuple(cell.attributes), tuple(cell.values))
                suppressed.setdefault(key, []).append(service)
                continue
            entry: dict[str, Any] = {
                "kind": cell.partition.kind,
                "attributes": cell.attributes,
                "values": cell.values,
                "n": int(n),
                "metrics": {m: _estimate(metrics[m], index) for m in METRIC_ORDER},
            }
            if cell.partition.kind == "population":
                block["population"] = entry
                continue
            entry["reference"] = {
                "kind": policy.reference,
                "n": int(reference["n"][index])
                if comparable[index] or is_reference[index]
                else None,
                "is_reference": bool(is_reference[index]),
            }
            entry["comparisons"] = (
                {
                    metric: {part: _estimate(est, index) for part, est in parts.items()}
                    for metric, parts in comparisons.items()
                }
                if comparable[index] and cell.partition.kind == "group"
                else None
            )
            entry["flags"] = {}
            if comparable[index]:
                attribute, group = _group_name(cell.attributes, cell.values)
                for metric in FLAG_METRICS:
                    gating = bool(gating_cell[index]) and metric in policy.gate_metrics
                    flag = {
                        **_estimate(flags[metric], index),
                        "tolerance": policy.tolerance(metric),
                        "status": str(status[metric][index]),
                        "gating": gating,
                    }
                    entry["flags"][metric] = flag
                    if flag["status"] in ("fail", "uncertain"):
                        findings.append(
                            {
                                "service": service,
                                "kind": cell.partition.kind,
                                "attribute": attribute,
                                "group": group,
                                "attributes": cell.attributes,
                                "values": cell.values,
                                "n": int(n),
                                "metric": metric,
                                **{k: flag[k] for k in ("value", "interval", "tolerance")},
                                "status": flag["status"],
                                "gating": gating,
                                "need_rate": _number(metrics["base_rate"].value[index]),
                                "reference_need_rate": _number(reference_rate[index]),
                            }
                        )
            block["cells"].append(entry)
        service_blocks.append(block)

    gating_findings = [f for f in findings if f["gating"]]
    verdicts = {
        service: _worst_status(f["status"] for f in gating_findings if f["service"] == service)
        for service in services
    }
    for block in service_blocks:
        block["verdict"] = verdicts[block["service"]]
    verdict = _worst_status(verdicts.values())

    check_counts = {"pass": 0, "fail": 0, "uncertain": 0, "not_evaluable": 0}
    for metric in policy.gate_metrics:
        values, counts = np.unique(status[metric][gating_cell], return_counts=True)
        for value, count in zip(values.tolist(), counts.tolist(), strict=True):
            check_counts[str(value)] += int(count)

    meta = dict(metadata or {})
    fingerprint = meta.pop("data_fingerprint", None) or data_fingerprint(
        labels, scores, decisions.astype("float64"), groups.astype("string")
    )
    source = meta.pop("data_source", None)
    alloc: dict[str, Any] | None = None
    allocation_note = None
    if not allocation:
        allocation_note = "not computed: the input does not score every service for each client"
    elif len(services) <= top_k:
        allocation_note = f"not computed: {len(services)} service(s), not more than top_k={top_k}"
    else:
        alloc = _allocation(partitions, label_matrix, score_matrix, services, policy, top_k, z)

    payload: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "verdict": verdict,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "model": {key: _jsonable(value) for key, value in meta.items()},
        "data": {
            "rows": len(labels),
            "fingerprint": fingerprint,
            "source": None if source is None else str(source),
            "services": services,
            "attributes": [str(c) for c in groups.columns],
        },
        "policy": policy.model_dump(mode="json"),
        "method": {
            "confidence": policy.confidence,
            "flag_confidence": flag_confidence,
            "gating_checks": tests,
            "proportion_interval": "wilson",
            "difference_interval": "newcombe-hybrid-score",
            "ratio_interval": "katz-log",
            "mean_interval": "normal",
            "auc_interval": "delong",
            "ece_interval": f"poisson-stratum-bootstrap ({policy.bootstrap_replicates} replicates)",
        },
        "summary": {
            "verdict": verdict,
            "services": verdicts,
            "checks": check_counts,
            "gating_metrics": list(policy.gate_metrics),
            "failures": sum(1 for f in gating_findings if f["status"] == "fail"),
            "uncertain": sum(1 for f in gating_findings if f["status"] == "uncertain"),
            "informational_flags": sum(
                1 for f in findings if not f["gating"] and f["status"] == "fail"
            ),
        },
        "services": service_blocks,
        "failures": [f for f in gating_findings if f["status"] == "fail"],
        "findings": findings,
        "suppressed": [
            {"attributes": list(key[0]), "values": list(key[1]), "services": value}
            for key, value in suppressed.items()
        ],
        "allocation": alloc,
        "allocation_note": allocation_note,
        "overrides": [],
    }
    return AuditReport.from_dict(payload, copy=False)


def _worst_status(statuses: Iterable[str]) -> str:
    """``fail`` over ``uncertain`` over ``pass``."""
    seen = set(statuses)
    return "fail" if "fail" in seen else "uncertain" if "uncertain" in seen else "pass"


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return str(value)


# -- a tarve model on a labelled extract ----------------------------------------------------
def audit_model(
    model: ServiceNeedModel,
    frame: pd.DataFrame,
    *,
    policy: Policy | None = None,
    eligible_only: bool = True,
    metadata: Mapping[str, Any] | None = None,
    top_k: int = 3,
    scores: pd.DataFrame | None = None,
) -> AuditReport:
    """Audit a tarve model on a labelled extract (e.g. the held-out split).

    Parameters
    ----------
    model : ServiceNeedModel
        Its schema supplies the label columns, service names and audit groups.
    frame : DataFrame
        Records in the schema's canonical form, with the ``need_<service>`` labels.
    policy : Policy, optional
        The default policy when omitted.
    eligible_only : bool, default True
        Audit each service on the clients eligible for it under the schema's rule (a
        client outside the rule is neither recommended nor ranked for that service,
        as in :func:`models.recommend`); without a rule, on everybody.
    metadata : mapping, optional
        Merged over the model's own metadata (name, version, trained_at ...).
    top_k : int, default 3
        Ranking size of the allocation view.
    scores : DataFrame, optional
        The model's calibrated probabilities for ``frame`` (one column per service)
        when the caller already has them; predicted here when omitted.

    Returns
    -------
    AuditReport
    """
    from models.groups import audit_group_frame
    from models.rules import evaluate_rule

    schema = model.schema
    specs = [schema.label_by_name[service] for service in model.services]
    missing = [spec.column for spec in specs if spec.column not in frame.columns]
    if missing:
        raise ValueError(MSG_MODEL_LABELS.format(missing=missing))
    if scores is None:
        scores = model.predict_proba(frame)
    decisions = model.recommended(scores)
    labels = pd.DataFrame(
        {spec.name: pd.to_numeric(frame[spec.column]).astype("float64") for spec in specs},
        index=frame.index,
    )
    if eligible_only:
        for spec in specs:
            if spec.eligibility is not None:
                eligible = np.asarray(evaluate_rule(spec.eligibility.rule, frame), dtype=bool)
                labels.loc[~eligible, spec.name] = np.nan
                decisions.loc[~eligible, spec.name] = False
    groups = audit_group_frame(schema, frame)
    meta: dict[str, Any] = {
        "name": model.name,
        "version": model.version,
        **{k: v for k, v in model.metadata.items() if k not in ("name", "version")},
    }
    meta.update(metadata or {})
    meta.setdefault("data_fingerprint", data_fingerprint(frame))
    meta.setdefault("schema", schema.name)
    return run_audit(
        labels=labels,
        scores=scores,
        decisions=decisions,
        groups=groups,
        policy=policy,
        service_labels={spec.name: spec.label.model_dump() for spec in specs},
        metadata=meta,
        top_k=top_k,
    )


# -- any system's predictions file ----------------------------------------------------------
def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet file."""
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(file)
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(file)
    raise ValueError(MSG_FILE_FORMAT.format(path=file))


def audit_predictions_file(
    path: str | Path,
    *,
    label: str,
    score: str,
    decision: str | None = None,
    threshold: float | None = None,
    group_columns: list[str],
    service: str | None = None,
    policy: Policy | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> AuditReport:
    """Audit a predictions file (CSV or Parquet) of any system.

    Parameters
    ----------
    path : str or Path
        One row per client, or per client and service when ``service`` is given.
    label, score : str
        Columns of the recorded need (0/1) and the calibrated score (probability).
    decision : str, optional
        Column of the yes/no decision; or give ``threshold`` instead.
    threshold : float, optional
        Decision = ``score >= threshold``.
    group_columns : list of str
        Audit attributes (at least one).
    service : str, optional
        Column naming each row's service (long format); every service is audited on its
        own rows. Without it the file is one service, named after the label column.
    policy : Policy, optional
        The default policy when omitted.
    metadata : mapping, optional
        Stamped on the report (e.g. the name of the system that produced the file).

    Returns
    -------
    AuditReport
    """
    if (decision is None) == (threshold is None):
        raise ValueError(MSG_DECISION_OR_THRESHOLD)
    table = read_table(path)
    needed = [label, score, *group_columns]
    needed += [decision] if decision is not None else []
    needed += [service] if service is not None else []
    missing = [column for column in needed if column not in table.columns]
    if missing:
        raise ValueError(
            MSG_FILE_COLUMNS.format(path=path, missing=missing, available=list(table.columns))
        )
    if not group_columns:
        raise ValueError(MSG_NO_GROUPS)
    table = table.reset_index(drop=True)
    made = (
        table[decision].astype("boolean").fillna(False).astype(bool)
        if decision is not None
        else pd.to_numeric(table[score], errors="coerce") >= float(threshold or 0.0)
    )
    names = (
        table[service].astype("string").fillna("missing").astype(str)
        if service is not None
        else pd.Series(label, index=table.index)
    )
    services = sorted(set(names))
    wide_label = pd.DataFrame(np.nan, index=table.index, columns=services)
    wide_score = pd.DataFrame(np.nan, index=table.index, columns=services)
    wide_decision = pd.DataFrame(False, index=table.index, columns=services)
    label_values = pd.to_numeric(table[label].astype(object), errors="coerce").astype("float64")
    unreadable = table[label].notna() & label_values.isna()
    if unreadable.any():
        values = sorted(set(table.loc[unreadable, label].astype(str)))[:5]
        raise ValueError(MSG_LABEL_VALUES.format(service=label, values=values))
    for name in services:
        rows = names == name
        wide_label.loc[rows, name] = label_values[rows]
        wide_score.loc[rows, name] = pd.to_numeric(table.loc[rows, score], errors="coerce")
        wide_decision.loc[rows, name] = made[rows]
    meta = {"name": Path(path).name, **dict(metadata or {})}
    meta.setdefault("data_fingerprint", file_fingerprint(path))
    meta.setdefault("data_source", Path(path).name)
    return run_audit(
        labels=wide_label,
        scores=wide_score,
        decisions=wide_decision,
        groups=table[group_columns],
        policy=policy,
        metadata=meta,
        allocation=service is None,
    )
