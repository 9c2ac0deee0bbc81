"""Subcommands of this package for the `tarve` command line."""

from __future__ import annotations

import argparse
from typing import Any

Subparsers = "argparse._SubParsersAction[argparse.ArgumentParser]"


def register(subparsers: Any) -> None:
    """Add this package's subcommands to the `tarve` parser."""
    del subparsers
