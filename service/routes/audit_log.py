"""``GET /v1/audit-log`` (auditor): who accessed which client's data, when, with what result.

Reading the log is itself logged (endpoint ``audit-log.read``, with the client
reference searched for).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BeforeValidator

from service.audit_log import query_audit
from service.deps import AuditDep, AuditorDep, DatabaseDep
from service.request_model import CLIENT_REF_PATTERN
from service.request_parsing import iso_datetime
from service.responses import AuditLogEntryOut, AuditLogPage, problem_responses

MAX_OFFSET = 2**31 - 1  # bounded: an unbounded integer overflows the database's (422, not 500)
router = APIRouter(prefix="/v1", tags=["audit"])


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


@router.get(
    "/audit-log",
    response_model=AuditLogPage,
    summary="Read the audit log, newest first",
    responses=problem_responses(401, 403, 422),
)
def read_audit_log(  # noqa: D103
    caller: AuditorDep,
    database: DatabaseDep,
    audit: AuditDep,
    client_ref: Annotated[
        str | None, Query(pattern=CLIENT_REF_PATTERN, description="One client's rows.")
    ] = None,
    since: Annotated[
        dt.datetime | None,
        Query(
            alias="from",
            description="From this time on (inclusive): an ISO 8601 date or date-time, UTC "
            "if naive.",
        ),
        BeforeValidator(iso_datetime("from")),
    ] = None,
    until: Annotated[
        dt.datetime | None,
        Query(
            alias="to",
            description="Before this time (exclusive): an ISO 8601 date or date-time, UTC if "
            "naive.",
        ),
        BeforeValidator(iso_datetime("to")),
    ] = None,
    endpoint: Annotated[
        str | None, Query(max_length=64, description="e.g. recommendations")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> AuditLogPage:
    del caller
    rows = query_audit(
        database,
        client_ref=client_ref,
        since=_utc(since),
        until=_utc(until),
        endpoint=endpoint,
        limit=limit,
        offset=offset,
    )
    audit.record("audit-log.read", client_ref=client_ref, about_model=False)
    return AuditLogPage(
        entries=[AuditLogEntryOut.model_validate(row, from_attributes=True) for row in rows],
        limit=limit,
        offset=offset,
    )
