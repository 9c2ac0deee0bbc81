"""The service's settings: one pydantic-settings class, read from ``TARVE_*`` variables.

Read them through :func:`get_settings` (cached); tests build a :class:`Settings` of
their own and hand it to :func:`service.app.create_app`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from models.store import DEFAULT_REGISTERED_MODEL, PRODUCTION_ALIAS, tarve_home

# A language code names, rules and reasons come in. Which codes are served is the
# served model's schema's ``languages`` (fi, sv, en by default), checked per request.
Language = str
DEFAULT_MODEL_URI = f"models:/{DEFAULT_REGISTERED_MODEL}@{PRODUCTION_ALIAS}"
MIB = 1024 * 1024


def default_database_url() -> str:
    """SQLite in the project-local state directory (``TARVE_HOME``, default ``.tarve``)."""
    return f"sqlite:///{tarve_home() / 'tarve.db'}"


class Settings(BaseSettings):
    """Everything the API can be told from outside; each field is ``TARVE_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="TARVE_", extra="ignore", frozen=True)

    model_uri: str = Field(
        default=DEFAULT_MODEL_URI,
        description="An MLflow URI (models:/name@alias, runs:/...) or a model directory.",
    )
    database_url: str = Field(
        default_factory=default_database_url,
        description="SQLAlchemy URL of the audit-log database; SQLite under TARVE_HOME by "
        "default, e.g. postgresql+psycopg://user@host/db in production.",
    )
    migrate_on_startup: bool = Field(
        default=True, description="Run the Alembic migrations to head when the app starts."
    )
    batch_limit: int = Field(default=1000, ge=1, description="Most clients in one batch call.")
    reload_interval_seconds: float | None = Field(
        default=None,
        gt=0,
        description="Poll the model URI this often and reload when its version changed.",
    )
    top_reasons: int = Field(default=5, ge=0, le=100, description="Reasons per service.")
    default_lang: Language = Field(
        default="fi",
        pattern=r"^[a-z]{2,3}$",
        description="Language when a request names none; the served schema's first "
        "language when the schema does not declare this one.",
    )
    num_threads: int = Field(
        default=1, ge=0, description="LightGBM threads for one recommendation (0: its default)."
    )
    batch_num_threads: int = Field(
        default=1,
        ge=0,
        description="LightGBM threads for a batch (0: all cores). One by default: on a shared "
        "machine OpenMP threads compete with the server's own; raise it on a dedicated one.",
    )
    max_body_bytes: int = Field(default=16 * MIB, ge=1024, description="Largest JSON body.")
    max_upload_bytes: int = Field(
        default=256 * MIB, ge=1024, description="Largest predictions file for a fairness audit."
    )
    audit_max_columns: int = Field(
        default=200, ge=1, description="Most columns in an uploaded predictions file."
    )
    audit_max_rows: int = Field(
        default=1_000_000,
        ge=1,
        description="Most rows in an uploaded predictions file (bounds the audit's memory).",
    )
    max_header_bytes: int = Field(
        default=64 * 1024, ge=1024, description="Largest request line plus headers (431/400)."
    )
    request_header_timeout_seconds: float = Field(
        default=10.0, gt=0, description="A connection's request head must arrive within this."
    )
    body_read_timeout_seconds: float = Field(
        default=30.0, gt=0, description="Longest wait for the next chunk of a body (408)."
    )
    keep_alive_seconds: float = Field(
        default=5.0, ge=1, description="An idle kept-alive connection is closed after this."
    )
    max_connections: int | None = Field(
        default=1000, ge=1, description="Most concurrent connections (503 beyond; none: no cap)."
    )
    key_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        description="How long a verified API key is trusted without asking the database; "
        "a key revoked elsewhere stops working within this time (0: always ask).",
    )
    fairness_policy: Path | None = Field(
        default=None, description="Policy file for uploaded audits (default: the built-in)."
    )
    server_timing: bool = Field(
        default=True, description="Add a Server-Timing header with the handling time."
    )
    database_connect_timeout_seconds: float = Field(
        default=3.0,
        gt=0,
        description="Longest wait for a database connection (connecting, or a free one in "
        "the pool).",
    )
    database_statement_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        description="Longest a database statement (or a whole short transaction) may take; "
        "a connection held longer is cut, also when the network holds its packets.",
    )
    retry_after_seconds: int = Field(
        default=5, ge=1, description="Retry-After of the 503 answered while the database is down."
    )
    audit_spool_path: Path | None = Field(
        default_factory=lambda: tarve_home() / "audit-spool.jsonl",
        description="Local append-only file (fsync'd) that keeps audit rows while the "
        "database does not answer; replayed in order when it does. None: no spool (a "
        "database outage then refuses audited calls with 503).",
    )
    audit_spool_max_bytes: int = Field(
        default=64 * MIB,
        ge=4096,
        description="Largest audit spool; when it is full, audited calls are refused (503).",
    )
    registry_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        description="Longest wait for the model registry (locating or fetching a model), at "
        "start and on reload.",
    )
    registry_retry_seconds: float = Field(
        default=10.0,
        gt=0,
        description="How often to retry the registry when no model could be loaded at start.",
    )
    model_local_copy: Path | None = Field(
        default_factory=lambda: tarve_home() / "served-model",
        description="Where the last verified model fetched from the registry is kept; the "
        "server starts from it when the registry does not answer.",
    )
    rate_limits_enabled: bool = Field(
        default=True,
        description="Rate limits per key, per address, for unknown keys and for batch "
        "clients (in memory, per server process).",
    )
    rate_limit_address_per_second: float = Field(
        default=1000.0, gt=0, description="Requests a second one client address may send."
    )
    rate_limit_address_burst: int = Field(
        default=10_000, ge=1, description="Requests an address may send at once, above the rate."
    )
    rate_limit_key_per_second: float = Field(
        default=500.0, gt=0, description="Requests a second one API key may send."
    )
    rate_limit_key_burst: int = Field(
        default=5_000, ge=1, description="Requests a key may send at once, above the rate."
    )
    rate_limit_auth_failures_per_minute: float = Field(
        default=600.0,
        gt=0,
        description="Requests a minute with an unknown, revoked or malformed key that one "
        "address may send; past it, its keys not seen lately are refused (429) unchecked.",
    )
    rate_limit_auth_failures_burst: int = Field(
        default=1000, ge=1, description="Unknown-key requests an address may send at once."
    )
    rate_limit_batch_clients_per_minute: float = Field(
        default=60_000.0, gt=0, description="Clients a minute one key may send in batch calls."
    )
    rate_limit_batch_clients_burst: int = Field(
        default=10_000,
        ge=1,
        description="Batch clients a key may send at once (raised to TARVE_BATCH_LIMIT if "
        "lower, so that a full batch can pass).",
    )
    metrics_public: bool = Field(
        default=False,
        description="Serve /metrics to anyone (only where nobody but the scraper reaches "
        "the port); by default it needs an admin key or the metrics bearer token.",
    )
    metrics_credentials_file: Path | None = Field(
        default=None,
        description="A file holding a bearer token (32+ characters) that may read /metrics "
        "and nothing else, for Prometheus (its credentials_file holds the same).",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins (https://host[:port], comma-separated) whose browser pages may "
        "call the API; none by default (CORS closed).",
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("cors_origins")
    @classmethod
    def _check_origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if origin == "*" or not origin.startswith(("https://", "http://")):
                raise ValueError(
                    f"a CORS origin is scheme://host[:port], not {origin!r} (no wildcard)"
                )
            if origin.rstrip("/").count("/") > 2:
                raise ValueError(f"a CORS origin has no path: {origin!r}")
        return [origin.rstrip("/") for origin in value]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the settings from the environment, read once per process."""
    return Settings()
