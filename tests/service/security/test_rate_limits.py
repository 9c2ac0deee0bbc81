"""Rate limits: per address, per key, for unknown keys (no database work), batch clients."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from service.rate_limits import Budget, TokenBuckets
from service.settings import Settings
from tests.service.conftest import Api, make_settings, start_api  # noqa: F401

RATE_LIMITED = "/problems/rate-limited"
UNKNOWN_KEY = "tarve_caseworker_" + "A" * 43  # well-formed, never created
# Budgets nobody reaches in these tests unless a test lowers one of them.
WIDE = {
    "rate_limit_address_per_second": 1000.0,
    "rate_limit_address_burst": 10_000,
    "rate_limit_key_per_second": 1000.0,
    "rate_limit_key_burst": 10_000,
    "rate_limit_auth_failures_per_minute": 60.0,
    "rate_limit_auth_failures_burst": 1000,
}
SLOW = 0.001  # tokens a second: nothing refills within a test


@pytest.fixture
def limited(
    start_api: Callable[..., Api],  # noqa: F811
    model_dir: Path,
    tmp_path: Path,
) -> Callable[..., Api]:
    """Give a factory: an app with the wide budgets and these overrides."""

    def start(**overrides: Any) -> Api:
        url = f"sqlite:///{tmp_path / 'service.db'}"
        return start_api(make_settings(model_dir, url, **{**WIDE, **overrides}))

    return start


def _assert_rate_limited(response: Any, retry_after: int | None = None) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == RATE_LIMITED
    seconds = int(response.headers["retry-after"])
    assert seconds >= 1
    if retry_after is not None:
        assert seconds == retry_after


def _queries(api: Api) -> list[str]:
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(api.app.state.database.engine, "before_cursor_execute", count)
    return statements


def test_an_address_over_its_budget_gets_429_with_retry_after(
    limited: Callable[..., Api],
) -> None:
    api = limited(rate_limit_address_burst=5, rate_limit_address_per_second=0.5)

    statuses = [api.get("/v1/services").status_code for _ in range(5)]
    refused = api.get("/v1/services")

    assert statuses == [200] * 5
    _assert_rate_limited(refused, retry_after=2)  # one token at 0.5 a second
    assert "address" in refused.json()["detail"]
    assert api.client.get("/healthz").status_code == 200  # never limited
    assert api.client.get("/openapi.json").status_code == 429  # the address, any path


def test_a_key_over_its_budget_gets_429_and_other_keys_do_not(
    limited: Callable[..., Api],
) -> None:
    api = limited(rate_limit_key_burst=3, rate_limit_key_per_second=SLOW)

    assert [api.get("/v1/services").status_code for _ in range(3)] == [200] * 3
    refused = api.get("/v1/services")

    _assert_rate_limited(refused)
    assert "key" in refused.json()["detail"]
    assert api.get("/v1/services", role="auditor").status_code == 200
    assert api.get("/v1/model", role="admin").status_code == 200


def test_unknown_keys_spend_the_address_budget_then_cost_no_query(
    limited: Callable[..., Api],
) -> None:
    api = limited(rate_limit_auth_failures_burst=3, rate_limit_auth_failures_per_minute=SLOW * 60)
    assert api.get("/v1/services").status_code == 200  # this key is known from now on
    statements = _queries(api)

    first = [
        api.client.get("/v1/services", headers={"X-API-Key": key}).status_code
        for key in (UNKNOWN_KEY, UNKNOWN_KEY[:-1] + "B", "tarve_admin_not-a-key")
    ]
    asked = len(statements)
    refused = api.client.get("/v1/services", headers={"X-API-Key": UNKNOWN_KEY[:-1] + "C"})
    malformed = api.client.get("/v1/audit-log", headers={"Authorization": "Bearer nonsense"})

    assert first == [401, 401, 401]
    assert asked == 2  # one lookup per well-formed unknown key, none for the malformed one
    _assert_rate_limited(refused)
    assert "unknown or invalid keys" in refused.json()["detail"]
    _assert_rate_limited(malformed)
    assert len(statements) == asked  # refused before any database work
    # A key that authenticated lately still passes; one not seen lately waits too.
    assert api.get("/v1/services").status_code == 200
    _assert_rate_limited(api.get("/v1/services", role="auditor"))
    # Requests without a key are not charged as failures (they cost no lookup).
    assert api.client.get("/v1/services").status_code == 401


def test_a_batch_costs_its_clients_and_the_budget_refuses_before_scoring(
    limited: Callable[..., Api], profile: dict[str, Any]
) -> None:
    api = limited(
        batch_limit=10,
        rate_limit_batch_clients_burst=10,
        rate_limit_batch_clients_per_minute=SLOW * 60,
    )

    def batch(count: int, role: str = "caseworker") -> Any:
        clients = [{"client_ref": f"c{i}", "profile": profile} for i in range(count)]
        return api.post("/v1/recommendations/batch", role=role, json={"clients": clients})

    assert batch(6).status_code == 200
    statements = _queries(api)
    refused = batch(6)
    assert statements == []  # no audit row, no key lookup: refused before the route
    assert batch(4).status_code == 200  # what is left of the budget
    refused_again = batch(1)
    single = api.post("/v1/recommendations", json={"client_ref": "one", "profile": profile})

    _assert_rate_limited(refused)
    assert "batch of 6 clients" in refused.json()["detail"]
    _assert_rate_limited(refused_again)
    assert single.status_code == 200  # the batch budget counts batch clients only
    entries = api.get("/v1/audit-log?limit=100", role="auditor").json()["entries"]
    answered = [row for row in entries if row["endpoint"].startswith("recommendations")]
    assert len(answered) == 11  # 6 + 4 batch clients and the single call; none refused


def test_a_full_batch_always_fits_the_burst(
    limited: Callable[..., Api], profile: dict[str, Any]
) -> None:
    api = limited(
        batch_limit=20, rate_limit_batch_clients_burst=5, rate_limit_batch_clients_per_minute=1
    )
    clients = [{"client_ref": f"c{i}", "profile": profile} for i in range(20)]

    response = api.post("/v1/recommendations/batch", json={"clients": clients})

    assert response.status_code == 200


def test_limits_can_be_turned_off(limited: Callable[..., Api]) -> None:
    api = limited(rate_limits_enabled=False, rate_limit_address_burst=1, rate_limit_key_burst=1)

    assert [api.get("/v1/services").status_code for _ in range(5)] == [200] * 5


def test_the_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TARVE_RATE_LIMIT_KEY_PER_SECOND", "20")
    monkeypatch.setenv("TARVE_RATE_LIMIT_BATCH_CLIENTS_PER_MINUTE", "5000")
    monkeypatch.setenv("TARVE_RATE_LIMITS_ENABLED", "false")

    settings = Settings()

    assert settings.rate_limit_key_per_second == 20
    assert settings.rate_limit_batch_clients_per_minute == 5000
    assert settings.rate_limits_enabled is False


def test_a_bucket_refills_at_its_rate_up_to_its_burst() -> None:
    now = [0.0]
    buckets = TokenBuckets(Budget(rate=2.0, burst=4), clock=lambda: now[0])

    assert [buckets.take("a") for _ in range(5)] == [0, 0, 0, 0, 1]
    assert buckets.take("a", cost=3) == 2  # 3 tokens at 2 a second
    now[0] = 1.0
    assert buckets.take("a", cost=2) == 0
    assert buckets.take("a") == 1
    now[0] = 100.0
    assert [buckets.take("a") for _ in range(5)] == [0, 0, 0, 0, 1]  # capped at the burst
    assert buckets.take("b") == 0  # buckets are per name
