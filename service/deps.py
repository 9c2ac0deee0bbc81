"""``Annotated[..., Depends(...)]`` aliases used by the routes: one place to read them.

The small ones are ``async`` so that they run on the event loop instead of costing a
thread-pool hop each; none of them touches the database on the loop. The endpoints
that do (every one that writes an audit row) are plain ``def``, run in the thread pool.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Annotated

from fastapi import Depends, Header, Query, Request
from pydantic import AfterValidator

from models.schema import LANGUAGES
from service.audit_log import AuditTrail
from service.auth import Principal, Role, authenticate, require_roles
from service.db import Database
from service.metrics import ServiceMetrics
from service.model_holder import LoadedModel, ModelHolder
from service.problems import InvalidRequest, ModelUnavailable, field_error
from service.settings import Language, Settings


async def get_app_settings(request: Request) -> Settings:
    """Return the app's settings."""
    settings: Settings = request.app.state.settings
    return settings


async def get_database(request: Request) -> Database:
    """Return the app's database (API keys, audit log, feedback)."""
    database: Database = request.app.state.database
    return database


async def get_holder(request: Request) -> ModelHolder:
    """Return the holder of the served model."""
    holder: ModelHolder = request.app.state.holder
    return holder


async def get_current_model(request: Request) -> LoadedModel | None:
    """Return the model for this whole request, or None (read once: a reload leaves it)."""
    holder: ModelHolder = request.app.state.holder
    return holder.current


async def get_served_model(
    request: Request, current: Annotated[LoadedModel | None, Depends(get_current_model)]
) -> LoadedModel:
    """Return the model for this whole request (503 when none): a reload leaves it."""
    if current is None:
        holder: ModelHolder = request.app.state.holder
        raise ModelUnavailable(holder.unavailable_reason())
    return current


async def get_metrics(request: Request) -> ServiceMetrics:
    """Return the app's Prometheus metrics."""
    metrics: ServiceMetrics = request.app.state.metrics
    return metrics


async def get_request_id(request: Request) -> str:
    """Return the request's id (set by the request-context middleware)."""
    return str(request.state.request_id)


async def get_audit_trail(
    caller: Annotated[Principal, Depends(authenticate)],
    current: Annotated[LoadedModel | None, Depends(get_current_model)],
    database: Annotated[Database, Depends(get_database)],
    request_id: Annotated[str, Depends(get_request_id)],
) -> AuditTrail:
    """Return the request's audit trail: caller, request id and model filled in.

    The caller and the model are the very ones the route sees (FastAPI resolves each
    dependency once per request), so a row names the model that actually answered.
    """
    return AuditTrail(
        database,
        principal=caller,
        request_id=request_id,
        model_name=None if current is None else current.name,
        model_version=None if current is None else current.version,
        model_manifest_sha256=None if current is None else current.manifest_sha256,
    )


async def get_body(request: Request) -> bytes:
    """Return the raw body (already buffered and screened by the request guard)."""
    return await request.body()


def weighted_values(header: str | None) -> list[tuple[str, float]]:
    """Return the values of an Accept-style header with their q-values, in header order.

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


MSG_UNSERVED_LANGUAGE = "language {lang!r} is not served; the served model's schema has {served}"


def served_languages(current: LoadedModel | None) -> tuple[str, ...]:
    """Return the languages of the served model's schema (the default ones when none)."""
    if current is None:
        return LANGUAGES
    return tuple(current.model.schema.languages)


# The languages of the model this request is answered by, for the ``lang`` query
# parameter's validator (a validator sees no request). Set by ``get_served_languages``,
# an async dependency: FastAPI runs dependencies before it validates the endpoint's
# own query parameters, in the request's task, so the value is this request's.
_REQUEST_LANGUAGES: ContextVar[tuple[str, ...]] = ContextVar(
    "tarve_request_languages", default=LANGUAGES
)


async def get_served_languages(
    current: Annotated[LoadedModel | None, Depends(get_current_model)],
) -> tuple[str, ...]:
    """Return the served schema's languages and let this request's ``lang`` check use them."""
    languages = served_languages(current)
    _REQUEST_LANGUAGES.set(languages)
    return languages


def served_language_value(lang: str | None) -> str | None:
    """Validate a ``lang`` query value against the languages of the request's model.

    Raises
    ------
    ValueError
        The served schema does not declare ``lang`` (a 422 naming the parameter).
    """
    languages = _REQUEST_LANGUAGES.get()
    if lang is not None and lang not in languages:
        raise ValueError(MSG_UNSERVED_LANGUAGE.format(lang=lang, served=list(languages)))
    return lang


def check_language(lang: str, served: LoadedModel) -> Language:
    """Return ``lang`` when the served schema declares it.

    Raises
    ------
    InvalidRequest
        The schema does not declare ``lang`` (a 422 naming the ``lang`` parameter).
    """
    languages = served_languages(served)
    if lang not in languages:
        detail = MSG_UNSERVED_LANGUAGE.format(lang=lang, served=list(languages))
        raise InvalidRequest([field_error("query", ["lang"], detail, "enum")], detail=detail)
    return lang


def preferred_language(
    accept_language: str | None, default: Language, languages: tuple[str, ...] = LANGUAGES
) -> Language:
    """Return the first of ``languages`` in an Accept-Language header, else ``default``.

    Languages are ranked by q-value, then by their order in the header.
    """
    ranked = sorted(
        (-quality, position, tag.split("-")[0])
        for position, (tag, quality) in enumerate(weighted_values(accept_language))
    )
    for negative_quality, _, language in ranked:
        if negative_quality < 0 and language in languages:
            return language
    return default if default in languages else languages[0]


async def get_header_language(
    request: Request,
    languages: Annotated[tuple[str, ...], Depends(get_served_languages)],
    accept_language: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Language:
    """Return the served language the Accept-Language header prefers, else the default.

    The default is the ``default_lang`` setting when the served schema declares it,
    else the schema's first language.
    """
    settings: Settings = request.app.state.settings
    return preferred_language(accept_language, settings.default_lang, languages)


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]
HolderDep = Annotated[ModelHolder, Depends(get_holder)]
CurrentModelDep = Annotated[LoadedModel | None, Depends(get_current_model)]
ServedModelDep = Annotated[LoadedModel, Depends(get_served_model)]
MetricsDep = Annotated[ServiceMetrics, Depends(get_metrics)]
RequestIdDep = Annotated[str, Depends(get_request_id)]
BodyDep = Annotated[bytes, Depends(get_body)]
HeaderLanguageDep = Annotated[Language, Depends(get_header_language)]
LanguageQuery = Annotated[
    Language | None,
    Query(description="One of the served schema's languages (by default fi, sv or en)."),
    AfterValidator(served_language_value),
]
"""A ``lang`` query parameter; the route must also depend on ``HeaderLanguageDep``."""
AuditDep = Annotated[AuditTrail, Depends(get_audit_trail)]

CaseworkerDep = Annotated[Principal, Depends(require_roles(Role.CASEWORKER))]
AuditorDep = Annotated[Principal, Depends(require_roles(Role.AUDITOR))]
AdminDep = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
AnyRoleDep = Annotated[Principal, Depends(require_roles(Role.CASEWORKER, Role.AUDITOR, Role.ADMIN))]
