"""The API's routers, one module per area; :data:`ROUTERS` in the order they are mounted.

A route handler's docstring is its operation's description in the OpenAPI document;
handlers that have none are described by their ``summary`` (and say ``noqa: D103``),
so that documenting the code does not change the API's document.
"""

from __future__ import annotations

from fastapi import APIRouter

from service.routes import (
    admin,
    audit_log,
    catalogue,
    explanations,
    fairness,
    feedback,
    health,
    recommendations,
)

ROUTERS: tuple[APIRouter, ...] = (
    recommendations.router,
    catalogue.router,
    explanations.router,
    feedback.router,
    fairness.router,
    audit_log.router,
    admin.router,
    health.router,
)

__all__ = ["ROUTERS"]
