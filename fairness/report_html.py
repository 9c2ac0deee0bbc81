"""The audit as one self-contained HTML page, rendered by Jinja2 from package templates.

The page is rendered from the typed report alone (:class:`fairness.report.AuditReport`),
in one of the report's languages; its UI strings live in ``templates/strings.yaml``
(fi, sv, en). Templates are autoescaped; style and charts are inline (CSS and SVG), so
the page fetches nothing. This module prepares what the templates draw: formatted
figures (rates in per cent, gaps, differences and limits in percentage points) and the
geometry of the heat maps and forest plots.

Order of the page: header and contents, the verdict and what blocks a release, an
overview heat map, per-service sections that fold, intersectional findings with their
heat map, the allocation view, suppressed cells, and the method notes.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import yaml
from markupsafe import Markup

from fairness.estimates import METRIC_ORDER
from fairness.gate import format_confidence
from fairness.policy import Metric, Policy
from fairness.report import AuditReport, Cell, Estimate, Finding, Flag, Interval, ServiceAudit

STATUS_COLOURS = {
    "fail": "#b3261e",
    "uncertain": "#c77c02",
    "pass": "#2e7d32",
    "not_evaluable": "#9e9e9e",
    "suppressed": "#d0d0d0",
}
STATUS_RANK = {"fail": 3, "uncertain": 2, "pass": 1, "not_evaluable": 0}
FLAG_ORDER: tuple[Metric, ...] = ("selection_rate_ratio", "tpr_gap", "fpr_gap", "calibration_gap")
# The tables show every estimated metric, in the estimates' own order.
TABLE_METRICS = METRIC_ORDER
POINT_METRICS = frozenset({"calibration_gap", "tpr_gap", "fpr_gap", "ece", "difference"})
UNITLESS_METRICS = frozenset({"roc_auc", "selection_rate_ratio"})
DEFAULT_LANGUAGE = "en"
MAX_FINDING_ROWS = 60
PAGE_WIDTH = 1290  # the content width of the page at 1,400 px, less margins
CHAR_WIDTH = 6.3  # px per character of 11 px text, a generous estimate
MISSING = "–"

MSG_LANGUAGE = "the report cannot be rendered in {lang!r}; it has the languages {languages}"

HTML_FILE = "audit.html"
JSON_FILE = "audit.json"


# -- strings and figures ---------------------------------------------------------------------
@functools.cache
def _all_strings() -> dict[str, dict[str, str]]:
    text = resources.files("fairness.templates").joinpath("strings.yaml").read_text("utf-8")
    loaded: dict[str, dict[str, str]] = yaml.safe_load(text)
    return loaded


@dataclass(frozen=True)
class Strings:
    """The UI strings of one language: ``strings("key", name=...)``."""

    lang: str

    def __call__(self, key: str, **values: Any) -> str:
        """Return the string ``key`` with ``values`` filled in (plain text, escaped on output)."""
        return _all_strings()[key][self.lang].format(**values)

    def markup(self, key: str, **values: Any) -> Markup:
        """Return a string that carries markup of its own; ``values`` are escaped."""
        return Markup(_all_strings()[key][self.lang]).format(**values)


def _percent(value: float | None, digits: int = 1) -> str:
    return MISSING if value is None else f"{value * 100:.{digits}f} %"


def _points(value: float | None, *, signed: bool = True) -> str:
    if value is None:
        return MISSING
    return f"{value * 100:+.1f} pp" if signed else f"{value * 100:.1f} pp"


def format_value(metric: str, value: float | None) -> str:
    """Return a figure in its unit: rates in %, gaps and differences in pp, AUC and ratios bare."""
    if value is None:
        return MISSING
    if metric in UNITLESS_METRICS:
        return f"{value:.2f}"
    if metric == "ece":
        return _points(value, signed=False)
    if metric in POINT_METRICS:
        return _points(value)
    return _percent(value)


def format_interval(metric: str, interval: Interval | None) -> str:
    """Return an interval in the unit of its metric (without the unit, which the value shows)."""
    if interval is None or interval.low is None or interval.high is None:
        return ""
    low, high = interval.low, interval.high
    if metric in UNITLESS_METRICS:
        return f"{low:.2f}–{high:.2f}"
    if metric == "ece":
        return f"{low * 100:.1f}–{high * 100:.1f}"
    if metric in POINT_METRICS:
        return f"{low * 100:+.1f} to {high * 100:+.1f}"
    return f"{low * 100:.1f}–{high * 100:.1f}"


def allowed_text(metric: str, policy: Policy, strings: Strings) -> str:
    """Return the policy's allowed region of a flag metric, in the metric's unit (pp for gaps)."""
    tolerance = policy.tolerance(metric)
    if metric == "selection_rate_ratio":
        return strings("at_least", limit=f"{tolerance:.2f}")
    if metric == "calibration_gap" or policy.gap_sides == "both":
        return strings("within", limit=_points(tolerance, signed=False))
    if metric == "tpr_gap":
        return strings("at_least", limit=_points(-tolerance))
    return strings("at_most", limit=_points(tolerance))


def _text_width(text: str, font: float = 11.0) -> float:
    return len(text) * CHAR_WIDTH * font / 11.0


def _clip(text: str, length: int = 60) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def worst_gating_status(cell: Cell | None) -> str:
    """Return the worst status of a cell's gating flags (``suppressed`` when there is no cell)."""
    if cell is None:
        return "suppressed"
    statuses = [flag.status for flag in cell.flags.values() if flag.gating]
    return max(statuses, key=lambda s: STATUS_RANK[s]) if statuses else "not_evaluable"


# -- heat maps ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Label:
    """A text of a chart."""

    x: float
    y: float
    text: str
    anchor: str = "start"
    rotate: float = 0.0


@dataclass(frozen=True)
class Square:
    """One coloured square of a heat map with its tooltip."""

    x: float
    y: float
    size: float
    colour: str
    title: str


@dataclass(frozen=True)
class HeatMap:
    """A grid of squares: row labels on the left, rotated column labels on top."""

    width: float
    height: float
    labels: list[Label]
    squares: list[Square]
    legend: list[tuple[float, float, str, str]]
    aria: str


def heat_map(
    rows: list[str],
    columns: list[str],
    status: Callable[[int, int], str],
    title: Callable[[int, int, str], str],
    *,
    strings: Strings,
    aria: str,
    max_width: float = PAGE_WIDTH,
) -> HeatMap:
    """Lay out a heat map of ``status(row, column)``; squares shrink to fit ``max_width``."""
    row_labels = [_clip(r) for r in rows]
    column_labels = [_clip(c) for c in columns]
    left = 12 + max((_text_width(r, 12) for r in row_labels), default=40)
    size = max(10.0, min(22.0, (max_width - left - 20) / max(len(columns), 1)))
    top = 16 + max((_text_width(c) for c in column_labels), default=20) * math.sin(math.pi / 3)
    labels = [
        Label(left - 6, top + i * size + size * 0.7, text, "end")
        for i, text in enumerate(row_labels)
    ]
    for j, text in enumerate(column_labels):
        x = left + j * size + size / 2
        labels.append(Label(x, top - 6, text, "start", -60))
    squares = []
    for i in range(len(rows)):
        for j in range(len(columns)):
            state = status(i, j)
            x, y = left + j * size + 1, top + i * size + 1
            squares.append(Square(x, y, size - 2, STATUS_COLOURS[state], title(i, j, state)))
    legend_y = top + size * len(rows) + 22
    legend = [
        (12 + k * 125.0, legend_y, STATUS_COLOURS[state], strings(f"status_{state}"))
        for k, state in enumerate(("fail", "uncertain", "pass", "not_evaluable", "suppressed"))
    ]
    width = max(left + size * len(columns) + 20, 12 + 5 * 125.0)
    return HeatMap(width, legend_y + 10, labels, squares, legend, aria)


def overview_map(report: AuditReport, strings: Strings) -> HeatMap | None:
    """Services × groups (one value of one attribute), by the worst gating check."""
    keys: list[tuple[str, str]] = []
    for _, cell in report.iter_cells():
        if cell.kind == "group" and (cell.attributes[0], cell.values[0]) not in keys:
            keys.append((cell.attributes[0], cell.values[0]))
    for item in report.suppressed:
        if len(item.attributes) == 1 and (item.attributes[0], item.values[0]) not in keys:
            keys.append((item.attributes[0], item.values[0]))
    if not keys:
        return None
    order = report.data.attributes
    keys.sort(key=lambda k: (order.index(k[0]) if k[0] in order else len(order), k[1]))
    lookup = {
        (block.service, cell.attributes[0], cell.values[0]): cell
        for block, cell in report.iter_cells()
        if cell.kind == "group"
    }
    services = report.services

    def status(i: int, j: int) -> str:
        return worst_gating_status(lookup.get((services[i].service, *keys[j])))

    def title(i: int, j: int, state: str) -> str:
        name = services[i].name(strings.lang)
        return f"{name}, {keys[j][0]} = {keys[j][1]}: {strings(f'status_{state}')}"

    return heat_map(
        [block.name(strings.lang) for block in services],
        [f"{a} = {v}" for a, v in keys],
        status,
        title,
        strings=strings,
        aria=strings("overview"),
    )


def intersection_map(report: AuditReport, strings: Strings) -> HeatMap | None:
    """Intersections × services, by the worst gating check (grey: suppressed or empty)."""
    seen: dict[tuple[tuple[str, ...], tuple[str, ...]], None] = {}
    lookup: dict[tuple[str, tuple[str, ...], tuple[str, ...]], Cell] = {}
    for block, cell in report.iter_cells():
        if cell.kind == "intersection":
            key = (tuple(cell.attributes), tuple(cell.values))
            seen[key] = None
            lookup[(block.service, *key)] = cell
    keys = list(seen)
    if not keys:
        return None
    order = report.data.attributes
    keys.sort(key=lambda k: ([order.index(a) if a in order else 99 for a in k[0]], k[1]))
    services = report.services
    labels = [" & ".join(f"{a} = {v}" for a, v in zip(*key, strict=True)) for key in keys]

    def status(i: int, j: int) -> str:
        return worst_gating_status(lookup.get((services[j].service, *keys[i])))

    def title(i: int, j: int, state: str) -> str:
        return f"{services[j].name(strings.lang)}, {labels[i]}: {strings(f'status_{state}')}"

    return heat_map(
        labels,
        [block.name(strings.lang) for block in services],
        status,
        title,
        strings=strings,
        aria=strings("heatmap_title"),
        max_width=PAGE_WIDTH / 2,
    )


# -- forest plots ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ForestRow:
    """One group of a forest plot: its label, dot and interval."""

    y: float
    label: str
    x: float
    low_x: float | None
    high_x: float | None
    colour: str
    title: str


@dataclass(frozen=True)
class ForestChart:
    """A flag metric across a service's groups, with the tolerated band."""

    title: str
    width: float
    height: float
    left: float
    top: float
    band: tuple[float, float]
    reference_x: float
    rows: list[ForestRow]
    ticks: list[Label]


def _axis(metric: str, flags: list[Flag], tolerance: float) -> tuple[float, float]:
    values = [v for f in flags for v in (f.value, f.interval.low, f.interval.high) if v is not None]
    if metric == "selection_rate_ratio":
        return 0.0, max(2.0, min(4.0, max(values) * 1.05))
    reach = min(max(tolerance * 2, max(abs(v) for v in values) * 1.1, 0.05), 1.0)
    return -reach, reach


def _band(metric: str, policy: Policy, low: float, high: float) -> tuple[float, float]:
    tolerance = policy.tolerance(metric)
    if metric == "selection_rate_ratio":
        return tolerance, high
    if metric == "calibration_gap" or policy.gap_sides == "both":
        return -tolerance, tolerance
    return (-tolerance, high) if metric == "tpr_gap" else (low, tolerance)


def forest_chart(
    block: ServiceAudit, metric: Metric, policy: Policy, strings: Strings
) -> ForestChart | None:
    """Return the forest plot of one flag metric over a service's groups (None: nothing to draw)."""
    rows = [
        (cell, cell.flags[metric])
        for cell in block.cells
        if cell.kind == "group" and metric in cell.flags and cell.flags[metric].value is not None
    ]
    if not rows:
        return None
    low_axis, high_axis = _axis(metric, [flag for _, flag in rows], policy.tolerance(metric))
    left = 14 + max(_text_width(cell.label) for cell, _ in rows)
    plot, right, row_height, top = 330.0, 34.0, 16.0, 24.0

    def x_of(value: float) -> float:
        clipped = min(max(value, low_axis), high_axis)
        return left + (clipped - low_axis) / (high_axis - low_axis) * plot

    drawn = []
    for i, (cell, flag) in enumerate(rows):
        low, high = flag.interval.bounds
        finite = low is not None and high is not None and math.isfinite(low) and math.isfinite(high)
        drawn.append(
            ForestRow(
                y=top + i * row_height + row_height / 2,
                label=cell.label,
                x=x_of(flag.value or 0.0),
                low_x=x_of(low) if finite and low is not None else None,
                high_x=x_of(high) if finite and high is not None else None,
                colour=STATUS_COLOURS.get(flag.status, "#555"),
                title=f"{cell.label}: {format_value(metric, flag.value)} "
                f"({strings(f'status_{flag.status}')})",
            )
        )
    is_ratio = metric == "selection_rate_ratio"
    reference = 1.0 if is_ratio else 0.0
    axis_y = top + row_height * len(rows) + 14
    ticks = [
        Label(x_of(tick), axis_y, f"{tick:.2f}" if is_ratio else _points(tick), anchor)
        for tick, anchor in ((low_axis, "start"), (reference, "middle"), (high_axis, "end"))
    ]
    band_low, band_high = _band(metric, policy, low_axis, high_axis)
    return ForestChart(
        title=strings(f"metric_{metric}"),
        width=left + plot + right,
        height=axis_y + 8,
        left=left,
        top=top,
        band=(x_of(band_low), x_of(band_high)),
        reference_x=x_of(reference),
        rows=drawn,
        ticks=ticks,
    )


# -- the page -------------------------------------------------------------------------------
def _severity(finding: Finding) -> tuple[int, int, float]:
    value = finding.value or 0.0
    distance = abs(value) if finding.metric == "calibration_gap" else abs(value - finding.tolerance)
    return (
        {"fail": 0, "uncertain": 1}.get(finding.status, 2),
        0 if finding.gating else 1,
        -distance,
    )


def _flag_tags(cell: Cell) -> list[tuple[str, bool, Metric]]:
    return [
        (cell.flags[m].status, cell.flags[m].gating, m)
        for m in FLAG_ORDER
        if m in cell.flags and cell.flags[m].status in ("fail", "uncertain")
    ]


def _comparison(cell: Cell, metric: str, part: str) -> Estimate | None:
    if cell.comparisons is None:
        return None
    estimate: Estimate = getattr(getattr(cell.comparisons, metric), part)
    return estimate


@functools.cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("fairness", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(
        value=format_value, interval=format_interval, percent=_percent, points=_points
    )
    environment.globals.update(
        colours=STATUS_COLOURS,
        comparison=_comparison,
        flag_tags=_flag_tags,
        format_confidence=format_confidence,
        table_metrics=TABLE_METRICS,
    )
    return environment


def _context(report: AuditReport, strings: Strings) -> dict[str, Any]:
    policy = report.policy
    findings = report.findings
    informational = sorted(
        (f for f in findings if not f.gating and f.status == "fail" and f.kind == "group"),
        key=lambda f: (f.service, f.attribute, f.group),
    )
    intersections = sorted((f for f in findings if f.kind == "intersection"), key=_severity)
    names = {block.service: block.name(strings.lang) for block in report.services}
    return {
        "report": report,
        "policy": policy,
        "t": strings,
        "lang": strings.lang,
        "names": names,
        "finnish": {b.service: b.label.get("fi") for b in report.services},
        "allowed": lambda metric: allowed_text(metric, policy, strings),
        "limit": lambda metric: _points(policy.tolerance(metric), signed=False),
        "gating_labels": ", ".join(strings(f"metric_{m}") for m in policy.gate_metrics),
        "informational": informational,
        "intersections": intersections,
        "intersection_cells": sum(1 for _, c in report.iter_cells() if c.kind == "intersection"),
        "max_rows": MAX_FINDING_ROWS,
        "overview": overview_map(report, strings),
        "intersection_map": intersection_map(report, strings),
        "charts": {
            block.service: [
                chart for m in FLAG_ORDER if (chart := forest_chart(block, m, policy, strings))
            ]
            for block in report.services
        },
        "all_services": report.data.services,
    }


def render_html(report: AuditReport, *, lang: str = DEFAULT_LANGUAGE) -> str:
    """Render a report as one self-contained HTML document.

    Parameters
    ----------
    report : AuditReport
        The audit (or one read back with :meth:`AuditReport.from_dict`).
    lang : str, default "en"
        One of the report's ``languages`` (the schema's: fi, sv, en by default).

    Returns
    -------
    str
        The page; it references no external asset.

    Raises
    ------
    ValueError
        ``lang`` is not one of the report's languages.
    """
    known = set(next(iter(_all_strings().values())))
    if lang not in report.languages or lang not in known:
        raise ValueError(MSG_LANGUAGE.format(lang=lang, languages=report.languages))
    strings = Strings(lang)
    template = _environment().get_template("report.html.j2")
    return template.render(**_context(report, strings), css=_css()) + "\n"


@functools.cache
def _css() -> Markup:
    text = resources.files("fairness.templates").joinpath("report.css").read_text("utf-8")
    return Markup(text)  # the package's own style sheet, not data


def write_report(
    report: AuditReport,
    directory: str | Path,
    *,
    lang: str = DEFAULT_LANGUAGE,
    names: Iterable[str] = (JSON_FILE, HTML_FILE),
) -> tuple[Path, Path]:
    """Write the report's JSON and HTML into ``directory`` (created if missing).

    Parameters
    ----------
    report : AuditReport
        The audit.
    directory : str or Path
        Where to write.
    lang : str, default "en"
        Language of the HTML page.
    names : pair of str, default ("audit.json", "audit.html")
        File names of the JSON and the HTML.

    Returns
    -------
    tuple of Path
        The JSON and HTML paths.
    """
    json_name, html_name = names
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    json_path, html_path = out / json_name, out / html_name
    json_path.write_text(report.to_json(), encoding="utf-8")
    html_path.write_text(render_html(report, lang=lang), encoding="utf-8")
    return json_path, html_path
