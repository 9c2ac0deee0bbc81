"""Fault suite, database: cut and partition under load, through a proxy the test controls.

Promises checked: every answer is 200, or 503 with ``Retry-After`` (never a 500); a
request answered 200 has exactly one audit row once the spool has been replayed (none
lost, none doubled); ``/healthz`` keeps answering fast; ``/readyz`` is bounded; one log
line per incident, no tracebacks.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from service.auth import KEY_PATTERN
from service.db import AuditLogEntry
from tests.service.conftest import Api, make_settings
from tests.service.faults.conftest import ProxiedPostgres

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(120)]
STATEMENT_TIMEOUT = 1.5


def _settings(model_dir: Path, database: ProxiedPostgres, tmp_path: Path, **extra: Any) -> Any:
    return make_settings(
        model_dir,
        database.url,
        key_cache_seconds=300,  # known keys keep working while the database is away
        database_connect_timeout_seconds=2,
        database_statement_timeout_seconds=STATEMENT_TIMEOUT,
        retry_after_seconds=3,
        audit_spool_path=tmp_path / "spool" / "audit.jsonl",
        **extra,
    )


def _load(
    api: Api, profile: dict[str, Any], seconds: float, workers: int = 4
) -> tuple[list[str], Counter[int], list[Any]]:
    answered: list[str] = []
    statuses: Counter[int] = Counter()
    refused: list[Any] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def work(worker: int) -> None:
        number = 0
        while time.monotonic() < deadline:
            number += 1
            body = {"client_ref": f"w{worker}-{number}", "profile": profile}
            response = api.post("/v1/recommendations", json=body, params={"explain": "false"})
            with lock:
                statuses[response.status_code] += 1
                if response.status_code == 200:
                    answered.append(response.headers["x-request-id"])
                else:
                    refused.append(response)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answered, statuses, refused


def _audit_rows(direct_url: str) -> list[str]:
    engine = sa.create_engine(direct_url)
    try:
        with engine.connect() as connection:
            return list(
                connection.execute(
                    sa.select(AuditLogEntry.request_id).where(
                        AuditLogEntry.endpoint == "recommendations"
                    )
                ).scalars()
            )
    finally:
        engine.dispose()


def _wait_for_replay(api: Api, seconds: float = 20) -> None:
    database = api.app.state.database
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not database.health.down and not database.spool.pending:
            return
        time.sleep(0.2)
    raise AssertionError("the spool was not replayed")


@pytest.mark.parametrize("fault", ["cut", "hold"], ids=["cut", "partition"])
def test_a_database_fault_mid_load_loses_and_doubles_no_audit_row(
    start_api: Callable[..., Api],
    model_dir: Path,
    proxied_postgres: ProxiedPostgres,
    tmp_path: Path,
    profile: dict[str, Any],
    fault: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    api = start_api(_settings(model_dir, proxied_postgres, tmp_path))
    proxy = proxied_postgres.proxy
    results: dict[str, Any] = {}

    def fault_plan() -> None:
        time.sleep(1.5)
        proxy.set_mode(fault)  # type: ignore[arg-type]
        time.sleep(0.5)
        started = time.monotonic()
        results["healthz"] = api.client.get("/healthz").status_code
        results["healthz_seconds"] = time.monotonic() - started
        started = time.monotonic()
        results["readyz"] = api.client.get("/readyz")
        results["readyz_seconds"] = time.monotonic() - started
        unknown = "tarve_caseworker_" + "A" * 43
        assert KEY_PATTERN.match(unknown)
        results["unknown_key"] = api.client.get(
            "/v1/model", headers={"Authorization": f"Bearer {unknown}"}
        )
        time.sleep(2.5)
        proxy.set_mode("pass")

    with caplog.at_level(logging.INFO):
        plan = threading.Thread(target=fault_plan)
        plan.start()
        answered, statuses, refused = _load(api, profile, seconds=7)
        plan.join()
        _wait_for_replay(api)

    assert statuses[500] == 0
    assert set(statuses) <= {200, 503}, statuses
    assert all(response.headers.get("retry-after") == "3" for response in refused)
    assert results["healthz"] == 200
    assert results["healthz_seconds"] < 1.0
    assert results["readyz"].status_code == 503
    assert "database" in results["readyz"].json()["detail"]
    assert results["readyz_seconds"] < STATEMENT_TIMEOUT + 2
    assert results["unknown_key"].status_code == 503
    assert results["unknown_key"].headers["retry-after"] == "3"
    rows = _audit_rows(proxied_postgres.direct_url)
    assert len(answered) > 20
    assert Counter(rows) == Counter(answered)  # every answer logged exactly once
    assert (
        api.app.state.database.spool.path.exists() is False
        or not api.app.state.database.spool.pending
    )
    down_lines = [r for r in caplog.records if "the database does not answer" in r.getMessage()]
    assert 1 <= len(down_lines) <= 2, [r.getMessage() for r in down_lines]
    tracebacks = [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.exc_info]
    assert not tracebacks
    errors = [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) <= 3, errors  # one line per incident, not one per request
    assert api.client.get("/readyz").status_code == 200


def test_when_the_spool_cannot_be_written_either_the_call_is_refused(
    start_api: Callable[..., Api],
    model_dir: Path,
    proxied_postgres: ProxiedPostgres,
    tmp_path: Path,
    profile: dict[str, Any],
) -> None:
    api = start_api(_settings(model_dir, proxied_postgres, tmp_path, audit_spool_max_bytes=4096))
    body = {"client_ref": "c-1", "profile": profile}
    assert api.post("/v1/recommendations", json=body).status_code == 200
    proxied_postgres.proxy.set_mode("cut")

    statuses = [api.post("/v1/recommendations", json=body).status_code for _ in range(30)]

    assert 200 in statuses  # spooled while there was room
    assert statuses[-1] == 503  # full: refused, never answered unlogged
    answered = 1 + statuses.count(200)
    proxied_postgres.proxy.set_mode("pass")
    _wait_for_replay(api)
    assert len(_audit_rows(proxied_postgres.direct_url)) == answered
