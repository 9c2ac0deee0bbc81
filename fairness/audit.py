"""Run a fairness audit: per service and group metrics, intervals, comparisons and flags.

Three entry points share one engine:

- :func:`run_audit` takes labels, scores, decisions and audit groups as data frames;
- :func:`audit_model` takes a tarve model and a labelled extract;
- :func:`audit_predictions_file` takes a CSV or Parquet file of any system's predictions.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from fairness import intervals as ci
from fairness.allocation import allocation_view
from fairness.assemble import AuditArrays, cell_indices, service_audits, worst_status
from fairness.benefit import BenefitInputs, benefit_view, model_benefit_inputs
from fairness.estimates import cell_metrics, comparisons, flag_estimates, reference_counts
from fairness.intervals import Array
from fairness.metrics import GroupStatistics, Partition, build_partitions, group_statistics
from fairness.policy import FLAG_METRICS, Policy, flag_status, load_policy
from fairness.report import (
    Allocation,
    AuditReport,
    CheckCounts,
    DataInfo,
    Finding,
    Method,
    ModelInfo,
    Summary,
)
from models.extract import data_fingerprint, file_fingerprint, read_extract
from models.schema import LANGUAGES

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
FILE_SUFFIXES = (".csv", ".parquet", ".pq")
TRUE_TEXT = frozenset({"1", "1.0", "true", "yes"})
FALSE_TEXT = frozenset({"0", "0.0", "false", "no", ""})


# -- input checks ------------------------------------------------------------------------
@dataclass(frozen=True)
class _Frames:
    labels: pd.DataFrame
    scores: pd.DataFrame
    decisions: pd.DataFrame
    groups: pd.DataFrame


@dataclass(frozen=True)
class _Inputs:
    """The checked inputs as float matrices of shape (rows, services)."""

    services: list[str]
    labels: Array
    scores: Array
    decisions: Array


def _check_shapes(frames: _Frames) -> list[str]:
    for name, frame in vars(frames).items():
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(MSG_NOT_FRAME.format(name=name, type=type(frame).__name__))
    services = [str(column) for column in frames.labels.columns]
    for name, frame in (("scores", frames.scores), ("decisions", frames.decisions)):
        if sorted(map(str, frame.columns)) != sorted(services):
            raise ValueError(
                MSG_COLUMNS.format(name=name, found=list(frame.columns), expected=services)
            )
    for name in ("scores", "decisions", "groups"):
        if not getattr(frames, name).index.equals(frames.labels.index):
            raise ValueError(MSG_INDEX.format(name=name))
    if frames.groups.shape[1] == 0:
        raise ValueError(MSG_NO_GROUPS)
    if len(frames.labels) == 0:
        raise ValueError(MSG_NO_ROWS)
    return services


def _check_service(frames: _Frames, inputs: _Inputs, column: int) -> None:
    service = inputs.services[column]
    label = inputs.labels[:, column]
    bad = ~np.isnan(label) & (label != 0) & (label != 1)
    if bad.any():
        values = sorted(set(frames.labels[service][bad].astype(str)))[:5]
        raise ValueError(MSG_LABEL_VALUES.format(service=service, values=values))
    score = inputs.scores[:, column]
    missing = np.isnan(score) & ~np.isnan(label)
    if missing.any():
        raise ValueError(MSG_SCORE_MISSING.format(service=service, count=int(missing.sum())))
    present = score[~np.isnan(score)]
    if present.size and (present.min() < 0 or present.max() > 1):
        raise ValueError(
            MSG_SCORE_RANGE.format(service=service, low=present.min(), high=present.max())
        )
    decision = inputs.decisions[:, column]
    if ((decision != 0) & (decision != 1)).any():
        values = sorted(set(frames.decisions[service].astype(str)))[:5]
        raise ValueError(MSG_DECISION_VALUES.format(service=service, values=values))


def _check_inputs(frames: _Frames) -> _Inputs:
    """Check the four frames agree and hold 0/1 labels, probabilities and 0/1 decisions."""
    services = _check_shapes(frames)

    def matrix(frame: pd.DataFrame, numeric: bool) -> Array:
        columns = [
            pd.to_numeric(frame[s], errors="coerce") if numeric else frame[s].astype("float64")
            for s in services
        ]
        return np.column_stack([column.to_numpy(dtype=np.float64) for column in columns])

    inputs = _Inputs(
        services=services,
        labels=matrix(frames.labels, numeric=True),
        scores=matrix(frames.scores, numeric=True),
        decisions=matrix(frames.decisions, numeric=False),
    )
    for column in range(len(services)):
        _check_service(frames, inputs, column)
    return inputs


# -- the engine: named steps ------------------------------------------------------------------
def _judge(
    partitions: list[Partition], stats: GroupStatistics, policy: Policy
) -> tuple[AuditArrays, Method]:
    """Estimates, comparisons and flags of every cell; which cells are shown and gate."""
    counts = stats.counts
    reference, is_reference = reference_counts(counts, partitions, stats.offsets, policy)
    z = ci.z_value(policy.confidence)
    cells = cell_indices(partitions, stats.offsets)
    shown = counts.n >= policy.min_group_size
    kind = np.array([len(cell.attributes) for cell in cells])[:, None]
    comparable = shown & (reference.n >= policy.min_group_size) & (kind > 0) & ~is_reference
    gating = comparable & ((kind == 1) | policy.gate_intersections)
    plain = flag_estimates(counts, reference, z)
    tests = sum(int((gating & ~np.isnan(plain[m].value)).sum()) for m in policy.gate_metrics)
    if policy.multiplicity == "bonferroni" and tests > 1:
        flag_z = ci.z_value(policy.confidence, tests=tests)
        flag_confidence = ci.simultaneous_confidence(policy.confidence, tests=tests)
    else:
        flag_z, flag_confidence = z, policy.confidence
    flags = flag_estimates(counts, reference, flag_z)
    arrays = AuditArrays(
        services=[],
        cells=cells,
        counts=counts,
        reference=reference,
        is_reference=is_reference,
        metrics=cell_metrics(stats, policy, z),
        comparisons=comparisons(counts, reference, z),
        flags=flags,
        status={m: flag_status(policy, m, flags[m].low, flags[m].high) for m in FLAG_METRICS},
        shown=shown,
        comparable=comparable,
        gating=gating,
    )
    method = Method(
        confidence=policy.confidence,
        flag_confidence=flag_confidence,
        gating_checks=tests,
        ece_interval=f"poisson-stratum-bootstrap ({policy.bootstrap_replicates} replicates)",
    )
    return arrays, method


def _summary(arrays: AuditArrays, findings: list[Finding], policy: Policy) -> Summary:
    """Count the gating checks by status, and the findings."""
    checks = {"pass": 0, "fail": 0, "uncertain": 0, "not_evaluable": 0}
    for metric in policy.gate_metrics:
        values, counts = np.unique(arrays.status[metric][arrays.gating], return_counts=True)
        for value, count in zip(values.tolist(), counts.tolist(), strict=True):
            checks[str(value)] += int(count)
    gating = [f for f in findings if f.gating]
    return Summary(
        checks=CheckCounts.model_validate(checks),
        gating_metrics=list(policy.gate_metrics),
        failures=sum(1 for f in gating if f.status == "fail"),
        uncertain=sum(1 for f in gating if f.status == "uncertain"),
        informational_flags=sum(1 for f in findings if not f.gating and f.status == "fail"),
    )


def _allocation(
    inputs: _Inputs, partitions: list[Partition], policy: Policy, *, wanted: bool, top_k: int
) -> tuple[Allocation | None, str | None]:
    """Return the allocation view, or why it was not computed."""
    if not wanted:
        return None, "not computed: the input does not score every service for each client"
    if len(inputs.services) <= top_k:
        return None, (
            f"not computed: {len(inputs.services)} service(s), not more than top_k={top_k}"
        )
    view = allocation_view(
        partitions,
        inputs.labels,
        inputs.scores,
        inputs.services,
        policy=policy,
        top_k=top_k,
        z=ci.z_value(policy.confidence),
    )
    return view, None


def _stamps(
    metadata: Mapping[str, Any] | None, inputs: _Inputs, frames: _Frames
) -> tuple[ModelInfo, DataInfo]:
    """Describe what was audited (the model's stamps) and on which data."""
    meta = dict(metadata or {})
    fingerprint = meta.pop("data_fingerprint", None) or data_fingerprint(
        frames.labels,
        frames.scores,
        frames.decisions.astype("float64"),
        frames.groups.astype("string"),
    )
    source = meta.pop("data_source", None)
    model = ModelInfo.model_validate({str(k): _jsonable(v) for k, v in meta.items()})
    data = DataInfo(
        rows=len(frames.labels),
        fingerprint=str(fingerprint),
        source=None if source is None else str(source),
        services=inputs.services,
        attributes=[str(c) for c in frames.groups.columns],
    )
    return model, data


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
    languages: Sequence[str] = LANGUAGES,
    benefit: BenefitInputs | None = None,
    benefit_note: str | None = None,
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
    languages : sequence of str, default ("fi", "sv", "en")
        The languages the report can be rendered in (the schema's languages).
    benefit : BenefitInputs, optional
        Estimated benefits, need scores and capacities (row-aligned with ``labels``):
        adds the benefit view (:mod:`fairness.benefit`).
    benefit_note : str, optional
        Why there is no benefit view (stored when ``benefit`` is None).

    Returns
    -------
    AuditReport
    """
    policy = policy if policy is not None else load_policy()
    frames = _Frames(labels, scores, decisions, groups)
    inputs = _check_inputs(frames)
    partitions = build_partitions(groups, intersections=policy.intersections)
    stats = group_statistics(
        partitions, inputs.labels, inputs.scores, inputs.decisions, bins=policy.ece_bins
    )
    arrays, method = _judge(partitions, stats, policy)
    parts = service_audits(
        dataclasses.replace(arrays, services=inputs.services), policy, service_labels or {}
    )
    view, note = _allocation(inputs, partitions, policy, wanted=allocation, top_k=top_k)
    model, data = _stamps(metadata, inputs, frames)
    benefits = None
    if benefit is not None:
        benefits = benefit_view(partitions, benefit, policy=policy, z=ci.z_value(policy.confidence))
    return AuditReport(
        verdict=worst_status(block.verdict for block in parts.services),
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        languages=list(languages),
        model=model,
        data=data,
        policy=policy,
        method=method,
        summary=_summary(arrays, parts.findings, policy),
        services=parts.services,
        findings=parts.findings,
        suppressed=parts.suppressed,
        allocation=view,
        allocation_note=note,
        benefit=benefits,
        benefit_note=None if benefits is not None else benefit_note,
    )


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
    benefit, benefit_note = model_benefit_inputs(model, frame, scores)
    return run_audit(
        labels=labels,
        scores=scores,
        decisions=decisions,
        groups=groups,
        policy=policy,
        service_labels={spec.name: spec.label.model_dump() for spec in specs},
        metadata=meta,
        top_k=top_k,
        benefit=benefit,
        benefit_note=benefit_note,
    )


def with_benefit_view(
    report: AuditReport,
    model: ServiceNeedModel,
    frame: pd.DataFrame,
    *,
    scores: pd.DataFrame,
    policy: Policy | None = None,
) -> AuditReport:
    """Return ``report`` with the benefit view of ``model`` on ``frame`` (the audited data).

    For an audit made before the effect models existed (training fits them after the
    audit): the same groups, suppression and confidence as :func:`audit_model`.
    """
    from models.groups import audit_group_frame

    policy = policy if policy is not None else report.policy
    benefit, note = model_benefit_inputs(model, frame, scores)
    if benefit is None:
        return report.model_copy(update={"benefit": None, "benefit_note": note})
    partitions = build_partitions(
        audit_group_frame(model.schema, frame), intersections=policy.intersections
    )
    view = benefit_view(partitions, benefit, policy=policy, z=ci.z_value(policy.confidence))
    return report.model_copy(update={"benefit": view, "benefit_note": None})


# -- any system's predictions file ----------------------------------------------------------
def _read_predictions(path: str | Path, needed: list[str]) -> pd.DataFrame:
    """Return the file through the one extract reader, blank text as missing."""
    name = str(path).lower()
    if not name.endswith(FILE_SUFFIXES):
        raise ValueError(MSG_FILE_FORMAT.format(path=path))
    table = read_extract(path)
    missing = [column for column in needed if column not in table.columns]
    if missing:
        raise ValueError(
            MSG_FILE_COLUMNS.format(path=path, missing=missing, available=list(table.columns))
        )
    table = table[list(dict.fromkeys(needed))].reset_index(drop=True)
    for column in table.columns:
        if _is_text(table[column]):
            table[column] = table[column].mask(table[column].eq(""))
    return table


def _is_text(column: pd.Series) -> bool:
    return column.dtype == object or pd.api.types.is_string_dtype(column.dtype)


def _decision_values(column: pd.Series) -> pd.Series:
    """Yes/no decisions from booleans, 0/1 or their text; missing means no."""
    if not _is_text(column):
        return column.astype("boolean").fillna(False).astype(bool)
    text = column.astype("string").str.strip().str.lower().fillna("")
    unknown = ~text.isin(TRUE_TEXT | FALSE_TEXT)
    if unknown.any():
        values = sorted(set(column[unknown].astype(str)))[:5]
        raise ValueError(MSG_DECISION_VALUES.format(service=column.name, values=values))
    return text.isin(TRUE_TEXT)


def _wide(
    table: pd.DataFrame, names: pd.Series, label: str, score: str, made: pd.Series
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Labels, scores and decisions with one column per service."""
    services = sorted(set(names))
    wide_label = pd.DataFrame(np.nan, index=table.index, columns=services)
    wide_score = pd.DataFrame(np.nan, index=table.index, columns=services)
    wide_decision = pd.DataFrame(False, index=table.index, columns=services)
    label_values = pd.to_numeric(table[label].astype(object), errors="coerce").astype("float64")
    unreadable = table[label].notna() & label_values.isna()
    if unreadable.any():
        values = sorted(set(table.loc[unreadable, label].astype(str)))[:5]
        raise ValueError(MSG_LABEL_VALUES.format(service=label, values=values))
    score_values = pd.to_numeric(table[score], errors="coerce")
    for name in services:
        rows = names == name
        wide_label.loc[rows, name] = label_values[rows]
        wide_score.loc[rows, name] = score_values[rows]
        wide_decision.loc[rows, name] = made[rows]
    return wide_label, wide_score, wide_decision


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
    needed = [label, score, *group_columns]
    needed += [decision] if decision is not None else []
    needed += [service] if service is not None else []
    table = _read_predictions(path, needed)
    if not group_columns:
        raise ValueError(MSG_NO_GROUPS)
    made = (
        _decision_values(table[decision])
        if decision is not None
        else pd.to_numeric(table[score], errors="coerce") >= float(threshold or 0.0)
    )
    names = (
        table[service].astype("string").fillna("missing").astype(str)
        if service is not None
        else pd.Series(label, index=table.index)
    )
    wide_label, wide_score, wide_decision = _wide(table, names, label, score, made)
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
