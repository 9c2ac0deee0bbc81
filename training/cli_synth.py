"""`tarve synth`: write a synthetic jobseeker register (CSV or Parquet)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from models.schema import SchemaError, load_schema
from training.synth import DEFAULT_ROWS, generate_register, write_register
from training.synth.export import MSG_UNSUPPORTED_FORMAT, SUFFIXES

DEFAULT_SEED = 2021
DEFAULT_OUT = Path(".tarve") / "synthetic_register.parquet"
MSG_WROTE = (
    "wrote {rows:,} rows to {path} in {seconds:.1f} s "
    "(generate {generate:.1f} s, write {write:.1f} s)"
)
MSG_BIAS_OFF = "historical bias: off"
MSG_BIAS_ON = "historical bias: on (see docs/data.md)"


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def run_synth(args: argparse.Namespace) -> int:
    """Generate the register and write it; returns the process exit code."""
    out = Path(args.out)
    if out.suffix.lower() not in SUFFIXES:
        print(MSG_UNSUPPORTED_FORMAT.format(path=out), file=sys.stderr)
        return 2
    try:
        schema = load_schema(args.schema)
    except SchemaError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    started = time.perf_counter()
    try:
        frame = generate_register(args.rows, seed=args.seed, bias=not args.no_bias, schema=schema)
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    generated = time.perf_counter()
    write_register(frame, out, schema=schema)
    finished = time.perf_counter()
    print(
        MSG_WROTE.format(
            rows=len(frame),
            path=out,
            seconds=finished - started,
            generate=generated - started,
            write=finished - generated,
        )
    )
    print(MSG_BIAS_OFF if args.no_bias else MSG_BIAS_ON)
    return 0


def register(subparsers: Any) -> None:
    """Add this package's subcommands to the `tarve` parser."""
    parser = subparsers.add_parser(
        "synth",
        help="write a synthetic jobseeker register (no real people)",
        description=(
            "Generate a realistic synthetic jobseeker register that follows the schema: "
            "recorded need labels, oracle true needs, service history and true effects. "
            "The file format follows the extension (.csv or .parquet)."
        ),
    )
    parser.add_argument(
        "--rows",
        type=_positive_int,
        default=DEFAULT_ROWS,
        help=f"clients (default {DEFAULT_ROWS:,})",
    )
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help=f"output .csv or .parquet (default {DEFAULT_OUT})",
    )
    parser.add_argument(
        "--no-bias",
        action="store_true",
        help="do not inject the historical bias into the recorded labels",
    )
    parser.add_argument("--schema", type=Path, default=None, help="schema file (default: built-in)")
    parser.set_defaults(handler=run_synth)
