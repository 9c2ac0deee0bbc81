"""The release gate: which flags of an audit block a model version under a policy.

``tarve promote`` calls :func:`gate_failures`; an empty list means the version may be
promoted, otherwise each line names a failing service, group and metric.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from fairness.policy import Policy, flag_status, policy_from_dict
from fairness.report_json import AuditReport

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
    """A confidence level as a percentage with enough digits not to round up to 100 %."""
    digits = max(1, math.ceil(-math.log10(max(1.0 - confidence, 1e-12))) - 1)
    return f"{confidence * 100:.{digits}f} %"


def _signed(value: float | None, metric: str) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3f}" if metric == "selection_rate_ratio" else f"{value:+.3f}"


def allowed_region(metric: str, policy: Policy) -> str:
    """The policy's allowed region of a flag metric, e.g. ``>= 0.80`` or ``within ±0.05``."""
    tolerance = policy.tolerance(metric)
    if metric == "selection_rate_ratio":
        return f">= {tolerance:.2f}"
    if metric == "calibration_gap" or policy.gap_sides == "both":
        return f"within ±{tolerance:.2f}"
    if metric == "tpr_gap":
        return f">= {-tolerance:+.2f}"
    return f"<= {tolerance:+.2f}"


def gate_failures(report: AuditReport | dict[str, Any], policy: Policy | None = None) -> list[str]:
    """One readable line per gating flag that blocks a release.

    The stored decision intervals of the report are judged against ``policy`` (its
    tolerances, ``gate_metrics``, ``gate_intersections``, ``gap_sides``,
    ``min_group_size`` and ``uncertain`` handling), so a stricter release policy can be
    applied to an existing audit. The intervals themselves keep the audit's confidence.

    Parameters
    ----------
    report : AuditReport or dict
        An audit, or its JSON form.
    policy : Policy, optional
        The release policy; the audit's own policy when omitted.

    Returns
    -------
    list of str
        Empty when the gate passes. Uncertain flags are listed (marked ``uncertain``)
        only when the policy says ``uncertain: block``.
    """
    payload = (
        report.to_dict()
        if isinstance(report, AuditReport)
        else AuditReport.from_dict(report).to_dict()
    )
    if policy is None:
        policy = policy_from_dict(payload["policy"])
    blocking = {"fail"} | ({"uncertain"} if policy.uncertain == "block" else set())
    confidence = payload.get("method", {}).get("flag_confidence", policy.confidence)
    shown_confidence = format_confidence(confidence)
    lines: list[tuple[int, str]] = []
    for block in payload["services"]:
        for cell in block["cells"]:
            if cell["n"] < policy.min_group_size:
                continue
            if len(cell["attributes"]) > 1 and not policy.gate_intersections:
                continue
            for metric, flag in (cell.get("flags") or {}).items():
                if metric not in policy.gate_metrics:
                    continue
                low, high = flag["interval"]
                status = str(
                    flag_status(
                        policy,
                        metric,
                        np.array([np.nan if low is None else low]),
                        np.array([np.nan if high is None else high]),
                    )[0]
                )
                if status not in blocking:
                    continue
                group = " & ".join(
                    f"{a}={v}" for a, v in zip(cell["attributes"], cell["values"], strict=True)
                )
                line = MSG_GATE_LINE.format(
                    service=block["service"],
                    group=group,
                    metric=METRIC_NAMES.get(metric, metric),
                    value=_signed(flag["value"], metric),
                    confidence=shown_confidence,
                    low=_signed(low, metric),
                    high=_signed(high, metric),
                    allowed=allowed_region(metric, policy),
                    status=status,
                )
                lines.append((0 if status == "fail" else 1, line))
    return [line for _, line in sorted(lines, key=lambda item: item[0])]
