"""The audit log: who accessed which client's data, when, with which model, and what came out.

One row per client per recommendation call (a batch writes one per client) and per
feedback call, plus rows for governance actions (model reloads, key changes) and for
auditors' reads of the log itself. A row holds the time, the caller's key name and
role, the endpoint, the client reference, the model name and version, the services
marked "recommended", the data sources read, the request id, a unique record id and
the SHA-256 of the served artifact's integrity manifest; a batch run (``tarve score``)
writes one row with ``details``: the extract's fingerprint, the row count and the feed
guard's outcome. Never the profile, never an identity code (requests holding one are
refused before they get here).

When the database does not answer, rows go to the durable local spool
(:mod:`service.spool`) and the request is answered; :class:`AuditRecovery` replays
the spool in order when the database answers again (``ON CONFLICT DO NOTHING`` on the
record id: no row twice). When the spool cannot take them either, the request is
refused (503): no answer without its audit record.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from service.auth import Principal
from service.db import AuditLogEntry, Database, DatabaseUnavailable, utc_now
from service.spool import AuditSpool, SpoolError

logger = logging.getLogger("service.audit_log")
MSG_UNLOGGED = "the audit record cannot be kept (database and spool unavailable)"

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
    model_manifest_sha256: str | None = None
    record_id: str = field(default_factory=lambda: str(uuid.uuid4()))
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
            "record_id": self.record_id,
            "model_manifest_sha256": self.model_manifest_sha256,
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
    model_manifest_sha256: str | None = None

    def for_model(
        self, name: str | None, version: str | None, manifest_sha256: str | None = None
    ) -> AuditTrail:
        """Return this trail for rows about another model (e.g. one a reload swapped in)."""
        return replace(
            self, model_name=name, model_version=version, model_manifest_sha256=manifest_sha256
        )

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
            model_manifest_sha256=self.model_manifest_sha256 if about_model else None,
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

    While the database is down (or spooled rows wait for replay, to keep their order)
    the rows go to the database's spool instead.

    Raises
    ------
    RuntimeError
        When called on a running event loop (:data:`MSG_ON_EVENT_LOOP`).
    DatabaseUnavailable
        Neither the database nor the spool took the rows (the caller answers 503).
    """
    if not records:
        return
    refuse_on_event_loop()
    rows = _rows(records)
    spool = database.spool
    if spool is not None and (database.health.down or spool.pending):
        _spool(spool, rows)
        return
    try:
        with database.transaction() as connection:
            connection.execute(_INSERT, rows)
    except DatabaseUnavailable:
        if spool is None:
            raise
        _spool(spool, rows)


def _spool(spool: AuditSpool, rows: list[dict[str, object]]) -> None:
    try:
        spool.append([{**row, "occurred_at": _iso(row["occurred_at"])} for row in rows])
    except SpoolError as exc:
        logger.error("%s: %s", MSG_UNLOGGED, exc)
        raise DatabaseUnavailable(MSG_UNLOGGED) from exc


def _iso(value: object) -> str:
    assert isinstance(value, dt.datetime)
    return value.isoformat()


def insert_spooled(database: Database, rows: list[dict[str, Any]]) -> None:
    """Insert spooled rows, skipping record ids already stored (idempotent replay)."""
    values = [{**row, "occurred_at": dt.datetime.fromisoformat(row["occurred_at"])} for row in rows]
    table = cast(Table, AuditLogEntry.__table__)
    dialect = database.engine.dialect.name
    statement: Any
    if dialect == "postgresql":
        statement = postgresql.insert(table).on_conflict_do_nothing(index_elements=["record_id"])
    elif dialect == "sqlite":
        statement = sqlite.insert(table).on_conflict_do_nothing(index_elements=["record_id"])
    else:  # pragma: no cover - tarve runs on SQLite or PostgreSQL
        statement = insert(table).prefix_with("IGNORE")
    with database.engine.begin() as connection:
        connection.execute(statement, values)


class AuditRecovery:
    """Probe a down database and replay the spool when it answers (a daemon thread).

    Parameters
    ----------
    database : Database
        The database (its :attr:`~service.db.Database.spool` is replayed).
    interval : float
        Seconds between probes.
    """

    def __init__(self, database: Database, *, interval: float = 1.0) -> None:
        self.database = database
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def step(self) -> int:
        """Probe and replay once, if needed; return rows replayed (0 when none or down)."""
        spool = self.database.spool
        pending = spool is not None and spool.pending
        if not (self.database.health.down or pending):
            return 0
        try:
            self.database.ping()
            if spool is None or not pending:
                return 0
            replayed = spool.replay(lambda rows: insert_spooled(self.database, rows))
        except Exception as exc:
            self.database.health.failed(exc)
            return 0
        logger.warning("replayed %d spooled audit rows", replayed)
        return replayed

    def start(self) -> None:
        """Start the thread (replaying what a previous process left, first)."""
        if self._thread is not None:
            return
        self._stop.clear()

        def run() -> None:
            while True:
                self.step()
                if self._stop.wait(self.interval):
                    return

        self._thread = threading.Thread(target=run, name="tarve-audit-recovery", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread, replaying once more if the database answers."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None


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
