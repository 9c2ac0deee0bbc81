"""`tarve validate`: exit 0 with a profile, 1 with every problem, 2 for a broken schema."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pytest

from models.extract.problems import MSG_OUT_OF_RANGE, ProblemKind
from models.schema import load_schema
from tests.support.sample_extracts import EXTRA_COLUMN, IDENTITY_CODE, canonical_sample, text_sample
from training import cli_validate
from training.cli_validate import EXIT_INVALID_DATA, EXIT_INVALID_SCHEMA, EXIT_VALID


def run(argv: Sequence[str]) -> int:
    """Run the validate subcommand alone (the other subcommands are not needed here)."""
    parser = argparse.ArgumentParser(prog="tarve")
    cli_validate.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["validate", *argv])
    return int(args.handler(args))


@pytest.fixture
def clean_csv(tmp_path: Path) -> Path:
    path = tmp_path / "clean.csv"
    text_sample(load_schema()).to_csv(path, index=False)
    return path


@pytest.fixture
def broken_csv(tmp_path: Path) -> Path:
    frame = text_sample(load_schema())
    frame.loc[1, "age"] = "250"
    frame.loc[4, "age"] = "-3"
    frame.loc[2, "municipality"] = "Tampere"
    frame["henkilotunnus"] = ["", IDENTITY_CODE, "", "", "", ""]
    path = tmp_path / "broken.csv"
    frame.drop(columns="gender").to_csv(path, index=False)
    return path


def test_clean_csv_prints_profile_and_exits_0(
    clean_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["--data", str(clean_csv)]) == EXIT_VALID
    out = capsys.readouterr().out
    assert str(clean_csv) in out
    assert "valid: 6 rows" in out
    assert "years_in_finland" in out  # a field with missing values and its share
    assert "need_pay_subsidy" in out  # a label prevalence
    assert EXTRA_COLUMN in out  # ignored column


def test_clean_parquet_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "clean.parquet"
    canonical_sample(load_schema()).to_parquet(path, index=False)
    assert run(["--data", str(path)]) == EXIT_VALID
    assert "valid: 6 rows" in capsys.readouterr().out


def test_broken_csv_prints_every_problem_and_exits_1(
    broken_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["--data", str(broken_csv)]) == EXIT_INVALID_DATA
    out = capsys.readouterr().out
    assert "4 problem(s)" in out
    for text in (
        f"age [out_of_range] {MSG_OUT_OF_RANGE.format(count=2)}",
        "rows: 2, 5",
        "expected: between 16 and 70",
        "municipality [unknown_category]",
        "gender [missing_column]",
        "henkilotunnus [identity_code]",
    ):
        assert text in out
    assert IDENTITY_CODE not in out


def test_json_output(broken_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--data", str(broken_csv), "--json"]) == EXIT_INVALID_DATA
    out = capsys.readouterr().out
    document = json.loads(out)
    assert document["ok"] is False
    found = {(p["column"], p["kind"]) for p in document["problems"]}
    assert found == {
        ("age", ProblemKind.OUT_OF_RANGE),
        ("municipality", ProblemKind.UNKNOWN_CATEGORY),
        ("gender", ProblemKind.MISSING_COLUMN),
        ("henkilotunnus", ProblemKind.IDENTITY_CODE),
    }
    age = next(p for p in document["problems"] if p["column"] == "age")
    assert (age["count"], age["rows"], age["examples"]) == (2, [2, 5], ["250", "-3"])
    assert IDENTITY_CODE not in out


def test_json_output_when_valid(clean_csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--data", str(clean_csv), "--json"]) == EXIT_VALID
    document = json.loads(capsys.readouterr().out)
    assert document["ok"] is True
    assert document["problems"] == []
    assert document["profile"]["rows"] == 6
    assert document["profile"]["label_prevalence"]["need_pay_subsidy"] == pytest.approx(0.5)


def test_no_labels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    schema = load_schema()
    path = tmp_path / "to_score.csv"
    text_sample(schema).drop(columns=schema.label_columns).to_csv(path, index=False)
    assert run(["--data", str(path)]) == EXIT_INVALID_DATA
    assert "need_pay_subsidy [missing_column]" in capsys.readouterr().out
    assert run(["--data", str(path), "--no-labels"]) == EXIT_VALID


def _write_broken_schema(directory: Path) -> Path:
    raw = load_schema().to_dict()
    raw["fields"][1]["min"] = 99  # age: min 99 > max 70
    path = directory / "broken_schema.yaml"
    path.write_text(json.dumps(raw), encoding="utf-8")  # JSON is valid YAML
    return path


def test_broken_schema_exits_2(
    clean_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    schema_path = _write_broken_schema(tmp_path)
    assert run(["--data", str(clean_csv), "--schema", str(schema_path)]) == EXIT_INVALID_SCHEMA
    err = capsys.readouterr().err
    assert str(schema_path) in err
    assert "field 'age'" in err
    assert "greater than max" in err


def test_broken_schema_json(
    clean_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    schema_path = _write_broken_schema(tmp_path)
    argv = ["--data", str(clean_csv), "--schema", str(schema_path), "--json"]
    assert run(argv) == EXIT_INVALID_SCHEMA
    document = json.loads(capsys.readouterr().out)
    assert document["schema_error"]["path"] == str(schema_path)
    assert any("field 'age'" in problem for problem in document["schema_error"]["problems"])


def test_explicit_default_schema(clean_csv: Path) -> None:
    from models.schema import DEFAULT_SCHEMA_PATH

    assert run(["--data", str(clean_csv), "--schema", str(DEFAULT_SCHEMA_PATH)]) == EXIT_VALID


@pytest.mark.parametrize("name", ["missing.csv", "extract.xlsx"])
def test_unreadable_data_exits_1(
    tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / name
    if name.endswith(".xlsx"):
        path.write_bytes(b"PK")
    assert run(["--data", str(path)]) == EXIT_INVALID_DATA
    assert str(path) in capsys.readouterr().err


def test_registered_in_the_tarve_command(
    clean_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tarve.cli import main

    assert main(["validate", "--data", str(clean_csv)]) == EXIT_VALID
    assert "valid: 6 rows" in capsys.readouterr().out


def test_text_csv_is_not_coerced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    frame = text_sample(load_schema())
    frame.loc[0, "children_under_18"] = "3.5"
    path = tmp_path / "fraction.csv"
    frame.to_csv(path, index=False)
    assert run(["--data", str(path)]) == EXIT_INVALID_DATA
    assert "children_under_18 [wrong_type]" in capsys.readouterr().out
    assert pd.read_csv(path, dtype=str)["children_under_18"][0] == "3.5"  # file untouched


def test_synthetic_register_is_valid_and_round_trips(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from models.extract.validation import load_validated_extract, validate_frame
    from training.synth.generate import generate_register

    schema = load_schema()
    register = generate_register(300, seed=7)
    result = validate_frame(register, schema)
    assert result.frame is not None, result.problems
    pd.testing.assert_frame_equal(result.frame, register.reset_index(drop=True))
    csv_path, parquet_path = tmp_path / "synth.csv", tmp_path / "synth.parquet"
    register.to_csv(csv_path, index=False)
    register.to_parquet(parquet_path, index=False)
    from_parquet = load_validated_extract(parquet_path, schema)
    pd.testing.assert_frame_equal(from_parquet, result.frame)
    checked = [c for c in register.columns if c not in result.profile.ignored_columns]
    from_csv = load_validated_extract(csv_path, schema)
    pd.testing.assert_frame_equal(from_csv[checked], result.frame[checked])
    assert run(["--data", str(csv_path)]) == EXIT_VALID
    assert "valid: 300 rows" in capsys.readouterr().out
