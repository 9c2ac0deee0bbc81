"""The ``tarve`` command line.

A small package above the others: it imports each package's ``cli`` module, which
registers that package's subcommands (``synth``, ``validate``, ``train``, ``promote``,
``audit``, ``serve``, ``keys``, ...), and holds ``tarve demo``, the main job of
``make run``, which is the one command that needs both training and the service.
"""

from __future__ import annotations

from tarve.cli import build_parser, main

__all__ = ["build_parser", "main"]
