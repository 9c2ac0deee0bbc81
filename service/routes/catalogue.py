"""``GET /v1/services`` and ``GET /v1/model``: what the served model offers (any role).

The catalogue is a fraction of a millisecond and answered on the event loop; the model
description (the whole schema and its fingerprint, a few milliseconds of CPU) is a
plain ``def``, run in the thread pool.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from models.schema import Translations
from service.deps import AnyRoleDep, MetricsDep, ServedModelDep
from service.responses import (
    EligibilityOut,
    ModelRef,
    ModelResponse,
    Names,
    ServiceOut,
    ServicesResponse,
    SourceOut,
    problem_responses,
)

router = APIRouter(prefix="/v1", tags=["catalogue"])
HEADLINE_METRIC_KEYS = ("metrics", "headline_metrics", "evaluation")


def names(text: Translations) -> Names:
    """Return a text's translations as the response's ``Names``."""
    return Names(fi=text.get("fi"), sv=text.get("sv"), en=text.get("en"))


@router.get(
    "/services",
    response_model=ServicesResponse,
    summary="The service catalogue in fi/sv/en with eligibility rules",
    responses=problem_responses(401, 403, 503),
)
async def list_services(caller: AnyRoleDep, served: ServedModelDep) -> ServicesResponse:  # noqa: D103
    del caller
    schema = served.model.schema
    services = []
    for service in served.model.services:
        label = schema.label_by_name[service]
        eligibility = None
        if label.eligibility is not None:
            eligibility = EligibilityOut(
                rule=label.eligibility.rule.model_dump(mode="json", exclude_none=True),
                text=names(label.eligibility.text),
            )
        services.append(
            ServiceOut(
                id=service,
                names=names(label.label),
                need_phrase=names(label.need_phrase) if label.need_phrase else None,
                eligibility=eligibility,
                threshold=served.model.thresholds[service],
            )
        )
    return ServicesResponse(model=ModelRef.of(served), services=services)


@router.get(
    "/model",
    response_model=ModelResponse,
    summary="The served model: name, version, alias, training date, metrics, schema",
    responses=problem_responses(401, 403, 503),
)
def describe_model(  # noqa: D103
    caller: AnyRoleDep, served: ServedModelDep, service_metrics: MetricsDep
) -> ModelResponse:
    del caller
    model = served.model
    metadata = model.metadata
    metrics: dict[str, Any] = next(
        (metadata[key] for key in HEADLINE_METRIC_KEYS if isinstance(metadata.get(key), dict)),
        {},
    )
    trained_at = metadata.get("trained_at")
    return ModelResponse(
        name=served.name,
        version=served.version,
        alias=served.alias,
        uri=served.source.uri,
        trained_at=None if trained_at is None else str(trained_at),
        loaded_at=served.loaded_at,
        metrics=metrics,
        services=model.services,
        thresholds=model.thresholds,
        sources=[
            SourceOut(id=name, consent_required=source.consent_required, names=names(source.label))
            for name, source in model.schema.sources.items()
        ],
        request_fields=list(served.requests.field_names),
        schema_fingerprint=model.schema.fingerprint(),
        model_schema=model.schema.to_dict(),
        metadata={key: value for key, value in metadata.items() if key not in HEADLINE_METRIC_KEYS},
        drift=service_metrics.feed_drift.summary(),
        effect_services=[s for s in model.services if model.effects and s in model.effects.effects],
    )
