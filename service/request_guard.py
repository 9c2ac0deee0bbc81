r"""Refuse a request before anything reads it: size limits and personal identity codes.

An ASGI middleware that buffers the body (up to the configured limit; over it: 413),
scans the path, the query and the body for anything shaped like a Finnish personal
identity code (``models.extract.identity_code``), and refuses the request with a 422 that names
where the code was and never what it was. JSON bodies are also decoded when they hold
``\u`` escapes, so an escaped code cannot slip through. Nothing of a refused request
is logged or stored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import parse_qsl, unquote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from models.extract.identity_code import IDENTITY_CODE_PATTERN, looks_like_identity_code
from service.problems import (
    PROBLEM_TYPES,
    ContentTooLarge,
    IdentityCodeInRequest,
    ProblemError,
    problem_body,
)

_IDENTITY_CODE_BYTES = re.compile(IDENTITY_CODE_PATTERN.encode())
_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
Location = tuple[str, list[str | int]]


def _walk(value: Any, path: list[str | int]) -> Iterator[list[str | int]]:
    """Paths (into parsed JSON) of keys and strings that look like identity codes."""
    if isinstance(value, str):
        if looks_like_identity_code(value):
            yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            if looks_like_identity_code(str(key)):
                yield [*path, "(a key)"]
            yield from _walk(item, [*path, key])
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, [*path, index])


def find_identity_codes(
    path: str, query_string: bytes, body: bytes, content_type: str
) -> list[Location]:
    """Where identity codes occur in a request: (location, path) pairs, no values."""
    found: list[Location] = []
    if looks_like_identity_code(unquote(path)):
        found.append(("path", []))
    if query_string:
        for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
            if looks_like_identity_code(name) or looks_like_identity_code(value):
                found.append(("query", [name if not looks_like_identity_code(name) else "?"]))
    if not body:
        return found
    is_json = "json" in content_type
    raw_hit = _IDENTITY_CODE_BYTES.search(body) is not None
    if is_json and (raw_hit or b"\\u" in body):
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        if parsed is not None:
            found.extend(("body", hit) for hit in _walk(parsed, []))
            return found
    if raw_hit:
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
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes
        self.upload_paths = tuple(upload_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI call: refuse it as a problem, or pass it on with its body."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        limit = self.max_upload_bytes if path.startswith(self.upload_paths) else self.max_body_bytes
        headers = {key.lower(): value for key, value in scope.get("headers", [])}
        body = b""
        try:
            if scope.get("method") in _BODY_METHODS:
                body = await _read_body(receive, headers.get(b"content-length"), limit)
            content_type = headers.get(b"content-type", b"").decode("latin-1").lower()
            found = find_identity_codes(path, scope.get("query_string", b""), body, content_type)
            if found:
                raise IdentityCodeInRequest(found)
        except ProblemError as problem:
            await _send_problem(scope, send, problem)
            return
        await self.app(scope, _replay(body, receive), send)


async def _read_body(receive: Receive, content_length: bytes | None, limit: int) -> bytes:
    if content_length is not None and content_length.isdigit() and int(content_length) > limit:
        raise ContentTooLarge(f"the body is larger than {limit} bytes")
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


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _send_problem(scope: Scope, send: Send, problem: ProblemError) -> None:
    problem_type = PROBLEM_TYPES[problem.slug]
    body = problem_body(problem_type, detail=problem.detail, request=None, **problem.extra)
    request_id = scope.get("state", {}).get("request_id")
    if request_id:
        body["request_id"] = request_id
    payload = json.dumps(body).encode()
    headers = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(payload)).encode()),
    ]
    await send({"type": "http.response.start", "status": problem_type.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
