"""``POST /v1/recommendations`` and ``POST /v1/recommendations/batch`` (caseworker).

Prediction, TreeSHAP and the audit-log write are blocking work, so both endpoints are
plain ``def`` (FastAPI runs them in its thread pool): one hop, and the event loop goes
on answering other requests while the database takes the audit row. Each client's call
writes one audit-log row before the answer leaves.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

import numpy as np
import orjson
from fastapi import APIRouter, Header, Query, Response
from pydantic import BeforeValidator

from models.benefit import MSG_NO_EFFECTS, ExpectedBenefit, benefit_sort_key, expected_benefits
from models.features import per_record_consents
from models.reasons import OtherFactor, Reason, ignored_fields
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
from service.problems import NoEffectModels
from service.request_parsing import (
    check_top_k_bound,
    explain_benefit_query,
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
RankBy = Literal["need", "benefit"]
RankByQuery = Annotated[
    RankBy | None,
    Query(
        description="Order of the suggestions: need (calibrated probability, the default) or "
        "benefit (expected benefit, largest first; not estimable last, then by need). The "
        "recommended flag is the need model's either way. 409 when the served model has no "
        "effect models."
    ),
]
ExplainBenefitQuery = Annotated[
    bool | None,
    Query(description="Give the reasons of each benefit estimate: true or false (default false)."),
    BeforeValidator(explain_benefit_query),
]
ContentTypeHeader = Annotated[str | None, Header(include_in_schema=False)]


def _reasons_json(reasons: Sequence[Reason]) -> list[dict[str, Any]]:
    return [
        {
            "field": reason.field,
            "label": reason.label,
            "value": reason.value,
            "value_text": reason.value_text,
            "direction": reason.direction,
            "contribution": reason.contribution,
            "text": reason.text,
        }
        for reason in reasons
    ]


def _others_json(others: Sequence[OtherFactor]) -> list[dict[str, Any]]:
    return [
        {
            "kind": other.kind,
            "source": other.source,
            "fields": list(other.fields),
            "contribution": other.contribution,
            "text": other.text,
        }
        for other in others
    ]


def benefit_json(benefit: ExpectedBenefit, *, explain: bool) -> dict[str, Any]:
    """Return an expected benefit as :class:`ExpectedBenefitOut` describes it."""
    out: dict[str, Any] = {
        "status": benefit.status,
        "estimate": benefit.estimate,
        "interval": None
        if benefit.low is None or benefit.high is None
        else {"low": benefit.low, "high": benefit.high, "level": benefit.level},
        "reason_code": benefit.reason_code,
        "reason": benefit.reason,
    }
    if explain:
        estimated = benefit.reason_headings is not None
        out["base_value"] = benefit.base_value
        out["reasons"] = _reasons_json(benefit.reasons) if estimated else None
        out["reason_headings"] = benefit.reason_headings
        out["other_factors"] = _others_json(benefit.other_factors) if estimated else None
    return out


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
    """Serialise once with orjson (UTF-8, compact); the response model documents the shape.

    A 12-service answer with reasons is about 25 kB: ``json.dumps`` took 0.2 ms of it.
    """
    content = orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)
    return Response(content, media_type="application/json")


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
    responses=problem_responses(401, 403, 409, 413, 415, 422, 503),
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
    rank_by: RankByQuery = None,
    explain_benefit: ExplainBenefitQuery = None,
    content_type: ContentTypeHeader = None,
) -> Response:
    """Every service ranked by calibrated probability (eligible first), with reasons.

    Each suggestion carries its ``expected_benefit``. Options may come in the body or
    the query (the body wins); ``lang`` defaults to the Accept-Language header, else fi.
    ``rank_by=benefit`` orders by expected benefit instead (``recommended`` stays the
    need model's).
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
    order = _rank_by(served, _pick(request.rank_by, rank_by, "need"))
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
        rank_by=order,
        explain_benefit=bool(_pick(request.explain_benefit, explain_benefit, False)),
    )
    return json_response(
        {
            "request_id": request_id,
            "client_ref": result["client_ref"],
            "model": served.model_ref_json,
            "lang": language,
            "rank_by": order,
            "sources_used": result["sources_used"],
            "ignored_fields": result["ignored_fields"],
            "suggestions": result["suggestions"],
        }
    )


def _rank_by(served: LoadedModel, rank_by: RankBy) -> RankBy:
    """Return ``rank_by``; ``benefit`` needs a served model with effect models (409)."""
    if rank_by == "benefit" and served.model.effects is None:
        model = served.model
        raise NoEffectModels(MSG_NO_EFFECTS.format(name=model.name, version=model.version))
    return rank_by


def _benefit_sorted(
    suggestions: Sequence[Suggestion], benefits: Mapping[str, ExpectedBenefit], top_k: int | None
) -> list[Suggestion]:
    """Return suggestions in the benefit order (``benefit_order``), cut to ``top_k``."""

    def key(suggestion: Suggestion) -> tuple[Any, ...]:
        estimate = benefits[suggestion.service].estimate
        return benefit_sort_key(estimate, suggestion.probability, suggestion.eligible)

    ordered = sorted(suggestions, key=key)
    return ordered[:top_k] if top_k else ordered


def _with_benefits(
    served: LoadedModel,
    matrix: np.ndarray,
    consents: Sequence[Sequence[str]],
    results: list[list[Suggestion]],
    *,
    language: Language,
    rank_by: RankBy,
    top_k: int | None,
    explain_benefit: bool,
    top_reasons: int,
    num_threads: int,
) -> tuple[list[list[Suggestion]], list[dict[str, dict[str, Any]]]]:
    """Each client's expected benefit per listed service (JSON), in the asked order.

    Eligibility comes from the suggestions themselves (the same consent-aware rules);
    the matrix is the same consent-masked encoding the need model saw.
    """
    model = served.model
    column = {service: position for position, service in enumerate(model.services)}
    eligible = np.zeros((len(matrix), len(model.services)), dtype=bool)
    for row, suggestions in enumerate(results):
        for suggestion in suggestions:
            eligible[row, column[suggestion.service]] = suggestion.eligible
    benefits = expected_benefits(
        model,
        matrix,
        eligible,
        lang=language,
        explain=explain_benefit,
        top_reasons=top_reasons,
        granted=per_record_consents(consents, len(matrix)),
        num_threads=num_threads,
    )
    if rank_by == "benefit":
        results = [
            _benefit_sorted(suggestions, row_benefits, top_k)
            for suggestions, row_benefits in zip(results, benefits, strict=True)
        ]
    payload = [
        {s.service: benefit_json(row_benefits[s.service], explain=explain_benefit) for s in listed}
        for listed, row_benefits in zip(results, benefits, strict=True)
    ]
    return results, payload


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
    rank_by: RankBy = "need",
    explain_benefit: bool = False,
) -> list[dict[str, Any]]:
    """Recommend for each client, write one audit row each, count the predictions.

    Returns each client's ``client_ref``, ``sources_used`` and ``suggestions`` (JSON).
    """
    consents = [list(client.consents) for client in clients]
    records = [client.profile.model_dump() for client in clients]
    metrics.feed_drift.observe(records, consents)
    # Encoded once: the need models and the effect models see the same matrix.
    matrix = served.model.encode_records(records, consents=consents)
    results = recommend(
        served.model,
        records,
        matrix=matrix,
        consents=consents,
        lang=language,
        explain=explain,
        top_reasons=top_reasons,
        # Under benefit the cut comes after the benefit order.
        top_k=None if rank_by == "benefit" else top_k,
        num_threads=num_threads,
    )
    results, benefits = _with_benefits(
        served,
        matrix,
        consents,
        results,
        language=language,
        rank_by=rank_by,
        top_k=top_k,
        explain_benefit=explain_benefit,
        top_reasons=top_reasons,
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
                details={"rank_by": rank_by},
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
            "suggestions": [
                {**suggestion_json(s), "expected_benefit": client_benefits[s.service]}
                for s in suggestions
            ],
        }
        for (client, suggestions, client_sources), client_ignored, client_benefits in zip(
            answered, ignored, benefits, strict=True
        )
    ]


@router.post(
    "/recommendations/batch",
    response_model=BatchRecommendationResponse,
    summary="Ranked service suggestions for many clients",
    openapi_extra=json_request_body("BatchRecommendationRequest"),
    responses=problem_responses(401, 403, 409, 413, 415, 422, 503),
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
    rank_by: RankByQuery = None,
    explain_benefit: ExplainBenefitQuery = None,
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
    order = _rank_by(served, _pick(request.rank_by, rank_by, "need"))
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
        rank_by=order,
        explain_benefit=bool(_pick(request.explain_benefit, explain_benefit, False)),
    )
    return json_response(
        {
            "request_id": request_id,
            "model": served.model_ref_json,
            "lang": language,
            "rank_by": order,
            "count": len(results),
            "results": results,
        }
    )
