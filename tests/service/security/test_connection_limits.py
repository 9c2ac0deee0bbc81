"""Connection limits against a real uvicorn on loopback: idle, half-sent, trickling, huge."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from service.http_limits import server_config
from service.request_guard import RequestGuardMiddleware
from service.settings import Settings

HEAD_TIMEOUT = 0.8
BODY_TIMEOUT = 0.8


async def _echo(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture(scope="module")
def server() -> Iterator[int]:
    """Start a uvicorn on 127.0.0.1 with tarve's limits, on a free port."""
    settings = Settings(
        request_header_timeout_seconds=HEAD_TIMEOUT,
        body_read_timeout_seconds=BODY_TIMEOUT,
        keep_alive_seconds=1,
        max_header_bytes=16 * 1024,
        database_url="sqlite://",
    )
    app = RequestGuardMiddleware(
        _echo, max_body_bytes=1 << 20, max_upload_bytes=1 << 20, body_read_timeout=BODY_TIMEOUT
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = server_config(
        app, settings, host="127.0.0.1", port=port, log_level="critical", lifespan="off"
    )
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield port
    uv.should_exit = True
    thread.join(10)


def _closed_within(sock: socket.socket, seconds: float) -> tuple[bool, bytes]:
    """Whether the server closes ``sock`` within ``seconds``, and what it said."""
    sock.settimeout(seconds)
    said = b""
    try:
        while chunk := sock.recv(4096):
            said += chunk
        return True, said
    except TimeoutError:
        return False, said
    except ConnectionResetError:
        return True, said


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def test_an_ordinary_request_is_answered(server: int) -> None:
    with _connect(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        closed, said = _closed_within(sock, 5)
    assert closed
    assert said.startswith(b"HTTP/1.1 200")
    assert b"server:" not in said.lower()


def test_an_idle_connection_is_closed(server: int) -> None:
    with _connect(server) as sock:
        closed, _ = _closed_within(sock, HEAD_TIMEOUT + 3)
    assert closed


def test_a_half_sent_head_is_closed(server: int) -> None:
    with _connect(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nhost: x\r\n")
        closed, said = _closed_within(sock, HEAD_TIMEOUT + 3)
    assert closed
    assert said.startswith(b"HTTP/1.1 408")


def test_a_trickling_head_is_closed(server: int) -> None:
    started = time.monotonic()
    with _connect(server) as sock:
        sock.settimeout(0.2)
        try:
            for byte in b"GET / HTTP/1.1\r\nhost: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx":
                sock.send(bytes([byte]))
                time.sleep(0.1)
                if time.monotonic() - started > HEAD_TIMEOUT + 3:
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass
        closed, _ = _closed_within(sock, 3)
    assert closed
    assert time.monotonic() - started < HEAD_TIMEOUT + 4


def test_a_trickling_body_is_408(server: int) -> None:
    with _connect(server) as sock:
        sock.sendall(
            b"POST /x HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            b"content-length: 100\r\n\r\n{"
        )
        _, said = _closed_within(sock, BODY_TIMEOUT + 3)
    assert said.startswith(b"HTTP/1.1 408"), said[:80]
    assert b"request-timeout" in said


def test_a_huge_header_is_refused(server: int) -> None:
    with _connect(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nhost: x\r\nx-big: " + b"a" * 64 * 1024 + b"\r\n\r\n")
        closed, said = _closed_within(sock, 5)
    assert closed
    assert said.startswith((b"HTTP/1.1 400", b"HTTP/1.1 431"))


def test_a_huge_request_line_is_refused(server: int) -> None:
    with _connect(server) as sock:
        sock.sendall(b"GET /" + b"a" * 64 * 1024 + b" HTTP/1.1\r\nhost: x\r\n\r\n")
        closed, said = _closed_within(sock, 5)
    assert closed
    assert said.startswith((b"HTTP/1.1 400", b"HTTP/1.1 414", b"HTTP/1.1 431"))
