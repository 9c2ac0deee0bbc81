"""``/healthz`` (alive), ``/readyz`` (model loaded and database answers), ``/metrics``.

No key needed. ``/readyz`` answers 503 as a problem naming every reason it is not ready.
``/readyz`` pings the database in the thread pool; ``/metrics`` (which reads ``/proc``
for the process metrics) is a plain ``def``, so neither blocks the event loop.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from service.deps import DatabaseDep, HolderDep, MetricsDep
from service.problems import PROBLEM_TYPES, problem_response
from service.responses import Health, ModelRef, Readiness, problem_responses

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
async def readyz(request: Request, holder: HolderDep, database: DatabaseDep) -> Response:  # noqa: D103
    reasons: list[str] = []
    served = holder.current
    if served is None:
        reasons.append(f"model: {holder.unavailable_reason()}")
    try:
        await run_in_threadpool(database.ping)
    except Exception as exc:
        reasons.append(f"database: {type(exc).__name__}")
    if reasons or served is None:
        return problem_response(
            PROBLEM_TYPES["service-unavailable"],
            detail="not ready: " + "; ".join(reasons),
            request=request,
            reasons=reasons,
        )
    ready = Readiness(
        status="ready",
        model=ModelRef.of(served),
        database="ok",
    )
    return JSONResponse(ready.model_dump(mode="json"))


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
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
