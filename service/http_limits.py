"""Connection limits for the server: header size, header deadline, idle keep-alive.

uvicorn bounds the header block (``h11_max_incomplete_event_size``) and idle kept-alive
connections (``timeout_keep_alive``), but any byte received resets its timer, so a
client trickling a header one byte at a time holds a connection for ever.
:class:`BoundedH11Protocol` adds a deadline for the whole request head: a connection
that has not sent a complete request line and headers within
``request_header_timeout`` seconds of opening (or of its last response) is answered
408 and closed. The body has its own bound in the request guard (``body_read_timeout``
between chunks).
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from service.settings import Settings

_TOO_LARGE_RESPONSE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\n"
    b"content-length: 0\r\n\r\n"
)
_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
)


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's head."""

    request_header_timeout: float = 10.0
    max_head_bytes: int = 64 * 1024
    _head_deadline: asyncio.TimerHandle | None = None
    _head_bytes: int = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Accept the connection and start the clock for the first request's head."""
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        """Feed h11 (431 for a head over the limit); once a whole head is in, stop the clock."""
        if self.conn.their_state is h11.IDLE:
            end = data.find(b"\r\n\r\n")
            self._head_bytes += len(data) if end < 0 else end
            if self._head_bytes > self.max_head_bytes:
                self._disarm()
                self.transport.write(_TOO_LARGE_RESPONSE)
                self.transport.close()
                return
            if end >= 0:
                self._head_bytes = 0
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm()

    def on_response_complete(self) -> None:
        """After each response, the next request's head has the same deadline."""
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the clock with the connection."""
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._head_deadline = self.loop.call_later(self.request_header_timeout, self._expire)

    def _disarm(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _expire(self) -> None:
        self._head_deadline = None
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self.transport.write(_TIMEOUT_RESPONSE)
            self.transport.close()


def server_config(app: Any, settings: Settings, **options: Any) -> uvicorn.Config:
    """Return a uvicorn configuration with the limits of ``settings`` (and ``options``)."""
    protocol = type(
        "TarveH11Protocol",
        (BoundedH11Protocol,),
        {
            "request_header_timeout": settings.request_header_timeout_seconds,
            "max_head_bytes": settings.max_header_bytes,
        },
    )
    return uvicorn.Config(
        app,
        http=protocol,
        h11_max_incomplete_event_size=settings.max_header_bytes,
        timeout_keep_alive=int(settings.keep_alive_seconds),
        limit_concurrency=settings.max_connections,
        server_header=False,
        date_header=True,
        **options,
    )
