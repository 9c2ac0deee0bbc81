"""The HTML report from templates: autoescaping, languages, units, names and folding."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from fairness import AuditReport, Policy, render_html, run_audit
from fairness.report_html import MSG_LANGUAGE

from .conftest import Predictions

NAMES = {
    "coaching": {"fi": "Valmennus", "sv": "Coachning", "en": "Coaching"},
    "training": {"fi": "Työvoimakoulutus", "sv": "Arbetskraftsutbildning", "en": "Labour training"},
}


class _Attributes(HTMLParser):
    """Every start tag's attributes, as the browser would parse them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _tags(page: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Attributes()
    parser.feed(page)
    return parser.tags


@pytest.fixture(scope="module")
def report(biased_predictions: Predictions) -> AuditReport:
    data = biased_predictions
    return run_audit(
        labels=data.labels,
        scores=data.scores,
        decisions=data.decisions,
        groups=data.groups,
        policy=Policy(bootstrap_replicates=0),
        service_labels=NAMES,
        metadata={"name": "model <b>'quoted'</b>", "version": "7"},
    )


def test_attributes_with_apostrophes_do_not_close_early(report: AuditReport) -> None:
    # The old f-string page wrote title='selection rate / rest's': the apostrophe closed
    # the attribute. Autoescaped templates cannot: every title parses whole.
    page = render_html(report)
    titles = [attrs["title"] for tag, attrs in _tags(page) if tag == "th" and "title" in attrs]
    assert "selection rate / the reference group's (rest)" in titles
    assert "reference group&#39;s (rest)" in page  # escaped inside the quoted attribute
    tricky = report.model_copy(deep=True)
    tricky.services[0].label["en"] = "Coaching 'n' <script>alert(1)</script>"
    page = render_html(tricky)
    assert "<script" not in page
    assert "Coaching &#39;n&#39; &lt;script&gt;" in page
    assert "model &lt;b&gt;&#39;quoted&#39;&lt;/b&gt;" in page
    links = [a for tag, a in _tags(page) if tag == "a"]
    # In-page anchors, and the one link to the model card's population explanations.
    card = "model_card.md#explanations-for-the-whole-population"
    assert all(str(a.get("href", "")).startswith("#") or a.get("href") == card for a in links)


def test_service_names_in_the_report_language(report: AuditReport) -> None:
    english, finnish, swedish = (render_html(report, lang=lang) for lang in ("en", "fi", "sv"))
    assert "Labour training (Työvoimakoulutus)" in english
    assert "Verdict: FAIL" in english
    assert "Tulos: HYLÄTTY" in finnish
    assert "<html lang='fi'>" in finnish
    assert "Työvoimakoulutus" in finnish
    assert "Labour training" not in finnish
    assert "Utfall: UNDERKÄND" in swedish
    assert "Arbetskraftsutbildning" in swedish
    # The allocation matrix is headed by names, not ids.
    allocation = english[english.index("id='allocation'") : english.index("id='suppressed'")]
    assert "Labour training</th>" in allocation
    assert ">training</th>" not in allocation


def test_an_unknown_language_is_refused(report: AuditReport) -> None:
    with pytest.raises(ValueError, match=re.escape(MSG_LANGUAGE.split(";")[0].format(lang="de"))):
        render_html(report, lang="de")
    only_english = report.model_copy(update={"languages": ["en"]})
    with pytest.raises(ValueError, match="cannot be rendered in 'fi'"):
        render_html(only_english, lang="fi")


def test_contents_folding_sections_heat_map_and_fnr(report: AuditReport) -> None:
    page = render_html(report)
    tags = _tags(page)
    links = {str(a["href"]) for tag, a in tags if tag == "a"}
    for section in ("summary", "failures", "services", "intersections", "allocation", "method"):
        assert f"#{section}" in links
    details = [a for tag, a in tags if tag == "details"]
    assert {str(d["id"]) for d in details} == {f"svc-{s}" for s in report.service_ids}
    assert {f"#svc-{s}" for s in report.service_ids} <= links
    assert all(
        ("open" in d) == (report.service(str(d["id"])[4:]).verdict != "pass") for d in details
    )
    intersections = page[page.index("id='intersections'") : page.index("id='allocation'")]
    assert "<svg" in intersections
    assert "class='side'" in intersections
    assert intersections.count("<rect") > 16 * len(report.services)
    assert "<th>FNR</th>" in page


def test_units_are_percentage_points_for_gaps_and_limits(report: AuditReport) -> None:
    page = render_html(report)
    failing = page[page.index("id='failures'") : page.index("id='services'")]
    assert "within ±5.0 pp" in failing  # the limit, in the unit of the value beside it
    assert re.search(r"<td>\+\d+\.\d pp</td>", failing)
    assert "0.05" not in failing


def test_forest_axis_labels_stay_inside_the_chart(report: AuditReport) -> None:
    page = render_html(report)
    for svg in re.findall(r"<svg[^>]*aria-label='[^']* by group'.*?</svg>", page, re.S):
        width = float(re.search(r"width='(\d+)'", svg).group(1))  # type: ignore[union-attr]
        tick = r"<text x='([\d.]+)' y='[\d.]+' font-size='10' text-anchor='(\w+)'>([^<]*)<"
        ticks = re.findall(tick, svg)
        assert len(ticks) == 3
        for x, anchor, text in ticks:
            half = len(text) * 6.3 * 10 / 11
            left = {"start": 0.0, "middle": half / 2, "end": half}[anchor]
            assert float(x) - left >= 0, (x, anchor, text)
            assert float(x) - left + half <= width, (x, anchor, text)


def test_a_stored_report_renders_the_same(report: AuditReport) -> None:
    again = AuditReport.from_dict(report.to_dict())
    assert render_html(again, lang="sv") == render_html(report, lang="sv")
