"""The release gate: which flags of an audit block a model version under a policy.

``tarve promote`` calls :func:`gate_failures`; an empty list means the version may be
promoted, otherwise each line names a failing service, group and metric.
:func:`record_override` records a person's decision to release anyway.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np

from fairness.policy import Metric, Policy, flag_status
from fairness.report import (
    MSG_OVERRIDE_REASON,
    MSG_OVERRIDE_WHO,
    AuditReport,
    Cell,
    Flag,
    Override,
)

METRIC_NAMES = {
    "selection_rate_ratio": "selection-rate ratio",
    "tpr_gap": "TPR gap",
    "fpr_gap": "FPR gap",
    "calibration_gap": "calibration gap",
}
MSG_GATE_LINE = (
    "{service}: {group}: {metric} {value} ({confidence} CI {low} to {high}); "
    "allowed {allowed} [{status}]"
)


def format_confidence(confidence: float) -> str:
    """Return a confidence level as a percentage with enough digits not to round up to 100 %."""
    digits = max(1, math.ceil(-math.log10(max(1.0 - confidence, 1e-12))) - 1)
    return f"{confidence * 100:.{digits}f} %"


def _signed(value: float | None, metric: str) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3f}" if metric == "selection_rate_ratio" else f"{value:+.3f}"


def allowed_region(metric: str, policy: Policy) -> str:
    """Return the policy's allowed region of a flag metric, e.g. ``>= 0.80`` or ``within ±0.05``."""
    tolerance = policy.tolerance(metric)
    if metric == "selection_rate_ratio":
        return f">= {tolerance:.2f}"
    if metric == "calibration_gap" or policy.gap_sides == "both":
        return f"within ±{tolerance:.2f}"
    if metric == "tpr_gap":
        return f">= {-tolerance:+.2f}"
    return f"<= {tolerance:+.2f}"


def _blocking_status(policy: Policy, metric: Metric, flag: Flag) -> str:
    """Return the flag's status under ``policy``, judged again from its stored interval."""
    low, high = flag.interval.bounds
    return str(
        flag_status(
            policy,
            metric,
            np.array([np.nan if low is None else low]),
            np.array([np.nan if high is None else high]),
        )[0]
    )


def _gate_line(
    service: str,
    cell: Cell,
    metric: Metric,
    flag: Flag,
    status: str,
    *,
    policy: Policy,
    confidence: str,
) -> str:
    low, high = flag.interval.bounds
    return MSG_GATE_LINE.format(
        service=service,
        group=" & ".join(f"{a}={v}" for a, v in zip(cell.attributes, cell.values, strict=True)),
        metric=METRIC_NAMES.get(metric, metric),
        value=_signed(flag.value, metric),
        confidence=confidence,
        low=_signed(low, metric),
        high=_signed(high, metric),
        allowed=allowed_region(metric, policy),
        status=status,
    )


def gate_failures(report: AuditReport, policy: Policy | None = None) -> list[str]:
    """One readable line per gating flag that blocks a release.

    The stored decision intervals of the report are judged against ``policy`` (its
    tolerances, ``gate_metrics``, ``gate_intersections``, ``gap_sides``,
    ``min_group_size`` and ``uncertain`` handling), so a stricter release policy can be
    applied to an existing audit. The intervals themselves keep the audit's confidence.

    Parameters
    ----------
    report : AuditReport
        An audit (read a stored one with :meth:`AuditReport.from_dict`).
    policy : Policy, optional
        The release policy; the audit's own policy when omitted.

    Returns
    -------
    list of str
        Empty when the gate passes; failures first. Uncertain flags are listed (marked
        ``uncertain``) only when the policy says ``uncertain: block``.
    """
    policy = policy if policy is not None else report.policy
    blocking = {"fail"} | ({"uncertain"} if policy.uncertain == "block" else set())
    confidence = format_confidence(report.method.flag_confidence)
    lines: list[tuple[int, str]] = []
    for block, cell in report.iter_cells():
        if cell.n < policy.min_group_size:
            continue
        if len(cell.attributes) > 1 and not policy.gate_intersections:
            continue
        for metric, flag in cell.flags.items():
            if metric not in policy.gate_metrics:
                continue
            status = _blocking_status(policy, metric, flag)
            if status in blocking:
                line = _gate_line(
                    block.service, cell, metric, flag, status, policy=policy, confidence=confidence
                )
                lines.append((0 if status == "fail" else 1, line))
    return [line for _, line in sorted(lines, key=lambda item: item[0])]


def record_override(
    report: AuditReport,
    reason: str,
    who: str,
    when: dt.datetime | str | None = None,
    *,
    policy: Policy | None = None,
) -> Override:
    """Record a human decision to release despite the verdict; it joins the report.

    Parameters
    ----------
    report : AuditReport
        The audit; the override is appended to its ``overrides``.
    reason : str
        Why the release goes ahead.
    who : str
        Who decided (a person or role, as the organisation identifies them).
    when : datetime or str, optional
        When; now (UTC) when omitted.
    policy : Policy, optional
        The release policy whose gate lines are overridden; the audit's own when omitted.

    Returns
    -------
    Override
        Reason, who, when, and the verdict and gate lines it overrode.
    """
    if not reason or not reason.strip():
        raise ValueError(MSG_OVERRIDE_REASON)
    if not who or not who.strip():
        raise ValueError(MSG_OVERRIDE_WHO)
    moment = when if when is not None else dt.datetime.now(dt.UTC)
    stamp = moment.isoformat(timespec="seconds") if isinstance(moment, dt.datetime) else str(moment)
    override = Override(
        reason=reason.strip(),
        who=who.strip(),
        when=stamp,
        verdict=report.verdict,
        failures=gate_failures(report, policy),
    )
    report.overrides.append(override)
    return override
