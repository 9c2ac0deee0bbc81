"""Fault suite, registry: a registry that does not answer never blocks start or reload.

At start the wait is bounded by ``registry_timeout_seconds``; the API then serves from
the last verified local copy of the model when there is one (``/readyz`` says so), and
says what it waits for when there is none. A reload with the registry down is refused
within the same bound; the old model keeps serving. A version whose files do not match
the registry's ``tarve.manifest_sha256`` tag is refused.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from models.artifact import TAG_MANIFEST_SHA256, manifest_sha256
from tests.service.conftest import Api, make_settings
from tests.service.test_mlflow_alias import MODEL_NAME, registry  # noqa: F401 - a fixture

pytestmark = pytest.mark.timeout(120)
TIMEOUT = 2.0
URI = f"models:/{MODEL_NAME}@production"


@pytest.fixture
def silent_registry() -> Iterator[str]:
    """Return an http URL where connections are accepted by the kernel and never answered."""
    server = socket.create_server(("127.0.0.1", 0), backlog=64)
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    server.close()


def _settings(database: str, tmp_path: Path, **extra: Any) -> Any:
    values: dict[str, Any] = {
        "registry_timeout_seconds": TIMEOUT,
        "registry_retry_seconds": 60,
        "model_local_copy": tmp_path / "served-model",
    }
    values.update(extra)
    return make_settings(URI, database, **values)


def _recommend(api: Api, profile: dict[str, Any]) -> Any:
    return api.post("/v1/recommendations", json={"client_ref": "c", "profile": profile})


def test_registry_down_at_start_serves_the_last_verified_copy_and_bounds_reload(
    registry: Any,  # noqa: F811
    start_api: Callable[..., Api],
    model_dir: Path,
    sqlite_url: str,
    tmp_path: Path,
    silent_registry: str,
    monkeypatch: pytest.MonkeyPatch,
    profile: dict[str, Any],
) -> None:
    version = registry.register(model_dir)
    registry.set_model_version_tag(
        MODEL_NAME, version, TAG_MANIFEST_SHA256, manifest_sha256(model_dir)
    )
    registry.set_registered_model_alias(MODEL_NAME, "production", version)
    first = start_api(_settings(sqlite_url, tmp_path))
    assert _recommend(first, profile).json()["model"]["version"] == version
    assert (tmp_path / "served-model" / "source.json").is_file()

    monkeypatch.setenv("MLFLOW_TRACKING_URI", silent_registry)
    started = time.monotonic()
    api = start_api(_settings(f"sqlite:///{tmp_path / 'second.db'}", tmp_path))
    start_seconds = time.monotonic() - started

    assert start_seconds < TIMEOUT + 5
    assert api.client.get("/healthz").status_code == 200
    ready = api.client.get("/readyz")
    assert ready.status_code == 200
    assert any("last verified local copy" in note for note in ready.json()["notes"])
    assert silent_registry not in ready.text
    answer = _recommend(api, profile)
    assert answer.status_code == 200
    assert answer.json()["model"]["version"] == version

    started = time.monotonic()
    reload = api.post("/v1/admin/reload", role="admin")
    assert time.monotonic() - started < TIMEOUT + 3
    assert reload.status_code == 409
    assert "did not answer" in reload.json()["detail"]
    assert silent_registry not in reload.text
    assert _recommend(api, profile).status_code == 200


def test_registry_down_at_start_without_a_copy_says_what_it_waits_for(
    start_api: Callable[..., Api],
    sqlite_url: str,
    tmp_path: Path,
    silent_registry: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", silent_registry)
    started = time.monotonic()
    api = start_api(_settings(sqlite_url, tmp_path))
    assert time.monotonic() - started < TIMEOUT + 5

    assert api.client.get("/healthz").status_code == 200
    ready = api.client.get("/readyz")
    assert ready.status_code == 503
    assert "registry did not answer" in ready.json()["detail"]
    assert "127.0.0.1" not in ready.text


def test_a_version_whose_files_differ_from_the_registry_tag_is_refused(
    registry: Any,  # noqa: F811
    start_api: Callable[..., Api],
    model_dir: Path,
    second_model_dir: Path,
    sqlite_url: str,
    tmp_path: Path,
    profile: dict[str, Any],
) -> None:
    good = registry.register(model_dir)
    registry.set_model_version_tag(
        MODEL_NAME, good, TAG_MANIFEST_SHA256, manifest_sha256(model_dir)
    )
    registry.set_registered_model_alias(MODEL_NAME, "production", good)
    api = start_api(_settings(sqlite_url, tmp_path))
    forged = registry.register(second_model_dir)
    registry.set_model_version_tag(MODEL_NAME, forged, TAG_MANIFEST_SHA256, "0" * 64)
    registry.set_registered_model_alias(MODEL_NAME, "production", forged)

    reload = api.post("/v1/admin/reload", role="admin")

    assert reload.status_code == 409
    assert "the registry expects" in reload.json()["detail"]
    assert _recommend(api, profile).json()["model"]["version"] == good
