"""One executor interface for independent work items: serial, a local process pool, local Dask,
or a remote Dask scheduler.

Work items (corpus encodes, feature extraction over many pairs, LOSO folds, seed sweeps, scoring
many pairs) go through :func:`make_executor`. The same code runs on a laptop and on an existing
cluster (``--scheduler tcp://host:8786``) without new code.

Which executor runs (:func:`make_executor`): ``--scheduler`` -> that Dask scheduler; ``--serial``
-> this process; otherwise a local Dask cluster where Dask is installed (``vmaf-train`` always has
it), else a standard-library process pool, so a runtime-only ``pip install vmaf-tiny`` batches too.
``$VMAF_TINY_EXECUTOR`` (``serial``, ``pool`` or ``dask``) overrides the automatic choice. Dask is
imported only when a Dask executor is made; the runtime never needs it.

A failing item never stops the others: its exception is caught where it ran and comes back as an
:class:`Outcome` with ``error`` set; a worker process that dies takes only its own item with it.
"""

from __future__ import annotations

import importlib.util
import logging
import multiprocessing
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from concurrent import futures as _cf
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Generic, TypeVar

from vmaf_tiny.console import make_progress
from vmaf_tiny.errors import MissingToolError, VmafTinyError

__all__ = [
    "DaskExecutor",
    "Executor",
    "Outcome",
    "PoolExecutor",
    "SerialExecutor",
    "dask_available",
    "default_workers",
    "make_executor",
]

T = TypeVar("T")
R = TypeVar("R")

#: Environment variable that picks the executor when no option does: serial, pool or dask.
ENV_EXECUTOR = "VMAF_TINY_EXECUTOR"
KINDS: tuple[str, ...] = ("serial", "pool", "dask")


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


def _describe(exc: BaseException) -> str:
    if isinstance(exc, VmafTinyError):
        return str(exc)
    msg = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {msg}"[:1000]


def _call(fn: Callable[[Any], Any], item: Any) -> tuple[Any, str | None, float]:
    """Run one item, capturing any exception as a one-line string (runs on the worker)."""
    t0 = time.perf_counter()
    try:
        return fn(item), None, time.perf_counter() - t0
    except Exception as exc:  # a failing item must not stop the others
        return None, _describe(exc), time.perf_counter() - t0


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
                value, error, secs = _call(fn, item)
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
            pending = {self._pool.submit(_call, fn, item): i for i, item in enumerate(items)}
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
                        value, error, secs = None, _describe(exc), 0.0
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
                        value, error, secs = solo.submit(_call, fn, items[i]).result()
                    except BrokenProcessPool as exc:
                        value, error, secs = None, f"worker lost: {_describe(exc)}", 0.0
                        solo.shutdown(wait=True)
                        solo = None
                    except Exception as exc:
                        value, error, secs = None, _describe(exc), 0.0
                    bar.advance(task)
                    yield Outcome(i, items[i], value, error, secs)
            finally:
                if solo is not None:
                    solo.shutdown(wait=True)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _spawn_pool(workers: int) -> _cf.ProcessPoolExecutor:
    return _cf.ProcessPoolExecutor(
        max_workers=workers, mp_context=multiprocessing.get_context("spawn")
    )


class DaskExecutor(Executor):
    """Runs items on Dask: a local cluster of single-threaded worker processes, or a scheduler.

    Args:
        workers: Worker processes for a local cluster (ignored with ``scheduler``).
        scheduler: Address of an existing scheduler (``tcp://host:8786``); None starts a local
            cluster that lives as long as this executor.
    """

    def __init__(self, workers: int | None = None, scheduler: str | None = None) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:
            raise MissingToolError(
                "Dask is not installed: pip install 'vmaf-tiny[train]' "
                "(or drop --scheduler to use the local process pool)"
            ) from exc
        self.workers = workers or default_workers()
        self.scheduler = scheduler
        self._cluster: Any = None
        if scheduler:
            try:
                self._client = Client(scheduler, timeout="10s")
            except OSError as exc:
                raise MissingToolError(f"cannot reach Dask scheduler {scheduler}: {exc}") from exc
            self.name = f"dask scheduler {scheduler}"
        else:
            # One thread per worker process: encoders and libvmaf are single-threaded on purpose
            # (Dask's nanny already sets OMP/MKL/OPENBLAS threads to 1 in each worker).
            self._cluster = LocalCluster(
                n_workers=self.workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",  # random free port; never collide
                silence_logs=logging.ERROR,
            )
            self._client = Client(self._cluster)
            self.name = f"local dask ({self.workers} workers)"

    def imap(
        self,
        fn: Callable[[T], R],
        items: Sequence[T],
        *,
        label: str = "items",
        progress: bool = True,
    ) -> Iterator[Outcome[T, R]]:
        from distributed import as_completed

        if not items:
            return
        futures = self._client.map(_call, [fn] * len(items), list(items), pure=False, retries=0)
        index = {f.key: i for i, f in enumerate(futures)}
        with make_progress(enabled=progress) as bar:
            task = bar.add_task(label, total=len(items))
            for fut in as_completed(futures):
                i = index[fut.key]
                try:
                    value, error, secs = fut.result()
                except Exception as exc:  # the worker died (killed, out of memory)
                    value, error, secs = None, f"worker lost: {_describe(exc)}", 0.0
                bar.advance(task)
                fut.release()
                yield Outcome(i, items[i], value, error, secs)

    def close(self) -> None:
        try:
            self._client.close()
        finally:
            if self._cluster is not None:
                self._cluster.close()


def dask_available() -> bool:
    """Whether ``dask.distributed`` can be imported here (checked without importing it)."""
    try:
        return importlib.util.find_spec("distributed") is not None
    except (ImportError, ValueError):  # pragma: no cover - a broken install
        return False


def make_executor(
    *,
    serial: bool = False,
    workers: int | None = None,
    scheduler: str | None = None,
    kind: str | None = None,
) -> Executor:
    """Build the executor the CLI options ask for.

    ``scheduler`` -> Dask on that scheduler; ``serial`` -> this process; otherwise ``kind``, else
    ``$VMAF_TINY_EXECUTOR``, else a local Dask cluster where Dask is installed and a local process
    pool where it is not.

    Args:
        serial: Run in this process, one item at a time.
        workers: Local worker processes, Dask or pool (default: the machine's cores; at most
            :data:`vmaf_tiny.bounds.MAX_WORKERS`).
        scheduler: Existing Dask scheduler address; overrides ``workers``.
        kind: ``serial``, ``pool`` or ``dask`` (default: automatic, as above).

    Raises:
        BadInputError: contradictory options, an unknown kind or a worker count out of range.
        MissingToolError: Dask asked for (``scheduler`` or ``kind="dask"``) but not installed.
    """
    from vmaf_tiny.errors import BadInputError

    if serial and scheduler:
        raise BadInputError("--serial and --scheduler cannot be combined")
    if workers is not None:
        from vmaf_tiny.bounds import check_workers

        workers = check_workers(workers)
    if scheduler:
        return DaskExecutor(scheduler=scheduler)
    if serial:
        return SerialExecutor()
    chosen = kind or os.environ.get(ENV_EXECUTOR, "").strip().lower() or None
    if chosen is not None and chosen not in KINDS:
        source = "kind" if kind else f"${ENV_EXECUTOR}"
        raise BadInputError(f"{source} must be one of {', '.join(KINDS)}, got {chosen!r}")
    if chosen is None:
        chosen = "dask" if dask_available() else "pool"
    if chosen == "serial":
        return SerialExecutor()
    if chosen == "pool":
        return PoolExecutor(workers=workers)
    return DaskExecutor(workers=workers)
