"""The `tarve` command line: each package's `cli` module registers its subcommands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    """Build the ``tarve`` parser: every package's subcommands.

    Returns
    -------
    argparse.ArgumentParser
    """
    from fairness import cli as fairness_cli
    from service import cli as service_cli
    from tarve import demo, score
    from training import cli_schema, cli_synth, cli_train, cli_validate

    parser = argparse.ArgumentParser(
        prog="tarve",
        description="tarve: service-need suggestions for public employment services.",
    )
    # A subcommand that runs others (tarve demo) calls ``args.run_command(argv)``: the
    # packages never import this module, so it imports them without a cycle.
    parser.set_defaults(run_command=main)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (
        cli_synth,
        cli_validate,
        cli_schema,
        cli_train,
        score,
        fairness_cli,
        service_cli,
        demo,
    ):
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``tarve`` command line.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments (``sys.argv[1:]`` when None).

    Returns
    -------
    int
        The exit code.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    result = args.handler(args)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
