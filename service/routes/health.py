"""``/healthz`` (alive), ``/readyz`` (model loaded and database answers), ``/metrics``.

``/healthz`` and ``/readyz`` need no key; ``/metrics`` needs an admin key or the
metrics bearer token (the file ``TARVE_METRICS_CREDENTIALS_FILE``, for Prometheus)
unless ``TARVE_METRICS_PUBLIC`` opens it. ``/readyz`` answers 503 as a problem naming
every reason it is not ready.
``/readyz`` pings the database in the thread pool; ``/metrics`` (which reads ``/proc``
for the process metrics) is a plain ``def``, so neither blocks the event loop.
"""

from __future__ import annotations

import asyncio
import hmac

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from service.auth import MSG_BAD_KEY, MSG_NO_KEY, MSG_WRONG_ROLE, Role, authenticate_token
from service.db import Database
from service.deps import DatabaseDep, HolderDep, MetricsDep
from service.problems import (
    PROBLEM_TYPES,
    Forbidden,
    Unauthorized,
    problem_response,
    without_internals,
)
from service.responses import Health, ModelRef, Readiness, problem_responses
from service.settings import Settings

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health, summary="The process is alive")
async def healthz() -> Health:  # noqa: D103
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="A model is loaded and the database answers",
    responses=problem_responses(503),
)
async def readyz(request: Request, holder: HolderDep, database: DatabaseDep) -> Response:
    """Ready when a model is served and the database answers; bounded in time.

    The database is pinged in the thread pool, within the statement timeout; while it
    is known to be down (the recovery thread probes it every second) nothing waits. No
    URL or path appears in the reasons: this answer needs no key.
    """
    reasons: list[str] = []
    served = holder.current
    if served is None:
        reasons.append(f"model: {holder.unavailable_reason()}")
    database_reason = await _database_reason(request, database)
    if database_reason is not None:
        reasons.append(f"database: {database_reason}")
    if reasons or served is None:
        return problem_response(
            PROBLEM_TYPES["service-unavailable"],
            detail="not ready: " + "; ".join(reasons),
            request=request,
            reasons=reasons,
            headers={"Retry-After": str(request.app.state.settings.retry_after_seconds)},
        )
    ready = Readiness(
        status="ready",
        model=ModelRef.of(served),
        database="ok",
    )
    body = ready.model_dump(mode="json")
    notes = []
    if holder.serving_local_copy:
        notes.append("model: the registry does not answer; serving the last verified local copy")
    rejected = holder.rejection_reason()
    if rejected is not None:
        notes.append(f"model: the last reload was refused, the previous model serves: {rejected}")
    if notes:
        body["notes"] = [without_internals(note) for note in notes]
    return JSONResponse(body)


async def _database_reason(request: Request, database: Database) -> str | None:
    spooling = " (audit rows are kept in the local spool)" if database.spool is not None else ""
    if database.health.down:
        return f"not answering ({database.health.problem}){spooling}"
    bound = request.app.state.settings.database_statement_timeout_seconds + 1.0
    try:
        await asyncio.wait_for(run_in_threadpool(database.ping), timeout=bound)
    except Exception as exc:
        return f"{type(exc).__name__}{spooling}"
    return None


async def metrics_access(request: Request) -> None:
    """Let the metrics token, an admin key or (``metrics_public``) anyone through (401/403)."""
    settings: Settings = request.app.state.settings
    if settings.metrics_public:
        return
    authorization = request.headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    token = credentials.strip() if scheme.lower() == "bearer" else ""
    token = token or request.headers.get("x-api-key", "").strip()
    if not token:
        raise Unauthorized(MSG_NO_KEY)
    expected: bytes | None = request.app.state.metrics_token
    if expected is not None and hmac.compare_digest(token.encode(), expected):
        request.state.authenticated = True
        return
    principal = await authenticate_token(request.app.state.authenticator, token)
    if principal is None:
        raise Unauthorized(MSG_BAD_KEY)
    request.state.principal = principal
    if principal.role is not Role.ADMIN:
        raise Forbidden(MSG_WRONG_ROLE.format(role=principal.role.value, allowed=["admin"]))


@router.get(
    "/metrics",
    summary="Prometheus metrics (admin key or metrics token)",
    response_class=Response,
    dependencies=[Depends(metrics_access)],
    responses=problem_responses(401, 403),
)
def metrics(metrics: MetricsDep) -> Response:  # noqa: D103
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/problems/{slug}", summary="What a problem type means", include_in_schema=True)
async def problem_type(slug: str) -> JSONResponse:  # noqa: D103
    problem = PROBLEM_TYPES.get(slug)
    if problem is None:
        return problem_response(PROBLEM_TYPES["not-found"], detail="no such problem type")
    return JSONResponse(
        {
            "type": problem.uri,
            "status": problem.status,
            "title": problem.title,
            "description": problem.description,
        }
    )
