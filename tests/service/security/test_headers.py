"""Security headers on a real uvicorn, CORS closed by default and open to listed origins."""

from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import uvicorn

from service.app import create_app
from service.auth import Role, create_key
from service.docs_pages import DOCS_CONTENT_SECURITY_POLICY
from service.http_limits import server_config
from service.security_headers import HTML_CONTENT_SECURITY_POLICY
from tests.service.conftest import Api, make_settings, start_api  # noqa: F401

fairness_audit = pytest.importorskip("fairness.audit")
ROOT = Path(__file__).resolve().parents[3]
ORIGIN = "https://asiakastieto.example.fi"


def _audited_model(model_dir: Path, directory: Path) -> Path:
    """Copy the fixture model and add a fairness_audit.json, as training writes it."""
    shutil.copytree(model_dir, directory)
    predictions = pd.DataFrame(
        {"need": [0, 1] * 100, "score": [0.2, 0.7] * 100, "gender": ["female", "male"] * 100}
    )
    csv = directory.parent / "predictions.csv"
    predictions.to_csv(csv, index=False)
    report = fairness_audit.audit_predictions_file(
        csv, label="need", score="score", threshold=0.5, group_columns=["gender"]
    )
    (directory / "fairness_audit.json").write_text(json.dumps(report.to_dict()))
    return directory


@pytest.fixture(scope="module")
def served(
    model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, dict[str, str]]]:
    """Run the app under uvicorn with tarve's server configuration; its URL and keys."""
    work = tmp_path_factory.mktemp("headers")
    model = _audited_model(model_dir, work / "model")
    app = create_app(make_settings(model, f"sqlite:///{work / 'service.db'}"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = server_config(app, app.state.settings, host="127.0.0.1", port=port)
    config.log_level = "critical"
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    keys = {
        role.value: create_key(app.state.database, name=f"h-{role.value}", role=role)[1]
        for role in Role
    }
    yield f"http://127.0.0.1:{port}", keys
    server.should_exit = True
    thread.join(10)


def _get(served: tuple[str, dict[str, str]], path: str, role: str | None, **headers: str) -> Any:
    url, keys = served
    if role is not None:
        headers["Authorization"] = f"Bearer {keys[role]}"
    return httpx.get(url + path, headers=headers, timeout=10)


@pytest.mark.parametrize(
    ("path", "role"),
    [
        ("/v1/services", "caseworker"),
        ("/v1/model", "auditor"),
        ("/v1/audit-log", "auditor"),
        ("/v1/model/explanations", "caseworker"),
        ("/v1/audit-log", None),  # 401
        ("/v1/audit-log", "caseworker"),  # 403
        ("/v1/no-such-thing", "caseworker"),  # 404
    ],
)
def test_v1_answers_are_not_stored_nor_sniffed(
    served: tuple[str, dict[str, str]], path: str, role: str | None
) -> None:
    response = _get(served, path, role)

    assert response.headers["cache-control"] == "no-store", (path, response.status_code)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "server" not in response.headers


def test_refusals_before_the_routes_get_the_headers(served: tuple[str, dict[str, str]]) -> None:
    url, keys = served
    response = httpx.post(
        url + "/v1/recommendations",
        content=b"[" * 100 + b"]" * 100,
        headers={
            "Authorization": f"Bearer {keys['caseworker']}",
            "Content-Type": "application/json",
        },
        timeout=10,
    )

    assert response.status_code == 400  # the request guard's refusal
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/openapi.json", "/problems/forbidden"])
def test_every_answer_is_not_sniffed_and_names_no_server(
    served: tuple[str, dict[str, str]], path: str
) -> None:
    response = _get(served, path, None)

    assert response.status_code == 200
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "server" not in response.headers


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_documentation_pages_keep_their_policy_and_cannot_be_framed(
    served: tuple[str, dict[str, str]], path: str
) -> None:
    response = _get(served, path, None)

    assert response.status_code == 200
    assert response.headers["content-security-policy"] == DOCS_CONTENT_SECURITY_POLICY
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_the_html_report_has_a_strict_policy(served: tuple[str, dict[str, str]]) -> None:
    response = _get(served, "/v1/fairness/report", "auditor", Accept="text/html")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == HTML_CONTENT_SECURITY_POLICY
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    assert "<script" not in response.text  # the policy allows no script: none is needed


def test_the_image_runs_uvicorn_without_a_server_header() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text("utf-8")
    command = next(line for line in dockerfile.splitlines() if line.startswith("CMD"))

    assert "--no-server-header" in command


def _preflight(api: Api, origin: str) -> Any:
    return api.client.options(
        "/v1/recommendations",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )


def test_cors_is_closed_by_default(
    start_api: Callable[..., Api],  # noqa: F811
    model_dir: Path,
    sqlite_url: str,
) -> None:
    api = start_api(make_settings(model_dir, sqlite_url))

    preflight = _preflight(api, ORIGIN)
    simple = api.get("/v1/services", headers={"Origin": ORIGIN})

    assert "access-control-allow-origin" not in preflight.headers
    assert preflight.status_code == 405  # no CORS layer: OPTIONS is not a method here
    assert simple.status_code == 200
    assert "access-control-allow-origin" not in simple.headers


def test_cors_opens_to_the_listed_origins_only(
    start_api: Callable[..., Api],  # noqa: F811
    model_dir: Path,
    sqlite_url: str,
) -> None:
    api = start_api(make_settings(model_dir, sqlite_url, cors_origins=f"{ORIGIN},https://b.fi"))

    allowed = _preflight(api, ORIGIN)
    other = _preflight(api, "https://evil.example")
    simple = api.get("/v1/services", headers={"Origin": ORIGIN})
    stranger = api.get("/v1/services", headers={"Origin": "https://evil.example"})

    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in allowed.headers["access-control-allow-methods"]
    assert "access-control-allow-credentials" not in allowed.headers
    assert other.status_code == 400
    assert "access-control-allow-origin" not in other.headers
    assert simple.headers["access-control-allow-origin"] == ORIGIN
    assert "access-control-allow-origin" not in stranger.headers


@pytest.mark.parametrize("origins", ["*", "asiakastieto.example.fi", "https://a.fi/path"])
def test_a_cors_origin_must_be_an_origin(model_dir: Path, sqlite_url: str, origins: str) -> None:
    with pytest.raises(ValueError, match="origin"):
        make_settings(model_dir, sqlite_url, cors_origins=origins)
