"""Work that runs in a second process while training goes on.

The logistic-regression baseline and the plots are single-threaded Python and BLAS;
on a multi-core machine they run beside the evaluation and the fairness audit instead
of after them. The process is *spawned*, not forked: the parent has OpenMP threads
(LightGBM) that a fork would leave broken in the child.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


class ChildProcess:
    """One spawned worker process; tasks run in it one after another, in order."""

    def __init__(self) -> None:
        self._executor = ProcessPoolExecutor(
            max_workers=1, mp_context=multiprocessing.get_context("spawn")
        )

    def submit(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
        """Run ``function(*args, **kwargs)`` in the child; arguments and result are pickled."""
        return self._executor.submit(function, *args, **kwargs)

    def close(self, *, cancel: bool = False) -> None:
        """Wait for the worker to finish (or drop queued tasks with ``cancel``) and stop it."""
        self._executor.shutdown(wait=True, cancel_futures=cancel)
