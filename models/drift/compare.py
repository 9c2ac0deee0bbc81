"""Compare an observed profile with the reference and decide: pass, or refuse the feed.

Per field: the population stability index and the Jensen-Shannon distance
(``scipy.spatial.distance.jensenshannon``, base 2) of the binned distribution of the
non-missing values, the change in the missing share, the share of values in categories
the training data never had, the share of numbers outside the training range, and
whether a field that varied in training holds one value now. Per source: the drop of
the share of clients with any data (a failed join leaves a whole source empty).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from scipy.spatial.distance import jensenshannon

from models.drift.policy import DriftPolicy
from models.drift.profile import (
    FieldCounts,
    FieldReference,
    ObservedProfile,
    ProfileAccumulator,
    ReferenceProfile,
)
from models.schema import Schema

SHARE_FLOOR = 1e-4
PSI = "psi"
JS_DISTANCE = "js_distance"
MISSING_SHARE = "missing_share"
UNSEEN_CATEGORIES = "unseen_categories"
BEYOND_RANGE = "beyond_training_range"
CONSTANT = "constant"
SOURCE_WITH_DATA = "source_share_with_data"
MSG_PASSED = "Feed guard: passed ({rows:,} rows checked against {reference:,} training rows)."
MSG_FAILED = (
    "Feed guard: FAILED, {count} check(s) beyond the policy ({rows:,} rows checked against "
    "{reference:,} training rows). Nothing was scored."
)


class DriftFinding(BaseModel):
    """One check beyond its threshold: the field, the statistic, the reference and the new value."""

    model_config = ConfigDict(frozen=True)

    field: str
    statistic: str
    value: float
    threshold: float
    reference: str
    observed: str


class FieldDrift(BaseModel):
    """The statistics of one field (exported as gauges by the API)."""

    model_config = ConfigDict(frozen=True)

    psi: float | None
    js_distance: float | None
    missing_share_reference: float
    missing_share: float
    values: int


class DriftReport(BaseModel):
    """The feed guard's verdict."""

    passed: bool
    rows: int
    reference_rows: int
    failures: list[DriftFinding]
    fields: dict[str, FieldDrift]
    sources: dict[str, dict[str, float]] = Field(
        description="Per source: share of clients with data in the reference and now."
    )
    policy: DriftPolicy

    def summary(self) -> dict[str, object]:
        """Summarise the verdict as JSON-ready data (the API's ``/v1/model`` shows it)."""
        worst = sorted(
            ((name, drift.psi) for name, drift in self.fields.items() if drift.psi is not None),
            key=lambda item: -item[1],
        )[:5]
        return {
            "passed": self.passed,
            "rows": self.rows,
            "failures": [finding.model_dump() for finding in self.failures],
            "largest_psi": {name: round(value, 4) for name, value in worst},
        }


Shares = Sequence[float] | np.ndarray


def _shares(values: Shares) -> np.ndarray:
    floored = np.maximum(np.asarray(values, dtype=np.float64), SHARE_FLOOR)
    return np.asarray(floored / floored.sum(), dtype=np.float64)


def population_stability_index(expected: Shares, actual: Shares) -> float:
    """PSI = sum((a - e) ln(a / e)) over bins, shares floored at 1e-4 and renormalised."""
    e, a = _shares(expected), _shares(actual)
    return float(np.sum((a - e) * np.log(a / e)))


def js_distance(expected: Shares, actual: Shares) -> float:
    """Jensen-Shannon distance (base 2, from 0 to 1) with scipy."""
    return float(jensenshannon(_shares(expected), _shares(actual), base=2))


def _percent(share: float) -> str:
    return f"{100 * share:.1f} %"


def _most_changed_bin(reference: FieldReference, shares: np.ndarray) -> tuple[str, str]:
    position = int(np.argmax(np.abs(shares - np.asarray(reference.shares))))
    name = reference.bins[position]
    return (
        f"{name}: {_percent(reference.shares[position])}",
        f"{name}: {_percent(float(shares[position]))}",
    )


def _value_text(reference: FieldReference, code: float | None) -> str:
    if code is None:
        return "-"
    if reference.kind == "categorical":
        return reference.bins[int(code)]
    return f"{code:g}"


def _flag_above(findings: list[DriftFinding], finding: DriftFinding) -> None:
    """Keep ``finding`` when its statistic is above the policy's threshold."""
    if finding.value > finding.threshold:
        findings.append(finding)


def _check_field(
    reference: FieldReference, counts: FieldCounts, policy: DriftPolicy
) -> tuple[FieldDrift, list[DriftFinding]]:
    name = reference.name
    findings: list[DriftFinding] = []
    missing = counts.missing / counts.rows if counts.rows else 0.0
    jump = abs(missing - reference.missing_share)
    if counts.rows:
        _flag_above(
            findings,
            DriftFinding(
                field=name,
                statistic=MISSING_SHARE,
                value=jump,
                threshold=policy.missing_share_jump_max,
                reference=_percent(reference.missing_share),
                observed=_percent(missing),
            ),
        )
    present = counts.rows - counts.missing
    psi = js = None
    if present >= policy.min_values and reference.values >= policy.min_values:
        shares = np.asarray(counts.counts, dtype=np.float64) / present
        psi = population_stability_index(reference.shares, shares)
        js = js_distance(reference.shares, shares)
        before, after = _most_changed_bin(reference, shares)
        thresholds = {PSI: (psi, policy.psi_max), JS_DISTANCE: (js, policy.js_distance_max)}
        for statistic, (value, threshold) in thresholds.items():
            if threshold is not None:
                _flag_above(
                    findings,
                    DriftFinding(
                        field=name,
                        statistic=statistic,
                        value=value,
                        threshold=threshold,
                        reference=before,
                        observed=after,
                    ),
                )
        findings.extend(_range_findings(reference, counts, shares, present, policy))
    drift = FieldDrift(
        psi=psi,
        js_distance=js,
        missing_share_reference=reference.missing_share,
        missing_share=missing,
        values=present,
    )
    return drift, findings


def _range_findings(
    reference: FieldReference,
    counts: FieldCounts,
    shares: np.ndarray,
    present: int,
    policy: DriftPolicy,
) -> list[DriftFinding]:
    findings: list[DriftFinding] = []
    name = reference.name
    if reference.kind == "categorical":
        unseen = [i for i, share in enumerate(reference.shares) if share == 0 and shares[i] > 0]
        unseen_share = float(sum(shares[i] for i in unseen))
        listed = ", ".join(reference.bins[i] for i in unseen)
        _flag_above(
            findings,
            DriftFinding(
                field=name,
                statistic=UNSEEN_CATEGORIES,
                value=unseen_share,
                threshold=policy.unseen_category_share_max,
                reference="0.0 %",
                observed=f"{_percent(unseen_share)} ({listed})",
            ),
        )
        constant = sum(1 for count in counts.counts if count) == 1
    else:
        beyond = counts.beyond_range / present
        _flag_above(
            findings,
            DriftFinding(
                field=name,
                statistic=BEYOND_RANGE,
                value=beyond,
                threshold=policy.beyond_range_share_max,
                reference=f"[{reference.low:g}, {reference.high:g}]",
                observed=f"{_percent(beyond)} outside (now [{counts.low:g}, {counts.high:g}])",
            ),
        )
        constant = counts.low is not None and counts.low == counts.high
    if policy.constant_fails and constant and reference.distinct > 1:
        value = counts.low if reference.kind == "numeric" else float(np.argmax(counts.counts))
        findings.append(
            DriftFinding(
                field=name,
                statistic=CONSTANT,
                value=1.0,
                threshold=1.0,
                reference=(
                    f"{reference.distinct} distinct values, "
                    f"most common {_percent(reference.top_share)}"
                ),
                observed=f"one value: {_value_text(reference, value)}",
            )
        )
    return findings


def compare_profiles(
    reference: ReferenceProfile, observed: ObservedProfile, policy: DriftPolicy
) -> DriftReport:
    """Check an observed profile against the reference under ``policy``.

    Parameters
    ----------
    reference : ReferenceProfile
        The training data's profile.
    observed : ObservedProfile
        The extract's (or window's) counts in the reference's bins.
    policy : DriftPolicy
        The thresholds.

    Returns
    -------
    DriftReport
        ``passed`` is False when any check is beyond its threshold; ``failures`` names
        each field, statistic, reference and new value.
    """
    failures: list[DriftFinding] = []
    fields: dict[str, FieldDrift] = {}
    ignored = set(policy.ignore_fields)
    for name, field_reference in reference.fields.items():
        if name in ignored or name not in observed.fields:
            continue
        drift, findings = _check_field(field_reference, observed.fields[name], policy)
        fields[name] = drift
        failures.extend(findings)
    sources: dict[str, dict[str, float]] = {}
    for name, source in reference.sources.items():
        share = observed.sources_with_data.get(name, 0) / observed.rows if observed.rows else 0.0
        sources[name] = {"reference": source.share_with_data, "observed": share}
        floor = source.share_with_data * (1.0 - policy.source_drop_max)
        if observed.rows and source.share_with_data > 0 and share < floor:
            failures.append(
                DriftFinding(
                    field=f"source:{name}",
                    statistic=SOURCE_WITH_DATA,
                    value=share,
                    threshold=floor,
                    reference=_percent(source.share_with_data),
                    observed=_percent(share),
                )
            )
    return DriftReport(
        passed=not failures,
        rows=observed.rows,
        reference_rows=reference.rows,
        failures=failures,
        fields=fields,
        sources=sources,
        policy=policy,
    )


def _number(value: float) -> str:
    return f"{value:.4g}" if math.isfinite(value) else str(value)


def render_drift_report(report: DriftReport) -> str:
    """Render the verdict as text: one line per failed check (field, statistic, reference, new)."""
    if report.passed:
        return MSG_PASSED.format(rows=report.rows, reference=report.reference_rows)
    lines = [
        MSG_FAILED.format(
            count=len(report.failures), rows=report.rows, reference=report.reference_rows
        )
    ]
    header = ("field", "statistic", "value", "threshold", "reference", "new")
    rows = [
        (
            finding.field,
            finding.statistic,
            _number(finding.value),
            _number(finding.threshold),
            finding.reference,
            finding.observed,
        )
        for finding in report.failures
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        lines.append(
            "  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        )
    return "\n".join(line.rstrip() for line in lines)


def check_frame(
    frame: pd.DataFrame,
    reference: ReferenceProfile,
    schema: Schema,
    policy: DriftPolicy | None = None,
) -> DriftReport:
    """Profile one frame and compare it with the reference (a convenience for tests)."""
    observed = ProfileAccumulator(reference, schema).profile_of(frame)
    return compare_profiles(reference, observed, policy or DriftPolicy())
