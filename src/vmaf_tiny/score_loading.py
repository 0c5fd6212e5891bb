"""A model loaded in a thread beside the libvmaf pass: the sidecar now, the session later.

:func:`start_loading` resolves the model and reads its sidecar at once (so routing and every
user error come before the pass), then runs the load-time checks and builds the ONNX Runtime
session in a thread while the caller probes the videos and runs libvmaf. :class:`Loading` hands
back the loaded model, or re-raises the load's error in the caller's thread. Used by
:func:`vmaf_tiny.scoring.score` and :func:`vmaf_tiny.fast.score_fast`.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from vmaf_tiny.bounds import check_threads
from vmaf_tiny.session import LoadedModel, load_guarded, load_model

__all__ = ["Loading", "start_loading"]


_T = TypeVar("_T")


class _Background(Generic[_T]):
    """A call running in a thread: its result, or its exception re-raised in the caller."""

    def __init__(self, fn: Callable[[], _T]) -> None:
        self._fn = fn
        self._value: _T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="vmaf-tiny-load", daemon=False)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._fn()
        except BaseException as exc:  # re-raised in the caller's thread
            self._error = exc

    @property
    def failed(self) -> bool:
        return not self._thread.is_alive() and self._error is not None

    def result(self) -> _T:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]

    def wait(self) -> None:
        self._thread.join()


@dataclass
class Loading:
    """A model on its way in: the sidecar now (routing and early errors), the session later."""

    sidecar: dict[str, Any]
    model_id: str
    _done: LoadedModel | None = None
    _job: _Background[LoadedModel] | None = None

    def result(self) -> LoadedModel:
        if self._job is not None:
            self._done, self._job = self._job.result(), None
        if self._done is None:  # pragma: no cover - one of the two is always set
            raise RuntimeError("no model was loaded")
        return self._done

    def raise_if_failed(self) -> None:
        """Raise the load error now if the load has already failed (else keep going)."""
        if self._job is not None and self._job.failed:
            self.result()

    def wait_quietly(self) -> None:
        """Let a load in flight finish (on an error path: its own error is not the news)."""
        if self._job is not None:
            self._job.wait()


def _no_vfork() -> None:
    """Spawn ffmpeg with fork, not vfork, while a loading thread runs beside it.

    With vfork the child borrows the parent's address space until it execs; a thread mapping
    and unmapping memory meanwhile (the load imports numpy, onnx and onnxruntime) was seen to
    make ffmpeg's exec fail now and then with EFAULT ("Bad address"). fork costs a few
    milliseconds more for a process of this size.
    """
    if getattr(subprocess, "_USE_VFORK", False):
        subprocess._USE_VFORK = False  # type: ignore[misc]


def start_loading(
    model: str | os.PathLike[str] | LoadedModel, *, backend: str, threads: int, int8: bool
) -> Loading:
    """Resolve the model and check its sidecar here; run the rest of the load beside the caller.

    The whole-process cost of ``vmaf-tiny score`` is mostly imports (numpy, onnx, onnxruntime)
    and the load-time checks; they run in a thread while the caller probes the videos and runs
    the libvmaf pass (a subprocess), so they add little to the wall time. Everything a user can
    get wrong (unknown id, no int8 file, a bad sidecar, the wrong kind of model, a bad backend
    or thread count) is raised before the pass; a model file that fails its graph checks (or
    that ONNX Runtime refuses) is raised as soon as known, and at the latest when the pass ends.
    An explicit ``cuda``/``openvino`` backend loads first (its provider may be missing).
    """
    check_threads(threads)  # libvmaf's n_threads too, even for a model loaded already
    if isinstance(model, LoadedModel):
        return Loading(sidecar=model.sidecar, model_id=model.model_id, _done=model)
    if backend not in ("auto", "cpu"):
        lm = load_model(model, backend=backend, threads=threads, int8=int8)
        return Loading(sidecar=lm.sidecar, model_id=lm.model_id, _done=lm)
    from vmaf_tiny.guard_sidecar import read_sidecar
    from vmaf_tiny.registry import resolve_model

    ref = resolve_model(model, int8=int8)
    sidecar = read_sidecar(ref.onnx, sidecar=ref.sidecar)
    _no_vfork()
    job = _Background(
        lambda: load_guarded(
            ref.onnx,
            sidecar=ref.sidecar,
            expected_sha256=ref.sha256,
            model_id=ref.model_id,
            backend=backend,
            threads=threads,
        )
    )
    return Loading(sidecar=sidecar, model_id=ref.model_id or str(sidecar["id"]), _job=job)
