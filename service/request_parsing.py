"""Validate a raw JSON body with a generated request model, or raise the right problem.

The routes that take schema-generated bodies read the raw bytes (screened by the
request guard) and validate them here with ``model_validate_json``: every bad field is
reported at once (422), a batch over the limit is 413, and no input value is echoed.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

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
