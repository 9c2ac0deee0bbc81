"""Auditing any system's predictions file, through the API and ``tarve audit``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from fairness import Policy, audit_predictions_file
from fairness import audit as audit_module
from fairness import cli as fairness_cli
from tarve.cli import main

from .conftest import simulate


@pytest.fixture(scope="module")
def prediction_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One wide CSV (one service) and one long Parquet file (two services)."""
    folder = tmp_path_factory.mktemp("predictions")
    data = simulate(
        4000, seed=11, services=("a", "b"), miscalibrate={("b", "immigrant", "yes"): 0.5}
    )
    wide = data.groups.assign(
        need=data.labels["a"], score=data.scores["a"], recommended=data.decisions["a"]
    )
    wide.to_csv(folder / "wide.csv", index=False)
    long = pd.concat(
        [
            data.groups.assign(
                service=name,
                need=data.labels[name],
                score=data.scores[name],
                recommended=data.decisions[name],
            )
            for name in ("a", "b")
        ],
        ignore_index=True,
    )
    long.to_parquet(folder / "long.parquet", index=False)
    return {"wide": folder / "wide.csv", "long": folder / "long.parquet"}


def test_a_wide_csv(prediction_files: dict[str, Path]) -> None:
    report = audit_predictions_file(
        prediction_files["wide"],
        label="need",
        score="score",
        threshold=0.3,
        group_columns=["immigrant", "gender"],
        policy=Policy(bootstrap_replicates=0),
    )
    assert report.service_ids == ["need"]
    data = report.to_dict()
    assert data["data"]["source"] == "wide.csv"
    assert data["data"]["fingerprint"].startswith("sha256:")
    assert data["data"]["attributes"] == ["immigrant", "gender"]
    assert data["allocation"] is None
    assert report.failures == []
    by_decision = audit_predictions_file(
        prediction_files["wide"],
        label="need",
        score="score",
        decision="recommended",
        group_columns=["immigrant", "gender"],
        policy=Policy(bootstrap_replicates=0),
    )
    first = report.cell("need", immigrant="yes")
    second = by_decision.cell("need", immigrant="yes")
    assert first is not None
    assert second is not None
    assert first.metrics.selection_rate == second.metrics.selection_rate


def test_a_long_file_with_a_service_column(prediction_files: dict[str, Path]) -> None:
    report = audit_predictions_file(
        prediction_files["long"],
        label="need",
        score="score",
        decision="recommended",
        group_columns=["immigrant", "age_band"],
        service="service",
        policy=Policy(bootstrap_replicates=0),
    )
    assert report.service_ids == ["a", "b"]
    population = report.service("a").population
    assert population is not None
    assert population.n == 4000
    assert {f.service for f in report.failures} == {"b"}
    assert any(f.group == "yes" and f.metric == "calibration_gap" for f in report.failures)


def test_file_errors(prediction_files: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=re.escape(audit_module.MSG_DECISION_OR_THRESHOLD)):
        audit_predictions_file(
            prediction_files["wide"], label="need", score="score", group_columns=["gender"]
        )
    with pytest.raises(ValueError, match=r"has no column\(s\) \['sex'\]"):
        audit_predictions_file(
            prediction_files["wide"],
            label="need",
            score="score",
            threshold=0.5,
            group_columns=["sex"],
        )
    words = tmp_path / "words.csv"
    pd.DataFrame({"need": ["yes", "no"], "score": [0.1, 0.2], "g": ["a", "b"]}).to_csv(
        words, index=False
    )
    with pytest.raises(ValueError, match=r"labels of 'need' must be 0/1 \(or missing\)"):
        audit_predictions_file(
            words, label="need", score="score", threshold=0.5, group_columns=["g"]
        )
    other = tmp_path / "predictions.xlsx"
    other.write_text("x")
    with pytest.raises(ValueError, match=r"expected a \.csv or \.parquet file"):
        audit_predictions_file(
            other, label="need", score="score", threshold=0.5, group_columns=["g"]
        )


def test_tarve_audit_predictions(
    prediction_files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report"
    status = main(
        [
            "audit",
            "--predictions",
            str(prediction_files["long"]),
            "--label",
            "need",
            "--score",
            "score",
            "--decision",
            "recommended",
            "--group",
            "immigrant",
            "--group",
            "gender",
            "--service-column",
            "service",
            "--out",
            str(out),
        ]
    )
    printed = capsys.readouterr().out
    assert status == fairness_cli.EXIT_OK
    assert printed.startswith("verdict: fail")
    assert "  b: immigrant=yes: calibration gap" in printed
    assert json.loads((out / "audit.json").read_text("utf-8"))["verdict"] == "fail"
    assert (out / "audit.html").read_text("utf-8").startswith("<!DOCTYPE html>")
    strict = main(
        [
            "audit",
            "--predictions",
            str(prediction_files["wide"]),
            "--label",
            "need",
            "--score",
            "score",
            "--threshold",
            "0.3",
            "--group",
            "immigrant",
            "--out",
            str(tmp_path / "strict"),
            "--fail-on",
            "uncertain",
        ]
    )
    assert strict in (fairness_cli.EXIT_OK, fairness_cli.EXIT_FAIL)


def test_tarve_audit_with_a_policy_file(
    prediction_files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "lenient.yaml"
    policy.write_text("calibration_gap_max: 0.5\nfpr_gap_max: 0.5\n")
    args = [
        "audit",
        "--predictions",
        str(prediction_files["long"]),
        "--label",
        "need",
        "--score",
        "score",
        "--threshold",
        "0.3",
        "--group",
        "immigrant",
        "--service-column",
        "service",
        "--out",
        str(tmp_path / "out"),
        "--fail-on",
        "fail",
    ]
    assert main([*args, "--policy", str(policy)]) == fairness_cli.EXIT_OK
    assert main(args) == fairness_cli.EXIT_FAIL
    capsys.readouterr()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--predictions", "x.csv", "--model", "m"], fairness_cli.MSG_MODE),
        (["--model", "m"], fairness_cli.MSG_MODE),
        (["--predictions", "x.csv", "--label", "y"], fairness_cli.MSG_PREDICTIONS_ARGS),
        (
            ["--predictions", "x.csv", "--label", "y", "--score", "s", "--group", "g"],
            fairness_cli.MSG_DECISION_ARGS,
        ),
    ],
)
def test_tarve_audit_usage_errors(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", *args]) == fairness_cli.EXIT_USAGE
    assert message in capsys.readouterr().err


def test_tarve_audit_writes_the_report_in_the_chosen_language(
    prediction_files: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "fi"
    arguments = ["audit", "--predictions", str(prediction_files["wide"]), "--label", "need"]
    arguments += ["--score", "score", "--threshold", "0.5", "--group", "immigrant"]
    assert main([*arguments, "--out", str(out), "--lang", "fi"]) == fairness_cli.EXIT_OK
    page = (out / "audit.html").read_text("utf-8")
    assert "<html lang='fi'>" in page
    assert "Reiluustarkastus" in page
    with pytest.raises(SystemExit):
        main([*arguments, "--out", str(out), "--lang", "de"])
