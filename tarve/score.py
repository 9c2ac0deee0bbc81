"""``tarve score`` (a whole caseload) and ``tarve guard`` (the feed guard alone).

``tarve score`` lives in the command-line package because it joins two packages that
may not import each other: batch scoring (:mod:`scoring`, which needs only
:mod:`models`) and the audit-log store (:mod:`service.audit_log`). Every run, also a
refused one, writes one audit-log row: who ran it, the model and version, the
extract's fingerprint, the row count and the feed guard's outcome; never a profile.

Exit codes: 0 scored; 1 the extract cannot be read or breaks the schema (every
problem printed, identity codes never); 2 a usage, model or policy problem; 3 the feed
guard refused the extract (nothing written; ``--accept-drift "reason"`` goes on and
records the reason); 130 interrupted (finished chunks kept for ``--resume``).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_INVALID_DATA = 1
EXIT_USAGE = 2
EXIT_FEED_REFUSED = 3
EXIT_INTERRUPTED = 130
AUDIT_ENDPOINT = "score"
AUDIT_GUARD_ENDPOINT = "guard"
MSG_REFUSED_HINT = (
    'Check the extract. To score it anyway, give the reason: --accept-drift "..." '
    "(recorded in the summary and the audit log)."
)
MSG_INTERRUPTED = "interrupted: finished chunks are kept; rerun the same command with --resume"


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def register(subparsers: Any) -> None:
    """Add ``score`` and ``guard`` to the `tarve` parser."""
    score = subparsers.add_parser(
        "score",
        help="score a whole extract (every client, every service) behind the feed guard",
        description=(
            "Validate an extract, check it against the model's training profile (feed "
            "guard), then rank every service for every client with probability, "
            "recommended flag, eligibility and reasons, as the API does. Exit 0: scored; "
            "1: invalid extract; 2: usage/model problem; 3: refused by the feed guard."
        ),
    )
    _common(score)
    score.add_argument("--out", required=True, type=Path, help="output .parquet or .csv")
    score.add_argument("--lang", choices=["fi", "sv", "en"], default="fi")
    score.add_argument("--reasons", type=_non_negative, default=5, help="reasons per service")
    score.add_argument("--top-k", type=_positive, default=None, help="suggestions per client")
    score.add_argument("--no-reasons", action="store_true", help="skip TreeSHAP reasons")
    score.add_argument("--resume", action="store_true", help="keep finished chunks of a rerun")
    score.add_argument("--chunk-rows", type=_positive, default=20_000, help="rows per chunk")
    score.add_argument("--threads", type=_non_negative, default=0, help="LightGBM threads")
    score.add_argument(
        "--dask",
        default=None,
        metavar="ADDRESS|local",
        help="run on a Dask cluster (scheduler address, or 'local' for a local cluster); "
        "the output is then a partitioned Parquet dataset (a directory)",
    )
    score.add_argument("--no-progress", action="store_true", help="no progress bar")
    score.set_defaults(handler=run_score)

    guard = subparsers.add_parser(
        "guard",
        help="check an extract against a model's training profile (the feed guard alone)",
        description=(
            "Validate an extract and compare it with a model's training profile, e.g. "
            "before training on a new extract. Exit 0: passed; 1: invalid; 3: refused."
        ),
    )
    _common(guard)
    guard.add_argument("--json", dest="as_json", action="store_true", help="print JSON")
    guard.set_defaults(handler=run_guard)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, type=Path, help="the extract (.csv, .parquet)")
    parser.add_argument(
        "--model", default=None, help="model directory or MLflow URI (default: TARVE_MODEL_URI)"
    )
    parser.add_argument("--drift-policy", type=Path, default=None, help="feed-guard policy YAML")
    parser.add_argument(
        "--accept-drift",
        default=None,
        metavar="REASON",
        help="go on although the feed guard fails; the reason is recorded",
    )
    parser.add_argument(
        "--operator", default=None, help="who runs this, for the audit log (default: OS user)"
    )


def _model_uri(args: argparse.Namespace) -> str:
    if args.model:
        return str(args.model)
    from service.settings import Settings

    return Settings().model_uri


def _audit(
    args: argparse.Namespace,
    *,
    endpoint: str,
    run_id: str,
    model: dict[str, Any],
    details: dict[str, Any],
) -> None:
    """One audit-log row through the service's store (who, model, extract; no profile)."""
    from service.audit_log import AuditTrail
    from service.auth import Principal, Role
    from service.db import Database
    from service.settings import Settings

    operator = args.operator or os.environ.get("TARVE_OPERATOR") or getpass.getuser()
    database = Database(Settings().database_url)
    try:
        database.upgrade()
        # Batch scoring reads client data as a caseworker's batch call does; "cli:" marks
        # a command-line run, not an API key.
        trail = AuditTrail(
            database,
            Principal(name=f"cli:{operator}"[:100], role=Role.CASEWORKER),
            run_id,
            model_name=model.get("name"),
            model_version=model.get("version"),
        )
        trail.record(endpoint, sources_used=details.pop("sources", []), details=details)
    finally:
        database.dispose()


def _open(args: argparse.Namespace) -> tuple[Any, Any]:
    from models.drift import load_drift_policy
    from scoring import open_model

    policy = load_drift_policy(args.drift_policy)
    return open_model(_model_uri(args)), policy


def run_score(args: argparse.Namespace) -> int:
    """``tarve score``; returns the exit code."""
    from models.extract import ExtractReadError, ExtractValidationError
    from scoring import FeedRefused, ScoreOptions, render_summary, score_extract
    from scoring.progress import RichProgress

    run_id = uuid.uuid4().hex
    try:
        handle, policy = _open(args)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    options = ScoreOptions(
        lang=args.lang,
        reasons=args.reasons,
        explain=not args.no_reasons,
        top_k=args.top_k,
        chunk_rows=args.chunk_rows,
        num_threads=args.threads,
        accept_drift=args.accept_drift,
        resume=args.resume,
    )
    sources = list(handle.model.schema.sources)
    progress = RichProgress(enabled=not args.no_progress and sys.stderr.isatty())
    try:
        if args.dask:
            from scoring.on_dask import score_on_dask

            summary = score_on_dask(
                args.data, handle, args.out, address=args.dask, options=options, policy=policy
            )
        else:
            summary = score_extract(
                args.data,
                handle,
                args.out,
                options=options,
                policy=policy,
                progress=progress.callbacks(),
            )
    except (ExtractReadError, ExtractValidationError) as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_INVALID_DATA
    except FeedRefused as exc:
        _print_refusal(exc)
        _audit(
            args,
            endpoint=AUDIT_ENDPOINT,
            run_id=run_id,
            model=handle.describe(),
            details={
                "outcome": "refused by the feed guard",
                "extract_fingerprint": exc.fingerprint,
                "rows": exc.rows,
                "feed_guard": _guard_details(exc),
                "sources": sources,
            },
        )
        return EXIT_FEED_REFUSED
    except KeyboardInterrupt:
        print(MSG_INTERRUPTED, file=sys.stderr)
        return EXIT_INTERRUPTED
    print(render_summary(summary))
    guard = summary.feed_guard
    _audit(
        args,
        endpoint=AUDIT_ENDPOINT,
        run_id=run_id,
        model=summary.model,
        details={
            "outcome": "scored",
            "extract_fingerprint": summary.extract["fingerprint"],
            "rows": summary.rows,
            "output": summary.output,
            "feed_guard": {
                "passed": guard.get("passed"),
                "accepted_reason": guard.get("accepted_reason"),
                "failures": len(guard.get("failures", [])),
            },
            "backend": summary.backend,
            "sources": sources,
        },
    )
    return EXIT_OK


def _guard_details(refused: Any) -> dict[str, Any]:
    report = refused.report
    return {
        "passed": False,
        "problem": refused.reason,
        "failures": [] if report is None else [f.model_dump() for f in report.failures],
    }


def _print_refusal(refused: Any) -> None:
    from models.drift import render_drift_report

    if refused.report is not None:
        print(render_drift_report(refused.report), file=sys.stderr)
    if refused.reason:
        print(f"Feed guard: {refused.reason}", file=sys.stderr)
    print(MSG_REFUSED_HINT, file=sys.stderr)


def run_guard(args: argparse.Namespace) -> int:
    """``tarve guard``; returns the exit code."""
    from models.drift import render_drift_report
    from models.extract import ExtractReadError, ExtractValidationError
    from scoring import FeedRefused, ScoreOptions
    from scoring.run import check_extract

    try:
        handle, policy = _open(args)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    options = ScoreOptions(accept_drift=args.accept_drift)
    try:
        outcome = check_extract(args.data, handle, policy=policy, options=options)
    except (ExtractReadError, ExtractValidationError) as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_INVALID_DATA
    except FeedRefused as exc:
        if args.as_json and exc.report is not None:
            print(exc.report.model_dump_json(indent=2))
        else:
            _print_refusal(exc)
        return EXIT_FEED_REFUSED
    if args.as_json and outcome.report is not None:
        print(outcome.report.model_dump_json(indent=2))
    elif outcome.report is not None:
        print(render_drift_report(outcome.report))
    else:
        print(json.dumps(outcome.guard_summary()))
    return EXIT_OK
