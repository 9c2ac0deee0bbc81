r"""Refuse a request before anything reads it: size, depth, identity codes; uploads after a key.

An ASGI middleware. For ordinary requests it buffers the body (up to the configured
limit; over it: 413), refuses JSON nested deeper than :data:`MAX_JSON_DEPTH` (400), and
scans the path, the query and every decoded string and key of the body for a Finnish
personal identity code in any form (``models.extract.identity_code``: glued, spaced,
without a separator, zero-width characters, full-width digits), refusing the request
with a 422 that names where the code was and never what it was. Large bodies are
scanned in the thread pool, never on the event loop, after a cheap pre-filter: an
ASCII body without escapes and without the digit pattern of a code is passed at once.

Upload paths (the fairness audit) are different: the caller's key and role are checked
*before* a byte of the body is read (401/403 otherwise), and the body is streamed to
the route with the size limit enforced while it flows; the route scans the decoded
file values (a compressed Parquet file hides codes from any byte scan).
Nothing of a refused request is logged or stored.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import parse_qsl, unquote

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from models.extract.identity_code import (
    contains_identity_code,
    free_text_has_identity_code,
    normalise_free_text,
)
from service.auth import (
    MSG_BAD_KEY,
    MSG_NO_KEY,
    Principal,
    Role,
    authenticate_token,
    token_from_headers,
)
from service.problems import (
    PROBLEM_TYPES,
    ContentTooLarge,
    Forbidden,
    IdentityCodeInRequest,
    JsonTooDeep,
    ProblemError,
    RequestTimeout,
    Unauthorized,
    problem_body,
)

_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
MAX_JSON_DEPTH = 32
# Bodies larger than this are scanned in the thread pool (a hop costs more than a scan).
INLINE_SCAN_BYTES = 4096
MSG_TOO_DEEP = f"the JSON body is nested deeper than {MAX_JSON_DEPTH} levels"
MSG_BODY_TIMEOUT = "no part of the body arrived for {seconds:g} seconds"
MSG_UPLOAD_ROLE = "a key with role {role!r} may not upload; it needs ['auditor']"
# Any way an ASCII body could spell a code: DDMMYY, maybe spaces and a sign, ZZZ. Run by
# RE2 (pyarrow): linear, about 10 ms a megabyte, where Python's re takes ten times that.
_ASCII_CANDIDATE = r"[0-3][0-9][01][0-9][0-9]{2}[ \t]*[-+A-Za-z]?[ \t]*[0-9]{3}"
_NOT_STRUCTURE = bytes(range(256)).translate(None, b'"[]{}')
Location = tuple[str, list[str | int]]
# Values of these fields are identifiers (the identifier rule); every other string is
# free text (normalised, and the code without a separator found too).
IDENTIFIER_FIELDS = frozenset({"client_ref", "recommendation_request_id", "name"})


def _holds_code(value: str, path: list[str | int]) -> bool:
    if path and path[-1] in IDENTIFIER_FIELDS:
        return contains_identity_code(normalise_free_text(value))
    return free_text_has_identity_code(value)


def _walk(value: Any, path: list[str | int]) -> Iterator[list[str | int]]:
    """Paths (into parsed JSON) of keys and strings that hold identity codes."""
    if isinstance(value, str):
        if _holds_code(value, path):
            yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            if free_text_has_identity_code(str(key)):
                yield [*path, "(a key)"]
            yield from _walk(item, [*path, key])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, [*path, index])


def json_depth_exceeds(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether JSON ``body`` nests arrays and objects deeper than ``limit`` (no parsing).

    Escaped backslashes and quotes are dropped, then everything but quotes and brackets;
    brackets inside strings (between an odd and an even quote) do not count.
    """
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    structure = body.replace(b"\\\\", b"").replace(b'\\"', b"").translate(None, _NOT_STRUCTURE)
    marks = np.frombuffer(structure, dtype=np.uint8)
    quotes = marks == ord('"')
    inside = (np.cumsum(quotes) % 2 == 1) | quotes
    steps = np.isin(marks, (ord("["), ord("{"))).astype(np.int64)
    steps -= np.isin(marks, (ord("]"), ord("}")))
    steps[inside] = 0
    return bool(len(steps)) and int(np.cumsum(steps).max()) > limit


def _may_hold_code(body: bytes) -> bool:
    """Cheap pre-filter: False only when no decoded form of ``body`` can hold a code."""
    if not body.isascii() or b"\\" in body:
        return True  # escapes, full-width digits, zero-width characters: decode and look
    found = pc.match_substring_regex(pa.array([body], pa.binary()), _ASCII_CANDIDATE)
    return bool(found[0].as_py())


def find_identity_codes(
    path: str, query_string: bytes, body: bytes, content_type: str
) -> list[Location]:
    """Where identity codes occur in a request: (location, path) pairs, no values.

    Raises
    ------
    JsonTooDeep
        A JSON body nests deeper than :data:`MAX_JSON_DEPTH`.
    """
    found: list[Location] = []
    if free_text_has_identity_code(unquote(path)):
        found.append(("path", []))
    if query_string:
        for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
            name_holds = free_text_has_identity_code(name)
            if name_holds or free_text_has_identity_code(value):
                found.append(("query", ["?" if name_holds else name]))
    if not body:
        return found
    is_json = "json" in content_type
    if is_json and json_depth_exceeds(body):
        raise JsonTooDeep(MSG_TOO_DEEP)
    if not _may_hold_code(body):
        return found
    if is_json:
        try:
            parsed = json.loads(body)
        except (ValueError, RecursionError):
            parsed = None
        if parsed is not None:
            found.extend(("body", hit) for hit in _walk(parsed, []))
            return found
    if free_text_has_identity_code(body.decode("utf-8", errors="replace")):
        found.append(("body", []))
    return found


class RequestGuardMiddleware:
    """Body size limits and identity-code refusal, before any route sees the request.

    Parameters
    ----------
    max_body_bytes : int
        Largest body for ordinary (JSON) requests.
    max_upload_bytes : int
        Largest body for paths starting with one of ``upload_paths``.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        max_upload_bytes: int,
        upload_paths: Sequence[str] = (),
        body_read_timeout: float = 30.0,
    ) -> None:
        self.app = app
        self.body_read_timeout = body_read_timeout
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes
        self.upload_paths = tuple(upload_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI call: refuse it as a problem, or pass it on with its body."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        headers = {key.lower(): value for key, value in scope.get("headers", [])}
        query: bytes = scope.get("query_string", b"")
        if path.startswith(self.upload_paths) and scope.get("method") in _BODY_METHODS:
            try:
                await _authorise_upload(scope, headers)
                found = find_identity_codes(path, query, b"", "")
                if found:
                    raise IdentityCodeInRequest(found)
                _check_declared_length(headers.get(b"content-length"), self.max_upload_bytes)
            except ProblemError as problem:
                await send_problem(scope, send, problem)
                return
            limited = _limited(receive, self.max_upload_bytes, self.body_read_timeout)
            await self.app(scope, limited, send)
            return
        body = b""
        try:
            if scope.get("method") in _BODY_METHODS:
                timed = _timed(receive, self.body_read_timeout)
                body = await _read_body(timed, headers.get(b"content-length"), self.max_body_bytes)
            content_type = headers.get(b"content-type", b"").decode("latin-1").lower()
            if len(body) > INLINE_SCAN_BYTES:
                found = await run_in_threadpool(
                    find_identity_codes, path, query, body, content_type
                )
            else:
                found = find_identity_codes(path, query, body, content_type)
            if found:
                raise IdentityCodeInRequest(found)
        except ProblemError as problem:
            await send_problem(scope, send, problem)
            return
        await self.app(scope, replay_body(body, receive), send)


async def _authorise_upload(scope: Scope, headers: dict[bytes, bytes]) -> Principal:
    """Return the auditor behind an upload, checked before its body is read (401/403)."""
    token = token_from_headers(headers)
    if not token:
        raise Unauthorized(MSG_NO_KEY)
    principal = await authenticate_token(scope["app"].state.authenticator, token)
    if principal is None:
        raise Unauthorized(MSG_BAD_KEY)
    scope.setdefault("state", {})["principal"] = principal  # as the route's key check does
    if principal.role is not Role.AUDITOR:
        raise Forbidden(MSG_UPLOAD_ROLE.format(role=principal.role.value))
    return principal


def _check_declared_length(content_length: bytes | None, limit: int) -> None:
    if content_length is not None and content_length.isdigit() and int(content_length) > limit:
        raise ContentTooLarge(f"the body is larger than {limit} bytes")


def _timed(receive: Receive, timeout: float) -> Receive:
    """``receive`` that gives up (408) when the next chunk takes longer than ``timeout``."""

    async def timed() -> Message:
        try:
            return await asyncio.wait_for(receive(), timeout)
        except TimeoutError:
            raise RequestTimeout(MSG_BODY_TIMEOUT.format(seconds=timeout)) from None

    return timed


def _limited(receive: Receive, limit: int, timeout: float) -> Receive:
    """``receive`` that stops a streamed body at ``limit`` bytes (413) or a stall (408)."""
    size = 0

    async def limited() -> Message:
        nonlocal size
        try:
            message = await asyncio.wait_for(receive(), timeout)
        except TimeoutError:
            raise HTTPException(408, MSG_BODY_TIMEOUT.format(seconds=timeout)) from None
        size += len(message.get("body", b""))
        if size > limit:
            # An HTTPException: the form parser lets it through (it turns others into 400).
            raise HTTPException(413, f"the body is larger than {limit} bytes")
        return message

    return limited


async def _read_body(receive: Receive, content_length: bytes | None, limit: int) -> bytes:
    _check_declared_length(content_length, limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise ContentTooLarge(f"the body is larger than {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay_body(body: bytes, receive: Receive) -> Receive:
    """Return a ``receive`` that hands the app ``body`` (already read) once, then waits."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def send_problem(scope: Scope, send: Send, problem: ProblemError) -> None:
    """Answer an ASGI call with ``problem`` (problem+json, with the request id)."""
    problem_type = PROBLEM_TYPES[problem.slug]
    body = problem_body(problem_type, detail=problem.detail, request=None, **problem.extra)
    request_id = scope.get("state", {}).get("request_id")
    if request_id:
        body["request_id"] = request_id
    payload = json.dumps(body).encode()
    headers = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(payload)).encode()),
        *((name.encode(), value.encode()) for name, value in problem.headers.items()),
    ]
    await send({"type": "http.response.start", "status": problem_type.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
