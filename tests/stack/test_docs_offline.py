"""``/docs`` and ``/redoc`` render in headless Chromium with the network cut.

The API runs as the image runs it (its ``CMD``); Chromium may reach 127.0.0.1 and
nothing else: every other host name fails to resolve and any proxy use goes to a dead
port. A control page that loads Swagger UI from the public CDN stays empty under the
same cut, which shows the cut holds; the network log shows the API's pages asked no
other host for anything.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.openapi.docs import get_swagger_ui_html

from service.docs_pages import DOCS_ASSETS_PATH
from tests.stack.conftest import base_env
from tests.stack.image import api_argv
from tests.stack.processes import Service, free_port, start

CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
)
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None, reason="headless Chromium is not installed (apt-get install chromium)"
    ),
]
READY_SECONDS = 120
# Chromium's own background services (time, updates, accounts) call these hosts
# whatever page is open; they are not requests of the page.
BROWSER_SERVICE_HOSTS = ("google.com", "googleapis.com", "gstatic.com", "gvt1.com")
OPERATIONS = ("/v1/recommendations", "/v1/recommendations/batch", "/readyz", "/v1/admin/reload")


@pytest.fixture(scope="module")
def api(trained_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """One API process with a model directory and SQLite: the image's command."""
    work = tmp_path_factory.mktemp("docs-api")
    port = free_port()
    service = start(
        "api",
        api_argv(),
        env=base_env(
            TARVE_HOME=str(work),
            TARVE_MODEL_URI=str(trained_model_dir),
            TARVE_DATABASE_URL=f"sqlite:///{work / 'tarve.db'}",
            UVICORN_HOST="127.0.0.1",
            UVICORN_PORT=str(port),
            WEB_CONCURRENCY="1",
        ),
        log_dir=work,
        base_url=f"http://127.0.0.1:{port}",
        cwd=work,
    )
    try:
        service.wait_until("/readyz", timeout=READY_SECONDS)
        yield service
    finally:
        service.stop()


def offline_dom(url: str, work: Path) -> tuple[str, list[str]]:
    """Open ``url`` with only 127.0.0.1 reachable; return the DOM and the requested URLs.

    The URLs come from Chromium's network log.
    """
    assert CHROMIUM is not None
    work.mkdir(parents=True, exist_ok=True)
    net_log = work / "netlog.json"
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--no-first-run",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--proxy-server=http://127.0.0.1:9",
            "--proxy-bypass-list=127.0.0.1",
            f"--user-data-dir={work / 'profile'}",
            f"--log-net-log={net_log}",
            "--virtual-time-budget=15000",
            "--window-size=1280,2000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout, requested_urls(net_log)


def requested_urls(net_log: Path) -> list[str]:
    """Return the URLs of the URL requests in a Chromium network log."""
    text = net_log.read_text("utf-8", errors="replace").rstrip().rstrip(",")
    if not text.endswith("}"):
        text += "]}"
    try:
        log = json.loads(text)
    except json.JSONDecodeError:
        log = json.loads(text + "]}")
    urls: list[str] = []
    for event in log.get("events", []):
        params = event.get("params") or {}
        url = params.get("url")
        if isinstance(url, str) and url not in urls:
            urls.append(url)
    return urls


def page_requests_elsewhere(urls: list[str], base_url: str) -> list[str]:
    """Return the requested URLs that are neither the API's nor the browser's services."""
    outside = []
    for url in urls:
        host = httpx.URL(url).host if url.startswith(("http:", "https:")) else ""
        if url.startswith(base_url) or not host:
            continue
        if any(host == name or host.endswith("." + name) for name in BROWSER_SERVICE_HOSTS):
            continue
        outside.append(url)
    return outside


def test_swagger_ui_lists_the_operations_with_the_network_cut(api: Service, tmp_path: Path) -> None:
    dom, urls = offline_dom(api.base_url + "/docs", tmp_path / "docs")
    assert 'class="swagger-ui' in dom, dom[:2000]
    for path in OPERATIONS:
        assert f'data-path="{path}"' in dom, f"{path} is not listed"
    assert any(DOCS_ASSETS_PATH in url for url in urls)
    outside = page_requests_elsewhere(urls, api.base_url)
    assert outside == [], f"the page asked other hosts: {outside}"


def test_redoc_lists_the_operations_with_the_network_cut(api: Service, tmp_path: Path) -> None:
    dom, urls = offline_dom(api.base_url + "/redoc", tmp_path / "redoc")
    summary = "A model is loaded and the database answers"
    assert summary in dom, dom[:2000]
    assert "/v1/recommendations" in dom
    outside = page_requests_elsewhere(urls, api.base_url)
    assert outside == [], f"the page asked other hosts: {outside}"


def test_a_cdn_page_stays_empty_under_the_same_cut(api: Service, tmp_path: Path) -> None:
    """The control: FastAPI's stock page (assets from the CDN) renders no operation."""
    page = tmp_path / "cdn-docs.html"
    stock = get_swagger_ui_html(openapi_url=api.base_url + "/openapi.json", title="control")
    page.write_bytes(stock.body)
    assert httpx.get(api.base_url + "/openapi.json", timeout=30).status_code == 200
    dom, urls = offline_dom(page.as_uri(), tmp_path / "control")
    assert 'data-path="/v1/recommendations"' not in dom
    assert any("cdn.jsdelivr.net" in url for url in page_requests_elsewhere(urls, api.base_url))
