"""Identity codes in every form: refused in identifiers, free text, files; never echoed."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from fairness.cli import run as audit_cli_run
from models.extract.identity_code import contains_identity_code, free_text_has_identity_code
from models.extract.reading import IdentityCodesInExtract, read_extract
from service.request_guard import find_identity_codes
from tests.service.conftest import Api

CODE = "131052-308T"
GLUED = [f"ura{CODE}", f"{CODE}x", f"HETU{CODE}", f"0{CODE}", CODE, CODE.lower()]
FREE_TEXT = [
    f"asiakas{CODE}soitti",  # glued
    "hetu 131052 - 308T",  # spaces around the separator
    "hetu 131052308T",  # no separator
    "hetu 131052 308T",  # a space for a separator
    "hetu 131052\u200b-308T",  # zero-width space
    "hetu 131052-\u200d308T",  # zero-width joiner
    "hetu \uff11\uff13\uff11\uff10\uff15\uff12\uff0d\uff13\uff10\uff18\uff34",  # full width
    "hetu 131052\u2013308T",  # an en dash
]
HARMLESS = ["c00001", "client-0001", "2021-03-01", "ura131052-308X", "tel 040 123 4567", "x" * 40]


@pytest.mark.parametrize("text", GLUED)
def test_identifier_rule_refuses_glued_codes(text: str) -> None:
    assert contains_identity_code(text)


@pytest.mark.parametrize("text", HARMLESS)
def test_identifier_rule_passes_harmless_values(text: str) -> None:
    assert not contains_identity_code(text)
    assert not free_text_has_identity_code(text)


@pytest.mark.parametrize("text", FREE_TEXT + GLUED)
def test_free_text_rule_finds_every_form(text: str) -> None:
    assert free_text_has_identity_code(text)


def _said(response: Any) -> str:
    return response.text + json.dumps(dict(response.headers))


def _never_echoed(response: Any) -> None:
    said = _said(response)
    # Not "308" alone: a Server-Timing header may well say "dur=0.308".
    # Nor the whole rule: a random request id in a header can look like a code.
    for part in ("131052", "308T", "１３１０５２"):
        assert part not in said


def _refused(response: Any) -> None:
    assert response.status_code == 422, response.text
    assert response.json()["type"] == "/problems/identity-code"
    _never_echoed(response)


@pytest.mark.parametrize("client_ref", GLUED)
def test_client_ref_refused_in_single_batch_and_feedback(
    api: Api, profile: dict[str, Any], client_ref: str
) -> None:
    _refused(api.post("/v1/recommendations", json={"client_ref": client_ref, "profile": profile}))
    batch = {"clients": [{"client_ref": client_ref, "profile": profile}]}
    _refused(api.post("/v1/recommendations/batch", json=batch))
    feedback = {"client_ref": client_ref, "agreed_services": []}
    _refused(api.post("/v1/feedback", json=feedback))


@pytest.mark.parametrize("code", GLUED)
def test_feedback_request_id_refused(api: Api, code: str) -> None:
    body = {"client_ref": "c1", "recommendation_request_id": code, "agreed_services": []}
    _refused(api.post("/v1/feedback", json=body))


@pytest.mark.parametrize("comment", FREE_TEXT)
def test_free_text_forms_refused_in_any_body_string(api: Api, comment: str) -> None:
    body = {"client_ref": "c1", "agreed_services": [], "comment": comment}
    _refused(api.post("/v1/feedback", json=body))
    escaped = json.dumps(body, ensure_ascii=True).encode()  # as \\u escapes
    _refused(
        api.post("/v1/feedback", content=escaped, headers={"Content-Type": "application/json"})
    )


@pytest.mark.parametrize("name", GLUED)
def test_key_names_refused(api: Api, name: str) -> None:
    response = api.post("/v1/admin/keys", role="admin", json={"name": name, "role": "auditor"})
    assert response.status_code == 422
    _never_echoed(response)


@pytest.mark.parametrize("code", GLUED)
def test_paths_and_queries_never_echoed(api: Api, code: str) -> None:
    for response in (
        api.get(f"/v1/nothing/{code}"),
        api.get(f"/v1/audit-log?client_ref={code}", role="auditor"),
    ):
        assert response.status_code in (404, 422)
        _never_echoed(response)


def test_a_404_never_echoes_the_path(api: Api) -> None:
    response = api.get("/v1/no-such-thing-c00001")
    assert response.status_code == 404
    assert "no-such-thing" not in response.text


def _predictions(rows: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "need": rng.integers(0, 2, rows),
            "score": rng.random(rows).round(4),
            "gender": rng.choice(["female", "male"], rows),
        }
    )


def _with_codes(column: str) -> pd.DataFrame:
    frame = _predictions()
    frame[column] = frame[column].astype(str)
    frame.loc[: len(frame) // 2, column] = [f"ura{CODE}"] * (len(frame) // 2 + 1)
    return frame


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, compression="zstd")
    return buffer.getvalue()


@pytest.mark.parametrize("column", ["gender", "need"])
@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_uploads_are_scanned_decoded(api: Api, column: str, kind: str) -> None:
    frame = _with_codes(column)
    content = _parquet(frame) if kind == "parquet" else frame.to_csv(index=False).encode()
    form = {"label": "need", "score": "score", "threshold": "0.5", "group": "gender"}
    response = api.post(
        "/v1/fairness/audit",
        role="auditor",
        data=form,
        files={"file": (f"p.{kind}", content, "application/octet-stream")},
    )
    _refused(response)


def test_upload_form_fields_are_scanned(api: Api) -> None:
    content = _predictions().to_csv(index=False).encode()
    form = {"label": "need", "score": "score", "threshold": "0.5", "group": f"x{CODE}"}
    response = api.post(
        "/v1/fairness/audit", role="auditor", data=form, files={"file": ("p.csv", content)}
    )
    _refused(response)


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_reader_scans_decoded_values(tmp_path: Path, kind: str) -> None:
    frame = _with_codes("gender")
    path = tmp_path / f"p.{kind}"
    if kind == "csv":
        frame.to_csv(path, index=False)
    else:
        path.write_bytes(_parquet(frame))
    with pytest.raises(IdentityCodesInExtract) as caught:
        read_extract(path)
    assert "308" not in str(caught.value)
    assert read_extract(path, identity_codes="keep").shape == frame.shape


def test_tarve_audit_predictions_refuses_codes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "p.parquet"
    path.write_bytes(_parquet(_with_codes("gender")))
    out = tmp_path / "out"
    args = _audit_args(path, out)
    assert audit_cli_run(args) != 0
    captured = capsys.readouterr()
    assert "308" not in captured.out + captured.err
    assert not (out / "audit.json").exists()


def _audit_args(path: Path, out: Path) -> Any:
    import argparse

    return argparse.Namespace(
        model=None,
        data=None,
        predictions=str(path),
        label="need",
        score="score",
        decision=None,
        threshold=0.5,
        group=["gender"],
        service_column=None,
        policy=None,
        out=str(out),
        lang="en",
        fail_on="never",
    )


def test_guard_scan_of_a_large_batch_is_fast(profile: dict[str, Any]) -> None:
    clients = [{"client_ref": f"c{index:06d}", "profile": profile} for index in range(2000)]
    body = json.dumps({"clients": clients}).encode()
    assert len(body) > 500_000
    started = time.perf_counter()
    assert find_identity_codes("/v1/recommendations/batch", b"", body, "application/json") == []
    assert time.perf_counter() - started < 0.1
