"""``tarve score`` answers exactly as the API does, for 1,000 clients of an extract."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from tests.scoring.parity import api_batch, score_file

CLIENTS = 1000


def test_batch_scoring_equals_the_api_for_1000_clients(
    trained_model_dir: Path,
    extract_frame: pd.DataFrame,
    tarve_home: Path,
    tmp_path: Path,
) -> None:
    from training.synth import write_register

    subset = extract_frame.iloc[:CLIENTS]
    data = write_register(subset, tmp_path / "subset.parquet")
    scored = score_file(data, trained_model_dir, tmp_path / "scores.parquet", chunk_rows=400)
    results = api_batch(trained_model_dir, subset, tmp_path)

    by_client = {ref: group for ref, group in scored.groupby("client_ref", sort=False)}
    for result in results:
        rows = by_client[result["client_ref"]].sort_values("rank")
        assert rows["service"].tolist() == [s["service"] for s in result["suggestions"]]
        for (_, row), suggestion in zip(rows.iterrows(), result["suggestions"], strict=True):
            assert row["sources_used"].split(",") == result["sources_used"]
            assert row["service_name"] == suggestion["name"]
            assert row["probability"] == suggestion["probability"]
            assert row["recommended"] == suggestion["recommended"]
            assert row["eligible"] == suggestion["eligible"]
            reason = row["ineligibility_reason"]
            assert (None if pd.isna(reason) else reason) == suggestion["ineligibility_reason"]
            assert row["raw_score"] == suggestion["raw_score"]
            assert row["base_value"] == suggestion["base_value"]
            reasons = [
                {**item, "value": json.loads(item["value"])} for item in row["reasons"].tolist()
            ]
            assert reasons == suggestion["reasons"]
