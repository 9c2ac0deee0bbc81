"""Security headers on every answer: no sniffing, no caching of personal data, no framing.

An ASGI middleware, the outermost layer, so refusals by the inner layers get the
headers too:

- ``X-Content-Type-Options: nosniff`` on every response;
- ``Cache-Control: no-store`` on every ``/v1`` answer (recommendations, batches,
  explanations, the audit log, feedback: anything that may carry personal data) and on
  ``/metrics``;
- on HTML (the fairness report, ``/docs``, ``/redoc``) ``X-Frame-Options: DENY`` and a
  Content-Security-Policy: the page's own when it sets one (the documentation pages
  need this server's scripts), else :data:`HTML_CONTENT_SECURITY_POLICY`, which lets a
  self-contained page show its inline styles and nothing else.

The ``server`` header is left out by the server itself (uvicorn ``server_header=False``,
``--no-server-header`` in the image).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

NO_STORE_PREFIXES = ("/v1/", "/metrics")
# The fairness report: inline CSS and inline colours, no script, no outside request.
HTML_CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


class SecurityHeadersMiddleware:
    """Add the security headers to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI call, adding headers to its response."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        no_store = path.startswith(NO_STORE_PREFIXES) or path == "/v1"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() not in (b"server", b"x-content-type-options")
                ]
                names = {name.lower() for name, _ in headers}
                headers.append((b"x-content-type-options", b"nosniff"))
                if no_store:
                    headers = [(n, v) for n, v in headers if n.lower() != b"cache-control"]
                    headers.append((b"cache-control", b"no-store"))
                content_type = dict((n.lower(), v) for n, v in headers).get(b"content-type", b"")
                if content_type.startswith(b"text/html"):
                    headers.append((b"x-frame-options", b"DENY"))
                    if b"content-security-policy" not in names:
                        headers.append(
                            (b"content-security-policy", HTML_CONTENT_SECURITY_POLICY.encode())
                        )
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
