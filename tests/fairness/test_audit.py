"""The audit engine: flags, verdicts, references, populations, allocation, input checks."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from fairness import AuditReport, Policy, run_audit
from fairness import audit as audit_module

from .conftest import Predictions, simulate

FAST = Policy(bootstrap_replicates=0)


def _audit(data: Predictions, policy: Policy = FAST, **kwargs: object) -> AuditReport:
    return run_audit(
        labels=data.labels,
        scores=data.scores,
        decisions=data.decisions,
        groups=data.groups,
        policy=policy,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def biased_report(biased_predictions: Predictions) -> AuditReport:
    return _audit(biased_predictions, metadata={"name": "demo-model", "version": "4"})


def test_a_miscalibrated_group_fails(biased_report: AuditReport) -> None:
    assert biased_report.verdict == "fail"
    cell = biased_report.cell("training", immigrant="yes")
    assert cell is not None
    gap = cell.flags["calibration_gap"]
    assert gap.status == "fail"
    assert gap.value is not None
    assert gap.value > 0.05
    failing = {(f.service, f.attribute, f.group, f.metric) for f in biased_report.failures}
    assert ("training", "immigrant", "yes", "calibration_gap") in failing
    assert all(f.service == "training" for f in biased_report.failures)
    first = biased_report.failures[0]
    for key in ("service", "attribute", "group", "metric", "value", "interval", "tolerance"):
        assert hasattr(first, key)
    low, high = first.interval.bounds
    assert low is not None
    assert high is not None
    assert first.value is not None
    assert low <= first.value <= high


def test_a_fair_model_does_not_fail(fair_predictions: Predictions) -> None:
    report = _audit(fair_predictions)
    assert report.failures == []
    assert report.verdict in ("pass", "uncertain")
    assert report.summary.checks.fail == 0


def test_every_cell_has_metrics_with_intervals(biased_report: AuditReport) -> None:
    block = biased_report.service("coaching")
    population = block.population
    assert population is not None
    assert population.n == 6000
    cells = block.cells
    kinds = {cell.kind for cell in cells}
    assert kinds == {"group", "intersection"}
    # 3 attributes: 2 + 2 + 3 group cells; pairs: 2*2 + 2*3 + 2*3 intersection cells.
    assert sum(c.kind == "group" for c in cells) == 7
    assert sum(c.kind == "intersection" for c in cells) == 16
    for cell in cells:
        for metric, estimate in cell.metrics:
            if metric == "ece":
                continue  # no bootstrap in this fixture
            low, high = estimate.interval.bounds
            assert low is not None, metric
            assert high is not None, metric
            assert low <= estimate.value <= high + 1e-9, (metric, estimate)
        assert set(cell.flags) == {
            "selection_rate_ratio",
            "tpr_gap",
            "fpr_gap",
            "calibration_gap",
        }
        assert (cell.comparisons is not None) == (cell.kind == "group")


def test_ece_has_a_bootstrap_interval(fair_predictions: Predictions) -> None:
    report = _audit(fair_predictions, Policy(intersections=False, bootstrap_replicates=100))
    cell = report.cell("coaching", gender="female")
    assert cell is not None
    ece = cell.metrics.ece
    assert ece.interval.low is not None
    assert ece.interval.high is not None
    assert 0 <= ece.interval.low < ece.interval.high < 0.2
    again = _audit(fair_predictions, Policy(intersections=False, bootstrap_replicates=100))
    again_cell = again.cell("coaching", gender="female")
    assert again_cell is not None
    assert again_cell.metrics.ece == ece


def test_flags_use_bonferroni_intervals_unless_told_not_to(fair_predictions: Predictions) -> None:
    adjusted = _audit(fair_predictions).method
    plain = _audit(fair_predictions, Policy(multiplicity="none", bootstrap_replicates=0))
    assert adjusted.flag_confidence > 0.999
    assert adjusted.gating_checks > 50
    assert plain.method.flag_confidence == 0.95
    wide = _audit(fair_predictions).cell("coaching", immigrant="yes")
    narrow = plain.cell("coaching", immigrant="yes")
    assert wide is not None
    assert narrow is not None
    wide_low, wide_high = wide.flags["tpr_gap"].interval.bounds
    narrow_low, narrow_high = narrow.flags["tpr_gap"].interval.bounds
    assert wide_low is not None
    assert wide_high is not None
    assert narrow_low is not None
    assert narrow_high is not None
    assert wide_low < narrow_low
    assert wide_high > narrow_high
    # The table's comparison interval stays at the stated 95 %.
    assert wide.comparisons is not None
    assert list(wide.comparisons.tpr.difference.interval.bounds) == pytest.approx(
        [narrow_low, narrow_high], abs=1e-5
    )


def test_gap_sides_disadvantage_flags_one_direction(biased_predictions: Predictions) -> None:
    report = _audit(biased_predictions)
    yes = report.cell("training", immigrant="yes")
    no = report.cell("training", immigrant="no")
    assert yes is not None
    assert no is not None
    # Overstated need for immigrants: higher FPR than the rest (flagged), and the mirror
    # image for non-immigrants (a lower FPR is not a disadvantage).
    yes_gap, no_gap = yes.flags["fpr_gap"].value, no.flags["fpr_gap"].value
    assert yes_gap is not None
    assert no_gap is not None
    assert yes_gap > 0 > no_gap
    assert no.flags["fpr_gap"].status == "pass"
    both = _audit(biased_predictions, Policy(gap_sides="both", fpr_gap_max=0.01))
    no_both = both.cell("training", immigrant="no")
    assert no_both is not None
    assert no_both.flags["fpr_gap"].status != "pass"


def test_small_cells_are_suppressed_in_json() -> None:
    data = simulate(3000, seed=7, tiny_group=12)
    report = _audit(data)
    payload = report.to_dict()
    listed = {(tuple(s["attributes"]), tuple(s["values"])) for s in payload["suppressed"]}
    assert (("gender",), ("other",)) in listed
    assert (("immigrant", "gender"), ("no", "other")) in listed
    for entry in payload["suppressed"]:
        assert set(entry) == {"attributes", "values", "services"}  # no figures at all
        assert entry["services"] == ["coaching", "training", "subsidy", "guidance"]
    for block in payload["services"]:
        for cell in block["cells"]:
            assert "other" not in cell["values"]
            assert cell["n"] >= 20
    for finding in payload["findings"]:
        assert "other" not in finding["values"]
    for group in payload["allocation"]["groups"]:
        assert "other" not in group["values"]


def test_comparisons_are_withheld_when_the_reference_is_small() -> None:
    data = simulate(400, seed=8)
    data.groups["veteran"] = "no"
    data.groups.loc[data.groups.index[:15], "veteran"] = "yes"
    report = _audit(data, Policy(intersections=False, bootstrap_replicates=0))
    cell = report.cell("coaching", veteran="no")
    assert cell is not None
    assert cell.comparisons is None
    assert cell.flags == {}
    assert cell.reference is not None
    assert cell.reference.n is None
    assert report.cell("coaching", veteran="yes") is None


def test_missing_labels_leave_rows_out_of_that_service(fair_predictions: Predictions) -> None:
    data = fair_predictions
    labels = data.labels.astype("float64")
    only_young = data.groups["age_band"].eq("16-29")
    labels.loc[~only_young, "guidance"] = np.nan
    report = run_audit(
        labels=labels,
        scores=data.scores,
        decisions=data.decisions,
        groups=data.groups,
        policy=FAST,
    )
    block = report.service("guidance")
    assert block.population is not None
    assert block.population.n == int(only_young.sum())
    assert report.cell("guidance", age_band="30-54") is None  # empty, not suppressed
    suppressed = [s for s in report.suppressed if "guidance" in s.services]
    assert suppressed == []
    young = report.cell("guidance", age_band="16-29")
    assert young is not None
    assert young.flags == {}


@pytest.mark.parametrize("reference", ["overall", "largest"])
def test_reference_groups(fair_predictions: Predictions, reference: str) -> None:
    data = fair_predictions
    report = _audit(data, Policy(reference=reference, bootstrap_replicates=0))  # type: ignore[arg-type]
    cell = report.cell("coaching", age_band="55+")
    assert cell is not None
    members = data.groups["age_band"].eq("55+")
    labels = data.labels["coaching"]
    if reference == "overall":
        expected = labels[members].mean() - labels.mean()
    else:
        largest = str(data.groups["age_band"].value_counts().idxmax())
        expected = labels[members].mean() - labels[data.groups["age_band"].eq(largest)].mean()
        biggest = report.cell("coaching", age_band=largest)
        assert biggest is not None
        assert biggest.reference is not None
        assert biggest.reference.is_reference
        assert biggest.flags == {}
    assert cell.comparisons is not None
    difference = cell.comparisons.base_rate.difference.value
    assert difference == pytest.approx(expected, abs=1e-5)


def test_allocation_view(fair_predictions: Predictions) -> None:
    data = fair_predictions
    report = _audit(data, top_k=2)
    allocation = report.to_dict()["allocation"]
    assert allocation["top_k"] == 2
    population = allocation["groups"][0]
    assert population["kind"] == "population"
    shares = [item["top_k_share"]["value"] for item in population["services"].values()]
    assert sum(shares) == pytest.approx(2.0, abs=1e-4)
    ranks = data.scores.rank(axis=1, ascending=False, method="first") <= 2
    young = data.groups["age_band"].eq("16-29")
    group = next(g for g in allocation["groups"] if g["values"] == ["16-29"])
    item = group["services"]["training"]
    assert item["top_k_share"]["value"] == pytest.approx(
        ranks.loc[young, "training"].mean(), abs=1e-5
    )
    assert item["need_rate"]["value"] == pytest.approx(
        data.labels.loc[young, "training"].mean(), abs=1e-5
    )
    skipped = _audit(data, top_k=4).to_dict()
    assert skipped["allocation"] is None
    assert "top_k=4" in skipped["allocation_note"]


def test_the_report_is_reproducible(fair_predictions: Predictions) -> None:
    first = _audit(fair_predictions, Policy(bootstrap_replicates=50)).to_dict()
    second = _audit(fair_predictions, Policy(bootstrap_replicates=50)).to_dict()
    first.pop("created_at")
    second.pop("created_at")
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    assert first["data"]["fingerprint"].startswith("sha256:")


def test_input_errors_have_clear_messages(fair_predictions: Predictions) -> None:
    data = fair_predictions
    bad_labels = data.labels.copy()
    bad_labels.iloc[0, 0] = 2
    with pytest.raises(ValueError, match="must be 0/1"):
        run_audit(
            labels=bad_labels, scores=data.scores, decisions=data.decisions, groups=data.groups
        )
    bad_scores = data.scores.copy()
    bad_scores.iloc[0, 1] = 1.5
    with pytest.raises(ValueError, match=r"must be probabilities in \[0, 1\]"):
        run_audit(
            labels=data.labels, scores=bad_scores, decisions=data.decisions, groups=data.groups
        )
    with pytest.raises(ValueError, match="expected the label columns"):
        run_audit(
            labels=data.labels,
            scores=data.scores.drop(columns="coaching"),
            decisions=data.decisions,
            groups=data.groups,
        )
    with pytest.raises(ValueError, match="does not have the same index"):
        run_audit(
            labels=data.labels,
            scores=data.scores.set_axis(data.scores.index + 1),
            decisions=data.decisions,
            groups=data.groups,
        )
    with pytest.raises(ValueError, match=audit_module.MSG_NO_GROUPS):
        run_audit(
            labels=data.labels,
            scores=data.scores,
            decisions=data.decisions,
            groups=pd.DataFrame(index=data.labels.index),
        )
    with pytest.raises(TypeError, match="must be a pandas DataFrame"):
        run_audit(
            labels=data.labels.to_numpy(),  # type: ignore[arg-type]
            scores=data.scores,
            decisions=data.decisions,
            groups=data.groups,
        )
