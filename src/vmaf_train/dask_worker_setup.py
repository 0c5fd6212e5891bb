"""Preloaded into every local Dask worker process (``LocalCluster(preload=[...])``, see
:mod:`vmaf_train.parallel`): the worker ignores SIGINT.

A terminal's Ctrl-C reaches the whole process group. The command that owns the cluster handles
it (it closes the cluster and exits 130); without this each worker would also print a
``KeyboardInterrupt`` traceback.
"""

from __future__ import annotations

import signal
import threading


def dask_setup(worker: object) -> None:
    """Dask's preload hook: ignore SIGINT in this worker process (from its main thread)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
