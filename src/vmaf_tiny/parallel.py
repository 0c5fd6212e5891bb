"""One executor interface for independent work items: serial, local Dask, or a remote scheduler.

Work items (corpus encodes, feature extraction over many pairs, LOSO folds, seed sweeps, scoring
many pairs) go through :func:`make_executor`. The same code runs on a laptop (serial or a local
Dask cluster, the default) and on an existing cluster (``--scheduler tcp://host:8786``).

Dask is imported only when a Dask executor is made, so the runtime package stays light: a plain
``pip install vmaf-tiny`` can score serially; Dask comes with the ``train`` extra.

A failing item never stops the others: its exception is caught where it ran and comes back as an
:class:`Outcome` with ``error`` set.
"""

from __future__ import annotations

import logging
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Generic, TypeVar

from vmaf_tiny.console import make_progress
from vmaf_tiny.errors import MissingToolError, VmafTinyError

__all__ = [
    "DaskExecutor",
    "Executor",
    "Outcome",
    "SerialExecutor",
    "default_workers",
    "make_executor",
]

T = TypeVar("T")
R = TypeVar("R")


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
                "Dask is not installed: pip install 'vmaf-tiny[train]' (or use --serial)"
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


def make_executor(
    *, serial: bool = False, workers: int | None = None, scheduler: str | None = None
) -> Executor:
    """Build the executor the CLI options ask for.

    Args:
        serial: Run in this process, one item at a time.
        workers: Local Dask cluster size (default: the machine's cores).
        scheduler: Existing Dask scheduler address; overrides ``workers``.
    """
    if serial and scheduler:
        from vmaf_tiny.errors import BadInputError

        raise BadInputError("--serial and --scheduler cannot be combined")
    if serial:
        return SerialExecutor()
    return DaskExecutor(workers=workers, scheduler=scheduler)
