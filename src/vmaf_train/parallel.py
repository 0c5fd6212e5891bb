"""The toolkit's executors: the runtime's serial and process-pool executors plus Dask.

:func:`make_executor` is what every ``vmaf-train`` command (and ``vmaf-train score-pairs``) uses:
``--scheduler`` -> that Dask scheduler; ``--serial`` -> this process; otherwise ``kind``, else
``$VMAF_TINY_EXECUTOR`` (``serial``, ``pool`` or ``dask``), else a local Dask cluster (Dask comes
with the ``train`` extra) or, where it is missing, the local process pool. The runtime
(:mod:`vmaf_tiny.parallel`) never imports Dask.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from vmaf_tiny.console import make_progress
from vmaf_tiny.errors import BadInputError, MissingToolError
from vmaf_tiny.parallel import (
    Executor,
    Outcome,
    PoolExecutor,
    SerialExecutor,
    call_item,
    default_workers,
    describe_error,
    executor_kind,
)

__all__ = [
    "KINDS",
    "DaskExecutor",
    "Executor",
    "Outcome",
    "PoolExecutor",
    "SerialExecutor",
    "dask_available",
    "make_executor",
]

T = TypeVar("T")
R = TypeVar("R")

KINDS: tuple[str, ...] = ("serial", "pool", "dask")


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
            # Workers ignore SIGINT (vmaf_train.dask_worker_setup): a terminal's Ctrl-C reaches
            # the whole process group, and only this process should handle it (it closes the
            # cluster); the workers would each print a traceback.
            try:
                self._cluster = LocalCluster(
                    n_workers=self.workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",  # random free port; never collide
                    silence_logs=logging.ERROR,
                    preload=["vmaf_train.dask_worker_setup"],
                )
                self._client = Client(self._cluster)
            except BaseException:  # Ctrl-C during start-up: no cluster left behind
                if self._cluster is not None:
                    self._cluster.close()
                raise
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
        futures = self._client.map(call_item, [fn] * len(items), list(items), pure=False, retries=0)
        index = {f.key: i for i, f in enumerate(futures)}
        with make_progress(enabled=progress) as bar:
            task = bar.add_task(label, total=len(items))
            for fut in as_completed(futures):
                i = index[fut.key]
                try:
                    value, error, secs = fut.result()
                except Exception as exc:  # the worker died (killed, out of memory)
                    value, error, secs = None, f"worker lost: {describe_error(exc)}", 0.0
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
    """Build the executor the CLI options ask for (see the module docstring for the order).

    Args:
        serial: Run in this process, one item at a time.
        workers: Local worker processes, Dask or pool (default: the machine's cores; at most
            :data:`vmaf_tiny.bounds.MAX_WORKERS`).
        scheduler: Existing Dask scheduler address; overrides ``workers``.
        kind: ``serial``, ``pool`` or ``dask`` (default: automatic).

    Raises:
        BadInputError: contradictory options, an unknown kind or a worker count out of range.
        MissingToolError: Dask asked for (``scheduler`` or ``kind="dask"``) but not installed.
    """
    if serial and scheduler:
        raise BadInputError("--serial and --scheduler cannot be combined")
    chosen = executor_kind(serial=serial, workers=workers, kind=kind, kinds=KINDS)
    if scheduler:
        return DaskExecutor(scheduler=scheduler)
    if chosen is None:
        chosen = "dask" if dask_available() else "pool"
    if chosen == "serial":
        return SerialExecutor()
    if chosen == "pool":
        return PoolExecutor(workers=workers)
    return DaskExecutor(workers=workers)
