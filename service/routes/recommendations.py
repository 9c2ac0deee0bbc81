"""``POST /v1/recommendations`` and ``POST /v1/recommendations/batch`` (caseworker).

Plain ``def`` endpoints: prediction and TreeSHAP are CPU work and run in the thread
pool. Each client's call writes one audit-log row before the answer leaves.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query

from models.recommend import Suggestion, recommend
from service.audit_log import AuditRecord, write_audit
from service.deps import (
    BodyDep,
    CaseworkerDep,
    DatabaseDep,
    HeaderLanguageDep,
    Language,
    MetricsDep,
    RequestIdDep,
    ServedModelDep,
    SettingsDep,
)
from service.metrics import ServiceMetrics
from service.model_holder import LoadedModel
from service.request_parsing import json_request_body, parse_body
from service.responses import (
    BatchRecommendationResponse,
    BatchResult,
    ModelRef,
    ReasonOut,
    RecommendationResponse,
    SuggestionOut,
    problem_responses,
)

router = APIRouter(prefix="/v1", tags=["recommendations"])

TopKQuery = Annotated[int | None, Query(ge=1, description="Services to list (default: all).")]
ExplainQuery = Annotated[bool | None, Query(description="Give reasons (default true).")]
LangQuery = Annotated[Language | None, Query(description="fi, sv or en.")]
ContentTypeHeader = Annotated[str | None, Header(include_in_schema=False)]


def model_ref(served: LoadedModel) -> ModelRef:
    return ModelRef(name=served.name, version=served.version, alias=served.alias)


def suggestion_out(suggestion: Suggestion) -> SuggestionOut:
    return SuggestionOut(
        service=suggestion.service,
        name=suggestion.name,
        probability=suggestion.probability,
        recommended=suggestion.recommended,
        eligible=suggestion.eligible,
        ineligibility_reason=suggestion.ineligibility_reason,
        raw_score=suggestion.raw_score,
        base_value=suggestion.base_value,
        reasons=[
            ReasonOut(
                field=reason.field,
                label=reason.label,
                value=reason.value,
                direction="raises" if reason.direction == "raises" else "lowers",
                contribution=reason.contribution,
                text=reason.text,
            )
            for reason in suggestion.reasons
        ],
    )


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
    database: DatabaseDep,
    metrics: MetricsDep,
    request_id: RequestIdDep,
    header_lang: HeaderLanguageDep,
    top_k: TopKQuery = None,
    explain: ExplainQuery = None,
    lang: LangQuery = None,
    content_type: ContentTypeHeader = None,
) -> RecommendationResponse:
    """Every service ranked by calibrated probability (eligible first), with reasons.

    Options may come in the body or the query (the body wins); ``lang`` defaults to
    the Accept-Language header, else fi.
    """
    request: Any = parse_body(
        served.requests.single,
        body,
        content_type,
        unused_fields=served.requests.unused_fields,
    )
    language: Language = _pick(request.lang, lang, header_lang)
    consents = list(request.consents)
    suggestions = recommend(
        served.model,
        [request.profile.model_dump()],
        consents=consents,
        lang=language,
        explain=bool(_pick(request.explain, explain, True)),
        top_reasons=settings.top_reasons,
        top_k=_pick(request.top_k, top_k),
        num_threads=settings.num_threads,
    )[0]
    sources = served.model.encoder.sources_used(consents)
    write_audit(
        database,
        caller,
        [
            AuditRecord(
                endpoint="recommendations",
                request_id=request_id,
                client_ref=request.client_ref,
                model_name=served.name,
                model_version=served.version,
                services=_recommended(suggestions),
                sources_used=sources,
            )
        ],
    )
    _count(metrics, [suggestions])
    return RecommendationResponse(
        request_id=request_id,
        client_ref=request.client_ref,
        model=model_ref(served),
        lang=language,
        sources_used=sources,
        suggestions=[suggestion_out(s) for s in suggestions],
    )


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
    database: DatabaseDep,
    metrics: MetricsDep,
    request_id: RequestIdDep,
    header_lang: HeaderLanguageDep,
    top_k: TopKQuery = None,
    explain: ExplainQuery = None,
    lang: LangQuery = None,
    content_type: ContentTypeHeader = None,
) -> BatchRecommendationResponse:
    """Up to the batch limit (default 1,000) clients in one call; more is 413."""
    request: Any = parse_body(
        served.requests.batch,
        body,
        content_type,
        unused_fields=served.requests.unused_fields,
    )
    language: Language = _pick(request.lang, lang, header_lang)
    consents = [list(client.consents) for client in request.clients]
    results = recommend(
        served.model,
        [client.profile.model_dump() for client in request.clients],
        consents=consents,
        lang=language,
        explain=bool(_pick(request.explain, explain, True)),
        top_reasons=settings.top_reasons,
        top_k=_pick(request.top_k, top_k),
        num_threads=settings.batch_num_threads,
    )
    encoder = served.model.encoder
    sources = [encoder.sources_used(client_consents) for client_consents in consents]
    write_audit(
        database,
        caller,
        [
            AuditRecord(
                endpoint="recommendations.batch",
                request_id=request_id,
                client_ref=client.client_ref,
                model_name=served.name,
                model_version=served.version,
                services=_recommended(suggestions),
                sources_used=client_sources,
            )
            for client, suggestions, client_sources in zip(
                request.clients, results, sources, strict=True
            )
        ],
    )
    _count(metrics, results)
    return BatchRecommendationResponse(
        request_id=request_id,
        model=model_ref(served),
        lang=language,
        count=len(results),
        results=[
            BatchResult(
                client_ref=client.client_ref,
                sources_used=client_sources,
                suggestions=[suggestion_out(s) for s in suggestions],
            )
            for client, suggestions, client_sources in zip(
                request.clients, results, sources, strict=True
            )
        ],
    )
