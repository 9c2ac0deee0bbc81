"""Schemathesis over the whole OpenAPI surface, with each role and with no key.

Every operation of the served document gets generated requests, valid and invalid
(positive and negative modes), sent with a caseworker's, an auditor's, an admin's key
and with none. No answer may be a 5xx; each must have a documented status, content
type, headers and body schema; every 4xx must be an ``application/problem+json``.

Bounded for CI: ``TARVE_FUZZ_EXAMPLES`` examples per operation and role (default 5,
no shrinking). ``ignored_auth`` also resends each keyed success without a key and
with a wrong one, expecting a 401. ``make fuzz`` runs the same test longer, with
shrinking.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from service.app import create_app
from service.auth import Role, create_key
from tests.service.conftest import make_settings

DEFAULT_EXAMPLES = 5
EXAMPLES = int(os.environ.get("TARVE_FUZZ_EXAMPLES", str(DEFAULT_EXAMPLES)))
PHASES = [Phase.explicit, Phase.generate] + ([Phase.shrink] if EXAMPLES > DEFAULT_EXAMPLES else [])
ROLES = ("caseworker", "auditor", "admin", "none")
PROBLEM_JSON = "application/problem+json"
SENT: dict[tuple[str, int], int] = {}  # (operation, status) -> answers checked


def problem_json_on_4xx(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every 4xx answer is an RFC 9457 problem: its media type, status, type, title, detail."""
    key = (case.operation.label, response.status_code)
    SENT[key] = SENT.get(key, 0) + 1
    if not 400 <= response.status_code < 500:
        return None
    media_type = response.headers.get("content-type", [""])[0].split(";")[0].strip()
    assert media_type == PROBLEM_JSON, f"a {response.status_code} answered as {media_type!r}"
    problem = response.json()
    assert problem["status"] == response.status_code
    assert problem["type"].startswith("/problems/")
    assert problem["title"]
    assert problem["detail"]
    return True


CHECKS = [
    not_a_server_error,
    ignored_auth,
    negative_data_rejection,
    status_code_conformance,
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    problem_json_on_4xx,
]


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Iterator[dict[str, Any]]:
    """Build the app on SQLite with the fixture model, load its schema, make a key per role.

    Schemathesis runs the app's lifespan itself (once, on loading the schema).
    """
    database = tmp_path_factory.mktemp("fuzz") / "service.db"
    # The unknown-key budget (429 before any lookup) is raised: ignored_auth's probes
    # with wrong keys must reach the key check (401), which is what they test.
    settings = make_settings(
        model_dir,
        f"sqlite:///{database}",
        rate_limit_auth_failures_per_minute=1_000_000.0,
        rate_limit_auth_failures_burst=1_000_000,
    )
    app = create_app(settings)
    api_schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    made = {
        role.value: create_key(app.state.database, name=f"fuzz-{role.value}", role=role)[1]
        for role in Role
    }
    yield {"schema": api_schema, **made}
    asgi.shutdown_lifespans()
    operations = {operation for operation, _ in SENT}
    by_status: dict[int, int] = {}
    for (_, status), count in SENT.items():
        by_status[status] = by_status.get(status, 0) + count
    print(
        f"\nschemathesis: {sum(SENT.values())} answers checked over {len(operations)} "
        f"operations; by status {dict(sorted(by_status.items()))}"
    )


def _send_all(api_schema: Any, headers: dict[str, str]) -> list[str]:
    """Fuzz every operation in both generation modes; return what failed, one line each."""
    failures: list[str] = []
    for result in api_schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                phases=PHASES,
                suppress_health_check=list(HealthCheck),
                derandomize=EXAMPLES <= DEFAULT_EXAMPLES,
                database=None,
            )
            def send(case: Any) -> None:
                case.call_and_validate(headers=headers, checks=CHECKS)

            try:
                send()
            except Unsatisfiable:
                continue  # no invalid input exists (an operation without parameters)
            except (Exception, BaseExceptionGroup) as exc:  # every operation's failure
                first_line = str(exc).strip().splitlines()[:14]
                failures.append(f"{operation.label} [{mode.value}]: " + " | ".join(first_line))
    return failures


@pytest.mark.timeout(max(240, 40 * EXAMPLES))
@pytest.mark.parametrize("role", ROLES)
def test_every_operation_with_every_role(role: str, keys: dict[str, Any]) -> None:
    headers = {} if role == "none" else {"Authorization": f"Bearer {keys[role]}"}
    failures = _send_all(keys["schema"], headers)
    assert not failures, "\n".join(failures)
