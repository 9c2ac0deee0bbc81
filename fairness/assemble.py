"""From arrays over cells and services to the report's typed parts.

:class:`AuditArrays` holds what the audit computed for every cell and service (counts,
estimates, flags and their status, which cells are shown and compared); the functions
here pick one (cell, service) at a time out of it and build :class:`fairness.report.Cell`,
:class:`~fairness.report.Finding` and :class:`~fairness.report.ServiceAudit` objects.
Figures are rounded to five decimals; a figure that cannot be computed is ``None``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from fairness.estimates import Comparison, Estimates
from fairness.intervals import Array
from fairness.metrics import Counts, Partition, safe_ratio
from fairness.policy import FLAG_METRICS, Metric, Policy
from fairness.report import (
    Cell,
    CellMetrics,
    Comparisons,
    Estimate,
    Finding,
    Flag,
    Interval,
    MeanComparison,
    RateComparison,
    Reference,
    ServiceAudit,
    SuppressedCell,
    Verdict,
)

Index = tuple[int, int]


def number(value: float | None) -> float | None:
    """Return a figure as stored in the report: rounded to 5 decimals, ``None`` if not finite."""
    if value is None or not np.isfinite(value):
        return None
    return round(float(value), 5)


def estimate_at(estimates: Estimates, index: Index) -> Estimate:
    """Return the estimate of one (cell, service)."""
    row, column = index
    value, low, high = (table[row][column] for table in estimates.stored)
    return Estimate(value=value, interval=Interval(low=low, high=high))


@dataclass(frozen=True)
class CellIndex:
    """A row of the ``(cells, services)`` arrays: which partition and cell it is."""

    row: int
    partition: Partition
    position: int

    @property
    def attributes(self) -> list[str]:
        """The attribute names of the cell (empty for the population)."""
        return list(self.partition.attributes)

    @property
    def values(self) -> list[str]:
        """The attribute values of the cell."""
        return list(self.partition.values[self.position])


def cell_indices(partitions: list[Partition], offsets: NDArray[np.intp]) -> list[CellIndex]:
    """Every row of the arrays, in order."""
    return [
        CellIndex(int(start) + position, part, position)
        for part, start in zip(partitions, offsets[:-1], strict=True)
        for position in range(part.size)
    ]


@dataclass(frozen=True)
class AuditArrays:
    """Everything the audit computed, as arrays of shape ``(cells, services)``."""

    services: list[str]
    cells: list[CellIndex]
    counts: Counts
    reference: Counts
    is_reference: NDArray[np.bool_]
    metrics: dict[str, Estimates]
    comparisons: dict[str, Comparison]
    flags: dict[Metric, Estimates]
    status: dict[Metric, NDArray[np.str_]]
    shown: NDArray[np.bool_]
    comparable: NDArray[np.bool_]
    gating: NDArray[np.bool_]

    @property
    def reference_need_rate(self) -> Array:
        """The need rate of each cell's reference group."""
        return safe_ratio(self.reference.positives, self.reference.n)


def _comparisons(arrays: AuditArrays, index: Index) -> Comparisons:
    parts: dict[str, RateComparison | MeanComparison] = {}
    for metric, comparison in arrays.comparisons.items():
        difference = estimate_at(comparison.difference, index)
        parts[metric] = (
            RateComparison(difference=difference, ratio=estimate_at(comparison.ratio, index))
            if comparison.ratio is not None
            else MeanComparison(difference=difference)
        )
    return Comparisons.model_validate(parts)


def _flags(arrays: AuditArrays, index: Index, policy: Policy) -> dict[Metric, Flag]:
    if not arrays.comparable[index]:
        return {}
    flags: dict[Metric, Flag] = {}
    for metric in FLAG_METRICS:
        estimate = estimate_at(arrays.flags[metric], index)
        flags[metric] = Flag(
            value=estimate.value,
            interval=estimate.interval,
            tolerance=policy.tolerance(metric),
            status=str(arrays.status[metric][index]),  # type: ignore[arg-type]
            gating=bool(arrays.gating[index]) and metric in policy.gate_metrics,
        )
    return flags


def build_cell(arrays: AuditArrays, where: CellIndex, column: int, policy: Policy) -> Cell:
    """Return the typed cell of one (cell, service)."""
    index = (where.row, column)
    metrics = CellMetrics.model_validate(
        {metric: estimate_at(values, index) for metric, values in arrays.metrics.items()}
    )
    cell = Cell(
        kind=where.partition.kind,  # type: ignore[arg-type]
        attributes=where.attributes,
        values=where.values,
        n=int(arrays.counts.n[index]),
        metrics=metrics,
    )
    if cell.kind == "population":
        return cell
    comparable, is_reference = bool(arrays.comparable[index]), bool(arrays.is_reference[index])
    cell.reference = Reference(
        kind=policy.reference,
        n=int(arrays.reference.n[index]) if comparable or is_reference else None,
        is_reference=is_reference,
    )
    if comparable and cell.kind == "group":
        cell.comparisons = _comparisons(arrays, index)
    cell.flags = _flags(arrays, index, policy)
    return cell


def cell_findings(cell: Cell, service: str, reference_need_rate: float | None) -> list[Finding]:
    """Return the failing and uncertain flags of a cell, as findings."""
    return [
        Finding(
            service=service,
            kind=cell.kind,
            attributes=cell.attributes,
            values=cell.values,
            n=cell.n,
            metric=metric,
            value=flag.value,
            interval=flag.interval,
            tolerance=flag.tolerance,
            status=flag.status,
            gating=flag.gating,
            need_rate=cell.metrics.base_rate.value,
            reference_need_rate=number(reference_need_rate),
        )
        for metric, flag in cell.flags.items()
        if flag.status in ("fail", "uncertain")
    ]


def worst_status(statuses: Iterable[str]) -> Verdict:
    """``fail`` over ``uncertain`` over ``pass``."""
    seen = set(statuses)
    return "fail" if "fail" in seen else "uncertain" if "uncertain" in seen else "pass"


@dataclass
class ServiceParts:
    """The per-service part of a report: audits, findings and suppressed cells."""

    services: list[ServiceAudit]
    findings: list[Finding]
    suppressed: list[SuppressedCell]


def service_audits(
    arrays: AuditArrays, policy: Policy, names: Mapping[str, Mapping[str, str]]
) -> ServiceParts:
    """Every service's audit with its shown cells, findings and suppressed cells."""
    blocks: list[ServiceAudit] = []
    findings: list[Finding] = []
    suppressed: dict[tuple[tuple[str, ...], tuple[str, ...]], list[str]] = {}
    reference_rate = arrays.reference_need_rate
    for column, service in enumerate(arrays.services):
        population: Cell | None = None
        cells: list[Cell] = []
        own: list[Finding] = []
        for where in arrays.cells:
            index = (where.row, column)
            if arrays.counts.n[index] == 0:
                continue
            if not arrays.shown[index]:
                key = (tuple(where.attributes), tuple(where.values))
                suppressed.setdefault(key, []).append(service)
                continue
            cell = build_cell(arrays, where, column, policy)
            if cell.kind == "population":
                population = cell
                continue
            cells.append(cell)
            own += cell_findings(cell, service, reference_rate[index])
        verdict = worst_status(f.status for f in own if f.gating)
        label = dict(names.get(service, {"en": service}))
        blocks.append(
            ServiceAudit(
                service=service, label=label, verdict=verdict, population=population, cells=cells
            )
        )
        findings += own
    return ServiceParts(
        services=blocks,
        findings=findings,
        suppressed=[
            SuppressedCell(attributes=list(a), values=list(v), services=s)
            for (a, v), s in suppressed.items()
        ],
    )
