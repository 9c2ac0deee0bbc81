"""Regression tests for the smaller defects of issue 11."""

from __future__ import annotations

from tests.service.conftest import Api


def test_a_huge_offset_is_422_not_500(api: Api) -> None:
    response = api.get("/v1/audit-log?offset=9223372036854775808", role="auditor")
    assert response.status_code == 422
    assert "9223372036854775808" not in response.text or "offset" in response.text


def test_the_last_admin_key_cannot_be_revoked(api: Api) -> None:
    response = api.client.delete("/v1/admin/keys/test-admin", headers=api.headers("admin"))
    assert response.status_code == 409
    assert response.json()["type"] == "/problems/last-admin-key"
    assert api.get("/v1/admin/keys", role="admin").status_code == 200


def test_deeply_nested_json_is_400(api: Api) -> None:
    body = b"[" * 1000 + b'"\\u0041"' + b"]" * 1000
    response = api.post(
        "/v1/recommendations", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["type"] == "/problems/json-too-deep"


def test_upload_without_a_key_is_refused_before_the_body(api: Api) -> None:
    response = api.client.post(
        "/v1/fairness/audit", content=b"x" * 1024, headers={"Content-Type": "multipart/form-data"}
    )
    assert response.status_code == 401
    caseworker = api.post("/v1/fairness/audit", content=b"x")
    assert caseworker.status_code == 403


def test_a_csv_with_a_million_columns_is_a_short_error(api: Api) -> None:
    header = ",".join(f"c{index}" for index in range(1_000_000)).encode()
    content = header + b"\n" + b"1," * 999_999 + b"1\n"
    form = {"label": "c0", "score": "c1", "threshold": "0.5", "group": "c2"}
    response = api.post(
        "/v1/fairness/audit", role="auditor", data=form, files={"file": ("p.csv", content)}
    )
    assert response.status_code == 422
    assert len(response.content) < 2000
    assert "columns" in response.text
