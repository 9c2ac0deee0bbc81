"""Response models (static: they do not depend on the served model's schema).

A model's class docstring would become its description in the OpenAPI document, so
these models are documented by their fields' descriptions instead.
"""

# ruff: noqa: D101

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from service.problems import PROBLEM_MEDIA_TYPE, PROBLEM_TYPES
from service.settings import Language

if TYPE_CHECKING:
    from service.model_holder import LoadedModel

ReasonValue = bool | int | float | str | None


class ReasonOut(BaseModel):
    field: str = Field(description="The input field.")
    label: str = Field(description="The field's name in the response language.")
    value: ReasonValue = Field(description="The value the model saw (null: not recorded).")
    value_text: str = Field(
        description="The value in words, with its unit ('18 kuukautta'; 'not recorded')."
    )
    direction: Literal["raises", "lowers"] = Field(
        description="Which of the suggestion's reason_headings the reason is listed under."
    )
    contribution: float = Field(description="TreeSHAP contribution in log-odds, summed per field.")
    text: str = Field(description="The item the caseworker reads: 'label: value_text'.")


class OtherFactorOut(BaseModel):
    kind: Literal["other_fields", "protected_attributes", "no_consent"] = Field(
        description="other_fields: fields not among the top reasons; protected_attributes: "
        "never shown as reasons; no_consent: the fields of one source without consent."
    )
    source: str | None = Field(description="The source not consented to (no_consent only).")
    fields: list[str] = Field(description="The input fields summed in this figure.")
    contribution: float = Field(description="Their summed TreeSHAP contribution (log-odds).")
    text: str = Field(description="One line for the caseworker, in the response language.")


class ReasonHeadings(BaseModel):
    raises: str = Field(description="Heading of the reasons that raise the need.")
    lowers: str = Field(description="Heading of the reasons that lower the need.")


class IgnoredFieldOut(BaseModel):
    field: str
    source: str = Field(description="The consent-only source the field belongs to.")
    reason: Literal["no_consent"] = Field(description="Why the field was not used.")


class BenefitIntervalOut(BaseModel):
    low: float = Field(description="Lower bound (probability points, as a fraction).")
    high: float = Field(description="Upper bound (probability points, as a fraction).")
    level: float = Field(description="Confidence level of the interval (0.95).")


class BenefitReasonHeadings(BaseModel):
    raises: str = Field(description="Heading of the reasons that raise the expected benefit.")
    lowers: str = Field(description="Heading of the reasons that lower the expected benefit.")


class ExpectedBenefitOut(BaseModel):
    status: Literal["estimated", "not_estimable"] = Field(
        description="estimated: estimate and interval are given; not_estimable: reason_code "
        "and reason say why."
    )
    estimate: float | None = Field(
        description="Estimated change in the probability of being employed or in education "
        "within six months if the client receives the service instead of no service "
        "(probability points as a fraction: 0.05 = five points). Not a need: read it next to "
        "the probability, never instead of it."
    )
    interval: BenefitIntervalOut | None = Field(
        description="Confidence interval of the estimate (null when not estimable)."
    )
    reason_code: Literal["not_eligible", "outside_common_support", "no_effect_model"] | None = (
        Field(
            description="Why not estimable: not_eligible (the service's rule excludes the "
            "client), outside_common_support (too few comparable clients in the history got, "
            "or did not get, the service), no_effect_model (no effect model for the service "
            "in the served model)."
        )
    )
    reason: str | None = Field(description="The reason in the response language.")
    base_value: float | None = Field(
        default=None,
        description="With explain_benefit: the estimate the reasons start from (the "
        "effect model's estimate at average inputs); "
        "base_value + reasons + other_factors = estimate (probability points).",
    )
    reasons: list[ReasonOut] | None = Field(
        default=None,
        description="With explain_benefit, for an estimate: top reasons, largest first; "
        "contributions in probability points (not log-odds). Protected attributes are never "
        "shown.",
    )
    reason_headings: BenefitReasonHeadings | None = Field(
        default=None, description="With explain_benefit: the headings to group reasons under."
    )
    other_factors: list[OtherFactorOut] | None = Field(
        default=None,
        description="With explain_benefit: everything not shown as a reason, in probability "
        "points.",
    )


class SuggestionOut(BaseModel):
    service: str
    name: str = Field(description="The service's name in the response language.")
    probability: float = Field(description="Calibrated probability of need.")
    recommended: bool = Field(description="Eligible and at or above the service's threshold.")
    eligible: bool
    ineligibility_reason: str | None = Field(
        description="The rule that excludes the client, in the response language."
    )
    raw_score: float = Field(description="The booster's raw score (log-odds).")
    base_value: float | None = Field(
        description="Expected raw score; base_value plus all fields' contributions equals "
        "raw_score (null when explain is off)."
    )
    reasons: list[ReasonOut] = Field(
        description="Top reasons, largest first (empty for an ineligible service: the rule "
        "is the reason)."
    )
    reason_headings: ReasonHeadings | None = Field(
        description="The headings to group reasons under by direction (null without reasons)."
    )
    other_factors: list[OtherFactorOut] = Field(
        description="Everything not shown as a reason, each with its own figure: base_value + "
        "reasons + other_factors = raw_score."
    )
    expected_benefit: ExpectedBenefitOut = Field(
        description="The expected benefit of the service (effect models), or why it is not "
        "estimable. Never changes 'recommended', which is the need model's."
    )


class ModelRef(BaseModel):
    name: str
    version: str
    alias: str | None = None

    @classmethod
    def of(cls, served: LoadedModel) -> ModelRef:
        """Return the reference to a served model."""
        return cls(name=served.name, version=served.version, alias=served.alias)


class RecommendationResponse(BaseModel):
    request_id: str
    client_ref: str
    model: ModelRef
    lang: Language
    rank_by: Literal["need", "benefit"] = Field(
        description="The order of the suggestions: need (calibrated probability) or benefit "
        "(expected benefit; not estimable last, then by need)."
    )
    sources_used: list[str] = Field(description="Data sources this prediction read.")
    ignored_fields: list[IgnoredFieldOut] = Field(
        description="Fields sent but not used, with why (no values)."
    )
    suggestions: list[SuggestionOut] = Field(
        description="rank_by=need: eligible services by probability, then ineligible ones; "
        "rank_by=benefit: estimated benefits largest first, then the rest by need."
    )


class BatchResult(BaseModel):
    client_ref: str
    sources_used: list[str]
    ignored_fields: list[IgnoredFieldOut]
    suggestions: list[SuggestionOut]


class BatchRecommendationResponse(BaseModel):
    request_id: str
    model: ModelRef
    lang: Language
    rank_by: Literal["need", "benefit"] = Field(
        description="The order of the suggestions: need (calibrated probability) or benefit "
        "(expected benefit; not estimable last, then by need)."
    )
    count: int
    results: list[BatchResult] = Field(description="One per client, in request order.")


class Names(BaseModel):
    fi: str
    sv: str
    en: str


class EligibilityOut(BaseModel):
    rule: dict[str, Any] = Field(description="The rule as the schema states it.")
    text: Names


class ServiceOut(BaseModel):
    id: str
    names: Names
    need_phrase: Names | None
    eligibility: EligibilityOut | None
    threshold: float = Field(description="Calibrated probability at which it is recommended.")


class ServicesResponse(BaseModel):
    model: ModelRef
    services: list[ServiceOut]


class SourceOut(BaseModel):
    id: str
    consent_required: bool
    names: Names


class ModelResponse(BaseModel):
    name: str
    version: str
    alias: str | None
    uri: str
    trained_at: str | None
    loaded_at: dt.datetime
    metrics: dict[str, Any] = Field(description="Headline metrics recorded by training.")
    services: list[str]
    thresholds: dict[str, float]
    sources: list[SourceOut]
    request_fields: list[str] = Field(description="The profile fields a request may carry.")
    schema_fingerprint: str
    model_schema: dict[str, Any] = Field(alias="schema", description="The input schema.")
    metadata: dict[str, Any]
    drift: dict[str, Any] | None = Field(
        default=None,
        description="The feed guard on the rolling window of served profiles (latest summary).",
    )
    effect_services: list[str] = Field(
        default_factory=list,
        description="Services with an effect model (expected benefit); empty: the model has "
        "no effect models and rank_by=benefit is refused (409).",
    )

    model_config = {"populate_by_name": True}


class FieldExplanation(BaseModel):
    field: str
    mean_abs: float = Field(description="Mean absolute TreeSHAP contribution (log-odds).")
    mean: float = Field(description="Mean signed contribution (log-odds).")
    protected: bool = Field(description="A protected attribute: never shown as a reason.")
    direction: Literal["higher_raises", "higher_lowers", "mixed", "none", "by_category"]
    correlation: float | None = Field(
        default=None, description="Correlation of the field's value with its contribution."
    )
    mean_by_category: dict[str, float] | None = Field(
        default=None, description="Mean contribution per category (category fields)."
    )
    raises_most: str | None = None
    lowers_most: str | None = None


class ProtectedContribution(BaseModel):
    fields: list[str]
    mean_abs: float = Field(description="Mean |sum of the protected fields' contributions|.")
    mean: float
    share_of_mean_abs: float = Field(description="Of the mean total |contribution|, 0-1.")


class ServiceExplanation(BaseModel):
    base_value: float | None
    fields: list[FieldExplanation] = Field(description="Largest mean |SHAP| first.")
    protected_attributes: ProtectedContribution


class PopulationExplanations(BaseModel):
    model: ModelRef
    rows: int = Field(description="Test-split rows explained.")
    split: str
    unit: Literal["log-odds"]
    services: dict[str, ServiceExplanation]


class FeedbackResponse(BaseModel):
    id: int
    request_id: str
    client_ref: str
    received_at: dt.datetime


class AuditLogEntryOut(BaseModel):
    id: int
    occurred_at: dt.datetime
    endpoint: str
    key_name: str
    role: str
    client_ref: str | None
    model_name: str | None
    model_version: str | None
    services: list[str]
    sources_used: list[str]
    request_id: str
    details: dict[str, Any] | None = Field(
        default=None, description="A batch run's extract fingerprint, rows, feed-guard outcome."
    )


class AuditLogPage(BaseModel):
    entries: list[AuditLogEntryOut]
    limit: int
    offset: int


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready"]
    model: ModelRef
    database: Literal["ok"]


class ReloadResponse(BaseModel):
    changed: bool
    previous_version: str | None
    version: str
    model: ModelRef


class KeyCreate(BaseModel):
    model_config = {"extra": "forbid"}

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")
    role: Literal["caseworker", "auditor", "admin"]


class KeyOut(BaseModel):
    name: str
    role: str
    prefix: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None


class KeyCreated(KeyOut):
    key: str = Field(description="The key itself: shown this once, stored only as a hash.")


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    request_id: str | None = None
    errors: list[dict[str, Any]] | None = None


_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer"},
    }
}


def problem_response_entry(status: int) -> dict[str, Any]:
    """One OpenAPI ``responses`` entry: the problem types of ``status``, as problem+json."""
    titles = sorted({p.title for p in PROBLEM_TYPES.values() if p.status == status})
    entry: dict[str, Any] = {
        "description": "; ".join(titles) or "Problem",
        "content": {PROBLEM_MEDIA_TYPE: {"schema": Problem.model_json_schema()}},
    }
    if status in (429, 503):
        entry["headers"] = _RETRY_AFTER
    return entry


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for problem details with these statuses."""
    return {status: problem_response_entry(status) for status in statuses}


# What the server's layers answer before (or around) any route, by what the operation has.
UNLIMITED_PATHS = frozenset({"/healthz"})
EVERY_OPERATION = (422, 429)  # an identity code in the query; a rate limit
KEYED_OPERATION = (401, 403, 503)  # no or a wrong key; the key store does not answer
BODY_OPERATION = (400, 408, 413, 415)  # malformed or too deep; stalled; too large; not JSON
PATH_PARAMETER_OPERATION = (404,)


def operation_problems(path: str, operation: dict[str, Any]) -> set[int]:
    """Return the problem statuses the server may answer an operation with, beyond its own."""
    statuses = set(EVERY_OPERATION)
    if path in UNLIMITED_PATHS:
        statuses.discard(429)
    if operation.get("security"):
        statuses.update(KEYED_OPERATION)
    if "requestBody" in operation:
        statuses.update(BODY_OPERATION)
    if any(parameter.get("in") == "path" for parameter in operation.get("parameters", [])):
        statuses.update(PATH_PARAMETER_OPERATION)
    return statuses


def document_problems(document: dict[str, Any]) -> None:
    """Document, on every operation, each problem the server may answer it with.

    The request guard, the rate limits and the key check answer before any route, so a
    route's own ``responses`` cannot list them; FastAPI's own 422 entry (``application/json``)
    is replaced by the problem+json the server actually sends.
    """
    for path, operations in document.get("paths", {}).items():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses: dict[str, Any] = operation["responses"]
            declared = {int(code) for code in responses if code.isdigit() and int(code) >= 400}
            for status in sorted(declared | operation_problems(path, operation)):
                current = responses.get(str(status), {})
                if PROBLEM_MEDIA_TYPE not in current.get("content", {}):
                    responses[str(status)] = problem_response_entry(status)
    schemas = document.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
