"""A slow audit-log write never stalls the event loop: other requests are still answered.

The API runs in a real uvicorn server on loopback. Another connection holds the audit
table's write lock for a second (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL: a table lock
that blocks inserts but not reads), so the recommendation's audit-row write really
waits on the database. Meanwhile ``/healthz`` must answer at once; had the write run
on the event loop, it would wait for the lock too.
"""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
import uvicorn
from sqlalchemy.engine import make_url

from service.app import create_app
from service.auth import Role, create_key
from service.db import AuditLogEntry
from tests.service.conftest import make_settings

LOCK_SECONDS = 1.0
PROMPT_SECONDS = 0.4  # far above a healthz round trip, far below the lock


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Run ``app`` (lifespan included) in a uvicorn server on a free loopback port."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive(), "the server stopped while starting"
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
        listener.close()


@contextmanager
def audit_table_locked(database_url: str) -> Iterator[Callable[[], None]]:
    """Hold the audit table's write lock from another connection; yields the release."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        connection = sqlite3.connect(str(url.database), check_same_thread=False)
        connection.isolation_level = None
        connection.execute("BEGIN IMMEDIATE")
        release: Callable[[], None] = connection.rollback
        close: Callable[[], None] = connection.close
    else:
        engine = sa.create_engine(database_url)
        session = engine.connect()
        session.begin()
        session.execute(sa.text("LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE"))
        release = session.rollback

        def close() -> None:
            session.close()
            engine.dispose()

    released = threading.Lock()

    def release_once() -> None:
        if released.acquire(blocking=False):
            release()

    try:
        yield release_once
    finally:
        release_once()
        close()


def test_a_slow_audit_write_does_not_block_other_requests(
    model_dir: Path, database_url: str, profile: dict[str, Any]
) -> None:
    app = create_app(make_settings(model_dir, database_url))
    with serving(app) as base_url:
        token = create_key(app.state.database, name="slow", role=Role.CASEWORKER)[1]
        answers: list[httpx.Response] = []
        finished_at: list[float] = []

        def recommend_without_reasons() -> None:
            answers.append(
                httpx.post(
                    f"{base_url}/v1/recommendations?explain=false",
                    json={"client_ref": "slow-write", "profile": profile},
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=30,
                )
            )
            finished_at.append(time.monotonic())

        assert httpx.get(f"{base_url}/healthz", timeout=5).status_code == 200  # warm
        with audit_table_locked(database_url) as release:
            locked_at = time.monotonic()
            timer = threading.Timer(LOCK_SECONDS, release)
            timer.start()
            worker = threading.Thread(target=recommend_without_reasons)
            worker.start()
            time.sleep(0.3)  # the recommendation is now waiting on the audit write
            started = time.monotonic()
            health = httpx.get(f"{base_url}/healthz", timeout=30)
            health_seconds = time.monotonic() - started
            still_writing = worker.is_alive()
            worker.join(30)
            timer.join(30)

        with app.state.database.session() as session:
            refs = session.scalars(sa.select(AuditLogEntry.client_ref)).all()

    assert health.status_code == 200
    assert health_seconds < PROMPT_SECONDS, (
        f"/healthz took {health_seconds:.2f} s while an audit write waited on the lock"
    )
    assert still_writing, "the recommendation did not wait on the locked audit table"
    [answer] = answers
    assert answer.status_code == 200
    assert finished_at[0] - locked_at >= LOCK_SECONDS * 0.9, "answered before its audit row"
    assert refs == ["slow-write"]
