"""The audit log and the feedback (override) record, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from typing import Any

import pytest
from sqlalchemy import select

from service.audit_log import MSG_ON_EVENT_LOOP, AuditTrail
from service.auth import Principal, Role
from service.db import AuditLogEntry, Feedback
from tests.service.conftest import Api


def _rows(api: Api) -> list[AuditLogEntry]:
    with api.app.state.database.session() as session:
        return list(session.scalars(select(AuditLogEntry).order_by(AuditLogEntry.id)))


def _row_text(row: AuditLogEntry) -> str:
    return str({column.name: getattr(row, column.name) for column in AuditLogEntry.__table__.c})


def test_recommendation_writes_one_row_without_the_profile(
    api_any_db: Api, profile: dict[str, Any]
) -> None:
    api = api_any_db
    response = api.post(
        "/v1/recommendations",
        json={"client_ref": "client-42", "consents": ["health"], "profile": profile},
    )
    body = response.json()

    rows = _rows(api)
    assert len(rows) == 1
    row = rows[0]
    assert row.endpoint == "recommendations"
    assert row.key_name == "test-caseworker"
    assert row.role == "caseworker"
    assert row.client_ref == "client-42"
    assert row.model_name == "tarve-service-need"
    assert row.model_version == "fixture-1"
    assert row.request_id == body["request_id"]
    assert row.services == [s["service"] for s in body["suggestions"] if s["recommended"]]
    assert row.sources_used == ["register", "health"]
    assert row.occurred_at.tzinfo is not None
    assert abs((dt.datetime.now(dt.UTC) - row.occurred_at).total_seconds()) < 60
    text = _row_text(row)
    for name, value in profile.items():
        assert name not in text
        if isinstance(value, str) and len(value) > 3:
            assert f"'{value}'" not in text


def test_batch_writes_one_row_per_client(api_any_db: Api, profile: dict[str, Any]) -> None:
    api = api_any_db
    clients = [{"client_ref": f"b-{i}", "profile": profile} for i in range(3)]
    response = api.post("/v1/recommendations/batch", json={"clients": clients})
    assert response.status_code == 200

    rows = _rows(api)
    assert [row.client_ref for row in rows] == ["b-0", "b-1", "b-2"]
    assert {row.request_id for row in rows} == {response.json()["request_id"]}
    assert {row.endpoint for row in rows} == {"recommendations.batch"}


def test_failed_requests_write_nothing(api_any_db: Api, profile: dict[str, Any]) -> None:
    api = api_any_db
    api.post("/v1/recommendations", json={"client_ref": "x", "profile": {**profile, "age": 3}})
    api.post("/v1/recommendations", role="auditor", json={"client_ref": "x", "profile": profile})
    assert _rows(api) == []


def test_auditor_reads_and_filters_the_log(api_any_db: Api, profile: dict[str, Any]) -> None:
    api = api_any_db
    for ref in ("alpha", "beta", "alpha"):
        api.post("/v1/recommendations", json={"client_ref": ref, "profile": profile})

    page = api.get("/v1/audit-log?client_ref=alpha", role="auditor")
    assert page.status_code == 200
    entries = page.json()["entries"]
    assert [e["client_ref"] for e in entries] == ["alpha", "alpha"]
    assert entries[0]["occurred_at"] >= entries[1]["occurred_at"], "newest first"
    assert set(entries[0]) == {
        "id",
        "occurred_at",
        "endpoint",
        "key_name",
        "role",
        "client_ref",
        "model_name",
        "model_version",
        "services",
        "sources_used",
        "request_id",
        "details",
    }
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    assert api.get(f"/v1/audit-log?from={future}", role="auditor").json()["entries"] == []
    window = api.get(f"/v1/audit-log?from={past}&to={future}&limit=2", role="auditor").json()
    assert len(window["entries"]) == 2
    reads = api.get("/v1/audit-log?endpoint=audit-log.read", role="auditor").json()["entries"]
    assert len(reads) == 3, "every earlier read of the log was itself logged"
    assert reads[-1]["client_ref"] == "alpha"
    assert reads[-1]["key_name"] == "test-auditor"


def test_feedback_is_stored_with_an_audit_row(api_any_db: Api, profile: dict[str, Any]) -> None:
    api = api_any_db
    recommendation = api.post(
        "/v1/recommendations", json={"client_ref": "client-7", "profile": profile}
    ).json()
    response = api.post(
        "/v1/feedback",
        json={
            "client_ref": "client-7",
            "recommendation_request_id": recommendation["request_id"],
            "agreed_services": ["job_search_coaching", "work_trial"],
            "not_followed": [
                {"service": "pay_subsidy", "reason": "not_available"},
                {"service": "career_guidance", "reason": "client_declined", "comment": "later"},
            ],
        },
    )

    assert response.status_code == 201
    body = response.json()
    assert body["client_ref"] == "client-7"
    with api.app.state.database.session() as session:
        stored = session.scalars(select(Feedback)).one()
    assert stored.id == body["id"]
    assert stored.key_name == "test-caseworker"
    assert stored.recommendation_request_id == recommendation["request_id"]
    assert stored.model_version == "fixture-1"
    assert stored.agreed_services == ["job_search_coaching", "work_trial"]
    assert stored.not_followed[1] == {
        "service": "career_guidance",
        "reason": "client_declined",
        "comment": "later",
    }
    rows = _rows(api)
    assert [row.endpoint for row in rows] == ["recommendations", "feedback"]
    assert rows[1].services == ["job_search_coaching", "work_trial"]
    assert rows[1].request_id == body["request_id"]


def test_feedback_is_validated_against_the_model(api: Api) -> None:
    response = api.post(
        "/v1/feedback",
        json={
            "client_ref": "c",
            "agreed_services": ["pay_subsidy", "space_travel"],
            "not_followed": [{"service": "work_trial", "reason": "bored"}],
        },
    )
    assert response.status_code == 422
    pointers = {error["pointer"] for error in response.json()["errors"]}
    assert pointers == {"#/agreed_services/1", "#/not_followed/0/reason"}
    both = api.post(
        "/v1/feedback",
        json={
            "client_ref": "c",
            "agreed_services": ["pay_subsidy"],
            "not_followed": [{"service": "pay_subsidy", "reason": "other"}],
        },
    )
    assert both.status_code == 422
    assert "pay_subsidy" in both.json()["errors"][0]["detail"]
    assert _rows(api) == []


def test_governance_rows_name_the_caller_and_only_the_model_they_concern(api: Api) -> None:
    created = api.post("/v1/admin/keys", role="admin", json={"name": "ura", "role": "auditor"})
    assert created.status_code == 201
    assert api.client.delete("/v1/admin/keys/ura", headers=api.headers("admin")).status_code == 204
    reload = api.post("/v1/admin/reload", role="admin")
    assert reload.status_code == 200
    api.get("/v1/audit-log", role="auditor")

    rows = [
        (row.endpoint, row.key_name, row.role, row.model_name, row.model_version, row.request_id)
        for row in _rows(api)
    ]
    request_ids = [created.headers["x-request-id"], reload.headers["x-request-id"]]
    assert rows[0] == ("admin.keys.create", "test-admin", "admin", None, None, request_ids[0])
    assert rows[1][:5] == ("admin.keys.revoke", "test-admin", "admin", None, None)
    assert rows[2] == (
        "admin.reload",
        "test-admin",
        "admin",
        "tarve-service-need",
        "fixture-1",
        request_ids[1],
    )
    assert rows[3][:5] == ("audit-log.read", "test-auditor", "auditor", None, None)


def test_an_audit_write_on_the_event_loop_is_refused(api: Api) -> None:
    principal = Principal("test-caseworker", Role.CASEWORKER)
    trail = AuditTrail(api.app.state.database, principal=principal, request_id="r-1")

    async def write_on_the_loop() -> None:
        trail.record("recommendations", client_ref="c")

    with pytest.raises(RuntimeError, match=re.escape(MSG_ON_EVENT_LOOP)):
        asyncio.run(write_on_the_loop())
    assert _rows(api) == []
    trail.record("recommendations", client_ref="c")
    assert [row.client_ref for row in _rows(api)] == ["c"]
