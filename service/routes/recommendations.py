"""``POST /v1/recommendations`` and ``POST /v1/recommendations/batch`` (caseworker).

Prediction, TreeSHAP and the audit-log write are blocking work, so both endpoints are
plain ``def`` (FastAPI runs them in its thread pool): one hop, and the event loop goes
on answering other requests while the database takes the audit row. Each client's call
writes one audit-log row before the answer leaves.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response
from pydantic import BeforeValidator

from models.reasons import ignored_fields
from models.recommend import Suggestion, recommend
from models.schema import Schema
from service.audit_log import AuditTrail
from service.deps import (
    AuditDep,
    BodyDep,
    CaseworkerDep,
    HeaderLanguageDep,
    Language,
    LanguageQuery,
    MetricsDep,
    RequestIdDep,
    ServedModelDep,
    SettingsDep,
    check_language,
)
from service.metrics import ServiceMetrics
from service.model_holder import LoadedModel
from service.request_parsing import (
    check_top_k_bound,
    explain_query,
    json_request_body,
    parse_body,
    top_k_query,
)
from service.responses import (
    BatchRecommendationResponse,
    RecommendationResponse,
    problem_responses,
)

router = APIRouter(prefix="/v1", tags=["recommendations"])

TopKQuery = Annotated[
    int | None,
    Query(
        ge=1,
        description="Services to list: an integer from 1 to the number of services served "
        "(GET /v1/services); default all.",
    ),
    BeforeValidator(top_k_query),
]
ExplainQuery = Annotated[
    bool | None,
    Query(description="Give reasons: true or false (default true)."),
    BeforeValidator(explain_query),
]
LangQuery = LanguageQuery
ContentTypeHeader = Annotated[str | None, Header(include_in_schema=False)]


def suggestion_json(suggestion: Suggestion) -> dict[str, Any]:
    """Return a suggestion as :class:`SuggestionOut` describes it (a dict: the hot path)."""
    return {
        "service": suggestion.service,
        "name": suggestion.name,
        "probability": suggestion.probability,
        "recommended": suggestion.recommended,
        "eligible": suggestion.eligible,
        "ineligibility_reason": suggestion.ineligibility_reason,
        "raw_score": suggestion.raw_score,
        "base_value": suggestion.base_value,
        "reasons": [
            {
                "field": reason.field,
                "label": reason.label,
                "value": reason.value,
                "value_text": reason.value_text,
                "direction": reason.direction,
                "contribution": reason.contribution,
                "text": reason.text,
            }
            for reason in suggestion.reasons
        ],
        "reason_headings": suggestion.reason_headings,
        "other_factors": [
            {
                "kind": other.kind,
                "source": other.source,
                "fields": list(other.fields),
                "contribution": other.contribution,
                "text": other.text,
            }
            for other in suggestion.other_factors
        ],
    }


def ignored_json(schema: Schema, record: Mapping[str, Any], consents: Sequence[str]) -> Any:
    """Return the fields sent but not used, with why (never their values)."""
    return [
        {"field": item.field, "source": item.source, "reason": item.reason}
        for item in ignored_fields(schema, record, set(consents))
    ]


def json_response(payload: dict[str, Any]) -> Response:
    """Serialise once with the C JSON encoder; the response model documents the shape."""
    content = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return Response(content.encode("utf-8"), media_type="application/json")


def _pick(*values: Any) -> Any:
    return next((value for value in values if value is not None), None)


def _count(metrics: ServiceMetrics, results: Sequence[Sequence[Suggestion]]) -> None:
    counts = Counter((s.service, s.recommended) for suggestions in results for s in suggestions)
    metrics.count_predictions((service, flag, n) for (service, flag), n in counts.items())


def _recommended(suggestions: Sequence[Suggestion]) -> list[str]:
    return [s.service for s in suggestions if s.recommended]


@router.post(
    "/recommendations",
    response_model=RecommendationResponse,
    summary="Ranked service suggestions with reasons for one client",
    openapi_extra=json_request_body("RecommendationRequest"),
    responses=problem_responses(401, 403, 413, 415, 422, 503),
)
def create_recommendation(
    body: BodyDep,
    caller: CaseworkerDep,
    served: ServedModelDep,
    settings: SettingsDep,
    audit: AuditDep,
    metrics: MetricsDep,
    request_id: RequestIdDep,
    header_lang: HeaderLanguageDep,
    top_k: TopKQuery = None,
    explain: ExplainQuery = None,
    lang: LangQuery = None,
    content_type: ContentTypeHeader = None,
) -> Response:
    """Every service ranked by calibrated probability (eligible first), with reasons.

    Options may come in the body or the query (the body wins); ``lang`` defaults to
    the Accept-Language header, else fi.
    """
    del caller  # the role check; the audit trail names the caller
    request: Any = parse_body(
        served.requests.single,
        body,
        content_type,
        unused_fields=served.requests.unused_fields,
    )
    language: Language = check_language(_pick(request.lang, lang, header_lang), served)
    check_top_k_bound(top_k, len(served.model.services))
    [result] = _recommend_clients(
        [request],
        endpoint="recommendations",
        served=served,
        language=language,
        explain=bool(_pick(request.explain, explain, True)),
        top_k=_pick(request.top_k, top_k),
        num_threads=settings.num_threads,
        top_reasons=settings.top_reasons,
        audit=audit,
        metrics=metrics,
    )
    return json_response(
        {
            "request_id": request_id,
            "client_ref": result["client_ref"],
            "model": served.model_ref_json,
            "lang": language,
            "sources_used": result["sources_used"],
            "ignored_fields": result["ignored_fields"],
            "suggestions": result["suggestions"],
        }
    )


def _recommend_clients(
    clients: Sequence[Any],
    *,
    endpoint: str,
    served: LoadedModel,
    language: Language,
    explain: bool,
    top_k: int | None,
    num_threads: int,
    top_reasons: int,
    audit: AuditTrail,
    metrics: ServiceMetrics,
) -> list[dict[str, Any]]:
    """Recommend for each client, write one audit row each, count the predictions.

    Returns each client's ``client_ref``, ``sources_used`` and ``suggestions`` (JSON).
    """
    consents = [list(client.consents) for client in clients]
    records = [client.profile.model_dump() for client in clients]
    metrics.feed_drift.observe(records, consents)
    results = recommend(
        served.model,
        records,
        consents=consents,
        lang=language,
        explain=explain,
        top_reasons=top_reasons,
        top_k=top_k,
        num_threads=num_threads,
    )
    encoder = served.model.encoder
    sources = [encoder.sources_used(client_consents) for client_consents in consents]
    schema = served.model.schema
    ignored = [ignored_json(schema, r, c) for r, c in zip(records, consents, strict=True)]
    answered = list(zip(clients, results, sources, strict=True))
    audit.write(
        [
            audit.entry(
                endpoint,
                client_ref=client.client_ref,
                services=_recommended(suggestions),
                sources_used=client_sources,
            )
            for client, suggestions, client_sources in answered
        ]
    )
    _count(metrics, results)
    return [
        {
            "client_ref": client.client_ref,
            "sources_used": client_sources,
            "ignored_fields": client_ignored,
            "suggestions": [suggestion_json(s) for s in suggestions],
        }
        for (client, suggestions, client_sources), client_ignored in zip(
            answered, ignored, strict=True
        )
    ]


@router.post(
    "/recommendations/batch",
    response_model=BatchRecommendationResponse,
    summary="Ranked service suggestions for many clients",
    openapi_extra=json_request_body("BatchRecommendationRequest"),
    responses=problem_responses(401, 403, 413, 415, 422, 503),
)
def create_batch_recommendations(
    body: BodyDep,
    caller: CaseworkerDep,
    served: ServedModelDep,
    settings: SettingsDep,
    audit: AuditDep,
    metrics: MetricsDep,
    request_id: RequestIdDep,
    header_lang: HeaderLanguageDep,
    top_k: TopKQuery = None,
    explain: ExplainQuery = None,
    lang: LangQuery = None,
    content_type: ContentTypeHeader = None,
) -> Response:
    """Up to the batch limit (default 1,000) clients in one call; more is 413."""
    del caller  # the role check; the audit trail names the caller
    request: Any = parse_body(
        served.requests.batch,
        body,
        content_type,
        unused_fields=served.requests.unused_fields,
    )
    language: Language = check_language(_pick(request.lang, lang, header_lang), served)
    check_top_k_bound(top_k, len(served.model.services))
    results = _recommend_clients(
        request.clients,
        endpoint="recommendations.batch",
        served=served,
        language=language,
        explain=bool(_pick(request.explain, explain, True)),
        top_k=_pick(request.top_k, top_k),
        num_threads=settings.batch_num_threads,
        top_reasons=settings.top_reasons,
        audit=audit,
        metrics=metrics,
    )
    return json_response(
        {
            "request_id": request_id,
            "model": served.model_ref_json,
            "lang": language,
            "count": len(results),
            "results": results,
        }
    )
