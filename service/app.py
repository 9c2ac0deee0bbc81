"""The application factory and its lifespan.

``create_app(settings)`` wires settings, database, metrics, the model holder, the
middleware (security headers outermost, then request context, CORS when origins are
configured, rate limits, the request guard and the batch budget), the routers and the
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
from starlette.middleware.cors import CORSMiddleware

from service.audit_log import AuditRecovery
from service.auth import KeyAuthenticator
from service.db import Database, DatabaseUnavailable
from service.docs_pages import install_offline_docs
from service.metrics import RequestContextMiddleware, ServiceMetrics
from service.model_holder import LoadedModel, ModelHolder
from service.problems import PROBLEM_TYPES, install_problem_handlers, problem_response
from service.rate_limits import (
    BatchBudgetMiddleware,
    Budget,
    RateLimiter,
    RateLimitMiddleware,
    RateLimitPolicy,
)
from service.request_guard import RequestGuardMiddleware
from service.request_model import example_request
from service.responses import document_problems
from service.routes import ROUTERS
from service.routes.fairness import AUDIT_UPLOAD_PATH
from service.security_headers import SecurityHeadersMiddleware
from service.settings import Settings, get_settings
from service.spool import AuditSpool

logger = logging.getLogger("service.app")
BATCH_PATHS = ("/v1/recommendations/batch",)
CORS_METHODS = ["GET", "POST", "DELETE"]
CORS_HEADERS = ["Authorization", "X-API-Key", "Content-Type", "Accept", "Accept-Language"]
CORS_EXPOSED = ["X-Request-ID", "Retry-After", "Server-Timing"]
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
        document_problems(document)
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


def rate_limit_policy(settings: Settings) -> RateLimitPolicy:
    """Return the rate-limit budgets of ``settings`` (a full batch always fits the burst)."""
    return RateLimitPolicy(
        address=Budget(settings.rate_limit_address_per_second, settings.rate_limit_address_burst),
        key=Budget(settings.rate_limit_key_per_second, settings.rate_limit_key_burst),
        auth_failures=Budget(
            settings.rate_limit_auth_failures_per_minute / 60.0,
            settings.rate_limit_auth_failures_burst,
        ),
        batch_clients=Budget(
            settings.rate_limit_batch_clients_per_minute / 60.0,
            max(settings.rate_limit_batch_clients_burst, settings.batch_limit),
        ),
    )


MSG_METRICS_CREDENTIALS = (
    "TARVE_METRICS_CREDENTIALS_FILE {path} must hold one bearer token of 32 or more "
    "visible characters"
)


def metrics_token(settings: Settings) -> bytes | None:
    """Return the bearer token that may read ``/metrics`` (None: only admin keys may).

    Raises
    ------
    ValueError
        The file does not hold one token of 32 or more visible characters.
    """
    path = settings.metrics_credentials_file
    if path is None:
        return None
    token = path.read_text("utf-8").strip()
    if len(token) < 32 or not token.isprintable() or " " in token:
        raise ValueError(MSG_METRICS_CREDENTIALS.format(path=path))
    return token.encode()


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
    app.state.metrics_token = metrics_token(settings)
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
    # Added innermost first. From the outside in: security headers, request context,
    # CORS, rate limits (before the body is read), request guard, batch budget (needs
    # the screened body), the routes.
    limiter = RateLimiter(rate_limit_policy(settings))
    app.state.rate_limiter = limiter

    def on_limited(budget: str) -> None:
        metrics.rate_limited.labels(budget=budget).inc()

    if settings.rate_limits_enabled:
        app.add_middleware(
            BatchBudgetMiddleware, limiter=limiter, batch_paths=BATCH_PATHS, on_limited=on_limited
        )
    app.add_middleware(
        RequestGuardMiddleware,
        max_body_bytes=settings.max_body_bytes,
        max_upload_bytes=settings.max_upload_bytes,
        upload_paths=(AUDIT_UPLOAD_PATH,),
        body_read_timeout=settings.body_read_timeout_seconds,
    )
    if settings.rate_limits_enabled:
        app.add_middleware(RateLimitMiddleware, limiter=limiter, on_limited=on_limited)
    if settings.cors_origins:  # closed by default: no CORS headers, browsers refuse
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=CORS_METHODS,
            allow_headers=CORS_HEADERS,
            expose_headers=CORS_EXPOSED,
            allow_credentials=False,
            max_age=600,
        )
    app.add_middleware(
        RequestContextMiddleware, metrics=metrics, server_timing=settings.server_timing
    )
    app.add_middleware(SecurityHeadersMiddleware)
    return app
