"""How a training run uses the machine; nothing here changes what is trained.

A run (:class:`TrainingRuntime`, entered by :func:`training.train`) sets up, in order:

* **Passive OpenMP.** ``OMP_WAIT_POLICY=PASSIVE`` unless the caller set a policy:
  LightGBM's OpenMP threads then sleep between parallel regions instead of spinning.
  On cores shared with other work, spinning threads made fitting 5-7 times slower
  (measured again for issue 8: 92 s against 14 s for the same fits at load 10 on two
  cores). OpenMP reads the variable once, when its library loads, so the run sets it
  *before* LightGBM and scikit-learn load (see :data:`NATIVE_LIBRARIES`) and removes it
  again when the run ends. Importing a tarve package changes no environment variable.
  When OpenMP was already running (a caller imported LightGBM first), the setting still
  reaches the child process, and :attr:`TrainingRuntime.openmp_passive` says False.
* **One BLAS thread** (``threadpoolctl``): BLAS threads only help large dense algebra;
  on shared cores their spinning makes the baselines and the audit many times slower.
  LightGBM keeps its own threads.
* **A scratch directory** for files that are logged but not kept.
* **A child process**, *spawned* (not forked: the parent has OpenMP threads that a fork
  would leave broken in the child), started on first use: the SHAP plots are drawn in
  it while the audit and the evaluation run in the parent.
* **Background threads** for warm-up work that is mostly waiting or pure Python
  (importing MLflow, opening its store) while LightGBM, which releases the GIL, works.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, TypeVar

T = TypeVar("T")

OMP_WAIT_POLICY = "OMP_WAIT_POLICY"
PASSIVE = "PASSIVE"
BLAS_THREADS = 1
NATIVE_LIBRARIES = ("lightgbm", "sklearn.linear_model", "scipy.linalg")
SCRATCH_PREFIX = "tarve_train_"


def openmp_started() -> bool:
    """Tell whether an OpenMP runtime is already loaded in this process.

    Returns
    -------
    bool
        True when ``threadpoolctl`` finds a loaded OpenMP library.
    """
    from threadpoolctl import threadpool_info

    return any(pool.get("user_api") == "openmp" for pool in threadpool_info())


@contextmanager
def passive_openmp() -> Iterator[bool]:
    """Set ``OMP_WAIT_POLICY=PASSIVE`` (unless set) for the duration of the block.

    Yields
    ------
    bool
        Whether OpenMP in *this* process will wait passively: the policy is passive
        and OpenMP had not started before the block (or the caller chose the policy).
    """
    chosen = os.environ.get(OMP_WAIT_POLICY)
    if chosen is not None:
        yield chosen.upper() == PASSIVE
        return
    started = openmp_started()
    os.environ[OMP_WAIT_POLICY] = PASSIVE
    try:
        yield not started
    finally:
        os.environ.pop(OMP_WAIT_POLICY, None)


class Background(Generic[T]):
    """``function(*args)`` in a daemon thread; :meth:`result` waits and re-raises.

    Parameters
    ----------
    function : callable
        The work.
    *args
        Its arguments.
    name : str
        The thread's name.
    """

    def __init__(self, function: Callable[..., T], *args: Any, name: str) -> None:
        self._function = function
        self._args = args
        self._value: T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._function(*self._args)
        except BaseException as exc:  # re-raised by result()
            self._error = exc

    def result(self) -> T:
        """Wait for the thread and return the function's value (or raise its error).

        Returns
        -------
        object
            What the function returned.
        """
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]


class ChildProcess:
    """One spawned worker process; tasks run in it one after another, in order."""

    def __init__(self) -> None:
        self._executor = ProcessPoolExecutor(
            max_workers=1, mp_context=multiprocessing.get_context("spawn")
        )

    def submit(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
        """Run ``function(*args, **kwargs)`` in the child; arguments and result are pickled.

        Parameters
        ----------
        function : callable
            A module-level function (it is pickled by name).
        *args, **kwargs
            Its arguments.

        Returns
        -------
        concurrent.futures.Future
        """
        return self._executor.submit(function, *args, **kwargs)

    def close(self, *, cancel: bool = False) -> None:
        """Wait for the worker to finish (or drop queued tasks with ``cancel``) and stop it.

        Parameters
        ----------
        cancel : bool
            Drop tasks that have not started.
        """
        self._executor.shutdown(wait=True, cancel_futures=cancel)


class TrainingRuntime:
    """The machine set-up of one training run, as a context manager.

    Attributes
    ----------
    scratch : Path
        A temporary directory, removed when the run ends.
    openmp_passive : bool
        Whether OpenMP in this process waits passively.
    """

    def __init__(self) -> None:
        self._stack = ExitStack()
        self._child: ChildProcess | None = None
        self.scratch = Path()
        self.openmp_passive = False

    def __enter__(self) -> TrainingRuntime:
        """Configure OpenMP, load the native libraries, cap BLAS, make the scratch dir."""
        from threadpoolctl import threadpool_limits

        try:
            self.openmp_passive = self._stack.enter_context(passive_openmp())
            for module in NATIVE_LIBRARIES:
                importlib.import_module(module)  # their OpenMP starts with the policy above
            self._stack.enter_context(threadpool_limits(limits=BLAS_THREADS, user_api="blas"))
            self.scratch = Path(
                self._stack.enter_context(tempfile.TemporaryDirectory(prefix=SCRATCH_PREFIX))
            )
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop the child process, end entered contexts, remove the scratch directory."""
        self._stack.__exit__(kind, error, traceback)

    def enter(self, context: AbstractContextManager[T]) -> T:
        """Keep ``context`` (e.g. an MLflow run) open until the run ends.

        Parameters
        ----------
        context : context manager
            Entered now, exited when the runtime exits (before the scratch directory
            is removed).

        Returns
        -------
        object
            What the context manager's ``__enter__`` returned.
        """
        return self._stack.enter_context(context)

    def in_thread(self, function: Callable[..., T], *args: Any, name: str) -> Background[T]:
        """Start ``function(*args)`` in a background thread.

        Parameters
        ----------
        function : callable
            The work.
        *args
            Its arguments.
        name : str
            The thread's name.

        Returns
        -------
        Background
        """
        return Background(function, *args, name=name)

    def in_child(self, function: Callable[..., T], *args: Any) -> Future[T]:
        """Run ``function(*args)`` in the spawned child process (started on first use).

        Parameters
        ----------
        function : callable
            A module-level function.
        *args
            Its (picklable) arguments.

        Returns
        -------
        concurrent.futures.Future
        """
        if self._child is None:
            child = ChildProcess()
            self._stack.callback(child.close, cancel=True)
            self._child = child
        return self._child.submit(function, *args)
