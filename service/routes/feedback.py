"""``POST /v1/feedback``: the override record (caseworker).

The caseworker records which services were actually agreed with the client, and for
each suggestion not followed, why. This is the accountability record the law asks
for (a person decides; overrides are recorded) and future training data.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header

from service.db import Feedback, utc_now
from service.deps import (
    AuditDep,
    BodyDep,
    CaseworkerDep,
    DatabaseDep,
    RequestIdDep,
    ServedModelDep,
)
from service.request_parsing import json_request_body, parse_body
from service.responses import FeedbackResponse, problem_responses

router = APIRouter(prefix="/v1", tags=["feedback"])


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
        session.add(row)
        audit.add(session, [entry])
    return FeedbackResponse(
        id=row.id, request_id=request_id, client_ref=feedback.client_ref, received_at=received_at
    )
