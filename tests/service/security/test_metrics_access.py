"""``/metrics``: closed to anonymous callers; an admin key or the metrics token opens it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from service.app import MSG_METRICS_CREDENTIALS
from tests.service.conftest import Api, make_settings, start_api  # noqa: F401

TOKEN = "metrics-" + "x" * 40
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "metrics-token"
    path.write_text(TOKEN + "\n")
    return path


def _is_metrics(response: Any) -> bool:
    return response.status_code == 200 and "tarve_http_requests_total" in response.text


def test_metrics_are_closed_to_anonymous_callers_by_default(api: Api) -> None:
    anonymous = api.client.get("/metrics")
    unknown = api.client.get("/metrics", headers={"Authorization": "Bearer " + TOKEN})

    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    assert "tarve_predictions" not in anonymous.text
    assert unknown.status_code == 401  # no token file configured: no token works


@pytest.mark.parametrize(("role", "status"), [("caseworker", 403), ("auditor", 403)])
def test_other_roles_may_not_read_metrics(api: Api, role: str, status: int) -> None:
    response = api.get("/metrics", role=role)

    assert response.status_code == status
    assert response.json()["type"] == "/problems/forbidden"


def test_an_admin_key_reads_metrics(api: Api) -> None:
    response = api.get("/metrics", role="admin")

    assert _is_metrics(response)
    assert response.headers["cache-control"] == "no-store"


def test_the_metrics_token_reads_metrics_and_nothing_else(
    start_api: Callable[..., Api],  # noqa: F811
    model_dir: Path,
    sqlite_url: str,
    token_file: Path,
) -> None:
    api = start_api(make_settings(model_dir, sqlite_url, metrics_credentials_file=token_file))
    bearer = {"Authorization": f"Bearer {TOKEN}"}

    assert _is_metrics(api.client.get("/metrics", headers=bearer))
    assert _is_metrics(api.client.get("/metrics", headers={"X-API-Key": TOKEN}))
    wrong = {"Authorization": "Bearer x" + TOKEN}
    assert api.client.get("/metrics", headers=wrong).status_code == 401
    assert api.client.get("/v1/services", headers=bearer).status_code == 401
    assert api.client.get("/v1/audit-log", headers=bearer).status_code == 401
    assert _is_metrics(api.get("/metrics", role="admin"))


def test_a_short_metrics_token_is_refused_at_start(
    model_dir: Path, sqlite_url: str, tmp_path: Path
) -> None:
    from service.app import create_app

    short = tmp_path / "short"
    short.write_text("too-short")

    with pytest.raises(ValueError, match="32 or more"):
        create_app(make_settings(model_dir, sqlite_url, metrics_credentials_file=short))
    assert "32 or more" in MSG_METRICS_CREDENTIALS


def test_metrics_can_be_opened_to_anyone(
    start_api: Callable[..., Api],  # noqa: F811
    model_dir: Path,
    sqlite_url: str,
) -> None:
    api = start_api(make_settings(model_dir, sqlite_url, metrics_public=True))

    assert _is_metrics(api.client.get("/metrics"))


def test_the_proxy_does_not_pass_metrics_on_and_prometheus_sends_the_token() -> None:
    proxy = (ROOT / "deploy" / "nginx" / "tarve.conf.template").read_text("utf-8")
    scrape = (ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text("utf-8")

    assert "location = /metrics" in proxy
    assert "return 404" in proxy.split("location = /metrics", 1)[1].split("}", 1)[0]
    assert "credentials_file" in scrape
    assert "metrics_path: /metrics" in scrape
