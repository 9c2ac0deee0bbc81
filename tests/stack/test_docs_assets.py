"""``/docs`` and ``/redoc`` refer only to this server, and the server has the files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.docs_pages import DOCS_ASSETS_PATH, DOCS_CONTENT_SECURITY_POLICY
from service.settings import Settings

OUTSIDE_URL = re.compile(r"""(?:src|href|url)\s*[=:(]\s*['"]?(?:https?:)?//""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_pages_load_everything_from_this_server(page: str, tmp_path: Path) -> None:
    settings = Settings(
        model_uri=str(tmp_path / "no-model-here"), database_url=f"sqlite:///{tmp_path / 'db'}"
    )
    with TestClient(create_app(settings)) as client:
        response = client.get(page)
        assert response.status_code == 200
        assert response.headers["content-security-policy"] == DOCS_CONTENT_SECURITY_POLICY
        html = response.text
        assert not OUTSIDE_URL.search(html), html
        assets = re.findall(rf"""['"]({DOCS_ASSETS_PATH}/[^'"]+)['"]""", html)
        assert len(assets) >= 2, html
        for asset in assets:
            served = client.get(asset)
            assert served.status_code == 200, asset
            assert len(served.content) > 100, asset
    assert "default-src 'self'" in DOCS_CONTENT_SECURITY_POLICY
