"""The two sides of a parity test: ``tarve score`` on an extract, the API's batch on it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
from fastapi.testclient import TestClient

from models.extract import validate_frame
from service.app import create_app
from service.auth import Role, create_key
from service.settings import Settings
from tarve.cli import main
from tests.support.register_clients import register_clients


def score_file(data: Path, model: Path, out: Path, *, chunk_rows: int) -> pd.DataFrame:
    """Run ``tarve score`` (English reasons) and return its Parquet output."""
    code = main(
        [
            "score",
            "--no-progress",
            "--data",
            str(data),
            "--model",
            str(model),
            "--out",
            str(out),
            "--lang",
            "en",
            "--chunk-rows",
            str(chunk_rows),
        ]
    )
    assert code == 0
    frame: pd.DataFrame = pq.read_table(out).to_pandas()
    return frame


def api_batch(model: Path, subset: pd.DataFrame, tmp_path: Path) -> list[dict[str, Any]]:
    """Ask the API's batch endpoint (English) for every row of ``subset``; its results."""
    settings = Settings(
        model_uri=str(model),
        database_url=f"sqlite:///{tmp_path / 'api.db'}",
        key_cache_seconds=0,
        batch_limit=len(subset),
        audit_spool_path=None,
        model_local_copy=None,
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
            json={"clients": register_clients(canonical, schema), "lang": "en"},
        )
    assert response.status_code == 200, response.text[:500]
    results: list[dict[str, Any]] = response.json()["results"]
    assert len(results) == len(subset)
    return results
