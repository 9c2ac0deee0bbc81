"""Progress on long runs: a line per pipeline step and a bar per service, with elapsed time.

Output goes to standard error through ``rich``; when it is not a terminal (CI, logs)
rich prints plain lines. ``enabled=False`` silences everything (tests, library use).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)


class ProgressReporter:
    """Reports pipeline steps and per-service fitting.

    Parameters
    ----------
    enabled : bool
        Print anything at all.
    """

    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self.console = Console(stderr=True)
        self.step_seconds: dict[str, float] = {}
        self._progress: Progress | None = None

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Time a pipeline step and print its name and duration when it ends."""
        started = time.perf_counter()
        yield
        elapsed = time.perf_counter() - started
        self.step_seconds[name] = self.step_seconds.get(name, 0.0) + elapsed
        if self.enabled:
            self.console.print(f"[green]✓[/green] {name} [dim]({elapsed:.1f} s)[/dim]")

    def note(self, message: str) -> None:
        """Print one line."""
        if self.enabled:
            self.console.print(message)

    @contextmanager
    def services(self, total_rounds: int) -> Iterator[ServiceBars]:
        """Show a progress display with one bar per service (boosting rounds done)."""
        if not self.enabled:
            yield ServiceBars(None, total_rounds, self)
            return
        progress = Progress(
            TextColumn("{task.description:<28}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        with progress:
            yield ServiceBars(progress, total_rounds, self)


class ServiceBars:
    """Bars for the services being fitted; a no-op when progress is disabled."""

    def __init__(
        self, progress: Progress | None, total_rounds: int, reporter: ProgressReporter
    ) -> None:
        self.progress = progress
        self.total_rounds = total_rounds
        self.reporter = reporter

    def start(self, service: str) -> Any:
        """Add a bar for ``service`` and return its task id."""
        if self.progress is None:
            return None
        return self.progress.add_task(service, total=self.total_rounds, status="")

    def advance(self, task: Any, rounds_done: int) -> None:
        """Move ``task``'s bar to ``rounds_done``."""
        if self.progress is not None and task is not None:
            self.progress.update(task, completed=rounds_done)

    def finish(self, task: Any, *, best_iteration: int, status: str) -> None:
        """Close ``task``'s bar at the rounds kept, with a status text."""
        if self.progress is not None and task is not None:
            self.progress.update(
                task, total=best_iteration, completed=best_iteration, status=status
            )
            self.progress.stop_task(task)
