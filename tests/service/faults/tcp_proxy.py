"""A TCP proxy the fault tests control: pass traffic, cut every connection, or hold packets.

``cut`` closes every connection and refuses new ones at once (a database that went
away); ``hold`` keeps connections open but forwards nothing (a network partition: the
peer never answers, nothing is closed). ``pass`` forwards again.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from typing import Literal

Mode = Literal["pass", "cut", "hold"]


class TcpProxy:
    """Listen on 127.0.0.1 (a free port) and forward to ``target``."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.mode: Mode = "pass"
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True, name="proxy-accept").start()

    def set_mode(self, mode: Mode) -> None:
        self.mode = mode
        if mode == "cut":
            with self._lock:
                pairs, self._pairs = self._pairs, []
            for pair in pairs:
                for sock in pair:
                    _close(sock)

    def close(self) -> None:
        self._closed = True
        self.set_mode("cut")
        _close(self._listener)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.mode == "cut":
                _close(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._pairs.append((client, upstream))
            threading.Thread(
                target=self._pump, args=(client, upstream), daemon=True, name="proxy-pump"
            ).start()

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        peers = {client: upstream, upstream: client}
        try:
            while not self._closed:
                if self.mode == "hold":  # read nothing: the kernel buffers, no one answers
                    time.sleep(0.05)
                    continue
                readable, _, _ = select.select(list(peers), [], [], 0.1)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peers[sock].sendall(data)
        except OSError:
            return
        finally:
            _close(client)
            _close(upstream)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
