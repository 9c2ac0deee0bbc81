"""The service's database: API keys, the audit log and caseworkers' feedback.

SQLAlchemy 2 declarative tables; the schema itself is created and changed only by the
Alembic migrations in ``service/migrations`` (:func:`upgrade_database`). SQLite (WAL)
by default, PostgreSQL when ``TARVE_DATABASE_URL`` names one. Times are stored in UTC.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Engine,
    Integer,
    String,
    TypeDecorator,
    create_engine,
    event,
    text,
)
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

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


def make_engine(url: str) -> Engine:
    """Make an engine for ``url``; SQLite files get WAL mode and their directory."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


class Database:
    """An engine and its session factory."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """Open a session in a transaction: committed on success, rolled back on error."""
        with self._sessions.begin() as session:
            yield session

    def ping(self) -> None:
        """Raise if the database does not answer."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def upgrade(self) -> None:
        """Run the migrations to head."""
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
