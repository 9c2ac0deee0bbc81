"""Subcommands ``tarve train``, ``tarve promote`` and ``tarve models list``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from models.store import DEFAULT_REGISTERED_MODEL, PRODUCTION_ALIAS


def register(subparsers: Any) -> None:
    """Add this package's subcommands to the `tarve` parser."""
    train_parser = subparsers.add_parser(
        "train",
        help="train, calibrate, evaluate, audit and register a service-need model",
        description=(
            "Validate an extract, fit one LightGBM model per service, calibrate, evaluate "
            "against baselines, audit fairness, log to MLflow and register a version "
            "with alias 'candidate'."
        ),
    )
    train_parser.add_argument("--data", required=True, type=Path, help="CSV or Parquet extract")
    train_parser.add_argument("--schema", type=Path, help="schema file (default: built-in)")
    train_parser.add_argument("--config", type=Path, help="training config (YAML or TOML)")
    train_parser.add_argument("--tune", type=int, metavar="N", help="Optuna trials per service")
    train_parser.add_argument("--out", type=Path, help="model artifact directory")
    train_parser.add_argument("--name", help="registered model name")
    train_parser.add_argument(
        "--no-tracking", action="store_true", help="do not log to MLflow (artifact only)"
    )
    train_parser.add_argument("--quiet", action="store_true", help="no progress output")
    train_parser.add_argument(
        "--no-effects",
        action="store_true",
        help="do not fit the effect (expected benefit) models",
    )
    train_parser.set_defaults(handler=run_train)

    promote_parser = subparsers.add_parser(
        "promote",
        help="move the 'production' alias to a version that passes the fairness gate",
    )
    promote_parser.add_argument(
        "--version", required=True, help="registered version, or @ALIAS (e.g. @candidate)"
    )
    promote_parser.add_argument("--name", default=DEFAULT_REGISTERED_MODEL)
    promote_parser.add_argument("--alias", default=PRODUCTION_ALIAS)
    promote_parser.add_argument(
        "--override-reason", help="promote despite gate failures; recorded with who and when"
    )
    promote_parser.add_argument("--by", help="who decides (default: $USER)")
    promote_parser.add_argument("--policy", type=Path, help="fairness policy file")
    promote_parser.set_defaults(handler=run_promote)

    models_parser = subparsers.add_parser("models", help="registered model versions")
    models_sub = models_parser.add_subparsers(dest="models_command", required=True)
    list_parser = models_sub.add_parser("list", help="list versions, aliases and verdicts")
    list_parser.add_argument("--name", default=DEFAULT_REGISTERED_MODEL)
    list_parser.set_defaults(handler=run_models_list)


def run_train(args: argparse.Namespace) -> int:
    """Run ``tarve train``."""
    from models.extract.validation import ExtractReadError, ExtractValidationError
    from models.schema import SchemaError, load_schema
    from training.config import load_config
    from training.pipeline import train

    try:
        schema = load_schema(args.schema)
        config = load_config(args.config)
    except (SchemaError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    changes: dict[str, Any] = {}
    if args.tune is not None:
        changes["tune"] = {"trials": args.tune}
    if args.out is not None:
        changes["output_dir"] = str(args.out)
    if args.name:
        changes.setdefault("tracking", {})["registered_model_name"] = args.name
    if args.no_tracking:
        changes.setdefault("tracking", {})["enabled"] = False
    if args.quiet:
        changes["progress"] = False
    if getattr(args, "no_effects", False):
        changes["effects"] = {"enabled": False}
    config = config.updated(changes) if changes else config
    try:
        result = train(args.data, schema=schema, config=config)
    except (ExtractValidationError, ExtractReadError) as exc:
        print(f"error: training stopped: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    ranking = result.report["ranking"]["model"]
    summary = ", ".join(
        f"{key} {value:.3f}"
        for key, value in ranking.items()
        if key != "clients_with_need" and value is not None
    )
    print(f"model artifact: {result.artifact_dir}")
    print(f"test ranking: {summary}")
    targets = result.report.get("targets")
    if targets:
        print(f"targets against the oracle met: {'yes' if targets['passed'] else 'no'}")
    if result.fairness is not None:
        print(f"fairness verdict: {result.fairness.verdict}")
    if result.effects is not None:
        print(f"effect models: {result.effects}")
    if result.run_id:
        print(f"MLflow run: {result.run_id}")
    if result.model_version:
        print(
            f"registered: {result.registered_model_name} version {result.model_version} "
            f"(alias {config.tracking.alias})"
        )
    return 0


def run_promote(args: argparse.Namespace) -> int:
    """Run ``tarve promote``."""
    from training.promote import PromotionRefused, promote

    try:
        result = promote(
            args.version,
            name=args.name,
            alias=args.alias,
            override_reason=args.override_reason,
            by=args.by,
            policy=args.policy,
        )
    except PromotionRefused as exc:
        print(f"error: {exc}", file=sys.stderr)
        print("Use --override-reason TEXT to promote anyway (recorded).", file=sys.stderr)
        return 1
    except (LookupError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if result.override:
        print(
            f"promoted {result.name} version {result.version} to {result.alias!r} OVERRIDING "
            f"{len(result.failures)} fairness gate failure(s); recorded: by "
            f"{result.override.who} at {result.override.when}"
        )
    else:
        print(
            f"promoted {result.name} version {result.version} to {result.alias!r}: "
            "fairness gate passed"
        )
    return 0


def run_models_list(args: argparse.Namespace) -> int:
    """Run ``tarve models list``."""
    from models import registry
    from training.tracking import TAG_FAIRNESS_VERDICT

    try:
        versions = registry.list_versions(args.name)
    except LookupError:
        print(f"no registered model named {args.name!r}", file=sys.stderr)
        return 1
    print(f"{'version':>7}  {'aliases':<22} {'fairness':<10} {'created':<20} run")
    for item in versions:
        created = _format_time(item.creation_timestamp)
        print(
            f"{item.version:>7}  {','.join(item.aliases):<22} "
            f"{item.tags.get(TAG_FAIRNESS_VERDICT, '-'):<10} {created:<20} {item.run_id}"
        )
    return 0


def _format_time(milliseconds: int | None) -> str:
    import datetime as dt

    if not milliseconds:
        return "-"
    moment = dt.datetime.fromtimestamp(milliseconds / 1000, tz=dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S")
