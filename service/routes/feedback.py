"""``POST /v1/feedback``: the override record (caseworker).

The caseworker records which services were actually agreed with the client, and for
each suggestion not followed, why. This is the accountability record the law asks
for (a person decides; overrides are recorded) and future training data.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.db import AuditLogEntry, Feedback, utc_now
from service.deps import (
    AuditDep,
    BodyDep,
    CaseworkerDep,
    DatabaseDep,
    RequestIdDep,
    ServedModelDep,
)
from service.problems import InvalidRequest, field_error
from service.request_parsing import json_request_body, parse_body
from service.responses import FeedbackResponse, problem_responses

router = APIRouter(prefix="/v1", tags=["feedback"])
RECOMMENDATION_ENDPOINTS = ("recommendations", "recommendations.batch")
MSG_UNKNOWN_REQUEST = "no recommendation was answered under this request_id"
MSG_OTHER_CLIENT = (
    "this client_ref is not a client of that recommendation request (see its answer's client_ref)"
)


def check_recommendation(session: Session, request_id: str | None, client_ref: str) -> None:
    """Refuse feedback about a recommendation that does not exist or was for another client.

    Raises
    ------
    InvalidRequest
        The audit log has no recommendation under ``request_id``, or none for ``client_ref``.
    """
    if request_id is None:
        return
    statement = select(AuditLogEntry.client_ref).where(
        AuditLogEntry.request_id == request_id,
        AuditLogEntry.endpoint.in_(RECOMMENDATION_ENDPOINTS),
    )
    clients = set(session.scalars(statement).all())
    if not clients:
        location = ["recommendation_request_id"]
        raise InvalidRequest([field_error("body", location, MSG_UNKNOWN_REQUEST, "not_found")])
    if client_ref not in clients:
        raise InvalidRequest(
            [field_error("body", ["client_ref"], MSG_OTHER_CLIENT, "client_mismatch")]
        )


@router.post(
    "/feedback",
    status_code=201,
    response_model=FeedbackResponse,
    summary="Record what was agreed and why suggestions were not followed",
    openapi_extra=json_request_body("FeedbackRequest"),
    responses=problem_responses(401, 403, 415, 422, 503),
)
def create_feedback(  # noqa: D103
    body: BodyDep,
    caller: CaseworkerDep,
    served: ServedModelDep,
    database: DatabaseDep,
    request_id: RequestIdDep,
    audit: AuditDep,
    content_type: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> FeedbackResponse:
    feedback: Any = parse_body(served.requests.feedback, body, content_type)
    received_at = utc_now()
    row = Feedback(
        created_at=received_at,
        key_name=caller.name,
        client_ref=feedback.client_ref,
        recommendation_request_id=feedback.recommendation_request_id,
        model_version=served.version,
        agreed_services=list(feedback.agreed_services),
        not_followed=[item.model_dump() for item in feedback.not_followed],
        request_id=request_id,
    )
    entry = audit.entry(
        "feedback", client_ref=feedback.client_ref, services=feedback.agreed_services
    )
    with database.session() as session:
        check_recommendation(session, feedback.recommendation_request_id, feedback.client_ref)
        session.add(row)
        audit.add(session, [entry])
    return FeedbackResponse(
        id=row.id, request_id=request_id, client_ref=feedback.client_ref, received_at=received_at
    )
