"""API keys with roles: ``caseworker``, ``auditor`` and ``admin``.

A key is ``tarve_<role>_<43 random URL-safe characters>`` (256 bits from ``secrets``),
shown once when created. Only its SHA-256 is stored: a salt or a slow hash adds nothing
for a high-entropy random token, and a plain digest keeps the lookup a single indexed
query. Callers send the key as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``.
No key or an unknown or revoked key: 401; a key whose role may not call the endpoint:
403. The roles do not nest: an admin manages keys and models but reads no client data.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from models.extract.identity_code import contains_identity_code
from service.db import ApiKey, Database, utc_now
from service.problems import Forbidden, ProblemError, Unauthorized

# What a key can look like; anything else is refused without a database query.
KEY_PATTERN = re.compile(r"^tarve_(?:caseworker|auditor|admin)_[A-Za-z0-9_-]{43}$")
KEY_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")
MSG_NO_KEY = "no API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"
MSG_BAD_KEY = "the API key is unknown or revoked"
MSG_WRONG_ROLE = "a key with role {role!r} may not call this; it needs {allowed}"
MSG_BAD_NAME = (
    "a key name is 1-100 characters: letters, digits and . _ @ -, starting with a letter or digit"
)
MSG_NAME_IS_IDENTITY_CODE = "a key name must not look like a personal identity code"
MSG_LAST_ADMIN = (
    "this is the last active admin key; create another admin key first "
    "(or revoke it with 'tarve keys revoke' on the server)"
)
MSG_NAME_TAKEN = "a key named {name!r} exists already"


class Role(StrEnum):
    """What a key may do: read client data, read the audit, or administer."""

    CASEWORKER = "caseworker"
    AUDITOR = "auditor"
    ADMIN = "admin"


class KeyNameTaken(ProblemError):
    """A key with this name exists already (409)."""

    slug = "key-exists"


class LastAdminKey(ProblemError):
    """The last active admin key cannot be revoked through the API (409)."""

    slug = "last-admin-key"


class InvalidKeyName(ValueError):
    """A key name breaks :data:`KEY_NAME_PATTERN` or looks like an identity code."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's name and role."""

    name: str
    role: Role


@dataclass(frozen=True)
class KeyInfo:
    """A key as listings show it: never the key itself."""

    name: str
    role: Role
    prefix: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None


def hash_key(token: str) -> str:
    """Return the stored form of a key: its hex SHA-256."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token(role: Role) -> str:
    """Return a new random key for ``role``: ``tarve_<role>_<43 characters>``."""
    return f"tarve_{role.value}_{secrets.token_urlsafe(32)}"


def key_prefix(token: str, role: Role) -> str:
    """How a key is recognised in listings: ``tarve_<role>_`` and 6 of its 43 random characters."""
    return token[: len(f"tarve_{role.value}_") + 6] + "…"


def check_key_name(name: str) -> None:
    """Raise :class:`InvalidKeyName` unless ``name`` may name a key."""
    if not KEY_NAME_PATTERN.match(name):
        raise InvalidKeyName(MSG_BAD_NAME)
    if contains_identity_code(name):
        raise InvalidKeyName(MSG_NAME_IS_IDENTITY_CODE)


def create_key(database: Database, *, name: str, role: Role | str) -> tuple[KeyInfo, str]:
    """Create a key; returns its description and the token (shown once, never stored).

    Raises
    ------
    InvalidKeyName
        The name breaks :data:`KEY_NAME_PATTERN` or looks like an identity code.
    KeyNameTaken
        A key (even a revoked one) has this name.
    """
    role = Role(role)
    check_key_name(name)
    token = new_token(role)
    row = ApiKey(
        name=name,
        role=role.value,
        key_hash=hash_key(token),
        prefix=key_prefix(token, role),
        created_at=utc_now(),
    )
    try:
        with database.session() as session:
            session.add(row)
    except IntegrityError as exc:
        raise KeyNameTaken(MSG_NAME_TAKEN.format(name=name)) from exc
    return _info(row), token


def list_keys(database: Database) -> list[KeyInfo]:
    """Return every key (revoked ones too), oldest first."""
    with database.session() as session:
        rows = session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)).all()
        return [_info(row) for row in rows]


def revoke_key(database: Database, name: str, *, keep_an_admin: bool = False) -> bool:
    """Revoke the key named ``name``; False when there is no such active key.

    With ``keep_an_admin`` (the admin API), revoking the last active admin key is
    refused (:class:`LastAdminKey`): nobody could manage keys through the API after it.
    """
    with database.session() as session:
        row = session.scalars(
            select(ApiKey).where(ApiKey.name == name, ApiKey.revoked_at.is_(None))
        ).first()
        if row is None:
            return False
        if keep_an_admin and row.role == Role.ADMIN.value:
            admins = session.scalars(
                select(ApiKey.id).where(
                    ApiKey.role == Role.ADMIN.value, ApiKey.revoked_at.is_(None)
                )
            ).all()
            if len(admins) <= 1:
                raise LastAdminKey(MSG_LAST_ADMIN)
        row.revoked_at = utc_now()
        return True


def _info(row: ApiKey) -> KeyInfo:
    return KeyInfo(row.name, Role(row.role), row.prefix, row.created_at, row.revoked_at)


class KeyAuthenticator:
    """Looks keys up by hash, remembering answers for ``cache_seconds``.

    A key revoked through this process (the admin API) is forgotten at once; one revoked
    from another process (``tarve keys revoke``) stops working within ``cache_seconds``.
    """

    def __init__(self, database: Database, *, cache_seconds: float) -> None:
        self.database = database
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

    def cached(self, token: str) -> tuple[bool, Principal | None]:
        """(known, principal) from the cache without touching the database."""
        if self.cache_seconds <= 0:
            return False, None
        entry = self._cache.get(hash_key(token))
        if entry is None or entry[0] < time.monotonic():
            return False, None
        return True, entry[1]

    def authenticate(self, token: str) -> Principal | None:
        """Return the caller a token belongs to (None: unknown or revoked); a query."""
        digest = hash_key(token)
        with self.database.session() as session:
            row = session.scalars(
                select(ApiKey).where(ApiKey.key_hash == digest, ApiKey.revoked_at.is_(None))
            ).first()
            principal = None if row is None else Principal(row.name, Role(row.role))
        if self.cache_seconds > 0:
            with self._lock:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[digest] = (time.monotonic() + self.cache_seconds, principal)
        return principal

    def forget_all(self) -> None:
        """Forget every remembered answer (after a revocation)."""
        with self._lock:
            self._cache.clear()


def token_from_headers(headers: dict[bytes, bytes]) -> str | None:
    """Return the API key in raw ASGI headers (lower-case names): bearer token or ``X-API-Key``."""
    authorization = headers.get(b"authorization", b"").decode("latin-1")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    api_key = headers.get(b"x-api-key", b"").decode("latin-1").strip()
    return api_key or None


async def authenticate_token(authenticator: KeyAuthenticator, token: str) -> Principal | None:
    """Return the caller a token belongs to: malformed keys cost nothing, others a cached lookup."""
    if not KEY_PATTERN.match(token):
        return None
    known, principal = authenticator.cached(token)
    if not known:
        principal = await run_in_threadpool(authenticator.authenticate, token)
    return principal


_bearer = HTTPBearer(auto_error=False, description="An API key as a bearer token.")
_api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="An API key in the X-API-Key header."
)


async def authenticate(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key_header)],
) -> Principal:
    """Find the caller by key: the dependency behind every role check (401 without one).

    Resolved once per request, however many dependencies need the caller; the key
    lookup (a database query) runs in the thread pool.
    """
    token = bearer.credentials if bearer is not None else api_key
    if not token:
        raise Unauthorized(MSG_NO_KEY)
    authenticator: KeyAuthenticator = request.app.state.authenticator
    principal = await authenticate_token(authenticator, token)
    if principal is None:
        raise Unauthorized(MSG_BAD_KEY)
    request.state.principal = principal
    return principal


def require_roles(*roles: Role) -> Callable[[Principal], Coroutine[Any, Any, Principal]]:
    """Make a dependency that authenticates the caller and checks the role (401/403).

    Parameters
    ----------
    *roles : Role
        The roles that may call the endpoint.

    Returns
    -------
    callable
        The dependency; it gives the route the caller's :class:`Principal`.
    """
    allowed = [role.value for role in roles]

    async def authorised(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if principal.role not in roles:
            raise Forbidden(MSG_WRONG_ROLE.format(role=principal.role.value, allowed=allowed))
        return principal

    return authorised
