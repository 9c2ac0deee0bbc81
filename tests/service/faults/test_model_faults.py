"""Fault suite, model: tampered and malformed artifacts never crash or silently serve.

A malformed LightGBM file (LightGBM aborts on "Model format error", segfaults on a
truncated file) is parsed in a child process first: the reload is refused, the server
stays up and the old model keeps serving. A tampered file (one byte) fails its SHA-256.
``/readyz`` and the reload answer say why (never with a registry server's URL).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from models.artifact import manifest_sha256, write_integrity_manifest
from service.db import AuditLogEntry
from tests.service.conftest import Api, make_settings


@pytest.fixture
def live_dir(tmp_path: Path, model_dir: Path) -> Path:
    target = tmp_path / "live"
    shutil.copytree(model_dir, target)
    return target


def _booster(live: Path) -> Path:
    return sorted((live / "boosters").glob("*.txt"))[0]


def _format_error(live: Path) -> None:
    booster = _booster(live)
    booster.write_text(
        re.sub(r"^num_leaves=\d+", "num_leaves=900", booster.read_text(), flags=re.M)
    )
    write_integrity_manifest(live)  # hashes match: only the child-process check stops it


def _truncated(live: Path) -> None:
    booster = _booster(live)
    booster.write_bytes(booster.read_bytes()[: booster.stat().st_size // 2])
    write_integrity_manifest(live)


def _one_byte(live: Path) -> None:
    booster = _booster(live)
    data = bytearray(booster.read_bytes())
    data[len(data) // 2] ^= 0x01
    booster.write_bytes(bytes(data))


def _recommend(api: Api, profile: dict[str, Any]) -> Any:
    return api.post("/v1/recommendations", json={"client_ref": "c-1", "profile": profile})


@pytest.mark.parametrize(
    ("breakage", "reason"),
    [
        (_format_error, "LightGBM cannot read"),
        (_truncated, "LightGBM cannot read"),
        (_one_byte, "does not match its SHA-256"),
    ],
    ids=["format-error", "truncated", "one-byte"],
)
def test_a_bad_model_at_reload_is_refused_and_the_old_one_keeps_serving(
    start_api: Callable[..., Api],
    live_dir: Path,
    sqlite_url: str,
    profile: dict[str, Any],
    breakage: Callable[[Path], None],
    reason: str,
) -> None:
    api = start_api(make_settings(live_dir, sqlite_url))
    served_manifest = manifest_sha256(live_dir)
    breakage(live_dir)

    response = api.post("/v1/admin/reload", role="admin")

    assert response.status_code == 409
    assert reason in response.json()["detail"]
    assert "Traceback" not in response.text
    answer = _recommend(api, profile)
    assert answer.status_code == 200
    assert answer.json()["model"]["version"] == "fixture-1"
    ready = api.client.get("/readyz")
    assert ready.status_code == 200
    assert any(reason in note for note in ready.json()["notes"])
    assert "://" not in ready.text
    with api.app.state.database.session() as session:
        stamped = session.scalars(
            sa.select(AuditLogEntry.model_manifest_sha256).where(
                AuditLogEntry.endpoint == "recommendations"
            )
        ).all()
    assert stamped == [served_manifest]  # the row names the exact files that answered


@pytest.mark.parametrize("breakage", [_format_error, _truncated, _one_byte])
def test_a_bad_model_at_start_leaves_the_api_up_saying_why(
    start_api: Callable[..., Api],
    live_dir: Path,
    sqlite_url: str,
    profile: dict[str, Any],
    breakage: Callable[[Path], None],
) -> None:
    breakage(live_dir)

    api = start_api(make_settings(live_dir, sqlite_url))

    assert api.client.get("/healthz").status_code == 200
    ready = api.client.get("/readyz")
    assert ready.status_code == 503
    assert "model" in ready.json()["detail"]
    assert "://" not in ready.text
    assert _recommend(api, profile).status_code == 503
