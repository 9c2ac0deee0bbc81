"""Auditing a trained tarve model: ``audit_model`` and ``tarve audit --model --data``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fairness import AuditReport, Policy, audit_model
from fairness import cli as fairness_cli
from models import ServiceNeedModel
from models.rules import evaluate_rule
from tarve.cli import main


@pytest.fixture(scope="module")
def model(trained_model_dir: Path) -> ServiceNeedModel:
    return ServiceNeedModel.load(trained_model_dir)


@pytest.fixture(scope="module")
def extract(small_register: pd.DataFrame) -> pd.DataFrame:
    return small_register.iloc[:2500].reset_index(drop=True)


@pytest.fixture(scope="module")
def model_report(model: ServiceNeedModel, extract: pd.DataFrame) -> AuditReport:
    return audit_model(model, extract, policy=Policy(bootstrap_replicates=20))


def test_audit_model_audits_every_service_and_schema_group(
    model: ServiceNeedModel, model_report: AuditReport
) -> None:
    data = model_report.to_dict()
    assert model_report.service_ids == model.services
    assert data["data"]["attributes"] == [group.name for group in model.schema.audit_groups]
    assert data["model"]["name"] == model.name
    assert data["model"]["version"] == model.version
    assert data["data"]["fingerprint"].startswith("sha256:")
    assert data["services"][0]["label"] == model.schema.labels[0].label.model_dump()
    assert data["allocation"] is not None
    assert data["verdict"] in ("pass", "fail", "uncertain")


def test_services_are_audited_on_eligible_clients(
    model: ServiceNeedModel, model_report: AuditReport, extract: pd.DataFrame
) -> None:
    spec = model.schema.label_by_name["youth_guidance"]
    assert spec.eligibility is not None
    eligible = evaluate_rule(spec.eligibility.rule, extract)
    block = model_report.service("youth_guidance")
    assert block.population is not None
    assert block.population.n == int(np.sum(eligible))
    assert model_report.cell("youth_guidance", under_30="no") is None
    everyone = model_report.service("job_search_coaching").population
    assert everyone is not None
    assert everyone.n == len(extract)


def test_the_scores_are_the_models(
    model: ServiceNeedModel, model_report: AuditReport, extract: pd.DataFrame
) -> None:
    scores = model.predict_proba(extract)
    population = model_report.service("job_search_coaching").population
    assert population is not None
    assert population.metrics.mean_score.value == pytest.approx(
        scores["job_search_coaching"].mean(), abs=1e-5
    )
    recommended = model.recommended(scores)["job_search_coaching"].mean()
    assert population.metrics.selection_rate.value == pytest.approx(recommended, abs=1e-5)


def test_tarve_audit_with_a_model_directory(
    trained_model_dir: Path,
    extract: pd.DataFrame,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = tmp_path / "holdout.parquet"
    extract.to_parquet(data, index=False)
    out = tmp_path / "audit"
    status = main(
        ["audit", "--model", str(trained_model_dir), "--data", str(data), "--out", str(out)]
    )
    printed = capsys.readouterr().out
    assert status == fairness_cli.EXIT_OK
    assert printed.startswith("verdict: ")
    report = json.loads((out / "audit.json").read_text("utf-8"))
    assert report["data"]["source"] == "holdout.parquet"
    assert report["model"]["model_uri"] == str(trained_model_dir)
    assert (out / "audit.html").is_file()
