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

import asyncio
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from service.auth import Principal
from service.db import AuditLogEntry, Database, utc_now

MSG_ON_EVENT_LOOP = (
    "an audit-log write blocks on the database: call it from a worker thread "
    "(a plain def route, or run_in_threadpool), never on the event loop"
)


@dataclass(frozen=True)
class AuditRecord:
    """One audit-log row to write; its time is set when it is written."""

    endpoint: str
    key_name: str
    role: str
    request_id: str
    client_ref: str | None = None
    model_name: str | None = None
    model_version: str | None = None
    services: Sequence[str] = field(default_factory=tuple)
    sources_used: Sequence[str] = field(default_factory=tuple)
    details: Mapping[str, Any] | None = None

    def row(self, occurred_at: dt.datetime) -> dict[str, object]:
        """Return the row's column values, written at ``occurred_at``."""
        return {
            "occurred_at": occurred_at,
            "endpoint": self.endpoint,
            "key_name": self.key_name,
            "role": self.role,
            "client_ref": self.client_ref,
            "model_name": self.model_name,
            "model_version": self.model_version,
            "services": list(self.services),
            "sources_used": list(self.sources_used),
            "request_id": self.request_id,
            "details": None if self.details is None else dict(self.details),
        }


@dataclass(frozen=True)
class AuditTrail:
    """The audit rows of one request, with what every row shares filled in once.

    The shared part is the caller (the key's name and role), the request id and the
    model serving the request; the time is taken when the rows are written. The
    caller's network address is never recorded: a row names the key, not the
    machine. Routes get a trail from :data:`service.deps.AuditDep` and add only what
    is specific to the row: the endpoint, the client, the services, the sources.

    Writing blocks on the database, so :meth:`write` and :meth:`record` refuse to run
    on the event loop; call them from a plain ``def`` route or a worker thread. A
    route writes its rows before it answers: no answer without its audit row.

    Parameters
    ----------
    database : Database
        Where the rows go.
    principal : Principal
        The authenticated caller.
    request_id : str
        The request's id (the ``X-Request-ID`` the answer carries).
    model_name, model_version : str or None
        The model serving the request (None when none is loaded).
    """

    database: Database
    principal: Principal
    request_id: str
    model_name: str | None = None
    model_version: str | None = None

    def for_model(self, name: str | None, version: str | None) -> AuditTrail:
        """Return this trail for rows about another model (e.g. one a reload swapped in)."""
        return replace(self, model_name=name, model_version=version)

    def entry(
        self,
        endpoint: str,
        *,
        client_ref: str | None = None,
        services: Sequence[str] = (),
        sources_used: Sequence[str] = (),
        about_model: bool = True,
        details: Mapping[str, Any] | None = None,
    ) -> AuditRecord:
        """Build one row: the shared part and what is specific to it.

        Parameters
        ----------
        endpoint : str
            What was done (``recommendations``, ``admin.keys.create``...).
        client_ref : str, optional
            The client whose data was accessed.
        services : sequence of str
            The services marked recommended (or agreed).
        sources_used : sequence of str
            The data sources read.
        about_model : bool, default True
            False for actions that concern no model (key management, log reads,
            audits of uploaded predictions): the row names no model.
        details : mapping, optional
            What a batch run records besides (extract fingerprint, rows, feed guard);
            JSON values, never a profile.
        """
        return AuditRecord(
            endpoint=endpoint,
            key_name=self.principal.name,
            role=self.principal.role.value,
            request_id=self.request_id,
            client_ref=client_ref,
            model_name=self.model_name if about_model else None,
            model_version=self.model_version if about_model else None,
            services=tuple(services),
            sources_used=tuple(sources_used),
            details=details,
        )

    def record(
        self,
        endpoint: str,
        *,
        client_ref: str | None = None,
        services: Sequence[str] = (),
        sources_used: Sequence[str] = (),
        about_model: bool = True,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Write one row (see :meth:`entry`) in its own transaction; off the event loop."""
        self.write(
            [
                self.entry(
                    endpoint,
                    client_ref=client_ref,
                    services=services,
                    sources_used=sources_used,
                    about_model=about_model,
                    details=details,
                )
            ]
        )

    def write(self, records: Sequence[AuditRecord]) -> None:
        """Write the rows in their own transaction; off the event loop."""
        write_audit(self.database, records)

    def add(self, session: Session, records: Sequence[AuditRecord]) -> None:
        """Add the rows to ``session``'s transaction (with the data they account for)."""
        add_audit(session, records)


_INSERT = insert(cast(Table, AuditLogEntry.__table__))


def write_audit(database: Database, records: Sequence[AuditRecord]) -> None:
    """Write the rows in their own transaction: one Core statement, also for a batch.

    The hot path of every recommendation: Core instead of an ORM session costs about a
    quarter of the time.

    Raises
    ------
    RuntimeError
        When called on a running event loop (:data:`MSG_ON_EVENT_LOOP`).
    """
    if not records:
        return
    refuse_on_event_loop()
    with database.engine.begin() as connection:
        connection.execute(_INSERT, _rows(records))


def add_audit(session: Session, records: Sequence[AuditRecord]) -> None:
    """Add the rows to ``session``'s transaction (with the data they account for)."""
    if records:
        refuse_on_event_loop()
        session.execute(_INSERT, _rows(records))


def refuse_on_event_loop() -> None:
    """Raise :class:`RuntimeError` when this thread is running an event loop.

    Raises
    ------
    RuntimeError
        This thread runs an event loop (:data:`MSG_ON_EVENT_LOOP`).
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(MSG_ON_EVENT_LOOP)


def _rows(records: Sequence[AuditRecord]) -> list[dict[str, object]]:
    now = utc_now()
    return [record.row(now) for record in records]


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
