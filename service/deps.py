"""``Annotated[..., Depends(...)]`` aliases used by the routes: one place to read them.

The small ones are ``async`` so that they run on the event loop instead of costing a
thread-pool hop each; the CPU-bound endpoints themselves are plain ``def``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from models.schema import LANGUAGES
from service.auth import Principal, Role, require_roles
from service.db import Database
from service.metrics import ServiceMetrics
from service.model_holder import LoadedModel, ModelHolder
from service.settings import Language, Settings


async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


async def get_holder(request: Request) -> ModelHolder:
    holder: ModelHolder = request.app.state.holder
    return holder


async def get_served_model(request: Request) -> LoadedModel:
    """The model for this whole request (503 when none): a reload does not change it."""
    holder: ModelHolder = request.app.state.holder
    return holder.get()


async def get_metrics(request: Request) -> ServiceMetrics:
    metrics: ServiceMetrics = request.app.state.metrics
    return metrics


async def get_request_id(request: Request) -> str:
    return str(request.state.request_id)


async def get_body(request: Request) -> bytes:
    """The raw body (already buffered and screened by the request guard)."""
    return await request.body()


def weighted_values(header: str | None) -> list[tuple[str, float]]:
    """The values of an Accept-style header with their q-values, in header order.

    Values are lower-cased; a missing q is 1, a malformed one 0 (not acceptable).
    """
    weighted: list[tuple[str, float]] = []
    for part in (header or "").split(","):
        value, *params = part.split(";")
        quality = 1.0
        for param in params:
            name, _, number = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(number)
                except ValueError:
                    quality = 0.0
        if value.strip():
            weighted.append((value.strip().lower(), quality))
    return weighted


def preferred_language(accept_language: str | None, default: Language) -> Language:
    """The first of fi/sv/en in an Accept-Language header, by q-value; else ``default``."""
    ranked = sorted(
        (-quality, position, tag.split("-")[0])
        for position, (tag, quality) in enumerate(weighted_values(accept_language))
    )
    for negative_quality, _, language in ranked:
        if negative_quality < 0 and language in LANGUAGES:
            return language  # type: ignore[return-value]
    return default


async def get_header_language(
    request: Request,
    accept_language: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Language:
    settings: Settings = request.app.state.settings
    return preferred_language(accept_language, settings.default_lang)


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]
HolderDep = Annotated[ModelHolder, Depends(get_holder)]
ServedModelDep = Annotated[LoadedModel, Depends(get_served_model)]
MetricsDep = Annotated[ServiceMetrics, Depends(get_metrics)]
RequestIdDep = Annotated[str, Depends(get_request_id)]
BodyDep = Annotated[bytes, Depends(get_body)]
HeaderLanguageDep = Annotated[Language, Depends(get_header_language)]

CaseworkerDep = Annotated[Principal, Depends(require_roles(Role.CASEWORKER))]
AuditorDep = Annotated[Principal, Depends(require_roles(Role.AUDITOR))]
AdminDep = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
AnyRoleDep = Annotated[Principal, Depends(require_roles(Role.CASEWORKER, Role.AUDITOR, Role.ADMIN))]
