"""One executor interface for independent work items; the runtime's executors: serial and a
standard-library process pool.

Work items (scoring many pairs here; corpus encodes, feature extraction, LOSO folds and seed
sweeps in the toolkit) go through an :class:`Executor`. The runtime's :func:`make_executor` gives
``--serial`` (this process) or a local process pool, so a runtime-only ``pip install vmaf-tiny``
batches too; ``$VMAF_TINY_EXECUTOR`` (``serial`` or ``pool``) overrides the default. Dask (a local
cluster or an existing scheduler) is the toolkit's: :mod:`vmaf_train.parallel` adds a Dask
executor behind the same interface, so the same code runs on a laptop and on a cluster.

A failing item never stops the others: its exception is caught where it ran and comes back as an
:class:`Outcome` with ``error`` set; a worker process that dies takes only its own item with it.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from concurrent import futures as _cf
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Generic, TypeVar

from vmaf_tiny.console import make_progress
from vmaf_tiny.errors import VmafTinyError
from vmaf_tiny.fsutil import signals_ignored

__all__ = [
    "Executor",
    "Outcome",
    "PoolExecutor",
    "SerialExecutor",
    "call_item",
    "default_workers",
    "describe_error",
    "executor_kind",
    "make_executor",
    "stop_pool",
]

T = TypeVar("T")
R = TypeVar("R")

#: Environment variable that picks the executor when no option does: serial, pool or dask.
ENV_EXECUTOR = "VMAF_TINY_EXECUTOR"
KINDS: tuple[str, ...] = ("serial", "pool")


@dataclass(frozen=True)
class Outcome(Generic[T, R]):
    """The result of one work item.

    Attributes:
        index: Position of the item in the input sequence.
        item: The item itself.
        value: What the function returned (None on failure).
        error: One-line error (``Type: message``) if the function raised, else None.
        seconds: Wall time spent on the item where it ran.
    """

    index: int
    item: T
    value: R | None
    error: str | None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, VmafTinyError):
        return str(exc)
    msg = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {msg}"[:1000]


def call_item(fn: Callable[[Any], Any], item: Any) -> tuple[Any, str | None, float]:
    """Run one item, capturing any exception as a one-line string (runs on the worker)."""
    t0 = time.perf_counter()
    try:
        return fn(item), None, time.perf_counter() - t0
    except Exception as exc:  # a failing item must not stop the others
        return None, describe_error(exc), time.perf_counter() - t0


def default_workers() -> int:
    """Workers for a local cluster: the machine's cores (at least 1)."""
    return max(1, os.cpu_count() or 1)


class Executor(ABC):
    """Runs ``fn`` over items, yielding :class:`Outcome` objects as they finish."""

    name: str = "executor"

    @abstractmethod
    def imap(
        self,
        fn: Callable[[T], R],
        items: Sequence[T],
        *,
        label: str = "items",
        progress: bool = True,
    ) -> Iterator[Outcome[T, R]]:
        """Yield outcomes in completion order (``Outcome.index`` says which item)."""

    def map(
        self,
        fn: Callable[[T], R],
        items: Sequence[T],
        *,
        label: str = "items",
        progress: bool = True,
    ) -> list[Outcome[T, R]]:
        """Run all items and return outcomes in input order."""
        out = list(self.imap(fn, items, label=label, progress=progress))
        out.sort(key=lambda o: o.index)
        return out

    def describe(self) -> str:
        return self.name

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (a local cluster)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class SerialExecutor(Executor):
    """Runs items one after another in this process."""

    name = "serial"

    def imap(
        self,
        fn: Callable[[T], R],
        items: Sequence[T],
        *,
        label: str = "items",
        progress: bool = True,
    ) -> Iterator[Outcome[T, R]]:
        with make_progress(enabled=progress) as bar:
            task = bar.add_task(label, total=len(items))
            for i, item in enumerate(items):
                value, error, secs = call_item(fn, item)
                bar.advance(task)
                yield Outcome(i, item, value, error, secs)


class PoolExecutor(Executor):
    """Runs items in a local pool of worker processes (standard library, no Dask needed).

    Workers are started with ``spawn`` (no state forked from this process, the same on every
    platform), so ``fn`` and the items must be picklable and ``fn`` importable (a module-level
    function), as for Dask. Each worker runs one item at a time.

    If a worker process dies (killed, out of memory), Python fails every unfinished item of the
    pool; those are rerun one at a time in a fresh pool, so only the item that kills its worker
    again comes back as ``worker lost`` and the others finish.

    Args:
        workers: Worker processes (default: the machine's cores).
    """

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or default_workers()
        self.name = f"local process pool ({self.workers} workers)"
        self._pool: _cf.ProcessPoolExecutor | None = None

    def imap(
        self,
        fn: Callable[[T], R],
        items: Sequence[T],
        *,
        label: str = "items",
        progress: bool = True,
    ) -> Iterator[Outcome[T, R]]:
        if not items:
            return
        if self._pool is None:  # workers start on demand, at most one per item
            self._pool = _spawn_pool(self.workers)
        with make_progress(enabled=progress) as bar:
            task = bar.add_task(label, total=len(items))
            pending = {self._pool.submit(call_item, fn, item): i for i, item in enumerate(items)}
            lost: list[int] = []
            while pending:
                done, _ = _cf.wait(pending, return_when=_cf.FIRST_COMPLETED)
                for fut in done:
                    i = pending.pop(fut)
                    try:
                        value, error, secs = fut.result()
                    except BrokenProcessPool:
                        lost.append(i)  # this item or another one killed a worker: rerun below
                        continue
                    except Exception as exc:  # fn or its result could not be pickled
                        value, error, secs = None, describe_error(exc), 0.0
                    bar.advance(task)
                    yield Outcome(i, items[i], value, error, secs)
            if not lost:
                return
            self.close()  # broken for good
            # One at a time in a one-worker pool: a crash now can only be this item's own.
            solo: _cf.ProcessPoolExecutor | None = None
            try:
                for i in sorted(lost):
                    solo = solo or _spawn_pool(1)
                    try:
                        value, error, secs = solo.submit(call_item, fn, items[i]).result()
                    except BrokenProcessPool as exc:
                        value, error, secs = None, f"worker lost: {describe_error(exc)}", 0.0
                        stop_pool(solo)
                        solo = None
                    except Exception as exc:
                        value, error, secs = None, describe_error(exc), 0.0
                    bar.advance(task)
                    yield Outcome(i, items[i], value, error, secs)
            finally:
                if solo is not None:
                    stop_pool(solo)

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            stop_pool(pool)


#: Seconds :func:`stop_pool` lets workers finish their items and exit before it sends them
#: SIGTERM, then again before SIGKILL.
STOP_GRACE_S = 10.0


def stop_pool(pool: _cf.ProcessPoolExecutor, grace: float | None = None) -> None:
    """Shut a process pool down without ever hanging on a worker that will not stop.

    Queued items are cancelled and idle workers exit at once. A worker still busy after
    ``grace`` seconds gets SIGTERM (the runtime's items unwind on it and remove their temporary
    files), and SIGKILL after as long again. Once every worker has exited, the pool's temporary
    directory goes, with whatever a killed worker left in it. ``shutdown(wait=True)`` alone can
    wait forever: when a worker dies while it holds the pool's call-queue lock (SIGTERM to the
    whole process group can land while it waits for an item), a sibling blocks on that lock and
    Python's own clean-up joins it without end. A second Ctrl-C or SIGTERM while this waits
    gives the workers one second after SIGTERM, then SIGKILL (those signals ignored meanwhile),
    and goes on unwinding.

    Args:
        pool: The pool; unusable afterwards.
        grace: Seconds for each step (default :data:`STOP_GRACE_S`).
    """
    wait_s = STOP_GRACE_S if grace is None else grace
    # The pool forgets its processes and manager thread on shutdown: keep them to join here.
    procs = list((getattr(pool, "_processes", None) or {}).values())
    manager = getattr(pool, "_executor_manager_thread", None)
    try:
        pool.shutdown(wait=False, cancel_futures=True)
        for step in ("terminate", "kill", None):
            _join_all(procs, wait_s)
            alive = [proc for proc in procs if proc.is_alive()]
            if not alive or step is None:
                break
            for proc in alive:
                getattr(proc, step)()
    except BaseException:  # interrupted again: a second to clean up, then SIGKILL
        with signals_ignored():
            for step in ("terminate", "kill"):
                for proc in procs:
                    if proc.is_alive():
                        getattr(proc, step)()
                _join_all(procs, min(wait_s, 1.0) if step == "terminate" else wait_s)
            if manager is not None:
                manager.join(wait_s)
            _remove_tempdir(pool, procs)
        raise
    if manager is not None:
        manager.join(wait_s)
    _remove_tempdir(pool, procs)


def _join_all(procs: Sequence[Any], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    for proc in procs:
        proc.join(max(0.0, deadline - time.monotonic()))


def _spawn_pool(workers: int) -> _cf.ProcessPoolExecutor:
    tmp = tempfile.mkdtemp(prefix="vmaf-tiny-pool-")
    pool = _cf.ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_use_tempdir,
        initargs=(tmp,),
    )
    pool._vmaf_tiny_tmp = tmp  # type: ignore[attr-defined]
    return pool


def _use_tempdir(path: str) -> None:
    """Worker initializer: the worker's temporary files (and its ffmpeg's) go under the pool's
    own directory, which :func:`stop_pool` removes once every worker has exited, so what a
    killed worker could not clean up goes too."""
    os.environ["TMPDIR"] = path
    tempfile.tempdir = path


def _remove_tempdir(pool: _cf.ProcessPoolExecutor, procs: Sequence[Any]) -> None:
    tmp = getattr(pool, "_vmaf_tiny_tmp", None)
    if tmp and not any(proc.is_alive() for proc in procs):
        shutil.rmtree(tmp, ignore_errors=True)


def make_executor(
    *,
    serial: bool = False,
    workers: int | None = None,
    kind: str | None = None,
) -> Executor:
    """Build the runtime executor the CLI options ask for (standard library only).

    ``serial`` -> this process; otherwise ``kind``, else ``$VMAF_TINY_EXECUTOR``, else a local
    process pool. Dask executors (a local cluster, an existing scheduler) are the toolkit's:
    :func:`vmaf_train.parallel.make_executor`.

    Args:
        serial: Run in this process, one item at a time.
        workers: Pool worker processes (default: the machine's cores; at most
            :data:`vmaf_tiny.bounds.MAX_WORKERS`).
        kind: ``serial`` or ``pool`` (default: ``$VMAF_TINY_EXECUTOR``, else ``pool``).

    Raises:
        BadInputError: an unknown kind, a worker count out of range, or one with ``serial``.
    """
    chosen = executor_kind(serial=serial, workers=workers, kind=kind, kinds=KINDS)
    if chosen == "serial":
        return SerialExecutor()
    return PoolExecutor(workers=workers)


def executor_kind(
    *, serial: bool, workers: int | None, kind: str | None, kinds: Sequence[str]
) -> str | None:
    """The executor kind asked for (``serial`` wins, then ``kind``, then the environment), or
    None for "the caller's default"; the worker count is checked on the way.

    Raises:
        BadInputError: an unknown kind, a worker count out of range, or one with ``serial``.
    """
    from vmaf_tiny.bounds import check_workers
    from vmaf_tiny.errors import BadInputError

    if workers is not None:
        check_workers(workers)
    if serial:
        if workers is not None:
            raise BadInputError("--serial runs one item at a time in this process: drop --workers")
        return "serial"
    chosen = kind or os.environ.get(ENV_EXECUTOR, "").strip().lower() or None
    if chosen is not None and chosen not in kinds:
        source = "kind" if kind else f"${ENV_EXECUTOR}"
        raise BadInputError(f"{source} must be one of {', '.join(kinds)}, got {chosen!r}")
    return chosen if chosen is not None else ("pool" if "dask" not in kinds else None)
