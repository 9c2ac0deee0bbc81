"""The application factory and its lifespan.

``create_app(settings)`` wires settings, database, metrics, the model holder, the
middleware (request context outermost, then the request guard), the routers and the
problem handlers. The lifespan migrates the database, loads the model once (a failure
leaves the API up, answering 503 with the reason) and starts optional polling.
The OpenAPI document is rebuilt whenever the served model changes, so the request
schemas it shows are always those of the model being served.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from service.audit_log import AuditRecovery
from service.auth import KeyAuthenticator
from service.db import Database, DatabaseUnavailable
from service.docs_pages import install_offline_docs
from service.metrics import RequestContextMiddleware, ServiceMetrics
from service.model_holder import LoadedModel, ModelHolder
from service.problems import PROBLEM_TYPES, install_problem_handlers, problem_response
from service.request_guard import RequestGuardMiddleware
from service.request_model import example_request
from service.routes import ROUTERS
from service.routes.fairness import AUDIT_UPLOAD_PATH
from service.settings import Settings, get_settings
from service.spool import AuditSpool

logger = logging.getLogger("service.app")
GENERATED_SCHEMAS = (
    "RecommendationRequest",
    "BatchRecommendationRequest",
    "FeedbackRequest",
)
DESCRIPTION = """\
Service-need suggestions for public employment services: every service ranked by
calibrated probability, with eligibility and TreeSHAP reasons in Finnish, Swedish or
English; the caseworker decides. Request schemas are generated from the served model's
input schema. Errors are RFC 9457 problem details. See docs/api.md.
"""


class TarveAPI(FastAPI):
    """FastAPI whose OpenAPI document follows the served model."""

    _model_openapi: dict[str, Any] | None = None
    _model_openapi_for: tuple[object, object] | None = None

    def openapi(self) -> dict[str, Any]:
        """Return the OpenAPI document with the served model's request schemas."""
        holder: ModelHolder | None = getattr(self.state, "holder", None)
        served = holder.current if holder is not None else None
        base = super().openapi()
        cached_for = self._model_openapi_for
        if (
            self._model_openapi is not None
            and cached_for is not None
            and cached_for[0] is served
            and cached_for[1] is base
        ):
            return self._model_openapi
        document = copy.deepcopy(base)
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        if served is None:
            for name in GENERATED_SCHEMAS:
                schemas[name] = {
                    "type": "object",
                    "description": "Generated from the served model's schema; no model is "
                    "loaded now.",
                }
        else:
            schemas.update(served.requests.json_schemas())
            document["info"]["description"] = (
                DESCRIPTION + f"\nServing **{served.name}** version **{served.version}**."
            )
            example = example_request(served.model.schema, client_ref="client-0001")
            operation = document["paths"]["/v1/recommendations"]["post"]
            operation["requestBody"]["content"]["application/json"]["example"] = example
        self._model_openapi = document
        self._model_openapi_for = (served, base)
        return document


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Migrate the database, load the model, poll if asked; dispose of it all at the end."""
    settings: Settings = app.state.settings
    database: Database = app.state.database
    holder: ModelHolder = app.state.holder
    metrics: ServiceMetrics = app.state.metrics
    if settings.migrate_on_startup:
        database.upgrade()
    recovery = AuditRecovery(database)
    recovery.start()  # replays what a previous process spooled, then watches
    # Bounded by the registry timeout; on failure the last verified local copy serves
    # (if any) and the registry is retried in the background.
    holder.start(
        retry_seconds=settings.registry_retry_seconds,
        on_result=lambda result: metrics.reloads.labels(result=result).inc(),
    )
    if holder.current is None:
        logger.error("starting without a model: %s", holder.unavailable_reason())
    if settings.reload_interval_seconds:
        holder.start_polling(
            settings.reload_interval_seconds,
            lambda result: metrics.reloads.labels(result=result).inc(),
        )
    try:
        yield
    finally:
        holder.stop_polling()
        recovery.stop()
        database.dispose()


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API; ``settings`` default to :func:`service.settings.get_settings`."""
    settings = settings or get_settings()
    metrics = ServiceMetrics()
    app = TarveAPI(
        title="tarve",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc come from install_offline_docs: no CDN
        redoc_url=None,
    )

    def on_swap(loaded: LoadedModel) -> None:
        metrics.set_model(loaded.name, loaded.version, loaded.alias or "")
        metrics.feed_drift.use_model(loaded.model.schema, loaded.directory)

    app.state.settings = settings
    app.state.metrics = metrics
    spool = (
        AuditSpool(settings.audit_spool_path, max_bytes=settings.audit_spool_max_bytes)
        if settings.audit_spool_path is not None
        else None
    )
    app.state.database = Database(
        settings.database_url,
        connect_timeout=settings.database_connect_timeout_seconds,
        statement_timeout=settings.database_statement_timeout_seconds,
        spool=spool,
    )
    app.state.authenticator = KeyAuthenticator(
        app.state.database, cache_seconds=settings.key_cache_seconds
    )
    app.state.holder = ModelHolder(
        settings.model_uri,
        batch_limit=settings.batch_limit,
        on_swap=on_swap,
        registry_timeout=settings.registry_timeout_seconds,
        local_copy=settings.model_local_copy,
    )
    for router in ROUTERS:
        app.include_router(router)
    install_offline_docs(app)
    install_problem_handlers(app)
    retry_after = str(settings.retry_after_seconds)

    async def on_database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        # One log line per incident comes from DatabaseHealth; none per request here.
        return problem_response(
            PROBLEM_TYPES["service-unavailable"],
            detail="the database is not available; nothing was done, retry later",
            request=request,
            headers={"Retry-After": retry_after},
        )

    app.add_exception_handler(DatabaseUnavailable, on_database_unavailable)
    app.add_middleware(
        RequestGuardMiddleware,
        max_body_bytes=settings.max_body_bytes,
        max_upload_bytes=settings.max_upload_bytes,
        upload_paths=(AUDIT_UPLOAD_PATH,),
        body_read_timeout=settings.body_read_timeout_seconds,
    )
    app.add_middleware(
        RequestContextMiddleware, metrics=metrics, server_timing=settings.server_timing
    )
    return app
