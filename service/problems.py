"""Errors as RFC 9457 problem details (``application/problem+json``).

Every error the API gives has a stable ``type`` (a URI reference, ``/problems/<slug>``,
that the API itself serves as documentation), a ``title``, the ``status``, a
``detail`` and the ``request_id``. Validation errors (422) also carry ``errors``: one
entry per bad field with a JSON ``pointer`` into the body (or the query ``parameter``),
the dotted ``field``, a ``detail`` and a ``code``. No message ever echoes a value from
the request, and no stack trace ever reaches a caller.

Domain errors are :class:`ProblemError` subclasses that carry their status; one set of
handlers (:func:`install_problem_handlers`) turns them, FastAPI's and Starlette's
errors, and anything unexpected into problem responses.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from models.extract.identity_code import free_text_has_identity_code
from models.features import UnknownCategoryError

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_PATH = "/problems/"
logger = logging.getLogger("service.problems")

MSG_IDENTITY_CODE = (
    "looks like a Finnish personal identity code; tarve never takes one: refer to the "
    "client by a pseudonymous reference"
)
MSG_VALIDATION = "{count} field(s) are not valid for the served model's schema"
MSG_UNKNOWN_FIELD = "unknown field: the served model's schema has no such field"
MSG_UNUSED_FIELD = (
    "the served model does not use this field, so the API does not take it (data minimisation)"
)
# What an answer must never show: SQL statements and their parameters (SQLAlchemy puts
# them in its messages), URLs (the MLflow server, a database URL with its password),
# and libpq's host, address and port.
_SQL_TAIL = re.compile(r"\s*\[(?:SQL|parameters|SQL parameters)\b.*", re.DOTALL)
_BACKGROUND = re.compile(r"\s*\(Background on this error at:[^)]*\)")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\")\]]+")
_SERVER_AT = re.compile(r"server at \"[^\"]*\"(?: \([^)]*\))?,? port \d+")
_DSN_FIELD = re.compile(r"\b(host|hostaddr|port|dbname|user|password)=\S+")


def without_internals(text: str) -> str:
    """Return ``text`` without SQL, parameters, URLs or database hosts (for any answer)."""
    text = _SQL_TAIL.sub("", _BACKGROUND.sub("", text))
    text = _SERVER_AT.sub("the database server", _URL.sub("<url>", text))
    return _DSN_FIELD.sub(r"\1=<hidden>", text)


@dataclass(frozen=True)
class ProblemType:
    """One kind of problem: its slug, HTTP status, title and what it means."""

    slug: str
    status: int
    title: str
    description: str

    @property
    def uri(self) -> str:
        """The problem type's ``type`` URI (a path that documents it)."""
        return PROBLEM_PATH + self.slug


_TYPES = [
    ProblemType(
        "validation-error",
        422,
        "The request is not valid",
        "A field is missing, unknown, of the wrong type, out of the schema's range or an "
        "unknown category. `errors` lists every bad field; nothing is predicted.",
    ),
    ProblemType(
        "identity-code",
        422,
        "The request contains a personal identity code",
        "Something in the request (a value, a key, the query) looks like a Finnish "
        "personal identity code (henkilötunnus). tarve never takes, stores or logs one; "
        "refer to clients by a pseudonymous reference. The value is not echoed back.",
    ),
    ProblemType(
        "unauthorized",
        401,
        "An API key is needed",
        "Send a valid API key as `Authorization: Bearer <key>` or `X-API-Key: <key>`.",
    ),
    ProblemType(
        "forbidden", 403, "The key's role may not do this", "Each endpoint names its roles."
    ),
    ProblemType("not-found", 404, "Not found", "No such resource."),
    ProblemType(
        "fairness-report-missing",
        404,
        "The served model has no fairness audit",
        "The model artifact holds no `fairness_audit.json`; training writes it.",
    ),
    ProblemType(
        "method-not-allowed", 405, "Method not allowed", "The path exists for other methods."
    ),
    ProblemType(
        "not-acceptable", 406, "Not acceptable", "The response exists as JSON or HTML only."
    ),
    ProblemType(
        "key-exists", 409, "The key name is taken", "Key names are unique, revoked ones too."
    ),
    ProblemType(
        "last-admin-key",
        409,
        "The last admin key cannot be revoked",
        "Create another admin key first; the server's `tarve keys revoke` can still do it.",
    ),
    ProblemType(
        "model-rejected",
        409,
        "The new model was rejected",
        "Reloading failed: the model could not be loaded or failed its smoke prediction. "
        "The previous model keeps serving.",
    ),
    ProblemType(
        "no-effect-models",
        409,
        "The served model has no effect estimates",
        "`rank_by=benefit` orders services by expected benefit, and the served model "
        "artifact holds no effect models (`effects/`). Ask with `rank_by=need`, or serve "
        "a model trained with effect models (the default of `tarve train`).",
    ),
    ProblemType(
        "content-too-large",
        413,
        "The request body is too large",
        "The body exceeds the configured size limit.",
    ),
    ProblemType(
        "batch-too-large",
        413,
        "Too many clients in one batch",
        "A batch may hold at most the configured number of clients (default 1,000).",
    ),
    ProblemType(
        "unsupported-media-type",
        415,
        "Unsupported media type",
        "Send JSON (`application/json`), or for uploads `multipart/form-data`.",
    ),
    ProblemType(
        "model-unavailable",
        503,
        "No model is being served",
        "The service has no model loaded; `/readyz` says why.",
    ),
    ProblemType(
        "service-unavailable",
        503,
        "A dependency is not available",
        "The database or another dependency does not answer.",
    ),
    ProblemType(
        "internal-error",
        500,
        "Internal error",
        "Something went wrong on the server; the request id identifies it in the logs.",
    ),
    ProblemType("http-error", 400, "HTTP error", "A protocol-level error."),
    ProblemType(
        "json-too-deep",
        400,
        "The JSON body is nested too deeply",
        "Arrays and objects may nest at most 32 levels.",
    ),
    ProblemType(
        "malformed-body",
        400,
        "The body cannot be parsed",
        "The body is not well-formed (JSON or multipart form data).",
    ),
    ProblemType(
        "request-timeout",
        408,
        "The request was not sent in time",
        "The body (or the request head) stalled longer than the configured read timeout.",
    ),
    ProblemType(
        "rate-limited",
        429,
        "Too many requests",
        "The key or the address sent more requests (or batch clients) than its budget; "
        "`Retry-After` says when to try again.",
    ),
]
PROBLEM_TYPES: dict[str, ProblemType] = {problem.slug: problem for problem in _TYPES}


def _default_slug(status: int) -> str:
    for problem in _TYPES:
        if problem.status == status:
            return problem.slug
    return "http-error"


class ProblemError(Exception):
    """A domain error that knows its problem type (and so its status)."""

    slug: ClassVar[str] = "internal-error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.detail = detail
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})
        super().__init__(detail or self.problem_type.title)

    @property
    def problem_type(self) -> ProblemType:
        """The problem type this error answers with."""
        return PROBLEM_TYPES[self.slug]


class Unauthorized(ProblemError):
    """401: no API key, or an unknown or revoked one."""

    slug = "unauthorized"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="tarve"'})


class Forbidden(ProblemError):
    """403: the key's role may not call this endpoint."""

    slug = "forbidden"


class NotFound(ProblemError):
    """404: no such resource."""

    slug = "not-found"


class FairnessReportMissing(ProblemError):
    """404: the served model has no fairness audit."""

    slug = "fairness-report-missing"


class NotAcceptable(ProblemError):
    """406: the Accept header takes none of the formats offered."""

    slug = "not-acceptable"


class ModelRejected(ProblemError):
    """409: the new model failed to load or its smoke prediction."""

    slug = "model-rejected"


class ContentTooLarge(ProblemError):
    """413: the body is over the configured limit."""

    slug = "content-too-large"


class JsonTooDeep(ProblemError):
    """400: a JSON body nests deeper than the limit."""

    slug = "json-too-deep"


class RequestTimeout(ProblemError):
    """408: the body stalled longer than the read timeout."""

    slug = "request-timeout"


class RateLimited(ProblemError):
    """429: over the per-key, per-address or batch budget; ``Retry-After`` in seconds."""

    slug = "rate-limited"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after))})


class BatchTooLarge(ProblemError):
    """413: more clients in one batch than the limit."""

    slug = "batch-too-large"


class UnsupportedMediaType(ProblemError):
    """415: the body is not JSON."""

    slug = "unsupported-media-type"


class ModelUnavailable(ProblemError):
    """503: no model is being served."""

    slug = "model-unavailable"


class NoEffectModels(ProblemError):
    """409: ``rank_by=benefit`` asked of a model without effect models."""

    slug = "no-effect-models"


class ServiceUnavailable(ProblemError):
    """503: a dependency (the database) does not answer."""

    slug = "service-unavailable"


class InvalidRequest(ProblemError):
    """422 with the per-field ``errors`` list."""

    slug = "validation-error"

    def __init__(self, errors: Sequence[Mapping[str, Any]], detail: str | None = None) -> None:
        super().__init__(
            detail or MSG_VALIDATION.format(count=len(errors)), extra={"errors": list(errors)}
        )


class IdentityCodeInRequest(ProblemError):
    """422 naming where identity codes were found, never what they were."""

    slug = "identity-code"

    def __init__(self, locations: Sequence[tuple[str, Sequence[str | int]]]) -> None:
        errors = [
            field_error(location, path, MSG_IDENTITY_CODE, "identity_code")
            for location, path in locations
        ]
        super().__init__(
            "The request was refused and not logged; nothing in it was stored.",
            extra={"errors": errors},
        )


def _escape_pointer(part: str | int) -> str:
    return str(part).replace("~", "~0").replace("/", "~1")


def field_error(location: str, path: Sequence[str | int], detail: str, code: str) -> dict[str, Any]:
    """One entry of a 422's ``errors``: where (pointer or parameter), what, and a code."""
    entry: dict[str, Any] = {"location": location}
    if location == "body":
        entry["pointer"] = "#/" + "/".join(_escape_pointer(part) for part in path)
    elif path:
        entry["parameter"] = str(path[0])
    entry["field"] = ".".join(str(part) for part in path)
    entry["detail"] = detail
    entry["code"] = code
    return entry


def pydantic_errors(
    errors: Iterable[Mapping[str, Any]],
    *,
    location: str | None = None,
    unused_fields: Collection[str] = (),
) -> list[dict[str, Any]]:
    """Pydantic/FastAPI error dicts as ``errors`` entries, without the inputs.

    ``unused_fields``: names the schema has but requests may not carry (an extra field
    with such a name gets :data:`MSG_UNUSED_FIELD` instead of :data:`MSG_UNKNOWN_FIELD`).
    """
    result = []
    for error in errors:
        loc = [part for part in error.get("loc", ()) if isinstance(part, str | int)]
        where = location
        if where is None:
            where = str(loc[0]) if loc and loc[0] in ("body", "query", "header", "path") else "body"
            if loc and loc[0] == where:
                loc = loc[1:]
        message = str(error.get("msg", "invalid"))
        if error.get("type") == "extra_forbidden":
            unused = bool(loc) and loc[-1] in unused_fields
            message = MSG_UNUSED_FIELD if unused else MSG_UNKNOWN_FIELD
        result.append(field_error(where, loc, message, str(error.get("type", "invalid"))))
    return result


def problem_body(
    problem: ProblemType, *, detail: str | None, request: Request | None, **extra: Any
) -> dict[str, Any]:
    """Return an RFC 9457 problem body (with the request's path and id when given)."""
    body: dict[str, Any] = {
        "type": problem.uri,
        "title": problem.title,
        "status": problem.status,
        "detail": without_internals(detail) if detail else problem.title,
    }
    if request is not None:
        if problem.status != 404 and not free_text_has_identity_code(request.url.path):
            body["instance"] = request.url.path  # never the path of a 404: it is the caller's
        request_id = getattr(request.state, "request_id", None)
        if request_id:
            body["request_id"] = request_id
    for name, value in extra.items():
        if isinstance(value, str):
            value = without_internals(value)
        elif isinstance(value, list) and all(isinstance(item, str) for item in value):
            value = [without_internals(item) for item in value]
        body[name] = value
    return body


def problem_response(
    problem: ProblemType,
    *,
    detail: str | None = None,
    request: Request | None = None,
    status: int | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """Return a problem as an ``application/problem+json`` response."""
    body = problem_body(problem, detail=detail, request=request, **extra)
    if status is not None:
        body["status"] = status
    return JSONResponse(
        body,
        status_code=status or problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=dict(headers or {}),
    )


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return problem_response(
        exc.problem_type, detail=exc.detail, request=request, headers=exc.headers, **exc.extra
    )


async def _on_request_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return await _on_problem(request, InvalidRequest(pydantic_errors(exc.errors())))


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> str:
    """Return every method the request's path takes (the ``Allow`` of a 405), e.g. ``GET, POST``.

    Starlette's 405 names the methods of the first route on the path only; this asks
    every route (included routers too) whether it takes the path with each method.
    """
    routes = request.app.router.routes
    return ", ".join(
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    )


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    problem = PROBLEM_TYPES[_default_slug(exc.status_code)]
    detail = exc.detail if isinstance(exc.detail, str) else None
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = allowed_methods(request) or headers.get("Allow", "")
    return problem_response(
        problem,
        detail=detail,
        request=request,
        status=exc.status_code,
        headers=headers,
    )


async def _on_unknown_category(request: Request, exc: Exception) -> JSONResponse:
    # The generated request model refuses unknown categories first; this is the backstop.
    assert isinstance(exc, UnknownCategoryError)
    errors = [
        field_error("body", ["profile", problem.field], "not a category the schema allows", "enum")
        for problem in exc.problems
    ]
    return await _on_problem(request, InvalidRequest(errors))


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.error(
        "unhandled error in %s %s (request %s)",
        request.method,
        request.url.path,
        getattr(request.state, "request_id", "-"),
        exc_info=exc,
    )
    return problem_response(PROBLEM_TYPES["internal-error"], request=request)


def install_problem_handlers(app: FastAPI) -> None:
    """Register the handlers that turn every error into a problem response."""
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_request_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(UnknownCategoryError, _on_unknown_category)
    app.add_exception_handler(Exception, _on_unexpected)
