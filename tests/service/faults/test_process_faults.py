"""Fault suite, process: SIGTERM and kill -9 of a real server under load.

Every request answered 200 has its audit row (in the database, or in the fsync'd local
spool that the next start replays): the row is written before the answer leaves, so a
killed process can lose only answers that were never sent. None is doubled.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from service.auth import Role, create_key
from service.db import AuditLogEntry, Database
from service.spool import read_rows

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(model_dir: Path, database_url: str, spool: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "TARVE_MODEL_URI": str(model_dir),
        "TARVE_DATABASE_URL": database_url,
        "TARVE_AUDIT_SPOOL_PATH": str(spool),
        "TARVE_KEY_CACHE_SECONDS": "300",
        "TARVE_MODEL_LOCAL_COPY": str(spool.parent / "served-model"),
    }
    command = [sys.executable, "-m", "tarve.cli", "serve", "--port", str(port)]
    command += ["--log-level", "warning"]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_ready(port: int, process: subprocess.Popen[bytes], seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(process.stderr.read().decode() if process.stderr else "died")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("the server did not get ready")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "kill-9"])
def test_no_answered_request_without_an_audit_row_when_the_process_dies(
    model_dir: Path, tmp_path: Path, profile: dict[str, Any], signum: int
) -> None:
    database_url = f"sqlite:///{tmp_path / 'audit.db'}"
    database = Database(database_url)
    database.upgrade()
    token = create_key(database, name="load", role=Role.CASEWORKER)[1]
    spool = tmp_path / "spool" / "audit.jsonl"
    port = _free_port()
    process = _start(model_dir, database_url, spool, port)
    answered: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def work(worker: int) -> None:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        ) as client:
            number = 0
            while not stop.is_set():
                number += 1
                body = {"client_ref": f"w{worker}-{number}", "profile": profile}
                try:
                    response = client.post("/v1/recommendations", json=body)
                except httpx.HTTPError:
                    if process.poll() is not None:
                        return
                    continue
                if response.status_code == 200:
                    with lock:
                        answered.append(response.headers["x-request-id"])

    try:
        _wait_ready(port, process)
        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(2.0)
        process.send_signal(signum)
        process.wait(timeout=30)
        stop.set()
        for thread in threads:
            thread.join(timeout=15)
    finally:
        stop.set()
        if process.poll() is None:
            process.kill()
            process.wait()

    with database.engine.connect() as connection:
        stored = list(
            connection.execute(
                sa.select(AuditLogEntry.request_id).where(
                    AuditLogEntry.endpoint == "recommendations"
                )
            ).scalars()
        )
    spooled = [
        row["request_id"]
        for path in (spool, spool.with_name(spool.name + ".replaying"))
        for row in read_rows(path)
        if row["endpoint"] == "recommendations"
    ]
    database.dispose()
    logged = Counter(stored) + Counter(spooled)
    assert len(answered) > 10
    assert all(logged[request_id] == 1 for request_id in answered)
    assert max(logged.values()) == 1  # none doubled
