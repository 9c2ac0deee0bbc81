"""``tarve validate``: check a register extract against the schema before anything uses it.

Exit codes: 0 the extract is valid (the short profile is printed); 1 the extract has
problems or cannot be read (every problem is printed); 2 the schema file itself is
wrong. With ``--json`` the same outcome is printed as one JSON document on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from models.extract.report import render_problems, render_profile
from models.extract.validation import ExtractReadError, read_extract, validate_frame
from models.schema import SchemaError, load_schema

EXIT_VALID = 0
EXIT_INVALID_DATA = 1
EXIT_INVALID_SCHEMA = 2


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``validate`` to the `tarve` parser."""
    parser = subparsers.add_parser(
        "validate",
        help="check a CSV or Parquet extract against the schema",
        description=(
            "Check a register extract (CSV or Parquet) against the schema and report every "
            "problem at once. Exit 0: valid; 1: problems in the data; 2: invalid schema."
        ),
        epilog=(
            "Row numbers count data rows from 1, header excluded (row 1 is line 2 of a CSV "
            "file without blank lines or multi-line values). Values that look like personal "
            "identity codes are never printed."
        ),
    )
    parser.add_argument("--data", required=True, type=Path, help="the extract (.csv or .parquet)")
    parser.add_argument(
        "--schema", type=Path, default=None, help="schema file (default: the Finnish register)"
    )
    parser.add_argument(
        "--no-labels",
        dest="require_labels",
        action="store_false",
        help="label columns may be absent (an extract to score, not to train on)",
    )
    parser.add_argument("--json", dest="as_json", action="store_true", help="print JSON")
    parser.set_defaults(handler=run_validate)


def _emit_json(document: dict[str, Any]) -> None:
    print(json.dumps(document, indent=2, ensure_ascii=False))


def run_validate(args: argparse.Namespace) -> int:
    """Validate ``args.data`` against ``args.schema``; print the outcome; return the exit code."""
    source = str(args.data)
    try:
        schema = load_schema(args.schema)
    except SchemaError as exc:
        if args.as_json:
            _emit_json(
                {
                    "ok": False,
                    "data": source,
                    "schema_error": {"path": exc.path, "problems": exc.problems},
                }
            )
        else:
            print(str(exc), file=sys.stderr)
        return EXIT_INVALID_SCHEMA
    try:
        frame = read_extract(args.data, identity_codes="keep")  # reported below
    except ExtractReadError as exc:
        if args.as_json:
            _emit_json({"ok": False, "data": source, "read_error": str(exc)})
        else:
            print(str(exc), file=sys.stderr)
        return EXIT_INVALID_DATA
    result = validate_frame(frame, schema, require_labels=args.require_labels)
    if args.as_json:
        _emit_json({"data": source, "schema": schema.name, **result.to_dict()})
    elif result.ok:
        print(render_profile(result.profile, source=source))
    else:
        print(render_problems(result.problems, source=source))
    return EXIT_VALID if result.ok else EXIT_INVALID_DATA
