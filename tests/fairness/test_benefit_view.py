"""The benefit view: benefit by group, and who gets each service under a benefit or need rule."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fairness import AuditReport, Policy, render_html, run_audit
from fairness.benefit import NOTE_NO_EFFECTS, BenefitInputs
from fairness.report import FORMAT_VERSION
from models.allocation import allocate

from .conftest import simulate

SERVICES = ("coaching", "training", "subsidy", "guidance")


@pytest.fixture(scope="module")
def audited() -> tuple[AuditReport, BenefitInputs, pd.DataFrame]:
    data = simulate(3000, seed=11, services=SERVICES, tiny_group=12)
    rng = np.random.default_rng(3)
    rows = len(data.labels)
    # Immigrants benefit more from "training"; a third of the pairs are not estimable.
    estimate = rng.normal(0.02, 0.03, (rows, 2))
    estimate[:, 1] += np.where(data.groups["immigrant"].eq("yes"), 0.05, 0.0)
    estimate[rng.random((rows, 2)) < 0.3] = np.nan
    need = data.scores[["coaching", "training"]].to_numpy()
    inputs = BenefitInputs(
        services=["coaching", "training"],
        estimate=estimate,
        need=need,
        capacity=np.array([400, 300]),
    )
    report = run_audit(
        labels=data.labels,
        scores=data.scores,
        decisions=data.decisions,
        groups=data.groups,
        policy=Policy(min_group_size=30),
        benefit=inputs,
    )
    return report, inputs, data.groups


def test_group_figures_equal_a_direct_computation(
    audited: tuple[AuditReport, BenefitInputs, pd.DataFrame],
) -> None:
    report, inputs, groups = audited
    view = report.benefit
    assert view is not None
    assert view.capacity == {"coaching": 400, "training": 300}
    by_need = allocate(inputs.need, inputs.capacity)
    by_benefit = allocate(inputs.estimate, inputs.capacity, positive_only=True)
    member = groups["immigrant"].eq("yes").to_numpy()
    [group] = [g for g in view.groups if g.attributes == ["immigrant"] and g.values == ["yes"]]
    assert group.n == member.sum()
    for column, service in enumerate(inputs.services):
        share = group.services[service]
        values = inputs.estimate[member, column]
        known = values[~np.isnan(values)]
        assert share.estimable == len(known)
        assert share.mean_benefit.value == pytest.approx(known.mean(), abs=1e-5)
        half = 1.959964 * known.std(ddof=1) / np.sqrt(len(known))
        assert share.mean_benefit.interval.low == pytest.approx(known.mean() - half, abs=1e-5)
        assert share.mean_benefit.interval.high == pytest.approx(known.mean() + half, abs=1e-5)
        need_share = (by_need[member] == column).mean()
        benefit_share = (by_benefit[member] == column).mean()
        assert share.need_rule_share.value == pytest.approx(need_share, abs=1e-5)
        assert share.benefit_rule_share.value == pytest.approx(benefit_share, abs=1e-5)
        assert share.difference.value == pytest.approx(benefit_share - need_share, abs=1e-5)
        low, high = share.benefit_rule_share.interval.bounds
        assert low is not None
        assert high is not None
        assert low <= benefit_share <= high
    # The benefit rule moves "training" towards the group that gains more from it.
    assert group.services["training"].difference.value > 0
    population = view.groups[0]
    assert population.kind == "population"
    assert population.n == len(groups)
    # Within capacity: nobody gets more than one service, no service beyond its capacity.
    assert (np.bincount(by_benefit[by_benefit >= 0], minlength=2) <= inputs.capacity).all()


def test_small_groups_are_suppressed_and_pairs_left_out(
    audited: tuple[AuditReport, BenefitInputs, pd.DataFrame],
) -> None:
    report, _, _ = audited
    view = report.benefit
    assert view is not None
    assert {"attributes": ["gender"], "values": ["other"]} in [
        cell.model_dump() for cell in view.suppressed
    ]
    assert all(len(group.attributes) <= 1 for group in view.groups)
    assert not [g for g in view.groups if g.values == ["other"]]


def test_the_view_survives_json_and_renders_in_every_language(
    audited: tuple[AuditReport, BenefitInputs, pd.DataFrame],
) -> None:
    report, _, _ = audited
    data = json.loads(report.to_json())
    assert data["format_version"] == FORMAT_VERSION == 3
    again = AuditReport.from_dict(data)
    assert again.benefit == report.benefit
    titles = {
        "fi": "Odotettu hyöty",
        "sv": "Förväntad nytta",
        "en": "Expected benefit",
    }
    rules = {"fi": "hyötysääntö", "sv": "nyttoregel", "en": "benefit rule"}
    for lang, title in titles.items():
        page = render_html(report, lang=lang)
        section = page[page.index("id='benefit'") : page.index("id='suppressed'")]
        assert title in section
        assert rules[lang] in section
        assert "<table class='alloc benefit'>" in section


def test_a_version_2_report_is_still_read(
    audited: tuple[AuditReport, BenefitInputs, pd.DataFrame],
) -> None:
    report, _, _ = audited
    old = report.to_dict()
    old["format_version"] = 2
    del old["benefit"], old["benefit_note"]
    read = AuditReport.from_dict(old)
    assert read.benefit is None
    assert read.services == report.services
    assert "id='benefit'" in render_html(read, lang="en")
    with pytest.raises(ValueError, match="format version 1"):
        AuditReport.from_dict({**old, "format_version": 1})


def test_inputs_that_do_not_agree_are_refused() -> None:
    with pytest.raises(ValueError, match=r"need has shape \(3, 1\); expected \(3, 2\)"):
        BenefitInputs(
            services=["a", "b"],
            estimate=np.zeros((3, 2)),
            need=np.zeros((3, 1)),
            capacity=np.array([1, 1]),
        )


def test_a_trained_model_with_effects_audits_its_benefit(trained_effects_dir: Path) -> None:
    from fairness import audit_model
    from models.model import ServiceNeedModel
    from training.synth import generate_register

    stored = AuditReport.from_dict(
        json.loads((trained_effects_dir / "fairness_audit.json").read_text("utf-8"))
    )
    assert stored.benefit is not None
    assert stored.benefit_note is None
    model = ServiceNeedModel.load(trained_effects_dir)
    assert model.effects is not None
    assert stored.benefit.services == sorted(model.effects.effects, key=model.services.index)
    frame = generate_register(2500, seed=31, schema=model.schema)
    report = audit_model(model, frame, policy=stored.policy)
    assert report.benefit is not None
    received = frame[str(model.schema.treatment_column)].astype(str)
    assert report.benefit.capacity == {
        service: int((received == service).sum()) for service in report.benefit.services
    }
    model.effects = None
    assert audit_model(model, frame, policy=stored.policy).benefit_note == NOTE_NO_EFFECTS


@pytest.mark.browser
def test_a_crowded_benefit_view_fits_at_1400_px(tmp_path: Path) -> None:
    import re

    from . import test_browser as browser

    if browser.CHROMIUM is None:
        pytest.skip("headless Chromium is not installed (apt-get install chromium)")
    data = simulate(4000, seed=12, services=browser.SERVICES)
    rng = np.random.default_rng(8)
    rows, services = len(data.labels), list(browser.SERVICES)
    estimate = rng.normal(0.03, 0.04, (rows, len(services)))
    names = {
        service: {
            "fi": f"Pitkä palvelun nimi numero {i} työllisyyspalveluista",
            "sv": f"Ett långt tjänstenamn nummer {i}",
            "en": f"A long public employment service name number {i}",
        }
        for i, service in enumerate(services)
    }
    report = run_audit(
        labels=data.labels,
        scores=data.scores,
        decisions=data.decisions,
        groups=data.groups,
        policy=Policy(bootstrap_replicates=0),
        service_labels=names,
        benefit=BenefitInputs(
            services=services,
            estimate=estimate,
            need=data.scores[services].to_numpy(),
            capacity=np.full(len(services), rows // (2 * len(services))),
        ),
    )
    page = render_html(report, lang="fi")
    measured = tmp_path / "measured.html"
    measured.write_text(page.replace("</body>", browser.MEASURE + "</body>"), "utf-8")
    dom = browser._chromium(
        "--dump-dom",
        f"--window-size={browser.AUDITOR_WIDTH},1000",
        measured.resolve().as_uri(),
        profile=tmp_path / "profile",
    )
    found = re.search(r"<pre id=\"measured\">(.*?)</pre>", dom, re.S)
    assert found, dom[-2000:]
    result = json.loads(found.group(1).replace("&gt;", ">").replace("&amp;", "&"))
    assert "alloc benefit" in page
    assert result["scrollWidth"] <= browser.AUDITOR_WIDTH
    assert result["wider"] == []
