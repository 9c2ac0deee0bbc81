"""GET /v1/fairness/report and POST /v1/fairness/audit (auditor only), JSON or HTML."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.service.conftest import Api, make_settings

fairness_audit = pytest.importorskip("fairness.audit")


def _predictions(rows: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "need": rng.integers(0, 2, rows),
            "score": rng.random(rows).round(4),
            "gender": rng.choice(["female", "male"], rows),
            "under_30": rng.choice(["yes", "no"], rows),
        }
    )


@pytest.fixture
def audited_api(
    start_api: Callable[..., Api], tmp_path: Path, model_dir: Path, sqlite_url: str
) -> Api:
    """Start the API on the fixture model with a fairness_audit.json, as training writes it."""
    live = tmp_path / "audited"
    shutil.copytree(model_dir, live)
    csv = tmp_path / "predictions.csv"
    _predictions().to_csv(csv, index=False)
    report = fairness_audit.audit_predictions_file(
        csv, label="need", score="score", threshold=0.5, group_columns=["gender", "under_30"]
    )
    (live / "fairness_audit.json").write_text(json.dumps(report.to_dict()))
    return start_api(make_settings(live, sqlite_url))


def test_report_as_json_and_html(audited_api: Api) -> None:
    api = audited_api
    as_json = api.get("/v1/fairness/report", role="auditor")
    assert as_json.status_code == 200
    assert as_json.headers["content-type"].startswith("application/json")
    assert as_json.json()["verdict"] in ("pass", "fail", "uncertain")

    as_html = api.get(
        "/v1/fairness/report",
        role="auditor",
        headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"},
    )
    assert as_html.status_code == 200
    assert as_html.headers["content-type"].startswith("text/html")
    assert as_html.text.lstrip().lower().startswith("<!doctype html")

    refused = api.get("/v1/fairness/report", role="auditor", headers={"Accept": "image/png"})
    assert refused.status_code == 406
    assert api.get("/v1/fairness/report", role="caseworker").status_code == 403


def test_report_missing_is_a_404_problem(api: Api) -> None:
    response = api.get("/v1/fairness/report", role="auditor")
    assert response.status_code == 404
    assert response.json()["type"] == "/problems/fairness-report-missing"


def _upload(api: Api, frame: pd.DataFrame, data: dict[str, Any], **kwargs: Any) -> Any:
    buffer = io.BytesIO()
    frame.to_csv(buffer, index=False)
    return api.post(
        "/v1/fairness/audit",
        role="auditor",
        files={"file": ("tool-x-predictions.csv", buffer.getvalue(), "text/csv")},
        data=data,
        **kwargs,
    )


def test_uploaded_predictions_are_audited(api: Api) -> None:
    fields = {
        "label": "need",
        "score": "score",
        "threshold": "0.5",
        "group": ["gender", "under_30"],
    }

    response = _upload(api, _predictions(), fields)

    assert response.status_code == 200, response.text
    report = response.json()
    assert report["verdict"] in ("pass", "fail", "uncertain")
    html = _upload(api, _predictions(), fields, headers={"Accept": "text/html"})
    assert html.headers["content-type"].startswith("text/html")


def test_bad_uploads_are_422_problems(api: Api) -> None:
    wrong = {"label": "need", "score": "nope", "threshold": "0.5", "group": "gender"}
    missing_column = _upload(api, _predictions(), wrong)
    assert missing_column.status_code == 422
    assert missing_column.json()["type"] == "/problems/validation-error"
    assert "tarve-audit-" not in missing_column.text, "no server paths in messages"
    no_group = _upload(api, _predictions(), {"label": "need", "score": "score", "threshold": "0.5"})
    assert no_group.status_code == 422
    frame = _predictions()
    frame["client"] = "131052-308T"
    with_identity_code = _upload(
        api, frame, {"label": "need", "score": "score", "threshold": "0.5", "group": "gender"}
    )
    assert with_identity_code.status_code == 422
    assert with_identity_code.json()["type"] == "/problems/identity-code"
    assert (
        _upload(
            api,
            _predictions(),
            {"label": "need"},
        ).status_code
        == 422
    )
