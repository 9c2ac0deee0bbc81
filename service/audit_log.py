"""The audit log: who accessed which client's data, when, with which model, and what came out.

One row per client per recommendation call (a batch writes one per client) and per
feedback call, plus rows for governance actions (model reloads, key changes) and for
auditors' reads of the log itself. A row holds the time, the caller's key name and
role, the endpoint, the client reference, the model name and version, the services
marked "recommended", the data sources read and the request id; a batch run
(``tarve score``) writes one row with ``details``: the extract's fingerprint, the row
count and the feed guard's outcome. Never the profile,
never an identity code (requests holding one are refused before they get here).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from service.auth import Principal
from service.db import AuditLogEntry, Database, utc_now


@dataclass(frozen=True)
class AuditRecord:
    """One audit-log row to write."""

    endpoint: str
    request_id: str
    client_ref: str | None = None
    model_name: str | None = None
    model_version: str | None = None
    services: Sequence[str] = field(default_factory=tuple)
    sources_used: Sequence[str] = field(default_factory=tuple)
    details: Mapping[str, Any] | None = None


_INSERT = insert(cast(Table, AuditLogEntry.__table__))


def write_audit(database: Database, principal: Principal, records: Sequence[AuditRecord]) -> None:
    """Write the rows in their own transaction: one Core statement, also for a batch.

    The hot path of every recommendation: Core instead of an ORM session costs about a
    quarter of the time.
    """
    if not records:
        return
    with database.engine.begin() as connection:
        connection.execute(_INSERT, _rows(principal, records))


def add_audit(session: Session, principal: Principal, records: Sequence[AuditRecord]) -> None:
    """Add the rows to ``session``'s transaction (with the data they account for)."""
    if records:
        session.execute(_INSERT, _rows(principal, records))


def _rows(principal: Principal, records: Sequence[AuditRecord]) -> list[dict[str, object]]:
    now = utc_now()
    return [
        {
            "occurred_at": now,
            "endpoint": record.endpoint,
            "key_name": principal.name,
            "role": principal.role.value,
            "client_ref": record.client_ref,
            "model_name": record.model_name,
            "model_version": record.model_version,
            "services": list(record.services),
            "sources_used": list(record.sources_used),
            "request_id": record.request_id,
            "details": None if record.details is None else dict(record.details),
        }
        for record in records
    ]


def query_audit(
    database: Database,
    *,
    client_ref: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    endpoint: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[AuditLogEntry]:
    """Rows matching the filters, newest first (``since`` inclusive, ``until`` exclusive)."""
    statement = select(AuditLogEntry)
    if client_ref is not None:
        statement = statement.where(AuditLogEntry.client_ref == client_ref)
    if since is not None:
        statement = statement.where(AuditLogEntry.occurred_at >= since)
    if until is not None:
        statement = statement.where(AuditLogEntry.occurred_at < until)
    if endpoint is not None:
        statement = statement.where(AuditLogEntry.endpoint == endpoint)
    statement = (
        statement.order_by(AuditLogEntry.occurred_at.desc(), AuditLogEntry.id.desc())
        .limit(limit)
        .offset(offset)
    )
    with database.session() as session:
        return list(session.scalars(statement).all())
