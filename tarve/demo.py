"""``tarve demo``: the main job of ``make run``, on embedded defaults.

Synthetic register -> validation -> training (MLflow run, registered version, alias
``candidate``) -> promotion through the fairness gate -> API keys -> the API on
127.0.0.1:8000. The synthetic register carries a documented historical bias, so the
gate is expected to refuse; the demo then shows the recorded override path and says so.

It says what it did: each test figure beside the logistic baseline and the oracle,
why the fairness verdict is what it is, where the report and the MLflow UI are, and
three keys (caseworker, auditor, admin) with what each may do. It never moves a
``production`` alias it did not set itself (a version without the demo's tag) unless
``tarve demo --reset`` says so.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from models.store import CANDIDATE_ALIAS, DEFAULT_REGISTERED_MODEL, PRODUCTION_ALIAS, tarve_home

TAG_DEMO = "tarve.demo"
STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
"""The time in the demo's artifact and key names. Not ``%Y%m%d-%H%M%S``: a date, a
dash and three digits can read as a personal identity code (``261201-1706``), and a
key name that looks like one is refused (about 3 % of the seconds of a year did)."""
"""Set (``"true"``) on a version the demo promoted: the demo may move that alias again."""
MSG_ALIAS_NOT_OURS = (
    "'{alias}' of {name} points to version {version}, which the demo did not promote "
    "(it has no {tag} tag): the demo leaves it alone. Run `tarve demo --reset` to move it "
    "to a new demo version anyway, or set TARVE_HOME to another directory for a separate demo."
)
ROLE_RIGHTS = {
    "caseworker": "suggestions for a client (POST /v1/recommendations, /batch), feedback",
    "auditor": "fairness report and audit, the audit log (GET /v1/fairness/report, /v1/audit-log)",
    "admin": "API keys (GET/POST/DELETE /v1/admin/keys) and model reload (POST /v1/admin/reload)",
}
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
    parser.add_argument(
        "--reset",
        action="store_true",
        help="move 'production' even when it points to a version the demo did not promote",
    )
    parser.set_defaults(handler=run_demo)


def _step(title: str) -> None:
    print(f"\n=== {title} ===", flush=True)


def run_demo(args: argparse.Namespace) -> int:
    """Run ``tarve demo``."""
    main: Callable[[list[str]], int] = args.run_command  # tarve.cli.main, from the command line
    refusal = foreign_production_alias(reset=args.reset)
    if refusal is not None:
        print(refusal, file=sys.stderr)
        return 1
    data = tarve_home() / "demo" / "register.parquet"
    data.parent.mkdir(parents=True, exist_ok=True)
    import datetime as dt

    stamp = dt.datetime.now(dt.UTC).strftime(STAMP_FORMAT)
    artifact = tarve_home() / "models" / f"demo-{stamp}"
    _step(f"1/5 synthetic register: {args.rows:,} rows -> {data}")
    if main(["synth", "--rows", str(args.rows), "--seed", str(args.seed), "--out", str(data)]):
        return 1
    _step("2/5 validate the extract against the schema")
    if main(["validate", "--data", str(data)]):
        return 1
    _step("3/5 train, evaluate, audit, register in MLflow")
    if main(["train", "--data", str(data), "--out", str(artifact)]):
        return 1
    _print_figures(artifact)
    _print_verdict(artifact)
    version = "@" + CANDIDATE_ALIAS
    _step("4/5 promote the candidate version to 'production' through the fairness gate")
    if main(["promote", "--version", version]) != 0:
        print("\nThe gate refused, as expected on this deliberately biased register.")
        print(f"Promoting with a recorded override: {DEMO_OVERRIDE_REASON!r}")
        if main(["promote", "--version", version, "--override-reason", DEMO_OVERRIDE_REASON]):
            return 1
    _mark_demo_version()
    _print_places(artifact)
    _step("5/5 API keys and the API")
    keys = _demo_keys()
    _print_usage(keys, args.host, args.port)
    if args.no_serve:
        return 0
    return main(["serve", "--host", args.host, "--port", str(args.port)])


def foreign_production_alias(*, reset: bool) -> str | None:
    """Return why the demo must not run: ``production`` is set to a version it did not set.

    None when there is no such alias (or no registered model yet), when the version
    behind it carries the demo's tag, or when ``reset`` is asked for.
    """
    from models import registry

    registry.configure_mlflow()
    try:
        current = registry.aliases(DEFAULT_REGISTERED_MODEL).get(PRODUCTION_ALIAS)
    except LookupError:
        return None
    if current is None or reset:
        return None
    if registry.version_tags(DEFAULT_REGISTERED_MODEL, current).get(TAG_DEMO) == "true":
        return None
    return MSG_ALIAS_NOT_OURS.format(
        alias=PRODUCTION_ALIAS, name=DEFAULT_REGISTERED_MODEL, version=current, tag=TAG_DEMO
    )


def _mark_demo_version() -> None:
    """Tag the version now behind ``production`` as the demo's own."""
    from models import registry
    from training import tracking

    version = registry.version_for_alias(DEFAULT_REGISTERED_MODEL, PRODUCTION_ALIAS)
    tracking.set_version_tags(DEFAULT_REGISTERED_MODEL, version, {TAG_DEMO: "true"})


def _mean(values: list[float]) -> float | None:
    present = [value for value in values if value == value]  # NaN is not equal to itself
    return sum(present) / len(present) if present else None


def _figure(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def figure_lines(report: dict[str, Any]) -> list[str]:
    """Return the test figures, each beside the logistic baseline and the oracle.

    Parameters
    ----------
    report : dict
        The evaluation report (``evaluation.json`` of the model artifact).

    Returns
    -------
    list of str
    """
    ranking = report["ranking"]
    lines = []
    for key in ranking["model"]:
        if key == "clients_with_need":
            continue
        shown = {system: ranking.get(system, {}).get(key) for system in ("model", "logistic")}
        oracle = ranking.get("oracle", {}).get(key)
        ratio = f"; {shown['model'] / oracle:.0%} of the oracle" if oracle else ""
        lines.append(
            f"  {key:<16} {_figure(shown['model'])}  (logistic {_figure(shown['logistic'])}, "
            f"oracle {_figure(oracle)}{ratio})"
        )
    aucs = {
        system: _mean([entry[system]["roc_auc"] for entry in report["services"].values()])
        if all(system in entry for entry in report["services"].values())
        else None
        for system in ("model", "logistic", "oracle")
    }
    model_auc, oracle_auc = aucs["model"], aucs["oracle"]
    ratio = f"; {model_auc / oracle_auc:.0%} of the oracle" if model_auc and oracle_auc else ""
    lines.append(
        f"  {'mean ROC AUC':<16} {_figure(aucs['model'])}  (logistic {_figure(aucs['logistic'])}, "
        f"oracle {_figure(aucs['oracle'])}{ratio})"
    )
    return lines


def _print_figures(artifact: Path) -> None:
    report = json.loads((artifact / "evaluation.json").read_text("utf-8"))
    print("\nHeld-out test figures (higher is better):")
    for line in figure_lines(report):
        print(line)
    print(
        "  The oracle ranks by the true need the synthetic register was drawn from: the\n"
        "  best any model of these fields can do. The README's figures are these ratios."
    )


VERDICT_WHY = {
    "pass": "every gating check's interval lies inside the policy's tolerance.",
    "fail": "for at least one group the whole interval of a gap lies outside the tolerance.",
    "uncertain": (
        "no gap is clearly outside the tolerance, but some intervals contain it: the test "
        "split is too small to tell. The default policy reports this and does not block "
        "(policy key `uncertain: report`; `uncertain: block` would)."
    ),
}


def _print_verdict(artifact: Path) -> None:
    from fairness.gate import gate_failures
    from fairness.report import AuditReport

    path = artifact / "fairness_audit.json"
    if not path.is_file():
        return
    report = AuditReport.from_dict(json.loads(path.read_text("utf-8")))
    checks = report.summary.checks
    print(
        f"\nFairness verdict: {report.verdict} ({checks.fail} failing, {checks.uncertain} "
        f"uncertain, {checks.passed} passing gating checks)"
    )
    print(f"  Why: {VERDICT_WHY.get(report.verdict, '')}")
    for line in gate_failures(report)[:3]:
        print(f"  e.g. {line}")


def _print_places(artifact: Path) -> None:
    from models import registry

    print(f"\nFairness report: {artifact / 'fairness_audit.html'}")
    print(f"Model card:      {artifact / 'model_card.md'}")
    print(f"MLflow UI:       mlflow ui --backend-store-uri {registry.tracking_uri()}")


def _demo_keys() -> dict[str, str]:
    """Fresh keys for each role (names carry the time; names are never reused)."""
    import datetime as dt

    from service.auth import Role, create_key
    from service.db import Database, upgrade_database
    from service.settings import get_settings

    database = Database(get_settings().database_url)
    upgrade_database(database.engine)
    stamp = dt.datetime.now(dt.UTC).strftime(STAMP_FORMAT)
    tokens = {}
    for role in (Role.CASEWORKER, Role.AUDITOR, Role.ADMIN):
        _, token = create_key(database, name=f"demo-{role.value}-{stamp}", role=role)
        tokens[role.value] = token
    return tokens


def _print_usage(keys: dict[str, str], host: str, port: int) -> None:
    base = f"http://{host}:{port}"
    request = {
        "client_ref": "demo-0001",
        "consents": ["kykyviisari", "language_test"],
        "profile": EXAMPLE_PROFILE,
    }
    body = json.dumps(request, ensure_ascii=False)
    example = Path(tarve_home() / "demo" / "request.json")
    example.write_text(body, "utf-8")
    for role, key in keys.items():
        print(f"{role + ' key:':<16}{key}")
        print(f"{'':<16}may: {ROLE_RIGHTS[role]}")
    print("(shown once; stored only as hashes; more with `tarve keys create --role ROLE`)\n")
    caseworker_key, auditor_key = keys["caseworker"], keys["auditor"]
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
