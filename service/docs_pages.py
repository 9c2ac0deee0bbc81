"""``/docs`` (Swagger UI) and ``/redoc`` served with no internet.

FastAPI's own pages load their JavaScript and CSS from a public CDN, so on an intranet
with no way out they stay blank. These pages load the same assets from the
``fastapi-offline`` package (Swagger UI, Apache-2.0; ReDoc, MIT; the package, MIT),
served by the API itself under :data:`DOCS_ASSETS_PATH`. Nothing on either page asks
an outside host for anything: no fonts, no favicon, no online spec validator, and a
Content-Security-Policy allows this server only.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
DOCS_ASSETS_PATH = "/docs-assets"
SWAGGER_JS = "swagger-ui-bundle.js"
SWAGGER_CSS = "swagger-ui.css"
REDOC_JS = "redoc.standalone.js"
FAVICON = "favicon.png"
# validatorUrl null: Swagger UI would otherwise send the document's URL to an online
# validator and show its badge.
SWAGGER_UI_PARAMETERS = {"validatorUrl": None, "tryItOutEnabled": False}
# The pages may load and call only this server: ReDoc, for one, shows a logo from its
# vendor's CDN, which this policy keeps the browser from asking for. Inline script and
# style: both pages start from an inline script, and ReDoc styles itself inline.
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def docs_assets_dir() -> Path:
    """Return the directory of the Swagger UI and ReDoc files (in ``fastapi_offline``)."""
    return Path(str(files("fastapi_offline") / "static"))


def install_offline_docs(app: FastAPI) -> None:
    """Add ``/docs``, its OAuth2 redirect page, ``/redoc`` and the assets they load.

    Build ``app`` with ``docs_url=None, redoc_url=None`` so FastAPI adds no CDN pages.
    """
    openapi_url = app.openapi_url or "/openapi.json"
    oauth2_redirect_url = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"
    app.mount(DOCS_ASSETS_PATH, StaticFiles(directory=docs_assets_dir()), name="docs-assets")

    def own_only(page: HTMLResponse) -> HTMLResponse:
        page.headers["Content-Security-Policy"] = DOCS_CONTENT_SECURITY_POLICY
        return page

    def asset(request: Request, name: str) -> str:
        return f"{request.scope.get('root_path', '')}{DOCS_ASSETS_PATH}/{name}"

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return own_only(
            get_swagger_ui_html(
                openapi_url=f"{root}{openapi_url}",
                title=f"{app.title} - Swagger UI",
                oauth2_redirect_url=f"{root}{oauth2_redirect_url}",
                swagger_js_url=asset(request, SWAGGER_JS),
                swagger_css_url=asset(request, SWAGGER_CSS),
                swagger_favicon_url=asset(request, FAVICON),
                swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
            )
        )

    @app.get(oauth2_redirect_url, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(REDOC_URL, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return own_only(
            get_redoc_html(
                openapi_url=f"{root}{openapi_url}",
                title=f"{app.title} - ReDoc",
                redoc_js_url=asset(request, REDOC_JS),
                redoc_favicon_url=asset(request, FAVICON),
                with_google_fonts=False,
            )
        )
