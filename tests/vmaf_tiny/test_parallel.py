"""The executor interface: which executor the options pick, and the standard-library pool.

The pool runs real worker processes (spawned, as in production); the work function lives at
module level here so the workers can import it.
"""

from __future__ import annotations

import os
import signal
import tempfile
import threading
import time
from pathlib import Path

import pytest

from vmaf_tiny import parallel
from vmaf_tiny.errors import BadInputError
from vmaf_tiny.parallel import (
    ENV_EXECUTOR,
    PoolExecutor,
    SerialExecutor,
    make_executor,
)
from vmaf_train import parallel as train_parallel


def work(item: int) -> tuple[int, int]:
    """Square the item in the worker; 3 raises, -1 kills its worker process outright."""
    if item == 3:
        raise ValueError(f"item {item} is bad")
    if item == -1:
        os._exit(7)  # a worker that dies (as if killed or out of memory)
    if item == -2:  # a worker that will not stop: deaf to SIGTERM, busy for minutes
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        tempfile.mkdtemp(prefix="vmaf-tiny-")  # what a killed worker cannot remove
        time.sleep(300)
    return item * item, os.getpid()


def test_pool_runs_items_in_worker_processes_and_keeps_going_after_a_failure() -> None:
    with make_executor(kind="pool", workers=2) as ex:
        assert isinstance(ex, PoolExecutor)
        assert ex.describe() == "local process pool (2 workers)"
        outcomes = ex.map(work, [0, 1, 2, 3, 4, 5], label="squares", progress=False)
        again = ex.map(work, [6], progress=False)  # the pool is reused across calls
        pool_tmp = Path(ex._pool._vmaf_tiny_tmp)  # type: ignore[union-attr]
        assert pool_tmp.is_dir()
    assert not pool_tmp.exists()
    assert [o.index for o in outcomes] == [0, 1, 2, 3, 4, 5]
    assert [o.value[0] if o.value else None for o in outcomes] == [0, 1, 4, None, 16, 25]
    bad = outcomes[3]
    assert not bad.ok and bad.error == "ValueError: item 3 is bad" and bad.item == 3
    pids = {o.value[1] for o in outcomes if o.value}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2
    assert all(o.seconds >= 0 for o in outcomes)
    assert again[0].ok and again[0].value is not None and again[0].value[0] == 36


def test_pool_worker_that_dies_loses_only_its_own_item() -> None:
    with make_executor(kind="pool", workers=2) as ex:
        outcomes = ex.map(work, [1, -1, 2, 4], progress=False)
        after = ex.map(work, [5], progress=False)  # a fresh pool after the broken one
    by_item = {o.item: o for o in outcomes}
    assert by_item[-1].error is not None and by_item[-1].error.startswith("worker lost: ")
    assert [by_item[i].value[0] for i in (1, 2, 4) if by_item[i].value] == [1, 4, 16]
    assert after[0].value is not None and after[0].value[0] == 25


def test_pool_close_never_hangs_on_a_worker_that_will_not_stop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A worker that ignores SIGTERM is killed after the grace periods; none is left behind.

    (``shutdown(wait=True)`` would wait the item's 300 s; the same escalation ends the CPython
    deadlock where a worker blocks on a call-queue lock that a dead sibling held.)
    """
    monkeypatch.setattr(parallel, "STOP_GRACE_S", 1.0)
    ex = PoolExecutor(workers=2)
    outcomes = ex.imap(work, [-2, 1], progress=False)
    assert next(outcomes).item == 1
    time.sleep(0.5)  # the other worker is inside item -2, SIGTERM ignored
    assert ex._pool is not None
    procs = list(ex._pool._processes.values())  # type: ignore[attr-defined]
    pool_tmp = Path(ex._pool._vmaf_tiny_tmp)  # type: ignore[attr-defined]
    assert [p.name[:10] for p in pool_tmp.iterdir()] == ["vmaf-tiny-"]  # the worker's own
    outcomes.close()
    started = time.monotonic()
    ex.close()
    assert time.monotonic() - started < 15
    assert not any(p.is_alive() for p in procs)
    assert any(p.exitcode == -signal.SIGKILL for p in procs)
    assert not pool_tmp.exists()  # swept with the killed worker's leftovers


def test_pool_close_interrupted_again_stops_the_workers_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A second signal while close() waits (here SIGUSR1 raising, as SIGTERM's handler raises
    SystemExit) ends the wait: the stuck worker is killed and the signal's exception goes on."""
    monkeypatch.setattr(parallel, "STOP_GRACE_S", 30.0)

    def second_signal(signum: int, frame: object) -> None:
        raise RuntimeError("second signal")

    old = signal.signal(signal.SIGUSR1, second_signal)
    ex = PoolExecutor(workers=2)
    try:
        outcomes = ex.imap(work, [-2, 1], progress=False)
        assert next(outcomes).item == 1
        time.sleep(0.5)
        assert ex._pool is not None
        procs = list(ex._pool._processes.values())  # type: ignore[attr-defined]
        pool_tmp = Path(ex._pool._vmaf_tiny_tmp)  # type: ignore[attr-defined]
        outcomes.close()
        timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGUSR1))
        timer.start()
        started = time.monotonic()
        with pytest.raises(RuntimeError, match="second signal"):
            ex.close()
        assert time.monotonic() - started < 10
    finally:
        signal.signal(signal.SIGUSR1, old)
    assert not any(p.is_alive() for p in procs) and not pool_tmp.exists()
    assert signal.getsignal(signal.SIGTERM) is not signal.SIG_IGN  # handlers restored


def test_pool_with_no_items_starts_nothing() -> None:
    ex = PoolExecutor(workers=1)
    assert ex.map(work, []) == []
    assert ex._pool is None
    ex.close()


def test_selection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_EXECUTOR, raising=False)
    assert isinstance(make_executor(serial=True), SerialExecutor)
    assert isinstance(make_executor(kind="serial"), SerialExecutor)
    with make_executor(kind="pool", workers=3) as ex:
        assert isinstance(ex, PoolExecutor) and ex.workers == 3
    monkeypatch.setenv(ENV_EXECUTOR, "pool")
    assert isinstance(make_executor(), PoolExecutor)
    assert isinstance(make_executor(serial=True), SerialExecutor)  # the option wins
    monkeypatch.setenv(ENV_EXECUTOR, "Serial")
    assert isinstance(make_executor(), SerialExecutor)
    monkeypatch.setenv(ENV_EXECUTOR, "threads")
    with pytest.raises(BadInputError, match=r"VMAF_TINY_EXECUTOR must be one of serial, pool"):
        make_executor()
    monkeypatch.setenv(ENV_EXECUTOR, "dask")  # the runtime has no Dask executor
    with pytest.raises(BadInputError, match=r"VMAF_TINY_EXECUTOR must be one of serial, pool,"):
        make_executor()
    monkeypatch.delenv(ENV_EXECUTOR)
    assert isinstance(make_executor(), PoolExecutor)  # the runtime's default
    with pytest.raises(BadInputError, match="cannot be combined"):
        train_parallel.make_executor(serial=True, scheduler="tcp://127.0.0.1:1")


def test_toolkit_default_is_dask_where_installed_else_pool(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parallel = train_parallel
    monkeypatch.delenv(ENV_EXECUTOR, raising=False)
    monkeypatch.setattr(parallel, "dask_available", lambda: False)
    assert isinstance(parallel.make_executor(workers=2), PoolExecutor)
    if not parallel.importlib.util.find_spec("distributed"):
        pytest.skip("dask is not installed here")
    monkeypatch.undo()
    monkeypatch.delenv(ENV_EXECUTOR, raising=False)
    with parallel.make_executor(workers=1) as ex:
        assert isinstance(ex, parallel.DaskExecutor) and ex.describe() == "local dask (1 workers)"
