"""The service's database: API keys, the audit log and caseworkers' feedback.

SQLAlchemy 2 declarative tables; the schema itself is created and changed only by the
Alembic migrations in ``service/migrations`` (:func:`upgrade_database`). SQLite (WAL)
by default, PostgreSQL when ``TARVE_DATABASE_URL`` names one. Times are stored in UTC.

Faults are bounded: connecting (and waiting for a pooled connection) takes at most the
connect timeout; a connection checked out longer than the statement timeout is cut by
a watchdog (its socket shut down, or SQLite interrupted), which also ends waits on a
network that holds packets, where no server-side timeout can. A failure marks the
database *down* (logged once per incident, not per request): while it is down,
sessions fail at once with :class:`DatabaseUnavailable` (a 503 with ``Retry-After``)
instead of each request waiting out the timeouts, and audit rows go to the local spool
(:mod:`service.spool`) until a probe finds the database answering again.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Engine,
    Index,
    Integer,
    String,
    TypeDecorator,
    create_engine,
    event,
    text,
)
from sqlalchemy.engine import Connection, Dialect, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

if TYPE_CHECKING:
    from service.spool import AuditSpool

logger = logging.getLogger("service.db")
MSG_DOWN = "the database does not answer: {problem}"
MSG_STILL_DOWN = "the database is not available (retry later)"
# An idle pooled connection is pinged (under the watchdog) before reuse after this long.
PING_AFTER_IDLE_SECONDS = 2.0

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# SQLite autoincrements only INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
AutoId = BigInteger().with_variant(Integer(), "sqlite")
# The PostgreSQL advisory lock held while migrating: a fixed 64-bit key, "tarve-db" in ASCII.
MIGRATION_LOCK_KEY = int.from_bytes(b"tarve-db", "big") & 0x7FFF_FFFF_FFFF_FFFF


def utc_now() -> dt.datetime:
    """Return the time now, in UTC."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        """Convert to UTC (naive on SQLite, which keeps no offset)."""
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        """Return the stored time as an aware UTC datetime."""
        if value is None:
            return None
        result: dt.datetime = value
        if result.tzinfo is None:
            return result.replace(tzinfo=dt.UTC)
        return result.astimezone(dt.UTC)


class Base(DeclarativeBase):
    """The service's tables."""


class ApiKey(Base):
    """An API key: only the SHA-256 of the token is stored, never the token."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), default=None)


class AuditLogEntry(Base):
    """One access to a client's data (or one governance action); never the profile."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("uq_audit_log_record_id", "record_id", unique=True),)

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now, index=True)
    endpoint: Mapped[str] = mapped_column(String(64))
    key_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    client_ref: Mapped[str | None] = mapped_column(String(64), index=True, default=None)
    model_name: Mapped[str | None] = mapped_column(String(200), default=None)
    model_version: Mapped[str | None] = mapped_column(String(64), default=None)
    services: Mapped[list[str]] = mapped_column(JSON, default=list)
    sources_used: Mapped[list[str]] = mapped_column(JSON, default=list)
    request_id: Mapped[str] = mapped_column(String(64), index=True)
    # One id per row, unique: replaying the local spool twice never doubles a row.
    record_id: Mapped[str | None] = mapped_column(String(36), default=None)
    model_manifest_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    # A batch run's extract fingerprint, row count and accepted drift; never a profile.
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)


class Feedback(Base):
    """The override record: what the caseworker and client agreed, and why not the rest."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utc_now, index=True)
    key_name: Mapped[str] = mapped_column(String(100))
    client_ref: Mapped[str] = mapped_column(String(64), index=True)
    recommendation_request_id: Mapped[str | None] = mapped_column(String(64), default=None)
    model_version: Mapped[str | None] = mapped_column(String(64), default=None)
    agreed_services: Mapped[list[str]] = mapped_column(JSON, default=list)
    not_followed: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    request_id: Mapped[str] = mapped_column(String(64))


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    del connection_record
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class DatabaseUnavailable(Exception):
    """The database does not answer (or did not lately): the caller should retry later."""


# The errors that mean "the database does not answer" (not "the statement is wrong").
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    DisconnectionError,
    PoolTimeoutError,
    DatabaseUnavailable,
    ConnectionError,
    TimeoutError,
)


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database does not answer (rather than a bad statement)."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, UNAVAILABLE_ERRORS)


class _Watchdog:
    """Cuts connections checked out longer than a deadline (one daemon thread)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._deadlines: dict[int, tuple[float, Any]] = {}
        self._lock = threading.Lock()
        self._exempt = threading.local()
        self._thread: threading.Thread | None = None

    @contextmanager
    def exempt(self) -> Iterator[None]:
        """Do not watch connections this thread checks out (migrations)."""
        self._exempt.on = True
        try:
            yield
        finally:
            self._exempt.on = False

    def watch(self, dbapi_connection: Any) -> None:
        if getattr(self._exempt, "on", False):
            return
        with self._lock:
            self._deadlines[id(dbapi_connection)] = (
                time.monotonic() + self.seconds,
                dbapi_connection,
            )
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="tarve-db-watchdog", daemon=True
                )
                self._thread.start()

    def release(self, dbapi_connection: Any) -> None:
        with self._lock:
            self._deadlines.pop(id(dbapi_connection), None)

    def _run(self) -> None:
        while True:
            time.sleep(min(0.25, self.seconds / 4))
            now = time.monotonic()
            with self._lock:
                late = [conn for deadline, conn in self._deadlines.values() if deadline < now]
                for conn in late:
                    self._deadlines.pop(id(conn), None)
            for conn in late:
                _cut(conn)


def _cut(dbapi_connection: Any) -> None:
    """End whatever ``dbapi_connection`` waits for: shut its socket, or interrupt SQLite."""
    try:
        interrupt = getattr(dbapi_connection, "interrupt", None)
        if interrupt is not None:  # sqlite3
            interrupt()
            return
        fileno = dbapi_connection.fileno()
        duplicate = socket.socket(fileno=os.dup(fileno))
        try:
            duplicate.shutdown(socket.SHUT_RDWR)
        finally:
            duplicate.close()
    except Exception as exc:  # best effort: the connection may be gone already
        logger.debug("could not cut a database connection: %s", exc)


def _install_bounds(engine: Engine, watchdog: _Watchdog) -> None:
    """Watch every checkout; ping connections idle for a while (under the watchdog)."""

    def on_checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        del proxy
        watchdog.watch(dbapi_connection)
        idle_since = record.info.get("checked_in_at")
        if idle_since is not None and time.monotonic() - idle_since > PING_AFTER_IDLE_SECONDS:
            try:
                cursor = dbapi_connection.cursor()
                cursor.execute("SELECT 1")
                cursor.close()
            except Exception as exc:
                watchdog.release(dbapi_connection)
                raise DisconnectionError(str(exc)) from exc

    def on_checkin(dbapi_connection: Any, record: Any) -> None:
        watchdog.release(dbapi_connection)
        record.info["checked_in_at"] = time.monotonic()

    event.listen(engine, "checkout", on_checkout)
    event.listen(engine, "checkin", on_checkin)


def _url_options(parsed: Any) -> list[str]:
    value = parsed.query.get("options")
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def make_engine(
    url: str, *, connect_timeout: float = 3.0, statement_timeout: float = 5.0
) -> Engine:
    """Make an engine for ``url``; SQLite files get WAL mode and their directory.

    PostgreSQL gets libpq's ``connect_timeout``, a server-side ``statement_timeout``,
    TCP keepalives and ``tcp_user_timeout``, and a pool timeout; both get the watchdog
    that cuts connections checked out longer than ``statement_timeout`` seconds.
    """
    parsed = make_url(url)
    watchdog = _Watchdog(statement_timeout)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": connect_timeout},
            pool_timeout=connect_timeout,
            hide_parameters=True,  # never a client_ref in a log line or an error message
        )
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        connect_args: dict[str, Any] = {}
        if parsed.get_backend_name() == "postgresql":
            connect_args = {
                "connect_timeout": max(2, round(connect_timeout)),
                # Added to the URL's own options (a search_path, say), not replacing them.
                "options": " ".join(
                    [
                        *_url_options(parsed),
                        f"-c statement_timeout={int(statement_timeout * 1000)}",
                    ]
                ),
                "keepalives": 1,
                "keepalives_idle": max(1, round(statement_timeout)),
                "keepalives_interval": 1,
                "keepalives_count": 3,
                "tcp_user_timeout": int(statement_timeout * 1000),
            }
        engine = create_engine(
            url,
            pool_size=5,
            max_overflow=10,
            pool_timeout=connect_timeout,
            connect_args=connect_args,
            hide_parameters=True,
        )
    _install_bounds(engine, watchdog)
    engine.info = {"watchdog": watchdog}  # type: ignore[attr-defined]
    return engine


class DatabaseHealth:
    """Whether the database answers, with one log line per incident (down, then back)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.down_since: float | None = None
        self.failures = 0
        self.problem: str | None = None

    @property
    def down(self) -> bool:
        """Whether the last contact failed and no probe has succeeded since."""
        return self.down_since is not None

    def failed(self, exc: BaseException) -> None:
        """Record a failure; log it when it starts an incident."""
        with self._lock:
            self.failures += 1
            if self.down_since is not None:
                return
            self.down_since = time.monotonic()
            self.problem = type(exc).__name__
        logger.error(MSG_DOWN.format(problem=_one_line(exc)))

    def answered(self) -> None:
        """Record a success; log the end of an incident."""
        with self._lock:
            if self.down_since is None:
                return
            seconds = time.monotonic() - self.down_since
            failures, self.down_since, self.failures, self.problem = self.failures, None, 0, None
        logger.warning(
            "the database answers again after %.1f s (%d failed calls meanwhile)", seconds, failures
        )


def _one_line(exc: BaseException) -> str:
    text_ = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return f"{type(exc).__name__}: {text_[0][:200] if text_ else ''}"


class Database:
    """An engine and its session factory, with fault bounds and health.

    Parameters
    ----------
    url : str
        SQLAlchemy URL.
    connect_timeout, statement_timeout : float
        Seconds (see :func:`make_engine`).
    spool : AuditSpool, optional
        Where audit rows go while the database does not answer.
    """

    def __init__(
        self,
        url: str,
        *,
        connect_timeout: float = 3.0,
        statement_timeout: float = 5.0,
        spool: AuditSpool | None = None,
    ) -> None:
        self.url = url
        self.engine = make_engine(
            url, connect_timeout=connect_timeout, statement_timeout=statement_timeout
        )
        self.health = DatabaseHealth()
        self.spool = spool
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def _check_up(self) -> None:
        if self.health.down:
            raise DatabaseUnavailable(MSG_STILL_DOWN)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """Open a session in a transaction: committed on success, rolled back on error.

        Raises
        ------
        DatabaseUnavailable
            The database is known to be down (no wait), or fails now.
        """
        self._check_up()
        try:
            with self._sessions.begin() as session:
                yield session
        except Exception as exc:
            if is_unavailable(exc):
                self.health.failed(exc)
                raise DatabaseUnavailable(MSG_STILL_DOWN) from exc
            raise

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """Open a Core connection in a transaction (see :meth:`session` for the errors)."""
        self._check_up()
        try:
            with self.engine.begin() as connection:
                yield connection
        except Exception as exc:
            if is_unavailable(exc):
                self.health.failed(exc)
                raise DatabaseUnavailable(MSG_STILL_DOWN) from exc
            raise

    def ping(self) -> None:
        """Raise if the database does not answer (bounded); update :attr:`health`."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as exc:
            self.health.failed(exc)
            raise
        self.health.answered()

    def upgrade(self) -> None:
        """Run the migrations to head (not cut by the watchdog: they may wait on a lock)."""
        with self.engine.info["watchdog"].exempt():  # type: ignore[attr-defined]
            upgrade_database(self.engine)

    def dispose(self) -> None:
        """Close the engine's connections."""
        self.engine.dispose()


def alembic_config() -> Any:
    """Return an Alembic config for the service's migrations (no ini file needed)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def upgrade_database(engine: Engine, revision: str = "head") -> None:
    """Run the migrations up to ``revision`` on ``engine``.

    On PostgreSQL the upgrade holds a session advisory lock
    (:data:`MIGRATION_LOCK_KEY`), so replicas that start at once migrate one after
    another: the first runs the migrations, the others wait, then find the schema at
    head and do nothing.
    """
    from alembic import command

    config = alembic_config()
    with engine.connect() as connection:
        locking = connection.dialect.name == "postgresql"
        if locking:
            # Waiting for another replica's migration may take longer than the service's
            # statement timeout: this session has none.
            connection.execute(text("SET statement_timeout = 0"))
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            connection.commit()
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
        finally:
            if locking:
                connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
                connection.commit()
