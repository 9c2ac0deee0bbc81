"""The audit as one self-contained HTML page: inline CSS and SVG, no scripts or assets.

Rendered from the JSON report alone. Order: the verdict and what blocks a release,
then per-service tables of groups with intervals and flags, intersectional findings,
the allocation view, suppressed cells, and the method notes.
"""

from __future__ import annotations

import html
import math
from typing import Any

from fairness.gate import allowed_region, format_confidence
from fairness.policy import Policy, policy_from_dict

STATUS_COLOURS = {
    "fail": "#b3261e",
    "uncertain": "#c77c02",
    "pass": "#2e7d32",
    "not_evaluable": "#9e9e9e",
    "suppressed": "#d0d0d0",
}
VERDICT_TEXT = {
    "pass": "Every gating check is within the policy's tolerances, with the stated confidence.",
    "fail": (
        "At least one gating check is outside the policy's tolerances even at the edge of its "
        "confidence interval. The gate blocks promotion unless a person records an override."
    ),
    "uncertain": (
        "No gating check demonstrably fails, but for some the interval contains the tolerance: "
        "the data cannot show that they are within it. These are listed below."
    ),
}
METRIC_LABELS = {
    "base_rate": "Need rate",
    "mean_score": "Mean score",
    "selection_rate": "Selection rate",
    "tpr": "TPR",
    "fpr": "FPR",
    "fnr": "FNR",
    "precision": "Precision",
    "roc_auc": "ROC AUC",
    "calibration_gap": "Calibration gap",
    "ece": "ECE",
    "selection_rate_ratio": "Selection-rate ratio",
    "tpr_gap": "TPR gap",
    "fpr_gap": "FPR gap",
}
SHORT_FLAG_LABELS = {
    "selection_rate_ratio": "4/5 rule",
    "tpr_gap": "TPR",
    "fpr_gap": "FPR",
    "calibration_gap": "calibration",
}
FLAG_ORDER = ("selection_rate_ratio", "tpr_gap", "fpr_gap", "calibration_gap")
TABLE_METRICS = (
    "base_rate",
    "mean_score",
    "selection_rate",
    "tpr",
    "fpr",
    "precision",
    "roc_auc",
    "calibration_gap",
    "ece",
)
MAX_INTERSECTION_ROWS = 60

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d1d1f;
background:#fff;line-height:1.45}
main{max-width:1320px;margin:0 auto;padding:20px 14px 60px}
h1{font-size:26px;margin:0 0 6px}h2{font-size:21px;margin:34px 0 10px;border-bottom:2px solid #eee;
padding-bottom:4px}h3{font-size:17px;margin:24px 0 6px}
.stamp{font-size:13px;color:#444;background:#f5f5f7;border-radius:6px;padding:8px 12px}
.stamp code{font-size:12px;word-break:break-all}
.verdict{border-radius:10px;padding:16px 20px;margin:18px 0;color:#fff}
.verdict .badge{font-size:30px;font-weight:800;letter-spacing:.06em}
.verdict p{margin:6px 0 0;font-size:15px}
.counts{display:flex;gap:12px;flex-wrap:wrap;margin:12px 0}
.count{border:1px solid #ddd;border-radius:8px;padding:6px 12px;font-size:14px}
.count b{font-size:20px;display:block}
.override{border:3px solid #b3261e;border-radius:8px;padding:10px 14px;margin:12px 0;
background:#fff4f3}
table{border-collapse:collapse;font-size:11.5px;margin:8px 0 14px;width:100%}
th,td{border-bottom:1px solid #e4e4e4;padding:3px 4px;text-align:right;vertical-align:top}
th{background:#fafafa;font-weight:600}
td.l,th.l{text-align:left}
.ci{color:#666;font-size:10.5px;display:block;white-space:nowrap}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(540px,1fr));gap:6px}
.tag{display:inline-block;border-radius:4px;padding:0 5px;color:#fff;font-size:11px;margin:1px}
.fail{background:#b3261e}.uncertain{background:#c77c02}.pass{background:#2e7d32}
.not_evaluable{background:#9e9e9e}.info{opacity:.65}
.note{font-size:13px;color:#444}
.wide{overflow-x:auto}td.l:first-child{white-space:nowrap}td.flags{min-width:90px}
.svc{border:1px solid #e4e4e4;border-radius:8px;padding:4px 14px 10px;margin:14px 0}
svg text{font-family:system-ui,sans-serif}
"""


# -- formatting ----------------------------------------------------------------------------
def _policy(payload: dict[str, Any]) -> Policy:
    return policy_from_dict(payload["policy"])


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _pct(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value * 100:.{digits}f} %"


def _pp(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:+.1f} pp"


def _num(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _fmt(metric: str, value: float | None) -> str:
    if metric in ("calibration_gap", "tpr_gap", "fpr_gap"):
        return _pp(value)
    if metric in ("roc_auc", "selection_rate_ratio"):
        return _num(value)
    if metric == "ece":
        return _num(value, 3)
    return _pct(value)


def _interval(metric: str, interval: list[float | None] | None) -> str:
    low, high = interval if interval else (None, None)
    if low is None or high is None:
        return ""
    if metric in ("calibration_gap", "tpr_gap", "fpr_gap"):
        return f"{low * 100:+.1f} to {high * 100:+.1f}"
    if metric in ("roc_auc", "selection_rate_ratio", "ece"):
        digits = 3 if metric == "ece" else 2
        return f"{low:.{digits}f}–{high:.{digits}f}"
    return f"{low * 100:.1f}–{high * 100:.1f}"


def _estimate_cell(metric: str, estimate: dict[str, Any] | None) -> str:
    if not estimate:
        return "<td>–</td>"
    return (
        f"<td>{_e(_fmt(metric, estimate.get('value')))}"
        f"<span class='ci'>{_e(_interval(metric, estimate.get('interval')))}</span></td>"
    )


def _group_label(cell: dict[str, Any]) -> str:
    return " & ".join(f"{a} = {v}" for a, v in zip(cell["attributes"], cell["values"], strict=True))


def _service_title(block: dict[str, Any]) -> str:
    label = block.get("label") or {}
    english = label.get("en") or block["service"]
    finnish = label.get("fi")
    extra = f" ({finnish})" if finnish and finnish != english else ""
    return f"{english}{extra}"


def _tag(status: str, gating: bool = True, text: str | None = None) -> str:
    shown = text or status.replace("_", " ")
    info = "" if gating else " info"
    role = "gating" if gating else "informational (does not gate under this policy)"
    title = f"{status.replace('_', ' ')}, {role}"
    return f"<span class='tag {_e(status)}{info}' title='{_e(title)}'>{_e(shown)}</span>"


# -- SVG -------------------------------------------------------------------------------------
def _overview_svg(payload: dict[str, Any]) -> str:
    """Services x groups, coloured by the worst gating status of each cell."""
    services = payload["services"]
    columns: list[tuple[str, str]] = []
    for block in services:
        for cell in block["cells"]:
            if cell["kind"] == "group":
                key = (cell["attributes"][0], cell["values"][0])
                if key not in columns:
                    columns.append(key)
    for item in payload["suppressed"]:
        if len(item["attributes"]) == 1:
            key = (item["attributes"][0], item["values"][0])
            if key not in columns:
                columns.append(key)
    attribute_order = payload["data"].get("attributes", [])
    columns.sort(
        key=lambda k: (attribute_order.index(k[0]) if k[0] in attribute_order else 99, k[1])
    )
    if not columns:
        return ""
    longest = max((len(block["service"]) for block in services), default=8)
    size, left, top = 22, 16 + 7 * longest, 150
    width = max(left + size * len(columns) + 10, left + 4 * 110 + 140)
    height = top + size * len(services) + 40
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"role='img' aria-label='Overview of gating checks by service and group'>"
    ]
    for i, (attribute, value) in enumerate(columns):
        x = left + i * size + size / 2
        parts.append(
            f"<text x='{x:.0f}' y='{top - 6}' font-size='11' transform='rotate(-60 {x:.0f} "
            f"{top - 6})'>{_e(attribute)} = {_e(value)}</text>"
        )
    order = {"fail": 3, "uncertain": 2, "pass": 1, "not_evaluable": 0}
    for row, block in enumerate(services):
        y = top + row * size
        parts.append(
            f"<text x='{left - 6}' y='{y + 15}' font-size='12' text-anchor='end'>"
            f"{_e(block['service'])}</text>"
        )
        cells = {
            (c["attributes"][0], c["values"][0]): c for c in block["cells"] if c["kind"] == "group"
        }
        for i, key in enumerate(columns):
            cell = cells.get(key)
            if cell is None:
                status, title = "suppressed", "suppressed or empty"
            else:
                statuses = [f["status"] for f in (cell.get("flags") or {}).values() if f["gating"]]
                status = max(statuses, key=lambda s: order[s]) if statuses else "not_evaluable"
                title = status
            parts.append(
                f"<rect x='{left + i * size + 1}' y='{y + 1}' width='{size - 2}' "
                f"height='{size - 2}' rx='3' fill='{STATUS_COLOURS[status]}'>"
                f"<title>{_e(block['service'])}, {_e(key[0])} = {_e(key[1])}: {_e(title)}</title>"
                "</rect>"
            )
    legend_y = top + size * len(services) + 20
    x = left
    legend = {"not_evaluable": "not evaluable", "suppressed": "suppressed or empty"}
    for status in ("fail", "uncertain", "pass", "not_evaluable", "suppressed"):
        parts.append(
            f"<rect x='{x}' y='{legend_y - 11}' width='12' height='12' "
            f"fill='{STATUS_COLOURS[status]}'/>"
            f"<text x='{x + 16}' y='{legend_y}' font-size='11'>{legend.get(status, status)}</text>"
        )
        x += 110 if status != "suppressed" else 0
    parts.append("</svg>")
    return "".join(parts)


def _forest_svg(block: dict[str, Any], metric: str, tolerance: float, two_sided: bool) -> str:
    """One flag metric of a service's groups: dot, decision interval, tolerance band."""
    rows = [
        (c, c["flags"][metric])
        for c in block["cells"]
        if c["kind"] == "group" and c.get("flags") and metric in c["flags"]
    ]
    rows = [(c, f) for c, f in rows if f["value"] is not None]
    if not rows:
        return ""
    is_ratio = metric == "selection_rate_ratio"
    values = [v for _, f in rows for v in (f["value"], *f["interval"]) if v is not None]
    if is_ratio:
        low_axis, high_axis = 0.0, max(2.0, min(4.0, max(values) * 1.05))
    else:
        reach = max(tolerance * 2, max(abs(v) for v in values) * 1.1, 0.05)
        reach = min(reach, 1.0)
        low_axis, high_axis = -reach, reach
    longest = max(len(_group_label(cell)) for cell, _ in rows)
    left = 12 + int(6.2 * longest)
    width, right, row_height, top = left + 330, 14, 16, 24
    plot = width - left - right
    height = top + row_height * len(rows) + 22

    def x_of(value: float) -> float:
        clipped = min(max(value, low_axis), high_axis)
        return left + (clipped - low_axis) / (high_axis - low_axis) * plot

    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' role='img' "
        f"aria-label='{_e(METRIC_LABELS[metric])} by group'>",
        f"<text x='{left}' y='14' font-size='12' font-weight='600'>"
        f"{_e(METRIC_LABELS[metric])}</text>",
    ]
    if is_ratio:
        band = (x_of(tolerance), x_of(high_axis))
    elif two_sided:
        band = (x_of(-tolerance), x_of(tolerance))
    elif metric == "tpr_gap":
        band = (x_of(-tolerance), x_of(high_axis))
    else:
        band = (x_of(low_axis), x_of(tolerance))
    parts.append(
        f"<rect x='{band[0]:.1f}' y='{top - 4}' width='{band[1] - band[0]:.1f}' "
        f"height='{row_height * len(rows) + 4}' fill='#e8f3ea'/>"
    )
    reference = 1.0 if is_ratio else 0.0
    parts.append(
        f"<line x1='{x_of(reference):.1f}' x2='{x_of(reference):.1f}' y1='{top - 4}' "
        f"y2='{top + row_height * len(rows)}' stroke='#888' stroke-dasharray='3,3'/>"
    )
    for i, (cell, flag) in enumerate(rows):
        y = top + i * row_height + row_height / 2
        colour = STATUS_COLOURS.get(flag["status"], "#555")
        parts.append(
            f"<text x='{left - 6}' y='{y + 4:.1f}' font-size='11' text-anchor='end'>"
            f"{_e(_group_label(cell))}</text>"
        )
        low, high = flag["interval"]
        if low is not None and high is not None and all(map(math.isfinite, (low, high))):
            parts.append(
                f"<line x1='{x_of(low):.1f}' x2='{x_of(high):.1f}' y1='{y:.1f}' y2='{y:.1f}' "
                f"stroke='{colour}' stroke-width='2'/>"
            )
        parts.append(
            f"<circle cx='{x_of(flag['value']):.1f}' cy='{y:.1f}' r='3.5' fill='{colour}'>"
            f"<title>{_e(_group_label(cell))}: {_e(_fmt(metric, flag['value']))} "
            f"({_e(flag['status'])})</title></circle>"
        )
    axis_y = top + row_height * len(rows) + 14
    for tick in (low_axis, reference, high_axis):
        label = f"{tick:.2f}" if is_ratio else f"{tick * 100:+.0f} pp"
        parts.append(
            f"<text x='{x_of(tick):.1f}' y='{axis_y}' font-size='10' text-anchor='middle'>"
            f"{label}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


# -- sections --------------------------------------------------------------------------------
def _header(payload: dict[str, Any]) -> str:
    model = payload.get("model") or {}
    data = payload.get("data") or {}
    name = model.get("name") or "unnamed model or predictions"
    version = model.get("version")
    title = f"Fairness audit: {name}" + (f", version {version}" if version is not None else "")
    extras = [
        f"{_e(k)}: {_e(v)}"
        for k, v in model.items()
        if k in ("trained_at", "run_id", "schema", "registered_model") and v is not None
    ]
    return (
        f"<header><h1>{_e(title)}</h1><div class='stamp'>"
        f"Model: <b>{_e(name)}</b> · version <b>{_e(version if version is not None else '–')}</b>"
        + ("".join(f" · {x}" for x in extras))
        + f"<br>Data: {_e(data.get('rows'))} rows"
        + (f" from {_e(data['source'])}" if data.get("source") else "")
        + f" · fingerprint <code>{_e(data.get('fingerprint'))}</code>"
        + f"<br>Audited: {_e(payload.get('created_at'))} · report format "
        f"{_e(payload.get('format'))}/{_e(payload.get('format_version'))}"
        "</div></header>"
    )


def _summary(payload: dict[str, Any]) -> str:
    verdict = payload["verdict"]
    summary = payload["summary"]
    policy = payload["policy"]
    method = payload["method"]
    counts = summary["checks"]
    parts = [
        f"<section id='summary' class='verdict' style='background:{STATUS_COLOURS[verdict]}'>"
        f"<div class='badge'>Verdict: {_e(verdict.upper())}</div>"
        f"<p>{_e(VERDICT_TEXT[verdict])}</p></section>"
    ]
    parts.append("<div class='counts'>")
    for status in ("fail", "uncertain", "pass", "not_evaluable"):
        parts.append(
            f"<div class='count'><b style='color:{STATUS_COLOURS[status]}'>"
            f"{counts.get(status, 0)}</b>{status.replace('_', ' ')}</div>"
        )
    parts.append(
        f"<div class='count'><b>{summary.get('informational_flags', 0)}</b>informational "
        "flags</div><div class='count'><b>"
        f"{len(payload['suppressed'])}</b>suppressed cells</div></div>"
    )
    gating = ", ".join(METRIC_LABELS.get(m, m) for m in summary["gating_metrics"])
    parts.append(
        f"<p class='note'>Gating checks: {_e(gating)}"
        + (", including intersections" if policy.get("gate_intersections") else "")
        + f". Flags are decided on {format_confidence(method['flag_confidence'])} intervals"
        + (
            f" (Bonferroni over {method['gating_checks']} checks)"
            if policy.get("multiplicity") == "bonferroni"
            else ""
        )
        + f"; tables show {method['confidence'] * 100:.0f} % intervals. Uncertain checks "
        + ("block a release." if policy.get("uncertain") == "block" else "do not block a release.")
        + "</p>"
    )
    for override in payload.get("overrides", []):
        parts.append(
            "<div class='override'><b>Released by override</b> despite verdict "
            f"<b>{_e(override.get('verdict'))}</b>: {_e(override.get('reason'))}<br>"
            f"Decided by {_e(override.get('who'))} on {_e(override.get('when'))}; "
            f"{len(override.get('failures', []))} blocking check(s) overridden.</div>"
        )
    failures = [f for f in payload["findings"] if f["gating"] and f["status"] == "fail"]
    parts.append("<h2 id='failures'>What fails</h2>")
    if failures:
        parts.append(_findings_table(failures, _policy(payload)))
    else:
        parts.append("<p>No gating check fails.</p>")
    services_verdicts = summary.get("services", {})
    parts.append(
        "<p class='note'>Per service: "
        + ", ".join(f"{_e(s)} {_tag(v)}" for s, v in services_verdicts.items())
        + "</p>"
    )
    parts.append("<h3>Overview: worst gating check per service and group</h3>")
    parts.append("<div class='wide'>" + _overview_svg(payload) + "</div>")
    informational = [
        f
        for f in payload["findings"]
        if not f["gating"] and f["status"] == "fail" and f["kind"] == "group"
    ]
    if informational:
        informational.sort(key=lambda f: (f["service"], f["attribute"], f["group"]))
        parts.append(
            "<h3 id='informational'>Other failing checks (informational under this policy)</h3>"
            "<p class='note'>These checks fail but do not gate: the policy gates only on "
            f"{_e(gating)}. Groups whose needs differ are expected to differ in selection "
            "rates and error rates at one threshold; read each against the group's need rate "
            "(see the method notes). Intersections are in their own section.</p>"
        )
        parts.append(_findings_table(informational[:MAX_INTERSECTION_ROWS], _policy(payload)))
        if len(informational) > MAX_INTERSECTION_ROWS:
            parts.append(
                f"<p class='note'>{len(informational) - MAX_INTERSECTION_ROWS} more in the "
                "JSON report.</p>"
            )

    return "".join(parts)


def _findings_table(findings: list[dict[str, Any]], policy: Policy) -> str:
    rows = [
        "<table><tr><th class='l'>Service</th><th class='l'>Group</th><th>n</th>"
        "<th class='l'>Check</th><th>Value</th><th>Decision interval</th><th>Allowed</th>"
        "<th>Need rate (reference)</th><th class='l'>Status</th></tr>"
    ]
    for f in findings:
        group = " & ".join(f"{a} = {v}" for a, v in zip(f["attributes"], f["values"], strict=True))
        metric = f["metric"]
        tolerance = allowed_region(metric, policy)
        rows.append(
            f"<tr><td class='l'>{_e(f['service'])}</td><td class='l'>{_e(group)}</td>"
            f"<td>{_e(f['n'])}</td><td class='l'>{_e(METRIC_LABELS.get(metric, metric))}</td>"
            f"<td>{_e(_fmt(metric, f['value']))}</td>"
            f"<td>{_e(_interval(metric, f['interval']))}</td><td>{_e(tolerance)}</td>"
            f"<td>{_e(_pct(f.get('need_rate')))} ({_e(_pct(f.get('reference_need_rate')))})</td>"
            f"<td class='l'>{_tag(f['status'], f['gating'])}</td></tr>"
        )
    rows.append("</table>")
    return "".join(rows)


def _service_section(block: dict[str, Any], payload: dict[str, Any]) -> str:
    policy = payload["policy"]
    reference = policy.get("reference", "rest")
    parts = [
        f"<div class='svc' id='svc-{_e(block['service'])}'>"
        f"<h3>{_e(_service_title(block))} <small>[{_e(block['service'])}]</small> "
        f"{_tag(block['verdict'])}</h3>"
    ]
    header = (
        "<div class='wide'><table><tr><th class='l'>Group</th><th>n</th>"
        + "".join(f"<th>{METRIC_LABELS[m]}</th>" for m in TABLE_METRICS)
        + f"<th title='selection rate / {_e(reference)}'s'>Sel. ratio</th><th>TPR gap</th>"
        "<th>FPR gap</th><th class='l'>Flags</th></tr>"
    )
    parts.append(header)
    cells = ([block["population"]] if block.get("population") else []) + [
        c for c in block["cells"] if c["kind"] == "group"
    ]
    for cell in cells:
        label = "everyone" if cell["kind"] == "population" else _group_label(cell)
        row = [f"<tr><td class='l'>{_e(label)}</td><td>{_e(cell['n'])}</td>"]
        for metric in TABLE_METRICS:
            row.append(_estimate_cell(metric, cell["metrics"].get(metric)))
        comparisons = cell.get("comparisons") or {}
        row.append(
            _estimate_cell(
                "selection_rate_ratio", (comparisons.get("selection_rate") or {}).get("ratio")
            )
        )
        row.append(_estimate_cell("tpr_gap", (comparisons.get("tpr") or {}).get("difference")))
        row.append(_estimate_cell("fpr_gap", (comparisons.get("fpr") or {}).get("difference")))
        flags = cell.get("flags") or {}
        tags = [
            _tag(flags[m]["status"], flags[m]["gating"], SHORT_FLAG_LABELS[m])
            for m in FLAG_ORDER
            if m in flags and flags[m]["status"] in ("fail", "uncertain")
        ]
        if cell["kind"] == "population":
            flag_text = "(population)"
        elif (cell.get("reference") or {}).get("is_reference"):
            flag_text = "(reference group)"
        elif not flags:
            flag_text = "not compared: reference too small"
        else:
            flag_text = "".join(tags) or _tag("pass")
        row.append(f"<td class='l flags'>{flag_text}</td></tr>")
        parts.append("".join(row))
    parts.append("</table></div>")
    two_sided = policy.get("gap_sides") == "both"
    charts = [
        _forest_svg(block, metric, float(policy[key]), two_sided or metric == "calibration_gap")
        for metric, key in (
            ("selection_rate_ratio", "selection_rate_ratio_min"),
            ("tpr_gap", "tpr_gap_max"),
            ("fpr_gap", "fpr_gap_max"),
            ("calibration_gap", "calibration_gap_max"),
        )
    ]
    parts.append(
        "<div class='charts'>" + "".join(f"<div>{c}</div>" for c in charts if c) + "</div>"
    )
    parts.append(
        "<p class='note'>Charts: each group's flag value with its decision interval; the "
        "green band is the tolerated region. Flags list only failing (red) or uncertain "
        "(amber) checks; faded ones are informational; 4/5 rule = selection-rate ratio. "
        "Sel. ratio = selection rate / the reference's. FNR = 1 − TPR (in the JSON). "
        "Table intervals (grey) are "
        f"{payload['method']['confidence'] * 100:.0f} %; gaps are against the {_e(reference)} "
        "group, in percentage points (pp).</p></div>"
    )
    return "".join(parts)


def _intersections(payload: dict[str, Any]) -> str:
    findings = [f for f in payload["findings"] if f["kind"] == "intersection"]
    if not payload["policy"].get("intersections", True):
        return "<h2 id='intersections'>Intersectional findings</h2><p>Not audited (policy).</p>"
    shown = sum(
        1 for block in payload["services"] for c in block["cells"] if c["kind"] == "intersection"
    )
    order = {"fail": 0, "uncertain": 1}

    def severity(f: dict[str, Any]) -> tuple[int, int, float]:
        value = f["value"] or 0.0
        distance = abs(value - f["tolerance"]) if f["metric"] != "calibration_gap" else abs(value)
        return (order.get(f["status"], 2), 0 if f["gating"] else 1, -distance)

    findings.sort(key=severity)
    parts = [
        "<h2 id='intersections'>Intersectional findings</h2>",
        f"<p>{shown} service × intersection cells were audited (every pair of attributes); "
        f"{sum(1 for f in findings if f['status'] == 'fail')} checks fail "
        f"({sum(1 for f in findings if f['status'] == 'fail' and f['gating'])} of them gating) "
        "and "
        f"{sum(1 for f in findings if f['status'] == 'uncertain')} are uncertain. "
        "Intersections are compared with everyone outside them.</p>",
    ]
    if findings:
        if len(findings) > MAX_INTERSECTION_ROWS:
            parts.append(
                f"<p class='note'>The {MAX_INTERSECTION_ROWS} most severe are shown; the JSON "
                "report lists all of them.</p>"
            )
        parts.append(_findings_table(findings[:MAX_INTERSECTION_ROWS], _policy(payload)))
    return "".join(parts)


def _allocation(payload: dict[str, Any]) -> str:
    allocation = payload.get("allocation")
    parts = ["<h2 id='allocation'>Allocation across services</h2>"]
    if not allocation:
        parts.append(f"<p>{_e(payload.get('allocation_note') or 'Not computed.')}</p>")
        return "".join(parts)
    k = allocation["top_k"]
    services = payload["data"]["services"]
    parts.append(
        f"<p>For each group: the share of clients for whom tarve ranks the service among its "
        f"top {k} (first figure) and the group's recorded need rate (second). Red: the "
        "service is in the top ranks less often than the group needs it; blue: more often.</p>"
    )
    parts.append(
        "<table><tr><th class='l'>Group</th><th>n</th>"
        + "".join(f"<th>{_e(s)}</th>" for s in services)
        + "</tr>"
    )
    for group in allocation["groups"]:
        label = "everyone" if group["kind"] == "population" else _group_label(group)
        row = [f"<tr><td class='l'>{_e(label)}</td><td>{group['n']}</td>"]
        for service in services:
            item = group["services"].get(service)
            if item is None:
                row.append("<td>–</td>")
                continue
            top = item["top_k_share"]["value"] or 0.0
            need = item["need_rate"]["value"] or 0.0
            difference = top - need
            strength = min(abs(difference) / 0.3, 1.0) * 0.55
            colour = (
                f"rgba(179,38,30,{strength:.2f})"
                if difference < 0
                else f"rgba(25,90,200,{strength:.2f})"
            )
            row.append(
                f"<td style='background:{colour}' title='difference {difference * 100:+.1f} pp'>"
                f"{top * 100:.0f} %<span class='ci'>need {need * 100:.0f} %</span></td>"
            )
        row.append("</tr>")
        parts.append("".join(row))
    parts.append("</table>")
    return "".join(parts)


def _suppressed(payload: dict[str, Any]) -> str:
    policy = payload["policy"]
    items = payload["suppressed"]
    parts = [
        "<h2 id='suppressed'>Suppressed cells</h2>",
        f"<p>Cells with fewer than {policy['min_group_size']} clients are listed without any "
        "figure, for privacy and because their estimates are unreliable. Comparisons are also "
        "withheld where the reference group is that small.</p>",
    ]
    if not items:
        parts.append("<p>None.</p>")
        return "".join(parts)
    all_services = set(payload["data"]["services"])
    parts.append("<table><tr><th class='l'>Cell</th><th class='l'>Services</th></tr>")
    for item in items:
        services = item.get("services") or []
        where = "all services" if set(services) == all_services else ", ".join(services)
        label = " & ".join(
            f"{a} = {v}" for a, v in zip(item["attributes"], item["values"], strict=True)
        )
        parts.append(f"<tr><td class='l'>{_e(label)}</td><td class='l'>{_e(where)}</td></tr>")
    parts.append("</table>")
    return "".join(parts)


def _method(payload: dict[str, Any]) -> str:
    policy = payload["policy"]
    method = payload["method"]
    ratio_min = policy["selection_rate_ratio_min"]
    return (
        "<h2 id='method'>Method</h2><ul class='note'>"
        "<li><b>Cells.</b> Every value of every audit attribute, and every pair of values of "
        "two attributes (intersections). A service is audited on the clients that have a label "
        "for it (for a tarve model: the clients eligible for the service).</li>"
        "<li><b>Metrics.</b> Need rate (share with a recorded need), mean calibrated score, "
        "selection rate (share recommended), TPR = recommended among those in need, FPR = "
        "recommended among those not in need, FNR = 1 − TPR, precision, ROC AUC, calibration "
        "gap = mean score − need rate, ECE = expected calibration error over "
        f"{policy['ece_bins']} equal-width score bins.</li>"
        f"<li><b>Intervals</b> ({method['confidence'] * 100:.0f} %): Wilson score intervals for "
        "proportions; Newcombe's hybrid score interval for differences of proportions; Katz's "
        "log interval for ratios; normal intervals for mean score and calibration gap; DeLong "
        "for ROC AUC; a Poisson bootstrap over score-bin strata for ECE "
        f"({policy['bootstrap_replicates']} replicates, seed {policy['seed']}).</li>"
        f"<li><b>Reference.</b> Each cell is compared with the {_e(policy['reference'])} "
        "group(s).</li>"
        f"<li><b>Flags.</b> Selection-rate ratio below {ratio_min} (four-fifths rule); TPR "
        f"gap beyond {policy['tpr_gap_max']}; FPR gap beyond {policy['fpr_gap_max']} "
        f"({_e(policy['gap_sides'])} direction); |calibration gap| beyond "
        f"{policy['calibration_gap_max']}. A flag fails when its whole interval is beyond "
        "the tolerance, passes when its whole interval is within it, and is uncertain when "
        "the interval contains the tolerance. Decision intervals are at "
        f"{format_confidence(method['flag_confidence'])} ({_e(policy['multiplicity'])} adjustment "
        f"over {method['gating_checks']} gating checks).</li>"
        "<li><b>Verdict.</b> fail if any gating check fails; otherwise uncertain if any is "
        "uncertain; otherwise pass.</li>"
        "<li><b>Limits.</b> The audit measures agreement with the recorded labels. If the "
        "labels themselves under-record a group's need and the model reproduces that, error "
        "rates look equal; the selection-rate ratio and the allocation view are where such "
        "bias can still show. Suppression is primary only: figures of a small cell may be "
        "derivable by differencing larger published cells.</li></ul>"
    )


def render_html(payload: dict[str, Any]) -> str:
    """Render a report's JSON form as a self-contained HTML document.

    Parameters
    ----------
    payload : dict
        :meth:`fairness.AuditReport.to_dict` output.

    Returns
    -------
    str
        The page; it references no external asset.
    """
    model = payload.get("model") or {}
    title = f"Fairness audit: {model.get('name') or 'predictions'} {model.get('version') or ''}"
    body = [
        _header(payload),
        _summary(payload),
        "<h2 id='services'>Services and groups</h2>",
        *[_service_section(block, payload) for block in payload["services"]],
        _intersections(payload),
        _allocation(payload),
        _suppressed(payload),
        _method(payload),
    ]
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_e(title.strip())}</title><style>{CSS}</style></head><body><main>"
        + "".join(body)
        + "</main></body></html>\n"
    )
