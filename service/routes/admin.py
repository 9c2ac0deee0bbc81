"""Admin endpoints: reload the model, manage API keys (admin role)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from service.auth import (
    InvalidKeyName,
    KeyAuthenticator,
    KeyInfo,
    create_key,
    list_keys,
    revoke_key,
)
from service.deps import AdminDep, AuditDep, DatabaseDep, HolderDep, MetricsDep
from service.problems import InvalidRequest, NotFound, field_error
from service.responses import (
    KeyCreate,
    KeyCreated,
    KeyOut,
    ModelRef,
    ReloadResponse,
    problem_responses,
)

router = APIRouter(prefix="/v1/admin", tags=["admin"])
MSG_NO_SUCH_KEY = "no active key has that name"


def _key_out(info: KeyInfo) -> KeyOut:
    return KeyOut(
        name=info.name,
        role=info.role.value,
        prefix=info.prefix,
        created_at=info.created_at,
        revoked_at=info.revoked_at,
    )


@router.post(
    "/reload",
    response_model=ReloadResponse,
    summary="Load the version now behind the model URI and swap it in",
    responses=problem_responses(401, 403, 409),
)
def reload_model(
    caller: AdminDep,
    holder: HolderDep,
    audit: AuditDep,
    metrics: MetricsDep,
) -> ReloadResponse:
    """Requests in flight finish on the old model. If the new one fails to load or fails
    its smoke prediction, the old one keeps serving and the answer is 409 with the reason.
    """  # noqa: D205, D401
    del caller
    try:
        outcome = holder.reload()
    except Exception:
        metrics.reloads.labels(result="rejected").inc()
        raise
    metrics.reloads.labels(result="loaded").inc()
    served = holder.get()
    audit.for_model(served.name, served.version, served.manifest_sha256).record("admin.reload")
    return ReloadResponse(
        changed=outcome.changed,
        previous_version=outcome.previous_version,
        version=outcome.version,
        model=ModelRef.of(served),
    )


@router.get("/keys", response_model=list[KeyOut], summary="List API keys (never the keys)")
def get_keys(caller: AdminDep, database: DatabaseDep) -> list[KeyOut]:  # noqa: D103
    del caller
    return [_key_out(info) for info in list_keys(database)]


@router.post(
    "/keys",
    status_code=201,
    response_model=KeyCreated,
    summary="Create an API key (shown once)",
    responses=problem_responses(401, 403, 409, 422),
)
def post_key(  # noqa: D103
    body: KeyCreate, caller: AdminDep, database: DatabaseDep, audit: AuditDep
) -> KeyCreated:
    del caller
    try:
        info, token = create_key(database, name=body.name, role=body.role)
    except InvalidKeyName as exc:
        raise InvalidRequest([field_error("body", ["name"], str(exc), "key_name")]) from None
    audit.record("admin.keys.create", about_model=False)
    return KeyCreated(**_key_out(info).model_dump(), key=token)


@router.delete(
    "/keys/{name}",
    status_code=204,
    summary="Revoke an API key",
    responses=problem_responses(401, 403, 404, 409),
)
def delete_key(  # noqa: D103
    name: Annotated[str, Path(max_length=100)],
    caller: AdminDep,
    database: DatabaseDep,
    request: Request,
    audit: AuditDep,
) -> Response:
    del caller
    if not revoke_key(database, name, keep_an_admin=True):
        raise NotFound(MSG_NO_SUCH_KEY)
    authenticator: KeyAuthenticator = request.app.state.authenticator
    authenticator.forget_all()
    audit.record("admin.keys.revoke", about_model=False)
    return Response(status_code=204)
