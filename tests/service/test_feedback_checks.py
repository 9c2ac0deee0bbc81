"""Feedback is about a recommendation that exists, for the same client, and says something."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from service.db import Feedback
from tests.service.conftest import Api


def _feedback_rows(api: Api) -> int:
    with api.app.state.database.session() as session:
        return int(session.scalar(select(func.count()).select_from(Feedback)) or 0)


def _recommend(api: Api, profile: dict[str, Any], *client_refs: str) -> str:
    if len(client_refs) == 1:
        body: dict[str, Any] = {"client_ref": client_refs[0], "profile": profile}
        response = api.post("/v1/recommendations", json=body)
    else:
        clients = [{"client_ref": ref, "profile": profile} for ref in client_refs]
        response = api.post("/v1/recommendations/batch", json={"clients": clients})
    assert response.status_code == 200
    return str(response.json()["request_id"])


def _feedback(client_ref: str, request_id: str | None) -> dict[str, Any]:
    return {
        "client_ref": client_ref,
        "recommendation_request_id": request_id,
        "agreed_services": ["work_trial"],
    }


def test_feedback_about_an_unknown_request_is_refused(
    api_any_db: Api, profile: dict[str, Any]
) -> None:
    api = api_any_db
    _recommend(api, profile, "client-1")
    response = api.post("/v1/feedback", json=_feedback("client-1", "0" * 32))

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    [error] = response.json()["errors"]
    assert error["pointer"] == "#/recommendation_request_id"
    assert error["code"] == "not_found"
    assert _feedback_rows(api) == 0


def test_feedback_request_id_must_be_a_recommendation(api: Api) -> None:
    # A request id the audit log holds, but for a feedback call, not a recommendation.
    own_feedback = api.post("/v1/feedback", json=_feedback("client-1", None))
    assert own_feedback.status_code == 201
    response = api.post(
        "/v1/feedback", json=_feedback("client-1", own_feedback.json()["request_id"])
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "#/recommendation_request_id"


def test_feedback_for_another_client_is_refused_without_naming_it(
    api_any_db: Api, profile: dict[str, Any]
) -> None:
    api = api_any_db
    request_id = _recommend(api, profile, "client-alpha-77")
    response = api.post("/v1/feedback", json=_feedback("client-beta", request_id))

    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["pointer"] == "#/client_ref"
    assert error["code"] == "client_mismatch"
    assert "client-alpha-77" not in response.text
    assert _feedback_rows(api) == 0
    same_client = api.post("/v1/feedback", json=_feedback("client-alpha-77", request_id))
    assert same_client.status_code == 201


def test_feedback_on_a_batch_takes_each_of_its_clients(api: Api, profile: dict[str, Any]) -> None:
    request_id = _recommend(api, profile, "b-1", "b-2")
    for client_ref in ("b-1", "b-2"):
        response = api.post("/v1/feedback", json=_feedback(client_ref, request_id))
        assert response.status_code == 201, client_ref
    assert api.post("/v1/feedback", json=_feedback("b-3", request_id)).status_code == 422
    assert _feedback_rows(api) == 2


def test_an_empty_feedback_is_refused(api: Api) -> None:
    for body in ({"client_ref": "c-1"}, {"client_ref": "c-1", "agreed_services": []}):
        response = api.post("/v1/feedback", json=body)
        assert response.status_code == 422, body
        assert "records nothing" in response.json()["errors"][0]["detail"]
    for content in (b"", b"  ", b"{}"):
        response = api.post(
            "/v1/feedback", content=content, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 422, content
        assert response.headers["content-type"] == "application/problem+json"
    assert _feedback_rows(api) == 0
