"""The typed (v2) report carries the same numbers as the v1 dict report of the same audit.

``data/audit_v1_fixed_seed.json`` was written by the untyped v1 code (before the report
became pydantic models) for the fixed-seed audit below. The test runs the same audit with
the current code and compares every field, after mapping the v1 shape onto v2: intervals
``[low, high]`` become ``{"low", "high"}``; the v1 duplicates (``summary.verdict``,
``summary.services``, top-level ``failures``, ``attribute``/``group`` of findings) are
checked against what v2 derives them from; ``languages`` is new.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fairness import AuditReport, Policy, record_override, run_audit
from fairness.report import FORMAT_VERSION

from .conftest import simulate

FIXTURE = Path(__file__).parent / "data" / "audit_v1_fixed_seed.json"
CREATED_AT = "2026-01-01T00:00:00+00:00"


def _fixed_seed_audit() -> AuditReport:
    """Return the audit that produced the fixture (same data, policy, labels and override)."""
    data = simulate(
        3000,
        seed=7,
        services=("coaching", "training", "subsidy", "guidance"),
        miscalibrate={("training", "immigrant", "yes"): 0.5},
        tiny_group=15,
    )
    report = run_audit(
        labels=data.labels,
        scores=data.scores,
        decisions=data.decisions,
        groups=data.groups,
        policy=Policy(bootstrap_replicates=50, seed=3, min_group_size=20),
        service_labels={"coaching": {"fi": "Valmennus", "sv": "Coachning", "en": "Coaching"}},
        metadata={"name": "fixed-seed", "version": "1", "data_fingerprint": "sha256:fixed"},
        top_k=2,
    )
    record_override(report, "accepted for the pilot", "auditor", CREATED_AT)
    report.created_at = CREATED_AT
    return report


def _intervals_as_v2(value: Any) -> Any:
    """Every ``"interval": [low, high]`` of the v1 shape as ``{"low": ..., "high": ...}``."""
    if isinstance(value, list):
        return [_intervals_as_v2(item) for item in value]
    if not isinstance(value, dict):
        return value
    mapped = {key: _intervals_as_v2(item) for key, item in value.items()}
    if isinstance(mapped.get("interval"), list):
        low, high = mapped["interval"]
        mapped["interval"] = {"low": low, "high": high}
    return mapped


def _v1_as_v2(v1: dict[str, Any]) -> dict[str, Any]:
    expected: dict[str, Any] = _intervals_as_v2(v1)
    expected["format_version"] = FORMAT_VERSION
    expected["languages"] = ["fi", "sv", "en"]  # new in v2: the languages it renders in
    # New in v3: the benefit view (none: this audit has no effect estimates).
    expected["benefit"] = None
    expected["benefit_note"] = None
    # New since v2 was first written: the artifact's manifest hash (none for this audit).
    expected["model"].setdefault("manifest_sha256", None)
    summary = expected["summary"]
    del summary["verdict"], summary["services"]
    del expected["failures"]
    for finding in expected["findings"]:
        del finding["attribute"], finding["group"]
    for block in expected["services"]:
        if block["population"] is not None:
            block["population"].update(reference=None, comparisons=None, flags={})
    return expected


def _numbers(value: Any, path: str = "") -> dict[str, float | None]:
    """Every number (and null, a figure that could not be computed) by its path."""
    if isinstance(value, dict):
        return {
            k: v for key, item in value.items() for k, v in _numbers(item, f"{path}.{key}").items()
        }
    if isinstance(value, list):
        return {
            k: v for i, item in enumerate(value) for k, v in _numbers(item, f"{path}[{i}]").items()
        }
    if value is None:
        return {path: None}
    if isinstance(value, bool) or not isinstance(value, int | float):
        return {}
    return {path: float(value)}


@pytest.fixture(scope="module")
def v1() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(FIXTURE.read_text("utf-8"))
    return loaded


@pytest.fixture(scope="module")
def v2() -> AuditReport:
    return _fixed_seed_audit()


def test_the_fixture_is_small_and_v1(v1: dict[str, Any]) -> None:
    assert FIXTURE.stat().st_size < 1_000_000
    assert v1["format_version"] == 1
    assert v1["overrides"]
    assert v1["suppressed"]
    assert v1["allocation"]
    assert any(c["kind"] == "intersection" for b in v1["services"] for c in b["cells"])


def test_every_number_matches_field_by_field(v1: dict[str, Any], v2: AuditReport) -> None:
    expected = _numbers(_v1_as_v2(v1))
    found = _numbers(v2.to_dict())
    assert len(expected) > 8_000
    assert sorted(set(expected) ^ set(found)) == []
    different = {
        path: (expected[path], found[path]) for path in expected if expected[path] != found[path]
    }
    assert different == {}


def test_the_whole_document_matches_the_v1_shape(v1: dict[str, Any], v2: AuditReport) -> None:
    assert v2.to_dict() == _v1_as_v2(v1)


def test_the_v1_duplicates_are_derived_in_v2(v1: dict[str, Any], v2: AuditReport) -> None:
    assert v1["summary"]["verdict"] == v2.verdict
    assert v1["summary"]["services"] == {b.service: b.verdict for b in v2.services}
    failures = _intervals_as_v2(v1["failures"])
    for finding in failures:
        assert finding.pop("attribute") == " × ".join(finding["attributes"])
        assert finding.pop("group") == " × ".join(finding["values"])
    assert failures == [f.model_dump(mode="json") for f in v2.failures]
    assert [(f["attribute"], f["group"]) for f in v1["findings"]] == [
        (f.attribute, f.group) for f in v2.findings
    ]


def test_the_v2_json_reads_back_to_the_same_report(v2: AuditReport) -> None:
    assert v2.model_dump(mode="json") == v2.to_dict()  # the JSON is the model's dump
    again = AuditReport.from_dict(json.loads(v2.to_json()))
    assert again == v2
    assert AuditReport.model_validate(v2.model_dump(mode="json")) == v2
