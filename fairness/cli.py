"""``tarve audit``: audit a tarve model on labelled data, or any predictions file.

::

    tarve audit --model URI|PATH --data FILE [--policy FILE] [--out DIR] [--lang fi|sv|en]
    tarve audit --predictions FILE --label COL --score COL (--decision COL | --threshold T)
                --group COL [--group COL ...] [--service-column COL] [--policy FILE] [--out DIR]

Writes ``audit.json`` and ``audit.html`` (in ``--lang``, English by default) into
``--out`` and prints the verdict, the lines that would block a release, and a table
of every failing or uncertain gating check (the JSON and HTML stay the full record).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from models.schema import LANGUAGES

if TYPE_CHECKING:
    from fairness.report import AuditReport

MSG_MODE = "give either --model with --data, or --predictions (with --label, --score, --group)"
MSG_PREDICTIONS_ARGS = "--predictions needs --label, --score and at least one --group"
MSG_DECISION_ARGS = "--predictions needs exactly one of --decision COL or --threshold T"
EXIT_OK, EXIT_USAGE, EXIT_FAIL = 0, 2, 3
MAX_PRINTED_LINES = 20


def register(subparsers: Any) -> None:
    """Add ``tarve audit`` to the ``tarve`` parser."""
    parser = subparsers.add_parser(
        "audit",
        help="fairness audit of a model or a predictions file (JSON + HTML report)",
        description=(
            "Audit a tarve model on a labelled extract, or any system's predictions file, "
            "for every service, audit group and pair of groups. Writes audit.json and "
            "audit.html and prints the verdict."
        ),
    )
    model = parser.add_argument_group("a tarve model")
    model.add_argument("--model", metavar="URI|PATH", help="model directory or models:/name@alias")
    model.add_argument("--data", metavar="FILE", help="labelled extract (CSV or Parquet)")
    predictions = parser.add_argument_group("a predictions file")
    predictions.add_argument("--predictions", metavar="FILE", help="CSV or Parquet file")
    predictions.add_argument("--label", metavar="COL", help="column of the recorded need (0/1)")
    predictions.add_argument("--score", metavar="COL", help="column of the calibrated score")
    predictions.add_argument("--decision", metavar="COL", help="column of the yes/no decision")
    predictions.add_argument(
        "--threshold", metavar="T", type=float, help="decision = score >= T (instead of --decision)"
    )
    predictions.add_argument(
        "--group",
        metavar="COL",
        action="append",
        default=[],
        help="an audit attribute column (repeat for more)",
    )
    predictions.add_argument(
        "--service-column",
        metavar="COL",
        help="column naming each row's service (one row per client and service)",
    )
    parser.add_argument("--policy", metavar="FILE", help="fairness policy YAML (default policy)")
    parser.add_argument(
        "--out", metavar="DIR", default="audit", help="output directory (default: ./audit)"
    )
    parser.add_argument(
        "--lang",
        choices=LANGUAGES,
        default="en",
        help="language of audit.html, one of the schema's languages (default: en)",
    )
    parser.add_argument(
        "--fail-on",
        choices=("never", "fail", "uncertain"),
        default="never",
        help=(
            f"exit with status {EXIT_FAIL} when the verdict is fail (or fail/uncertain); "
            "default: never"
        ),
    )
    parser.set_defaults(handler=run)


def _audit(args: argparse.Namespace) -> AuditReport:
    from fairness.audit import audit_model, audit_predictions_file
    from fairness.policy import load_policy

    policy = load_policy(args.policy) if args.policy else load_policy()
    if args.predictions:
        if not (args.label and args.score and args.group):
            raise ValueError(MSG_PREDICTIONS_ARGS)
        if (args.decision is None) == (args.threshold is None):
            raise ValueError(MSG_DECISION_ARGS)
        return audit_predictions_file(
            args.predictions,
            label=args.label,
            score=args.score,
            decision=args.decision,
            threshold=args.threshold,
            group_columns=list(args.group),
            service=args.service_column,
            policy=policy,
        )
    from models.extract import file_fingerprint
    from models.extract.validation import load_validated_extract
    from models.model import load_model

    model = load_model(args.model)
    frame = load_validated_extract(args.data, model.schema, require_labels=True)
    return audit_model(
        model,
        frame,
        policy=policy,
        metadata={
            "model_uri": str(args.model),
            "data_fingerprint": file_fingerprint(args.data),
            "data_source": Path(args.data).name,
        },
    )


def print_findings_table(report: AuditReport, *, more: str) -> None:
    """Print every failing or uncertain gating check of ``report`` as one table.

    Nothing is printed when every gating check passes; at most ``MAX_PRINTED_LINES``
    rows, failures first, then a line saying how many more and where they are.
    """
    from rich.console import Console
    from rich.table import Table

    from fairness.gate import METRIC_NAMES, allowed_region, format_confidence

    rows: list[tuple[int, tuple[str, ...]]] = []
    for block, cell in report.iter_cells():
        for metric, flag in cell.flags.items():
            if not flag.gating or flag.status not in ("fail", "uncertain"):
                continue
            low, high = flag.interval.bounds
            shown = [
                "n/a" if number is None else f"{number:+.3f}" for number in (flag.value, low, high)
            ]
            rows.append(
                (
                    0 if flag.status == "fail" else 1,
                    (
                        block.service,
                        cell.label or "everyone",
                        f"{cell.n:,}",
                        METRIC_NAMES.get(metric, metric),
                        shown[0],
                        f"{shown[1]} to {shown[2]}",
                        allowed_region(metric, report.policy),
                        str(flag.status),
                    ),
                )
            )
    if not rows:
        return
    confidence = format_confidence(report.method.flag_confidence)
    table = Table(title=f"Failing and uncertain checks ({len(rows)})", title_justify="left")
    for header in ("service", "group", "n", "check", "value", f"{confidence} CI", "allowed"):
        table.add_column(header, justify="right" if header in ("n", "value") else "left")
    table.add_column("status")
    for _, cells in sorted(rows, key=lambda row: row[0])[:MAX_PRINTED_LINES]:
        table.add_row(*cells)
    Console(width=140, highlight=False, soft_wrap=False).print(table)
    if len(rows) > MAX_PRINTED_LINES:
        print(f"... and {len(rows) - MAX_PRINTED_LINES} more ({more})")


def run(args: argparse.Namespace) -> int:
    """Run ``tarve audit``; returns the exit status."""
    model_mode = args.model is not None or args.data is not None
    if model_mode == (args.predictions is not None) or (
        model_mode and not (args.model and args.data)
    ):
        print(f"tarve audit: {MSG_MODE}", file=sys.stderr)
        return EXIT_USAGE
    from fairness.gate import gate_failures
    from fairness.report_html import write_report

    try:
        report = _audit(args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"tarve audit: {exc}", file=sys.stderr)
        return EXIT_USAGE
    json_path, html_path = write_report(report, args.out, lang=getattr(args, "lang", "en"))
    checks = report.summary.checks
    print(
        f"verdict: {report.verdict} ({checks.fail} failing, {checks.uncertain} uncertain, "
        f"{checks.passed} passing gating checks; {len(report.suppressed)} suppressed cells)"
    )
    lines = gate_failures(report)
    for line in lines[:MAX_PRINTED_LINES]:
        print(f"  {line}")
    if len(lines) > MAX_PRINTED_LINES:
        print(f"  ... and {len(lines) - MAX_PRINTED_LINES} more (see {html_path})")
    print_findings_table(report, more=f"see {html_path}")
    print(f"wrote {json_path} and {html_path}")
    if args.fail_on == "fail" and report.verdict == "fail":
        return EXIT_FAIL
    if args.fail_on == "uncertain" and report.verdict in ("fail", "uncertain"):
        return EXIT_FAIL
    return EXIT_OK
