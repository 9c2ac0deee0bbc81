"""Validate a raw JSON body with a generated request model, or raise the right problem.

The routes that take schema-generated bodies read the raw bytes (screened by the
request guard) and validate them here with ``model_validate_json``: every bad field is
reported at once (422), a batch over the limit is 413, and no input value is echoed.

The options (``top_k``, ``explain``) and the audit log's dates are parsed strictly, the
same in the body and the query: ``top_k`` is a JSON integer (a query value of digits),
``explain`` a JSON boolean (a query value ``true`` or ``false``), a date an ISO 8601
date or date-time. Their errors name the option, the value sent and what is expected
(these values are short scalars, and never an identity code: the request guard refused
those before).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Collection
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticCustomError

from models.extract.identity_code import free_text_has_identity_code
from service.problems import (
    BatchTooLarge,
    InvalidRequest,
    UnsupportedMediaType,
    field_error,
    pydantic_errors,
)

ModelT = TypeVar("ModelT", bound=BaseModel)
MSG_NOT_JSON = "send the body as JSON with 'Content-Type: application/json'"
MSG_EMPTY = "a JSON body is needed"
MSG_TOP_K = "top_k must be an integer from 1 to {most} (the services served); got {value}"
MSG_TOP_K_QUERY = "top_k must be an integer of 1 or more; got {value}"
MSG_EXPLAIN = "explain must be true or false; got {value}"
MSG_DATE = (
    "{name} must be an ISO 8601 date or date-time (2026-01-31, 2026-01-31T08:00Z); got {value}"
)
_DIGITS = re.compile(r"[0-9]{1,18}")
_SHOWN_CHARACTERS = 40


def shown_value(value: Any) -> str:
    """Return a value for an error message: as JSON, cut short, never an identity code."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = type(value).__name__
    if free_text_has_identity_code(text):
        return "a value that is not shown"
    if len(text) > _SHOWN_CHARACTERS:
        text = text[: _SHOWN_CHARACTERS - 3] + "..."
    return text


def option_error(code: str, template: str, value: Any, **context: Any) -> PydanticCustomError:
    """Return an error whose message names the value sent (see :func:`shown_value`)."""
    # No context: pydantic fills in nothing, so braces in the value stay as they are.
    return PydanticCustomError(code, template.format(value=shown_value(value), **context))


def strict_top_k(most: int) -> Any:
    """Return a before-validator: ``top_k`` in the body is a JSON integer from 1 to ``most``."""

    def check(value: Any) -> Any:
        if value is None:
            return None
        if type(value) is not int or not 1 <= value <= most:
            raise option_error("top_k", MSG_TOP_K, value, most=most)
        return value

    return check


def top_k_query(value: Any) -> Any:
    """``top_k`` in the query: digits only, 1 or more (the route bounds it by the services)."""
    if value is None:
        return None
    if not isinstance(value, str) or not _DIGITS.fullmatch(value) or int(value) < 1:
        raise option_error("top_k", MSG_TOP_K_QUERY, value)
    return int(value)


def check_top_k_bound(value: int | None, most: int) -> None:
    """Refuse a query ``top_k`` over the number of services served (as the body does).

    Raises
    ------
    InvalidRequest
        ``value`` is over ``most`` (a 422 naming the ``top_k`` parameter).
    """
    if value is not None and value > most:
        detail = MSG_TOP_K.format(most=most, value=shown_value(value))
        raise InvalidRequest(
            [field_error("query", ["top_k"], detail, "less_than_equal")], detail=detail
        )


def strict_explain(value: Any) -> Any:
    """``explain`` in the body: a JSON boolean (not 0, 1, "no" or "off")."""
    if value is None or type(value) is bool:
        return value
    raise option_error("explain", MSG_EXPLAIN, value)


def explain_query(value: Any) -> Any:
    """``explain`` in the query: exactly ``true`` or ``false``."""
    if value is None or type(value) is bool:
        return value
    if value in ("true", "false"):
        return value == "true"
    raise option_error("explain", MSG_EXPLAIN, value)


MSG_EXPLAIN_BENEFIT = "explain_benefit must be true or false; got {value}"


def strict_explain_benefit(value: Any) -> Any:
    """``explain_benefit`` in the body: a JSON boolean (as ``explain``)."""
    if value is None or type(value) is bool:
        return value
    raise option_error("explain_benefit", MSG_EXPLAIN_BENEFIT, value)


def explain_benefit_query(value: Any) -> Any:
    """``explain_benefit`` in the query: exactly ``true`` or ``false`` (as ``explain``)."""
    if value is None or type(value) is bool:
        return value
    if value in ("true", "false"):
        return value == "true"
    raise option_error("explain_benefit", MSG_EXPLAIN_BENEFIT, value)


def iso_datetime(name: str) -> Any:
    """Return a before-validator: an ISO 8601 date or date-time string, nothing else."""

    def check(value: Any) -> Any:
        if value is None or isinstance(value, dt.datetime):
            return value
        if isinstance(value, str) and value[:4].isdigit():
            try:
                return dt.datetime.fromisoformat(value)
            except ValueError:
                pass
        raise option_error("datetime_format", MSG_DATE, value, name=name)

    return check


def is_json(content_type: str | None) -> bool:
    """Tell whether a Content-Type names JSON (``application/json`` or ``*+json``)."""
    media_type = (content_type or "").split(";")[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def parse_body(
    model: type[ModelT],
    body: bytes,
    content_type: str | None,
    *,
    unused_fields: Collection[str] = (),
) -> ModelT:
    """``model`` validated from ``body``.

    Raises
    ------
    UnsupportedMediaType
        The body is not declared as JSON.
    BatchTooLarge
        The model's batch limit is exceeded.
    InvalidRequest
        Anything else is wrong; every error is listed.
    """
    if not is_json(content_type):
        raise UnsupportedMediaType(MSG_NOT_JSON)
    if not body.strip():
        raise InvalidRequest([field_error("body", [], MSG_EMPTY, "missing")])
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        errors: list[Any] = exc.errors(include_input=False, include_url=False, include_context=True)
        for error in errors:
            if error["type"] == "batch_too_large":
                raise BatchTooLarge(str(error["msg"])) from None
        raise InvalidRequest(
            pydantic_errors(errors, location="body", unused_fields=unused_fields)
        ) from None


def json_request_body(schema_name: str, example: Any | None = None) -> dict[str, Any]:
    """``openapi_extra`` declaring a JSON body whose schema is generated per model."""
    media: dict[str, Any] = {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}
    if example is not None:
        media["example"] = example
    return {"requestBody": {"required": True, "content": {"application/json": media}}}
