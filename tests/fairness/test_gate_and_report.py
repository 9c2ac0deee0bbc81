"""The release gate, overrides, and the JSON and HTML forms of a report."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from fairness import (
    AuditReport,
    Policy,
    gate_failures,
    record_override,
    render_html,
    run_audit,
    write_report,
)
from fairness.report import FORMAT_VERSION, MSG_OVERRIDE_REASON

from .conftest import Predictions, simulate


@pytest.fixture(scope="module")
def biased_report(biased_predictions: Predictions) -> AuditReport:
    data = biased_predictions
    return run_audit(
        labels=data.labels,
        scores=data.scores,
        decisions=data.decisions,
        groups=data.groups,
        policy=Policy(bootstrap_replicates=20),
        metadata={"name": "tarve-service-need", "version": "12", "trained_at": "2026-01-05"},
        service_labels={"training": {"fi": "työvoimakoulutus", "sv": "x", "en": "labour training"}},
    )


def test_the_gate_names_service_group_and_metric(biased_report: AuditReport) -> None:
    lines = gate_failures(biased_report)
    assert lines, "the biased model must be refused"
    assert any(
        line.startswith("training: immigrant=yes: calibration gap +") and line.endswith("[fail]")
        for line in lines
    ), lines
    assert all(line.startswith("training: ") for line in lines)
    assert len(lines) == len(biased_report.failures)
    stored = AuditReport.from_dict(json.loads(biased_report.to_json()))
    assert gate_failures(stored) == lines  # a stored report is judged the same


def test_the_gate_applies_the_release_policy(biased_report: AuditReport) -> None:
    assert gate_failures(biased_report, Policy(calibration_gap_max=0.5, fpr_gap_max=0.5)) == []
    assert gate_failures(biased_report, Policy(gate_metrics=["tpr_gap"])) == []
    no_pairs = gate_failures(biased_report, Policy(gate_intersections=False))
    assert no_pairs
    assert all("&" not in line for line in no_pairs)


def test_uncertain_checks_block_only_when_the_policy_says_so(
    fair_predictions: Predictions,
) -> None:
    data = fair_predictions
    report = run_audit(
        labels=data.labels,
        scores=data.scores,
        decisions=data.decisions,
        groups=data.groups,
        policy=Policy(bootstrap_replicates=0),
    )
    assert report.verdict == "uncertain"
    assert gate_failures(report) == []
    blocking = gate_failures(report, Policy(uncertain="block"))
    assert blocking
    assert all(line.endswith("[uncertain]") for line in blocking)


def test_an_override_is_recorded_in_json_and_html(biased_report: AuditReport) -> None:
    report = AuditReport.from_dict(biased_report.to_dict())
    with pytest.raises(ValueError, match=MSG_OVERRIDE_REASON):
        record_override(report, "  ", "auditor")
    override = record_override(
        report,
        "Known label bias; retraining scheduled",
        "Jane Auditor",
        "2026-02-01T10:00:00+00:00",
    )
    assert override.verdict == "fail"
    assert override.failures == gate_failures(biased_report)
    stored = report.to_dict()["overrides"]
    assert stored == [override.model_dump(mode="json")]
    assert set(stored[0]) == {"reason", "who", "when", "verdict", "failures"}  # one shape
    assert report.verdict == "fail"  # the verdict stands; the decision is recorded beside it
    page = render_html(report)
    assert "Released by override" in page
    assert "Known label bias; retraining scheduled" in page
    assert "Jane Auditor" in page
    assert biased_report.overrides == []  # the original is untouched


def test_json_round_trip_and_version(biased_report: AuditReport, tmp_path: Path) -> None:
    text = biased_report.to_json()
    assert "NaN" not in text
    data = json.loads(text)
    assert data["format_version"] == FORMAT_VERSION
    again = AuditReport.from_dict(data)
    assert again.to_dict() == biased_report.to_dict()
    assert again.verdict == biased_report.verdict
    assert again.failures == biased_report.failures
    assert again == biased_report
    data["format_version"] = 99
    with pytest.raises(ValueError, match="format version 99 is not supported"):
        AuditReport.from_dict(data)
    with pytest.raises(ValueError, match="missing keys"):
        AuditReport.from_dict({"format_version": FORMAT_VERSION, "verdict": "pass"})
    json_path, html_path = write_report(biased_report, tmp_path / "out")
    assert json.loads(json_path.read_text("utf-8"))["verdict"] == "fail"
    assert html_path.read_text("utf-8").startswith("<!DOCTYPE html>")


def test_html_is_self_contained_and_stamped(biased_report: AuditReport) -> None:
    page = render_html(biased_report)
    data = biased_report.to_dict()
    assert "<script" not in page.lower()
    assert not re.search(r"""(src|href)\s*=\s*['"]?(https?:)?//""", page)
    assert "<link" not in page.lower()
    assert "@import" not in page
    assert page.count("<svg") >= 2
    for stamp in ("tarve-service-need", "version <b>12</b>", data["data"]["fingerprint"]):
        assert stamp in page
    assert data["created_at"] in page
    # Summary first, then the sections in order.
    order = [
        "id='summary'",
        "id='failures'",
        "id='services'",
        "id='intersections'",
        "id='allocation'",
        "id='suppressed'",
        "id='method'",
    ]
    positions = [page.index(marker) for marker in order]
    assert positions == sorted(positions)
    assert "Verdict: FAIL" in page
    assert "labour training (työvoimakoulutus)" in page
    assert "Wilson" in page
    assert "Newcombe" in page


def test_html_suppresses_small_cells() -> None:
    data = simulate(3000, seed=7, tiny_group=12)
    report = run_audit(
        labels=data.labels,
        scores=data.scores,
        decisions=data.decisions,
        groups=data.groups,
        policy=Policy(bootstrap_replicates=0),
    )
    page = render_html(report)
    suppressed_at = page.index("id='suppressed'")
    rows = [m.start() for m in re.finditer(r"<td class='l'>[^<]*gender = other[^<]*</td>", page)]
    assert rows, "the suppressed cells must be listed"
    assert all(start > suppressed_at for start in rows), "a suppressed cell has a figure row"
    for match in re.finditer(r"gender = other", page[:suppressed_at]):
        # Only the overview may name it: a column label, and a grey square whose tooltip
        # says it is suppressed.
        after = page[match.end() : match.end() + 22]
        assert after.startswith("</text>") or after == ": suppressed or empty<", after
