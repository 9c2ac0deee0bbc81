"""Prometheus metrics, the request id and the Server-Timing header.

Each app has its own registry (so tests can build many apps): request count and
latency by route template, method and status; the served model's name and version;
predictions by service and "recommended" flag; model reloads by result; requests
refused by the rate limits; and the process collector (resident memory, CPU).
:class:`RequestContextMiddleware` is the outermost layer but one (the security
headers): it gives every request an id (``X-Request-ID``), times it, and adds
``Server-Timing: app;dur=<ms>`` so clients and benchmarks see the server-side time.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.feed_drift import FeedDriftWatch

LATENCY_BUCKETS = (
    0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.04, 0.06, 0.1,
    0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
UNMATCHED_ROUTE = "<unmatched>"


class ServiceMetrics:
    """The service's metrics in one registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "tarve_http_requests",
            "HTTP requests by route template, method and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "tarve_http_request_duration_seconds",
            "Server-side handling time of HTTP requests.",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.model_info = Gauge(
            "tarve_model_info",
            "The served model (value 1): name, version, alias.",
            ["name", "version", "alias"],
            registry=self.registry,
        )
        self.model_loaded = Gauge(
            "tarve_model_loaded", "1 when a model is being served.", registry=self.registry
        )
        self.predictions = Counter(
            "tarve_predictions",
            "Service suggestions returned, by service and the 'recommended' flag.",
            ["service", "recommended"],
            registry=self.registry,
        )
        self.reloads = Counter(
            "tarve_model_reloads",
            "Model (re)loads by result (loaded, unchanged, rejected).",
            ["result"],
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "tarve_rate_limited",
            "Requests refused with 429, by budget (address, key, auth_failures, batch_clients).",
            ["budget"],
            registry=self.registry,
        )
        ProcessCollector(registry=self.registry)
        # Per-field drift of the served profiles against the training profile.
        self.feed_drift = FeedDriftWatch(self.registry)

    def set_model(self, name: str, version: str, alias: str) -> None:
        """Record which model is served now."""
        self.model_info.clear()
        self.model_info.labels(name=name, version=version, alias=alias).set(1)
        self.model_loaded.set(1)

    def count_predictions(self, counts: Iterable[tuple[str, bool, int]]) -> None:
        """Count suggestions by (service, recommended?, how many)."""
        for service, recommended, count in counts:
            if count:
                self.predictions.labels(
                    service=service, recommended="true" if recommended else "false"
                ).inc(count)


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    app = scope.get("app")
    for candidate in getattr(getattr(app, "router", None), "routes", ()):
        match, _ = candidate.matches({**scope, "type": "http"})
        if match == Match.FULL:
            return str(getattr(candidate, "path", UNMATCHED_ROUTE))
    return UNMATCHED_ROUTE


class RequestContextMiddleware:
    """Request id, timing (Server-Timing header) and the request metrics."""

    def __init__(self, app: ASGIApp, *, metrics: ServiceMetrics, server_timing: bool) -> None:
        self.app = app
        self.metrics = metrics
        self.server_timing = server_timing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI call: set the request id, time it, count it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500

        async def send_with_context(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                if self.server_timing:
                    elapsed_ms = (time.perf_counter() - started) * 1000.0
                    headers.append((b"server-timing", f"app;dur={elapsed_ms:.3f}".encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_context)
        finally:
            elapsed = time.perf_counter() - started
            labels = {
                "method": str(scope.get("method", "")),
                "route": _route_template(scope),
                "status": str(status),
            }
            self.metrics.requests.labels(**labels).inc()
            self.metrics.latency.labels(**labels).observe(elapsed)
