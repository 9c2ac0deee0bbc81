"""Request models generated from the served model's schema.

:func:`build_request_models` turns a :class:`models.schema.Schema` into pydantic models
with ``pydantic.create_model``: each field the model reads (its inputs, and the fields
its eligibility rules read) with the schema's type, range (``ge``/``le``) and categories
(``Literal``), optional when nullable or from a consent-only source, required otherwise;
unknown fields are refused (``extra="forbid"``), and nothing else is accepted: the API
takes no data it does not use. Numbers and booleans are strict (``"5"`` is not 5); an
integer field takes any integral JSON number (``40`` or ``40.0``, not ``40.5``).
The options are strict too: ``top_k`` a JSON integer from 1 to the number of services,
``explain`` a JSON boolean (:mod:`service.request_parsing`).
The OpenAPI document is built from these models, so it always matches the model served.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    create_model,
    model_validator,
)
from pydantic.json_schema import models_json_schema
from pydantic_core import PydanticCustomError

from models.rules import rule_fields
from models.schema import FieldSpec, Schema
from service.request_parsing import strict_explain, strict_explain_benefit, strict_top_k

CLIENT_REF_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
REQUEST_ID_PATTERN = r"^[A-Za-z0-9-]{1,64}$"
MSG_BATCH_TOO_LARGE = "a batch may hold at most {limit} clients; this one holds {count}"
MSG_AGREED_AND_NOT_FOLLOWED = "services both agreed and not followed: {services}"
MSG_EMPTY_FEEDBACK = (
    "the feedback records nothing: name the agreed_services, or the suggestions not_followed "
    "and why (or both)"
)
NOT_FOLLOWED_REASONS = (
    "client_declined",
    "not_suitable",
    "not_available",
    "other_service_chosen",
    "caseworker_judgement",
    "other",
)
CLIENT_REF_DESCRIPTION = (
    "The client system's pseudonymous reference for the client (never a personal "
    "identity code: a request with one is refused)."
)


def _integral(value: Any) -> Any:
    """40.0 is the integer 40, as JSON Schema's "integer" says; 40.5 and "40" stay refused."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


IntegralNumber = Annotated[int, BeforeValidator(_integral)]
"""An integer field: any integral JSON number (40 or 40.0), nothing else."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _BatchBase(_Strict):
    batch_limit: ClassVar[int] = 1000

    @model_validator(mode="before")
    @classmethod
    def _within_limit(cls, data: Any) -> Any:
        clients = data.get("clients") if isinstance(data, dict) else None
        if isinstance(clients, list) and len(clients) > cls.batch_limit:
            raise PydanticCustomError(
                "batch_too_large",
                MSG_BATCH_TOO_LARGE,
                {"limit": cls.batch_limit, "count": len(clients)},
            )
        return data


class _FeedbackBase(_Strict):
    @model_validator(mode="after")
    def _no_overlap(self) -> _FeedbackBase:
        agreed = set(getattr(self, "agreed_services", []))
        declined = {item.service for item in getattr(self, "not_followed", [])}
        if not agreed and not declined:
            raise ValueError(MSG_EMPTY_FEEDBACK)
        both = sorted(agreed & declined)
        if both:
            raise ValueError(MSG_AGREED_AND_NOT_FOLLOWED.format(services=both))
        return self


def request_fields(schema: Schema) -> list[FieldSpec]:
    """Return the fields a request may carry: model inputs and eligibility-rule fields."""
    wanted = {spec.name for spec in schema.input_fields}
    for label in schema.labels:
        if label.eligibility is not None:
            wanted.update(rule_fields(label.eligibility.rule))
    return [spec for spec in schema.fields if spec.name in wanted]


def _description(spec: FieldSpec, schema: Schema) -> str:
    first, *others = schema.languages
    text = spec.label.get(first)
    if others:
        text += " (" + "; ".join(f"{code}: {spec.label.get(code)}" for code in others) + ")"
    text += "."
    if spec.unit is not None:
        text += f" Unit: {spec.unit.get(first)}."
    source = schema.sources.get(spec.source)
    if source is not None and source.consent_required:
        text += f" Source '{spec.source}': used only when the client consented to it."
    if spec.protected:
        text += " Protected attribute: never given as a reason."
    return text


def _bound(spec: FieldSpec, value: float | str | None) -> Any:
    if value is None:
        return None
    if spec.type == "date":
        return dt.date.fromisoformat(str(value))
    if spec.type == "integer":
        return int(float(value))
    return float(value)


def _field_definition(spec: FieldSpec, schema: Schema) -> tuple[Any, Any]:
    python_type: Any
    constraints: dict[str, Any] = {}
    if spec.type == "number":
        python_type = float
        constraints = {"strict": True, "allow_inf_nan": False}
    elif spec.type == "integer":
        python_type = IntegralNumber
        constraints = {"strict": True}
    elif spec.type == "boolean":
        python_type = bool
        constraints = {"strict": True}
    elif spec.type == "category":
        python_type = Literal[tuple(spec.categories or ())]
    else:
        python_type = dt.date
    if spec.type in ("number", "integer", "date"):
        if spec.min is not None:
            constraints["ge"] = _bound(spec, spec.min)
        if spec.max is not None:
            constraints["le"] = _bound(spec, spec.max)
    source = schema.sources.get(spec.source)
    optional = spec.nullable or (source is not None and source.consent_required)
    extra: dict[str, Any] = {"x-source": spec.source, "x-protected": spec.protected}
    description = _description(spec, schema)
    if optional:
        return python_type | None, Field(
            default=None, description=description, json_schema_extra=extra, **constraints
        )
    return python_type, Field(description=description, json_schema_extra=extra, **constraints)


def example_profile(schema: Schema) -> dict[str, Any]:
    """Return a plausible profile inside every range (mid-range numbers, first categories)."""
    example: dict[str, Any] = {}
    for spec in request_fields(schema):
        if spec.type == "category":
            example[spec.name] = spec.categories[0] if spec.categories else None
        elif spec.type == "boolean":
            example[spec.name] = False
        elif spec.type == "date":
            low = _bound(spec, spec.min) or dt.date(2020, 1, 1)
            high = _bound(spec, spec.max) or low
            example[spec.name] = (low + (high - low) / 2).isoformat()
        else:
            low = float(_bound(spec, spec.min) or 0.0)
            high = float(_bound(spec, spec.max) if spec.max is not None else low + 10)
            middle = low + (high - low) / 4
            example[spec.name] = int(middle) if spec.type == "integer" else round(middle, 1)
    return example


def example_request(schema: Schema, *, client_ref: str) -> dict[str, Any]:
    """Return a single-recommendation body: every consent given, :func:`example_profile`."""
    return {
        "client_ref": client_ref,
        "consents": list(schema.consent_sources),
        "profile": example_profile(schema),
    }


@dataclass(frozen=True)
class RequestModels:
    """The generated request models of one served model."""

    profile: type[BaseModel]
    single: type[BaseModel]
    batch: type[BaseModel]
    feedback: type[BaseModel]
    field_names: tuple[str, ...]
    unused_fields: frozenset[str] = frozenset()

    def json_schemas(self) -> dict[str, Any]:
        """JSON schemas of all request models, as OpenAPI ``components.schemas``."""
        _, top = models_json_schema(
            [(model, "validation") for model in (self.single, self.batch, self.feedback)],
            ref_template="#/components/schemas/{model}",
        )
        definitions: dict[str, Any] = top.get("$defs", {})
        return definitions


def build_request_models(
    schema: Schema, *, services: list[str], batch_limit: int = 1000
) -> RequestModels:
    """Generate the request models for a model trained on ``schema``.

    Parameters
    ----------
    schema : Schema
        The served model's schema.
    services : list of str
        The services the model predicts (feedback may name only these).
    batch_limit : int
        Most clients in one batch; more raise a ``batch_too_large`` error (413).
    """
    fields = request_fields(schema)
    profile = create_model(  # type: ignore[call-overload]
        "ClientProfile",
        __base__=_Strict,
        __doc__=f"One client's data, as the schema {schema.name!r} (v{schema.version}) says.",
        **{spec.name: _field_definition(spec, schema) for spec in fields},
    )
    consent_names = tuple(schema.consent_sources)
    consent_type: Any = Literal[consent_names] if consent_names else str
    consents: tuple[Any, Any] = (
        list[consent_type],
        Field(
            default_factory=list,
            max_length=max(len(consent_names), 0),
            description="The consent-only data sources the client agreed to; fields of other "
            "consent-only sources are treated as missing even when sent.",
        ),
    )
    client_ref = (str, Field(pattern=CLIENT_REF_PATTERN, description=CLIENT_REF_DESCRIPTION))
    client: dict[str, Any] = {
        "client_ref": client_ref,
        "consents": consents,
        "profile": (profile, Field(description="The client's data.")),
    }
    most = max(len(services), 1)
    options: dict[str, Any] = {
        "top_k": (
            Annotated[int | None, BeforeValidator(strict_top_k(most))],
            Field(default=None, ge=1, le=most, description="Services to list (an integer)."),
        ),
        "explain": (
            Annotated[bool | None, BeforeValidator(strict_explain)],
            Field(default=None, description="Give reasons (TreeSHAP): true or false (default)."),
        ),
        "rank_by": (
            Literal["need", "benefit"] | None,
            Field(
                default=None, description="Order of the suggestions: need (calibrated "
                "probability, the default) or benefit (expected benefit; 409 when the served "
                "model has no effect models)."
            ),
        ),
        "explain_benefit": (
            Annotated[bool | None, BeforeValidator(strict_explain_benefit)],
            Field(
                default=None, description="Give the reasons of each benefit estimate (per "
                "register field, from TreeSHAP of the effect model); default false."
            ),
        ),
        "lang": (
            Literal[tuple(schema.languages)] | None,
            Field(
                default=None, description="Language of names, rules and reasons (the served "
                "schema's languages); default from Accept-Language, else the service's default."
            ),
        ),
    }  # fmt: skip
    single = create_model(  # type: ignore[call-overload]
        "RecommendationRequest",
        __base__=_Strict,
        __doc__="One client: reference, consents, profile, and options.",
        **client,
        **options,
    )
    batch_client = create_model(  # type: ignore[call-overload]
        "BatchClient",
        __base__=_Strict,
        **client,
    )
    batch = create_model(  # type: ignore[call-overload]
        "BatchRecommendationRequest",
        __base__=_BatchBase,
        __doc__=f"Up to {batch_limit} clients, with options shared by all.",
        clients=(list[batch_client], Field(min_length=1)),  # type: ignore[valid-type]
        **options,
    )
    batch.batch_limit = batch_limit
    service_type: Any = Literal[tuple(services)] if services else str
    reason_type: Any = Literal[NOT_FOLLOWED_REASONS]
    not_followed = create_model(  # type: ignore[call-overload]
        "NotFollowed",
        __base__=_Strict,
        service=(service_type, Field(description="A suggested service that was not agreed.")),
        reason=(reason_type, Field(description="Why it was not followed.")),
        comment=(
            str | None,
            Field(
                default=None,
                max_length=500,
                description="Free text; no personal data beyond what the reason needs.",
            ),
        ),
    )
    feedback = create_model(  # type: ignore[call-overload]
        "FeedbackRequest",
        __base__=_FeedbackBase,
        __doc__="The override record: what was agreed with the client, and what was not "
        "(at least one of the two).",
        client_ref=client_ref,
        recommendation_request_id=(
            str | None,
            Field(
                default=None,
                pattern=REQUEST_ID_PATTERN,
                description="The request_id of the recommendation this feedback is about: "
                "one the API answered for this client_ref (else 422).",
            ),
        ),
        agreed_services=(
            list[service_type],
            Field(default_factory=list, description="Services actually agreed."),
        ),
        not_followed=(
            list[not_followed],  # type: ignore[valid-type]
            Field(default_factory=list, description="Suggestions not followed, with why."),
        ),
    )
    return RequestModels(
        profile=profile,
        single=single,
        batch=batch,
        feedback=feedback,
        field_names=tuple(spec.name for spec in fields),
        unused_fields=frozenset(spec.name for spec in schema.fields) - {s.name for s in fields},
    )
