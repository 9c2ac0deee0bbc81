"""``tarve score``: output, sidecar, audit log, feed guard, validation, resume, pyfunc parity."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from tarve.cli import main
from tests.scoring.conftest import EXTRACT_ROWS, audit_rows

SERVICES = 12


def score(*args: str) -> int:
    return main(["score", "--no-progress", *args])


def test_scores_every_client_and_service(
    trained_model_dir: Path, extract_parquet: Path, tarve_home: Path, tmp_path: Path
) -> None:
    out = tmp_path / "scores.parquet"
    code = score(
        "--data", str(extract_parquet), "--model", str(trained_model_dir), "--out", str(out)
    )
    assert code == 0
    table = pq.read_table(out).to_pandas()
    assert len(table) == EXTRACT_ROWS * SERVICES
    assert table.groupby("client_ref")["service"].nunique().eq(SERVICES).all()
    first = table[table["client_ref"] == table["client_ref"].iloc[0]]
    assert first["rank"].tolist() == list(range(1, SERVICES + 1))
    eligible = first[first["eligible"]]
    assert eligible["probability"].is_monotonic_decreasing
    assert table.loc[~table["eligible"], "ineligibility_reason"].notna().all()
    assert not table.loc[table["recommended"], "eligible"].eq(False).any()
    reasons = table["reasons"].iloc[0]
    assert 0 < len(reasons) <= 5
    assert set(reasons[0]) == {
        "field",
        "label",
        "value",
        "value_text",
        "direction",
        "contribution",
        "text",
    }
    assert not (tmp_path / "scores.parquet.parts").exists()

    summary = json.loads((tmp_path / "scores.parquet.summary.json").read_text())
    assert summary["rows"] == EXTRACT_ROWS
    assert summary["feed_guard"]["passed"] is True
    assert summary["extract"]["fingerprint"].startswith("sha256:")
    assert set(summary["services"]) == set(table["service"].unique())
    recommended = table.groupby("service", observed=True)["recommended"].sum()
    for service, counts in summary["services"].items():
        assert counts["recommended"] == recommended[service]

    [row] = audit_rows(tarve_home)
    assert row["endpoint"] == "score"
    assert row["key_name"] == "cli:team-lead-1"
    assert row["client_ref"] is None
    details: Any = row["details"]
    assert details["rows"] == EXTRACT_ROWS
    assert details["extract_fingerprint"] == summary["extract"]["fingerprint"]
    assert "C0000001" not in json.dumps(details)  # never a client or a profile


def test_csv_with_top_k_no_reasons_and_language(
    trained_model_dir: Path, extract_csv: Path, tarve_home: Path, tmp_path: Path
) -> None:
    out = tmp_path / "scores.csv"
    args = ["--data", str(extract_csv), "--model", str(trained_model_dir), "--out", str(out)]
    assert score(*args, "--top-k", "3", "--no-reasons", "--lang", "sv") == 0
    table = pd.read_csv(out)
    assert len(table) == EXTRACT_ROWS * 3
    assert table["reasons"].isna().all()
    assert table["base_value"].isna().all()
    assert "jobbsökarträning" in set(table["service_name"])


def test_feed_guard_refuses_before_any_output(
    trained_model_dir: Path,
    extract_frame: pd.DataFrame,
    tarve_home: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from training.synth import write_register

    broken = extract_frame.copy()
    for name in (
        "work_ability_score",
        "kyky_health",
        "kyky_competence",
        "kyky_motivation",
        "kyky_life_situation",
    ):
        broken[name] = np.nan  # the Kykyviisari join failed
    data = write_register(broken, tmp_path / "broken.parquet")
    out = tmp_path / "scores.parquet"
    args = ["--data", str(data), "--model", str(trained_model_dir), "--out", str(out)]
    assert score(*args) == 3
    error = capsys.readouterr().err
    assert "source:kykyviisari" in error
    assert "source_share_with_data" in error
    assert "work_ability_score" in error
    assert "missing_share" in error
    assert not out.exists()
    assert not (tmp_path / "scores.parquet.parts").exists()
    assert not (tmp_path / "scores.parquet.summary.json").exists()
    [refused] = audit_rows(tarve_home)
    assert refused["details"]["outcome"] == "refused by the feed guard"  # type: ignore[index]

    reason = "Kykyviisari interface down this month; scored without it (ticket 123)"
    assert score(*args, "--accept-drift", reason, "--no-reasons") == 0
    summary = json.loads((tmp_path / "scores.parquet.summary.json").read_text())
    assert summary["feed_guard"]["passed"] is False
    assert summary["feed_guard"]["accepted_reason"] == reason
    assert audit_rows(tarve_home)[-1]["details"]["feed_guard"]["accepted_reason"] == reason  # type: ignore[index]


def test_invalid_extract_lists_every_problem_across_chunks_without_identity_codes(
    trained_model_dir: Path,
    extract_frame: pd.DataFrame,
    tarve_home: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from training.synth import write_register

    data = tmp_path / "bad.csv"
    write_register(extract_frame, data)
    lines = data.read_text("utf-8").splitlines()
    header = lines[0].split(",")
    age, plan = header.index("age"), header.index("plan_goal")
    for line_number, column, value in (
        (3, age, "sixty"),
        (900, age, "x"),
        (1100, plan, "131052-308T"),
    ):
        cells = lines[line_number].split(",")
        cells[column] = value
        lines[line_number] = ",".join(cells)
    data.write_text("\n".join(lines) + "\n", "utf-8")
    out = tmp_path / "scores.parquet"
    args = ["--data", str(data), "--model", str(trained_model_dir), "--out", str(out)]
    assert score(*args, "--chunk-rows", "250") == 1
    error = capsys.readouterr().err
    assert "age [wrong_type] 2 value(s) are not numbers" in error
    assert "rows: 3, 900" in error
    assert "identity codes" in error
    assert "rows: 1100" in error
    assert "131052-308T" not in error
    assert not out.exists()


def test_resume_after_interruption(
    trained_model_dir: Path,
    extract_parquet: Path,
    tarve_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import scoring.run

    out = tmp_path / "scores.parquet"
    args = [
        "--data",
        str(extract_parquet),
        "--model",
        str(trained_model_dir),
        "--out",
        str(out),
        "--chunk-rows",
        "300",
        "--no-reasons",
    ]
    real = scoring.run.rank_prepared
    calls = {"n": 0}

    def interrupted(*a: Any, **k: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(scoring.run, "rank_prepared", interrupted)
    assert score(*args) == 130
    assert not out.exists()
    assert len(list((tmp_path / "scores.parquet.parts").glob("part-*.arrow"))) == 2
    monkeypatch.setattr(scoring.run, "rank_prepared", real)
    assert score(*args, "--resume") == 0
    summary = json.loads((tmp_path / "scores.parquet.summary.json").read_text())
    assert summary["chunks_resumed"] == 2
    assert summary["chunks"] == 4
    resumed = pq.read_table(out).to_pandas()
    fresh = tmp_path / "fresh.parquet"
    assert score(*args[:-5], "--out", str(fresh), "--chunk-rows", "300", "--no-reasons") == 0
    pd.testing.assert_frame_equal(resumed, pq.read_table(fresh).to_pandas())


def test_pyfunc_and_score_give_the_same_probabilities(
    trained_model_dir: Path,
    extract_frame: pd.DataFrame,
    extract_parquet: Path,
    tarve_home: Path,
    tmp_path: Path,
) -> None:
    from types import SimpleNamespace

    from models.extract import validate_frame
    from models.pyfunc import ServiceNeedPyfunc

    out = tmp_path / "scores.parquet"
    args = ["--data", str(extract_parquet), "--model", str(trained_model_dir), "--out", str(out)]
    assert score(*args, "--no-reasons") == 0
    scored = pq.read_table(out).to_pandas()
    wide = scored.pivot(index="client_ref", columns="service", values="probability")
    pyfunc = ServiceNeedPyfunc()
    pyfunc.load_context(SimpleNamespace(artifacts={"model": str(trained_model_dir)}))
    canonical = validate_frame(extract_frame, pyfunc.model.schema, require_labels=False).frame
    assert canonical is not None
    inputs = canonical[[spec.name for spec in pyfunc.model.schema.input_fields]]
    predicted = pyfunc.predict(None, inputs.astype(object).where(inputs.notna(), None))
    predicted.index = canonical["client_ref"]
    columns = list(pyfunc.model.services)
    np.testing.assert_array_equal(
        wide.loc[predicted.index, columns].to_numpy(), predicted[columns].to_numpy()
    )


def test_chunks_kept_from_the_check_give_the_same_output(
    trained_model_dir: Path, extract_parquet: Path, tmp_path: Path
) -> None:
    from models.extract import validate_frame
    from models.ranking import prepare_frame
    from scoring import ScoreOptions, open_model, score_extract
    from scoring.prepared import PreparedChunk

    handle = open_model(trained_model_dir)
    head = pq.read_table(extract_parquet).slice(0, 300).to_pandas()
    canonical = validate_frame(head, handle.model.schema, require_labels=False).frame
    assert canonical is not None
    refs = canonical["client_ref"].to_numpy(dtype=object)
    one_chunk = PreparedChunk(0, 0, prepare_frame(handle.model, canonical), refs).nbytes
    outputs = {}
    # None kept (every chunk read and validated again), the first two, all four.
    for kept, budget in ((0, 0), (2, int(one_chunk * 2.5)), (4, 1 << 30)):
        out = tmp_path / f"kept_{kept}.parquet"
        options = ScoreOptions(reasons=2, chunk_rows=300, keep_bytes=budget)
        summary = score_extract(extract_parquet, handle, out, options=options)
        assert summary.chunks == 4
        outputs[kept] = pq.read_table(out).to_pandas()
    pd.testing.assert_frame_equal(outputs[0], outputs[2])
    pd.testing.assert_frame_equal(outputs[0], outputs[4])
