"""API keys and roles: 401 without a valid key, 403 for the wrong role, keys stored hashed."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from service.auth import KeyAuthenticator, Role, create_key, revoke_key
from service.db import ApiKey
from tests.service.conftest import Api, make_settings

# (method, path, roles allowed)
ENDPOINTS: list[tuple[str, str, set[str]]] = [
    ("POST", "/v1/recommendations", {"caseworker"}),
    ("POST", "/v1/recommendations/batch", {"caseworker"}),
    ("POST", "/v1/feedback", {"caseworker"}),
    ("GET", "/v1/services", {"caseworker", "auditor", "admin"}),
    ("GET", "/v1/model", {"caseworker", "auditor", "admin"}),
    ("GET", "/v1/fairness/report", {"auditor"}),
    ("POST", "/v1/fairness/audit", {"auditor"}),
    ("GET", "/v1/audit-log", {"auditor"}),
    ("POST", "/v1/admin/reload", {"admin"}),
    ("GET", "/v1/admin/keys", {"admin"}),
]


@pytest.mark.parametrize(("method", "path", "allowed"), ENDPOINTS)
def test_role_matrix(api_any_db: Api, method: str, path: str, allowed: set[str]) -> None:
    api = api_any_db
    missing = api.client.request(method, path)
    assert missing.status_code == 401
    assert missing.headers["content-type"] == "application/problem+json"
    assert missing.json()["type"] == "/problems/unauthorized"
    assert missing.headers["www-authenticate"].startswith("Bearer")
    unknown = api.client.request(method, path, headers={"X-API-Key": "tarve_admin_not-a-key"})
    assert unknown.status_code == 401
    for role in ("caseworker", "auditor", "admin"):
        response = api.client.request(method, path, headers=api.headers(role))
        if role in allowed:
            assert response.status_code not in (401, 403), (role, response.text)
        else:
            assert response.status_code == 403, (role, path)
            assert response.json()["type"] == "/problems/forbidden"


def test_open_endpoints_need_no_key(api: Api) -> None:
    for path in ("/healthz", "/readyz", "/openapi.json", "/problems/forbidden"):
        assert api.client.get(path).status_code == 200, path


def test_x_api_key_header_works(api: Api) -> None:
    response = api.client.get("/v1/services", headers={"X-API-Key": api.keys["caseworker"]})
    assert response.status_code == 200


def test_keys_are_stored_only_as_sha256(api_any_db: Api) -> None:
    api = api_any_db
    with api.app.state.database.session() as session:
        rows = {row.name: row for row in session.scalars(select(ApiKey))}
    for role, token in api.keys.items():
        row = rows[f"test-{role}"]
        assert row.key_hash == hashlib.sha256(token.encode()).hexdigest()
        assert row.role == role
        assert token not in (row.prefix, row.name, row.key_hash)
        assert row.prefix == token[: len(f"tarve_{role}_") + 6] + "…"
        assert token.startswith(f"tarve_{role}_")
        assert len(token) > 40


def test_revoked_key_is_refused(api_any_db: Api) -> None:
    api = api_any_db
    assert api.get("/v1/services").status_code == 200
    assert revoke_key(api.app.state.database, "test-caseworker")
    assert api.get("/v1/services").status_code == 401
    assert not revoke_key(api.app.state.database, "test-caseworker")


def test_admin_manages_keys_over_the_api(api_any_db: Api) -> None:
    api = api_any_db
    created = api.post("/v1/admin/keys", role="admin", json={"name": "ura-prod", "role": "auditor"})
    assert created.status_code == 201
    token = created.json()["key"]
    listing = api.get("/v1/admin/keys", role="admin").json()
    assert "ura-prod" in {key["name"] for key in listing}
    assert token not in str(listing)
    headers = {"Authorization": f"Bearer {token}"}
    assert api.client.get("/v1/audit-log", headers=headers).status_code == 200
    duplicate = api.post("/v1/admin/keys", role="admin", json={"name": "ura-prod", "role": "admin"})
    assert duplicate.status_code == 409
    revoked = api.client.delete("/v1/admin/keys/ura-prod", headers=api.headers("admin"))
    assert revoked.status_code == 204
    assert api.client.get("/v1/audit-log", headers=headers).status_code == 401
    again = api.client.delete("/v1/admin/keys/ura-prod", headers=api.headers("admin"))
    assert again.status_code == 404


def test_key_cache_forgets_within_its_time(
    start_api: Callable[..., Api], model_dir: Path, sqlite_url: str
) -> None:
    api = start_api(make_settings(model_dir, sqlite_url, key_cache_seconds=60))
    authenticator: KeyAuthenticator = api.app.state.authenticator
    assert api.get("/v1/services").status_code == 200
    revoke_key(api.app.state.database, "test-caseworker")
    assert api.get("/v1/services").status_code == 200, "cached for key_cache_seconds"
    authenticator.forget_all()
    assert api.get("/v1/services").status_code == 401


@pytest.mark.parametrize("name", ["", "has space", "131052-308T", "x" * 101])
def test_bad_key_names_are_refused(api: Api, name: str) -> None:
    from service.auth import InvalidKeyName

    with pytest.raises(InvalidKeyName):
        create_key(api.app.state.database, name=name, role=Role.ADMIN)


def test_role_enum_covers_the_matrix() -> None:
    roles: set[Any] = {role.value for role in Role}
    assert roles == {"caseworker", "auditor", "admin"}
