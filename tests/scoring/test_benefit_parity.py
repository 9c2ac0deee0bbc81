"""``tarve score`` writes the API's expected benefit, and sums it up in the sidecar."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from tarve.cli import main
from tests.scoring.parity import api_batch, score_file

CLIENTS = 300


def test_score_and_the_api_give_the_same_benefit(
    trained_effects_dir: Path, extract_frame: pd.DataFrame, tarve_home: Path, tmp_path: Path
) -> None:
    from training.synth import write_register

    subset = extract_frame.iloc[:CLIENTS]
    data = write_register(subset, tmp_path / "subset.parquet")
    out = tmp_path / "scores.parquet"
    scored = score_file(data, trained_effects_dir, out, chunk_rows=120)

    results = api_batch(trained_effects_dir, subset, tmp_path)

    by_pair = scored.set_index(["client_ref", "service"])
    statuses: dict[str, int] = {}
    for result in results:
        for suggestion in result["suggestions"]:
            row = by_pair.loc[(result["client_ref"], suggestion["service"])]
            benefit = suggestion["expected_benefit"]
            status = "estimated" if benefit["status"] == "estimated" else benefit["reason_code"]
            assert row["benefit_status"] == status
            statuses[status] = statuses.get(status, 0) + 1
            if status == "estimated":
                assert row["benefit_estimate"] == benefit["estimate"]
                assert row["benefit_low"] == benefit["interval"]["low"]
                assert row["benefit_high"] == benefit["interval"]["high"]
            else:
                assert math.isnan(row["benefit_estimate"])
                assert math.isnan(row["benefit_low"])
                assert math.isnan(row["benefit_high"])
    assert statuses.get("estimated", 0) > 0
    assert statuses.get("no_effect_model", 0) > 0

    sidecar = json.loads(out.with_name(out.name + ".summary.json").read_text("utf-8"))
    for service, group in scored.groupby("service", observed=True):
        counts = sidecar["services"][service]
        estimated = group[group["benefit_status"] == "estimated"]
        assert counts["benefit_estimated"] == len(estimated)
        seen = group["benefit_status"].astype(str).value_counts()
        assert counts["benefit_statuses"] == {str(k): int(n) for k, n in seen.items()}
        if len(estimated):
            assert math.isclose(
                counts["mean_benefit"], estimated["benefit_estimate"].mean(), rel_tol=1e-9
            )
        else:
            assert counts["mean_benefit"] is None


def test_a_model_without_effect_models_writes_no_effect_model(
    trained_model_dir: Path, extract_csv: Path, tarve_home: Path, tmp_path: Path
) -> None:
    data = extract_csv
    out = tmp_path / "scores.csv"
    code = main(
        [
            "score",
            "--no-progress",
            "--data",
            str(data),
            "--model",
            str(trained_model_dir),
            "--out",
            str(out),
        ]
    )
    assert code == 0
    scored = pd.read_csv(out)
    assert set(scored["benefit_status"]) == {"no_effect_model"}
    assert scored["benefit_estimate"].isna().all()
    sidecar = json.loads(out.with_name(out.name + ".summary.json").read_text("utf-8"))
    for counts in sidecar["services"].values():
        assert counts["benefit_estimated"] == 0
        assert counts["mean_benefit"] is None
