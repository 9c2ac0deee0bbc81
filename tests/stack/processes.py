"""Start the stack's parts as local processes, wait until they answer, stop them.

Each process runs in a session of its own (its group id is its pid), so stopping it
ends its workers too and nothing else. Output goes to a log file that a failed test
prints.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

MSG_NOT_READY = "{name} did not become ready at {url} within {timeout:.0f} s; log:\n{log}"
MSG_EXITED = "{name} exited with {code} before it was ready; log:\n{log}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Service:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    base_url: str

    def log(self, tail: int = 6000) -> str:
        text = self.log_path.read_text("utf-8", errors="replace")
        return text[-tail:]

    def wait_until(
        self,
        path: str,
        *,
        timeout: float,
        accept: Callable[[httpx.Response], bool] = lambda response: response.status_code == 200,
    ) -> httpx.Response:
        """Poll ``GET path`` until ``accept`` says yes; fail if the process exits first."""
        deadline = time.monotonic() + timeout
        url = self.base_url + path
        while True:
            code = self.process.poll()
            if code is not None:
                raise AssertionError(MSG_EXITED.format(name=self.name, code=code, log=self.log()))
            try:
                response = httpx.get(url, timeout=5)
                if accept(response):
                    return response
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(
                    MSG_NOT_READY.format(name=self.name, url=url, timeout=timeout, log=self.log())
                )
            time.sleep(0.25)

    def terminate(self) -> None:
        """Ask the process and its workers to stop (SIGTERM to its process group)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)

    def stop(self, timeout: float = 30) -> None:
        self.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout)


def stop_all(services: Sequence[Service]) -> None:
    """Stop services together: all are asked first, then each is waited for."""
    for service in services:
        service.terminate()
    for service in services:
        service.stop()


def start(
    name: str,
    argv: Sequence[str],
    *,
    env: dict[str, str],
    log_dir: Path,
    base_url: str,
    cwd: Path | None = None,
) -> Service:
    log_path = log_dir / f"{name}.log"
    log_file = log_path.open("wb")
    process = subprocess.Popen(
        list(argv),
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log_file.close()
    return Service(name=name, process=process, log_path=log_path, base_url=base_url)


def run(
    argv: Sequence[str], *, env: dict[str, str], timeout: float, cwd: Path | None = None
) -> str:
    """Run a command to the end; its output, or an assertion error that shows it."""
    result = subprocess.run(
        list(argv),
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(argv)} exited with {result.returncode}:\n{output}"
    return output
