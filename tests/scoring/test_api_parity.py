"""``tarve score`` answers exactly as the API does, for 1,000 clients of an extract."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
from fastapi.testclient import TestClient

from models.extract import validate_frame
from models.schema import Schema
from service.app import create_app
from service.auth import Role, create_key
from service.request_model import request_fields
from service.settings import Settings
from tarve.cli import main

CLIENTS = 1000
CONSENT_SOURCES = ("kykyviisari", "health", "language_test")


def _request_value(value: Any, kind: str) -> Any:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if kind == "integer":
        return int(value)
    if kind == "number":
        return float(value)
    if kind == "boolean":
        return bool(value)
    if kind == "date":
        return pd.Timestamp(value).date().isoformat()
    return value


def api_clients(frame: pd.DataFrame, schema: Schema) -> list[dict[str, Any]]:
    specs = request_fields(schema)
    clients = []
    for row in frame.to_dict("records"):
        profile = {
            spec.name: value
            for spec in specs
            if (value := _request_value(row[spec.name], spec.type)) is not None
        }
        consents = [
            source
            for source in CONSENT_SOURCES
            if bool(row[str(schema.sources[source].consent_column)])
        ]
        clients.append({"client_ref": row["client_ref"], "consents": consents, "profile": profile})
    return clients


def test_batch_scoring_equals_the_api_for_1000_clients(
    trained_model_dir: Path,
    extract_frame: pd.DataFrame,
    tarve_home: Path,
    tmp_path: Path,
) -> None:
    from training.synth import write_register

    subset = extract_frame.iloc[:CLIENTS]
    data = write_register(subset, tmp_path / "subset.parquet")
    out = tmp_path / "scores.parquet"
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
            "--lang",
            "en",
            "--chunk-rows",
            "400",
        ]
    )
    assert code == 0
    scored = pq.read_table(out).to_pandas()

    settings = Settings(
        model_uri=str(trained_model_dir),
        database_url=f"sqlite:///{tmp_path / 'api.db'}",
        key_cache_seconds=0,
        batch_limit=CLIENTS,
    )
    app = create_app(settings)
    with TestClient(app) as client:
        key = create_key(app.state.database, name="parity", role=Role.CASEWORKER)[1]
        schema = app.state.holder.get().model.schema
        canonical = validate_frame(subset, schema, require_labels=False).frame
        assert canonical is not None
        response = client.post(
            "/v1/recommendations/batch",
            headers={"Authorization": f"Bearer {key}"},
            json={"clients": api_clients(canonical, schema), "lang": "en"},
        )
    assert response.status_code == 200, response.text[:500]
    results = response.json()["results"]
    assert len(results) == CLIENTS

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
