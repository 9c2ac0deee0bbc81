"""422 problem details listing every bad field, never echoing values; identity codes refused."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from sqlalchemy import func, select

from service.db import AuditLogEntry
from tests.service.conftest import Api

IDENTITY_CODE = "131052-308T"
IDENTITY_CODE_2000S = "010203A123B"
MARKER_CATEGORY = "zz-marker-category"


def _request(profile: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"client_ref": "client-1", "consents": [], "profile": profile, **extra}


def _audit_rows(api: Api) -> int:
    with api.app.state.database.session() as session:
        return int(session.scalar(select(func.count()).select_from(AuditLogEntry)) or 0)


def test_every_bad_field_is_listed_as_problem_json(api: Api, profile: dict[str, Any]) -> None:
    bad = {
        **profile,
        "age": 917,  # out of range
        "work_ability_score": -3.25,  # out of range (consent source, still validated)
        "municipality": MARKER_CATEGORY,  # unknown category
        "children_under_18": "two",  # wrong type
        "shoe_size": 44,  # unknown field
        "gender": "female",  # in the schema, but not a model input: not accepted
    }
    del bad["education_level"]  # required
    response = api.post(
        "/v1/recommendations", json=_request(bad, consents=["kykyviisari", "dna"], lang="de")
    )

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "/problems/validation-error"
    assert problem["status"] == 422
    assert problem["title"]
    assert problem["detail"]
    assert problem["request_id"] == response.headers["x-request-id"]
    by_pointer = {error["pointer"]: error for error in problem["errors"]}
    assert set(by_pointer) == {
        "#/profile/age",
        "#/profile/work_ability_score",
        "#/profile/municipality",
        "#/profile/children_under_18",
        "#/profile/shoe_size",
        "#/profile/gender",
        "#/profile/education_level",
        "#/consents/1",
        "#/lang",
    }
    assert by_pointer["#/profile/age"]["code"] == "less_than_equal"
    assert by_pointer["#/profile/education_level"]["code"] == "missing"
    assert by_pointer["#/profile/shoe_size"]["code"] == "extra_forbidden"
    assert "no such field" in by_pointer["#/profile/shoe_size"]["detail"]
    assert "does not use this field" in by_pointer["#/profile/gender"]["detail"]
    assert by_pointer["#/profile/municipality"]["field"] == "profile.municipality"
    assert "helsinki" in by_pointer["#/profile/municipality"]["detail"]
    # The random request id (hex) may contain any digits: check everything but it.
    text = json.dumps({k: v for k, v in problem.items() if k != "request_id"})
    for echoed in ("917", "-3.25", MARKER_CATEGORY, '"two"', "dna"):
        assert echoed not in text
    assert "Traceback" not in text
    assert _audit_rows(api) == 0


def test_query_options_are_validated(api: Api, profile: dict[str, Any]) -> None:
    response = api.post("/v1/recommendations?top_k=0&lang=de", json=_request(profile))

    assert response.status_code == 422
    parameters = {error.get("parameter") for error in response.json()["errors"]}
    assert parameters == {"top_k", "lang"}


def test_body_option_out_of_range(api: Api, profile: dict[str, Any]) -> None:
    response = api.post("/v1/recommendations", json=_request(profile, top_k=99))
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "#/top_k"


@pytest.mark.parametrize(
    ("where", "make"),
    [
        ("client_ref", lambda p: _request(p, client_ref=IDENTITY_CODE)),
        ("client_ref_2000s", lambda p: _request(p, client_ref=f"ref {IDENTITY_CODE_2000S}")),
        ("profile_value", lambda p: _request({**p, "municipality": IDENTITY_CODE})),
        ("unknown_key", lambda p: _request({**p, IDENTITY_CODE: 1})),
        ("consents", lambda p: _request(p, consents=[IDENTITY_CODE.lower()])),
        ("top_level_extra", lambda p: _request(p, note={"deep": [IDENTITY_CODE]})),
    ],
)
def test_identity_code_anywhere_is_refused_without_echo(
    api: Api,
    profile: dict[str, Any],
    where: str,
    make: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    response = api.post("/v1/recommendations", json=make(profile))

    assert response.status_code == 422, where
    problem = response.json()
    assert problem["type"] == "/problems/identity-code"
    assert problem["errors"]
    assert all(e["code"] == "identity_code" for e in problem["errors"])
    for code in (IDENTITY_CODE, IDENTITY_CODE_2000S, IDENTITY_CODE.lower()):
        assert code not in response.text
        assert code not in caplog.text
    assert _audit_rows(api) == 0


def test_identity_code_locations_are_pointers(api: Api, profile: dict[str, Any]) -> None:
    body = {
        "clients": [
            {"client_ref": "ok-1", "profile": profile},
            {"client_ref": IDENTITY_CODE, "profile": {**profile, "plan_goal": IDENTITY_CODE}},
        ]
    }
    response = api.post("/v1/recommendations/batch", json=body)

    assert response.status_code == 422
    pointers = {error["pointer"] for error in response.json()["errors"]}
    assert pointers == {"#/clients/1/client_ref", "#/clients/1/profile/plan_goal"}


def test_identity_code_hidden_by_json_escapes(api: Api, profile: dict[str, Any]) -> None:
    escaped = json.dumps(_request(profile, client_ref=IDENTITY_CODE)).replace(
        IDENTITY_CODE, "131052\\u002d308T"
    )
    response = api.post(
        "/v1/recommendations", content=escaped, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "#/client_ref"


def test_identity_code_in_query_and_feedback(api: Api) -> None:
    query = api.get(f"/v1/audit-log?client_ref={IDENTITY_CODE}", role="auditor")
    assert query.status_code == 422
    assert query.json()["errors"][0] == {
        "location": "query",
        "parameter": "client_ref",
        "field": "client_ref",
        "detail": query.json()["errors"][0]["detail"],
        "code": "identity_code",
    }
    feedback = api.post(
        "/v1/feedback",
        json={
            "client_ref": "c-9",
            "not_followed": [
                {"service": "pay_subsidy", "reason": "other", "comment": f"hetu {IDENTITY_CODE}"}
            ],
        },
    )
    assert feedback.status_code == 422
    assert feedback.json()["errors"][0]["pointer"] == "#/not_followed/0/comment"
    assert IDENTITY_CODE not in feedback.text


def test_identity_code_refused_before_authentication(api: Api, profile: dict[str, Any]) -> None:
    response = api.client.post(
        "/v1/recommendations", json=_request(profile, client_ref=IDENTITY_CODE)
    )
    assert response.status_code == 422


def test_similar_but_harmless_values_pass(api: Api, profile: dict[str, Any]) -> None:
    for reference in ("131052-308", "2024-01-15", "ura-131052308T", "case:131399-308T"):
        response = api.post("/v1/recommendations", json=_request(profile, client_ref=reference))
        assert response.status_code == 200, reference


def test_oversized_body_is_413(api: Api) -> None:
    big = b'{"client_ref": "' + b"a" * (17 * 1024 * 1024) + b'"}'
    response = api.post(
        "/v1/recommendations", content=big, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["type"] == "/problems/content-too-large"


@pytest.mark.parametrize(
    ("option", "value", "shown"),
    [
        ("top_k", "3", '"3"'),
        ("top_k", True, "true"),
        ("top_k", 3.5, "3.5"),
        ("top_k", 13, "13"),
        ("explain", 0, "0"),
        ("explain", 1, "1"),
        ("explain", "no", '"no"'),
        ("explain", "off", '"off"'),
    ],
)
def test_body_options_are_strict(
    api: Api, profile: dict[str, Any], option: str, value: Any, shown: str
) -> None:
    response = api.post("/v1/recommendations", json=_request(profile, **{option: value}))

    assert response.status_code == 422, (option, value)
    assert response.headers["content-type"] == "application/problem+json"
    [error] = response.json()["errors"]
    assert error["pointer"] == f"#/{option}"
    assert error["detail"].startswith(f"{option} must be")
    assert error["detail"].endswith(f"got {shown}")
    assert _audit_rows(api) == 0


@pytest.mark.parametrize(
    ("query", "parameter", "shown"),
    [
        ("top_k=1e21", "top_k", '"1e21"'),
        ("top_k=true", "top_k", '"true"'),
        ("top_k=3.0", "top_k", '"3.0"'),
        ("top_k=13", "top_k", "13"),  # the fixture model serves 12 services, as the body
        ("explain=0", "explain", '"0"'),
        ("explain=1", "explain", '"1"'),
        ("explain=no", "explain", '"no"'),
        ("explain=off", "explain", '"off"'),
        ("explain=True", "explain", '"True"'),
    ],
)
def test_query_options_are_strict(
    api: Api, profile: dict[str, Any], query: str, parameter: str, shown: str
) -> None:
    for path in ("/v1/recommendations", "/v1/recommendations/batch"):
        body = _request(profile) if path.endswith("s") else {"clients": [_request(profile)]}
        response = api.post(f"{path}?{query}", json=body)

        assert response.status_code == 422, (path, query)
        [error] = response.json()["errors"]
        assert (error["location"], error["parameter"]) == ("query", parameter)
        assert error["detail"].endswith(f"got {shown}")
    assert _audit_rows(api) == 0


def test_strict_options_still_take_their_values(api: Api, profile: dict[str, Any]) -> None:
    body = api.post("/v1/recommendations", json=_request(profile, top_k=12, explain=False))
    query = api.post("/v1/recommendations?top_k=2&explain=true", json=_request(profile))

    assert body.status_code == 200
    assert len(body.json()["suggestions"]) == 12
    assert body.json()["suggestions"][0]["base_value"] is None
    assert query.status_code == 200
    assert len(query.json()["suggestions"]) == 2
    assert query.json()["suggestions"][0]["base_value"] is not None


@pytest.mark.parametrize("value", ["0.5", "1700000000", "yesterday", "2026-13-01", "-1"])
def test_audit_log_dates_are_iso_only(api: Api, value: str) -> None:
    for parameter in ("from", "to"):
        response = api.get(f"/v1/audit-log?{parameter}={value}", role="auditor")

        assert response.status_code == 422, (parameter, value)
        [error] = response.json()["errors"]
        assert error["parameter"] == parameter
        assert "ISO 8601" in error["detail"]
        assert error["detail"].endswith(f'got "{value}"')


@pytest.mark.parametrize("value", ["2026-01-31", "2026-01-31T08:00:00Z", "2026-01-31T08:00+02:00"])
def test_audit_log_dates_take_iso_dates_and_times(api: Api, value: str) -> None:
    response = api.get("/v1/audit-log", role="auditor", params={"from": value, "to": value})
    assert response.status_code == 200, value
