"""The API's routers, one module per area; :data:`ROUTERS` in the order they are mounted."""

from __future__ import annotations

from fastapi import APIRouter

from service.routes import admin, audit_log, catalogue, fairness, feedback, health, recommendations

ROUTERS: tuple[APIRouter, ...] = (
    recommendations.router,
    catalogue.router,
    feedback.router,
    fairness.router,
    audit_log.router,
    admin.router,
    health.router,
)

__all__ = ["ROUTERS"]
