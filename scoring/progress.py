"""A rich progress bar for batch scoring: rows done, rows per second, time left."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from scoring.run import Progress as ProgressCallbacks


class RowsPerSecondColumn(ProgressColumn):
    """Throughput in rows per second."""

    def render(self, task: Task) -> Text:
        """Render the task's speed (rows done / time elapsed)."""
        elapsed = task.finished_time if task.finished else task.elapsed
        if not elapsed or not task.completed:
            return Text("-- rows/s", style="cyan")
        return Text(f"{task.completed / elapsed:,.0f} rows/s", style="cyan")


class RichProgress:
    """Progress callbacks drawing a rich progress bar on stderr.

    Parameters
    ----------
    enabled : bool
        Draw nothing when False.
    """

    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self._progress: Progress | None = None
        self._task: Any = None

    def callbacks(self) -> ProgressCallbacks:
        """Return the callbacks for :func:`scoring.score_extract`."""
        return ProgressCallbacks(start=self.start, advance=self.advance, stop=self.stop)

    def start(self, description: str, total: int | None) -> None:
        """Begin a bar (``total`` rows, or unknown)."""
        if not self.enabled:
            return
        self.stop()
        self._progress = Progress(
            TextColumn("{task.description:<22}"),
            BarColumn(),
            MofNCompleteColumn(),
            RowsPerSecondColumn(),
            TimeElapsedColumn(),
            TextColumn("left"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self._progress.start()
        self._task = self._progress.add_task(description, total=total)

    def advance(self, rows: int) -> None:
        """``rows`` more rows done."""
        if self._progress is not None:
            self._progress.advance(self._task, rows)

    def stop(self) -> None:
        """End the current bar."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
