"""``tarve schema draft``: write a starter schema for an extract of your own register.

The draft (:func:`training.schema_draft.draft_schema`) loads and the extract validates
against it at once; edit its ``TODO`` labels, units, sources and audit groups, then
``tarve validate`` and ``tarve train --schema``. See ``docs/bring_your_own_register.md``.
Exit codes: 0 written; 1 the extract cannot be read or a named column is wrong.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from models.extract.validation import ExtractReadError, read_extract, validate_frame
from models.schema import SchemaError, schema_from_dict
from training.schema_draft import draft_schema

HEADER = (
    "# A starter schema drafted by `tarve schema draft` from {data}.\n"
    "# Replace every TODO: labels, units, sources (consent), protected attributes,\n"
    "# audit_groups and the description the model card shows. See\n"
    "# docs/bring_your_own_register.md.\n"
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``schema draft`` to the `tarve` parser."""
    parser = subparsers.add_parser("schema", help="schema tools: draft a schema for an extract")
    actions = parser.add_subparsers(dest="schema_command", required=True, metavar="ACTION")
    draft = actions.add_parser(
        "draft",
        help="write a starter schema (types, ranges, categories, nullability, TODO labels)",
        description="Draft a schema from an extract; the extract validates against it as is.",
    )
    draft.add_argument("--data", required=True, type=Path, help="the extract (.csv or .parquet)")
    draft.add_argument(
        "--label",
        dest="labels",
        action="append",
        required=True,
        metavar="COL",
        help="a 0/1 label (service) column; repeat for each",
    )
    draft.add_argument("--id", dest="id_column", default=None, metavar="COL", help="id column")
    draft.add_argument("--name", default=None, help="schema name (default: the file's stem)")
    draft.add_argument(
        "--language",
        dest="languages",
        action="append",
        default=None,
        metavar="CODE",
        help="a language every text must be given in; repeat for each (default: en)",
    )
    draft.add_argument(
        "--missing-value",
        dest="missing_values",
        action="append",
        default=None,
        metavar="TEXT",
        help="a text that means missing, e.g. '?'; repeat (default: common markers found)",
    )
    draft.add_argument(
        "--out", type=Path, default=None, help="where to write the YAML (default: stdout)"
    )
    draft.set_defaults(handler=run_draft)


def run_draft(args: argparse.Namespace) -> int:
    """Draft a schema for ``args.data`` and write it; return the exit code."""
    try:
        frame = read_extract(args.data)
        schema, notes = draft_schema(
            frame,
            labels=args.labels,
            id_column=args.id_column,
            name=args.name or args.data.stem,
            languages=args.languages,
            missing_values=args.missing_values,
        )
    except (ExtractReadError, ValueError) as exc:
        print(f"tarve schema draft: {exc}", file=sys.stderr)
        return 1
    try:
        checked = schema_from_dict(schema, origin="<draft>")
    except SchemaError as exc:  # a bug of the drafter, never the user's data
        print(f"tarve schema draft: the draft does not load: {exc}", file=sys.stderr)
        return 1
    result = validate_frame(frame, checked)
    text = HEADER.format(data=args.data) + yaml.safe_dump(
        schema, sort_keys=False, allow_unicode=True, width=100
    )
    if args.out is None:
        sys.stdout.write(text)
    else:
        args.out.write_text(text, "utf-8")
        print(f"wrote {args.out}: {len(schema['fields'])} fields, {len(schema['labels'])} labels")
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if not result.ok:
        print(
            f"note: the extract does not validate yet ({len(result.problems)} problem(s)); "
            f"run tarve validate --data {args.data} --schema {args.out or 'SCHEMA'}",
            file=sys.stderr,
        )
    return 0
