"""``tarve demo``: the main job of ``make run``, on embedded defaults.

Synthetic register -> validation -> training (MLflow run, registered version, alias
``candidate``) -> promotion through the fairness gate -> API keys -> the API on
127.0.0.1:8000. The synthetic register carries a documented historical bias, so the
gate is expected to refuse; the demo then shows the recorded override path and says so.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from models.store import CANDIDATE_ALIAS, tarve_home

DEMO_OVERRIDE_REASON = (
    "demo on synthetic data: the register's injected historical bias is expected to "
    "fail the gate; promoted only to demonstrate the API"
)
EXAMPLE_PROFILE: dict[str, Any] = {
    "age": 27,
    "mother_tongue": "other",
    "foreign_background": True,
    "years_in_finland": 3,
    "municipality": "helsinki",
    "children_under_18": 1,
    "education_level": "bachelor",
    "education_field": "social_business_law",
    "degree_obtained_abroad": True,
    "months_since_graduation": 40,
    "currently_studying": False,
    "occupation_group": "service_sales",
    "work_experience_years": 4,
    "months_since_last_job": 14,
    "part_time_work": False,
    "unemployment_months": 14,
    "unemployment_spells_5y": 2,
    "benefit_type": "labour_market_subsidy",
    "services_received_3y": 1,
    "caseworker_contacts_6m": 3,
    "job_applications_3m": 6,
    "plan_goal": "employment",
    "business_plan": False,
    "driving_licence": False,
    "digital_skills": "good",
    "work_ability_score": 7.5,
    "kyky_competence": 6,
    "language_level": "a2",
}


def register(subparsers: Any) -> None:
    """Add ``tarve demo`` to the `tarve` parser."""
    parser = subparsers.add_parser(
        "demo", help="synthetic data, training, audit, promotion, then serve the API"
    )
    parser.add_argument("--rows", type=int, default=50_000, help="synthetic rows (50,000)")
    parser.add_argument("--seed", type=int, default=1, help="generator seed")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--no-serve", action="store_true", help="stop before serving")
    parser.set_defaults(handler=run_demo)


def _step(title: str) -> None:
    print(f"\n=== {title} ===", flush=True)


def run_demo(args: argparse.Namespace) -> int:
    """Run ``tarve demo``."""
    main: Callable[[list[str]], int] = args.run_command  # tarve.cli.main, from the command line
    data = tarve_home() / "demo" / "register.parquet"
    data.parent.mkdir(parents=True, exist_ok=True)
    _step(f"1/5 synthetic register: {args.rows:,} rows -> {data}")
    if main(["synth", "--rows", str(args.rows), "--seed", str(args.seed), "--out", str(data)]):
        return 1
    _step("2/5 validate the extract against the schema")
    if main(["validate", "--data", str(data)]):
        return 1
    _step("3/5 train, evaluate, audit, register in MLflow")
    if main(["train", "--data", str(data)]):
        return 1
    version = "@" + CANDIDATE_ALIAS
    _step("4/5 promote the candidate version to 'production' through the fairness gate")
    if main(["promote", "--version", version]) != 0:
        print("\nThe gate refused, as expected on this deliberately biased register.")
        print(f"Promoting with a recorded override: {DEMO_OVERRIDE_REASON!r}")
        if main(["promote", "--version", version, "--override-reason", DEMO_OVERRIDE_REASON]):
            return 1
    _step("5/5 API keys and the API")
    caseworker_key, auditor_key = _demo_keys()
    _print_usage(caseworker_key, auditor_key, args.host, args.port)
    if args.no_serve:
        return 0
    return main(["serve", "--host", args.host, "--port", str(args.port)])


def _demo_keys() -> tuple[str, str]:
    """Fresh caseworker and auditor keys (names carry the time; names are never reused)."""
    import datetime as dt

    from service.auth import Role, create_key
    from service.db import Database, upgrade_database
    from service.settings import get_settings

    database = Database(get_settings().database_url)
    upgrade_database(database.engine)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    tokens = []
    for role in (Role.CASEWORKER, Role.AUDITOR):
        _, token = create_key(database, name=f"demo-{role.value}-{stamp}", role=role)
        tokens.append(token)
    return tokens[0], tokens[1]


def _print_usage(caseworker_key: str, auditor_key: str, host: str, port: int) -> None:
    base = f"http://{host}:{port}"
    request = {
        "client_ref": "demo-0001",
        "consents": ["kykyviisari", "language_test"],
        "profile": EXAMPLE_PROFILE,
    }
    body = json.dumps(request, ensure_ascii=False)
    example = Path(tarve_home() / "demo" / "request.json")
    example.write_text(body, "utf-8")
    print(f"caseworker key: {caseworker_key}")
    print(f"auditor key:    {auditor_key}")
    print("(shown once; stored only as hashes)\n")
    print("Ask for suggestions (paste into another terminal):\n")
    print(
        f"curl -s '{base}/v1/recommendations?lang=en&top_k=3' "
        f"-H 'Authorization: Bearer {caseworker_key}' "
        f"-H 'Content-Type: application/json' -d @{example}\n"
    )
    print(
        f"Fairness report (auditor): curl -s {base}/v1/fairness/report "
        f"-H 'Authorization: Bearer {auditor_key}' -H 'Accept: text/html' > report.html"
    )
    print(f"API docs: {base}/docs\n", flush=True)
    sys.stdout.flush()
