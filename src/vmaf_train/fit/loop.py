"""The one fit loop and its plumbing: determinism, run start-up, the loop, the run directory.

A run directory has the layout ``vmaf-train register`` reads: ``config.json`` (the resolved
recipe), ``metrics.json`` (test/val metrics, splits, training summary, provenance, latency),
``model.onnx`` with its sidecar ``model.json``, optionally ``model.int8.onnx`` with its gate
report, plus ``report.json`` (pixel-model specific results for the card) and
``predictions.parquet``.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import numpy as np
import torch

from vmaf_tiny.console import err_console
from vmaf_tiny.errors import BadInputError
from vmaf_tiny.fsutil import atomic_write_json
from vmaf_train.provenance import git_commit

__all__ = [
    "Determinism",
    "FitResult",
    "RunStart",
    "clean_json",
    "fit_loop",
    "git_commit",
    "nonfinite_path",
    "run_metrics",
    "start_run",
    "write_run",
]


def clean_json(obj: Any) -> Any:
    """Non-finite floats -> None (strict JSON), numpy scalars -> Python, recursively."""
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {str(k): clean_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [clean_json(v) for v in obj]
    return obj


def nonfinite_path(obj: Any, path: str = "") -> str | None:
    """The dotted path and value of the first NaN/inf float in nested dicts/lists, or None."""
    if isinstance(obj, float | np.floating):
        return None if np.isfinite(obj) else f"{path or '(value)'} = {float(obj)}"
    if isinstance(obj, dict):
        for k, v in obj.items():
            found = nonfinite_path(v, f"{path}.{k}" if path else str(k))
            if found:
                return found
    elif isinstance(obj, list | tuple):
        for i, v in enumerate(obj):
            found = nonfinite_path(v, f"{path}[{i}]")
            if found:
                return found
    return None


@dataclass(frozen=True)
class Determinism:
    """Deterministic torch for one fit: a seed and a fixed intra-op thread count.

    Attributes:
        seed: Seeds torch's global generator (and the generator :meth:`apply` returns).
        threads: torch intra-op threads (at least 1).
    """

    seed: int
    threads: int = 1

    def apply(self) -> torch.Generator:
        """Seed torch, force deterministic kernels and the thread count (left set); returns a
        generator seeded with ``seed``."""
        torch.manual_seed(int(self.seed))
        torch.use_deterministic_algorithms(True)
        torch.set_num_threads(max(1, int(self.threads)))
        return torch.Generator().manual_seed(int(self.seed))

    @contextlib.contextmanager
    def scoped(self) -> Iterator[None]:
        """As :meth:`apply` inside the block; the previous thread count and determinism flag
        are restored afterwards."""
        prev_threads = torch.get_num_threads()
        prev_det = torch.are_deterministic_algorithms_enabled()
        torch.set_num_threads(self.threads)
        torch.use_deterministic_algorithms(True)
        torch.manual_seed(self.seed)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(prev_det)
            torch.set_num_threads(prev_threads)


_P = ParamSpec("_P")
_R = TypeVar("_R")


def keeps_torch_state(fit: Callable[_P, _R]) -> Callable[_P, _R]:
    """Decorate a fit: torch's determinism flag and thread count are put back afterwards, so a
    fit never changes the caller's global torch state (the seed stays consumed)."""

    @functools.wraps(fit)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        prev_threads = torch.get_num_threads()
        prev_det = torch.are_deterministic_algorithms_enabled()
        try:
            return fit(*args, **kwargs)
        finally:
            torch.use_deterministic_algorithms(prev_det)
            torch.set_num_threads(prev_threads)

    return wrapper


@dataclass
class FitResult:
    """What :func:`fit_loop` did.

    Attributes:
        best_epoch: Epoch (1-based) whose weights were kept (lowest validation loss).
        best_val: Its validation loss.
        epochs: Epochs run.
        steps: Optimiser steps.
        seconds: Wall time.
        history: Per epoch: train loss, val loss, seconds.
        stopped: Why training stopped (``epochs``, ``max_steps``, ``max_minutes``).
    """

    best_epoch: int
    best_val: float
    epochs: int
    steps: int
    seconds: float
    history: list[dict[str, float]] = field(default_factory=list)
    stopped: str = "epochs"


def fit_loop(
    model: torch.nn.Module,
    batches: Callable[[int], Iterator[tuple[torch.Tensor, ...]]],
    loss_fn: Callable[[torch.nn.Module, tuple[torch.Tensor, ...]], torch.Tensor],
    val_fn: Callable[[torch.nn.Module], float],
    params: Mapping[str, Any],
    *,
    label: str = "fit",
    progress: bool = True,
) -> FitResult:
    """Adam with cosine decay; keeps the weights of the epoch with the lowest ``val_fn``.

    Args:
        model: The module (trained in place; ends with the best weights, in eval mode).
        batches: epoch -> iterator of batches (seeded by the caller).
        loss_fn: (model, batch) -> scalar loss.
        val_fn: model (eval mode) -> validation loss (lower is better).
        params: ``epochs``, ``lr``, ``weight_decay``, ``max_steps`` (0: none), ``max_minutes``
            (0: none).
        label: Name shown in the log.
        progress: Log one line per epoch on stderr.
    """
    epochs = int(params["epochs"])
    max_steps = int(params.get("max_steps") or 0)
    max_sec = float(params.get("max_minutes") or 0.0) * 60.0
    opt = torch.optim.AdamW(
        model.parameters(), lr=float(params["lr"]), weight_decay=float(params["weight_decay"])
    )
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, epochs))
    t0 = time.perf_counter()
    best_state = copy.deepcopy(model.state_dict())
    best_val, best_epoch, steps = float("inf"), 0, 0
    history: list[dict[str, float]] = []
    stopped = "epochs"
    epoch = 0
    for epoch in range(1, epochs + 1):
        model.train()
        te = time.perf_counter()
        losses = []
        for batch in batches(epoch):
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model, batch)
            if not bool(torch.isfinite(loss)):
                raise BadInputError(
                    f"{label}: training diverged at epoch {epoch} (loss={float(loss.detach()):g}); "
                    f"lower train.lr (now {float(params['lr']):g})"
                )
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
            steps += 1
            if max_steps and steps >= max_steps:
                stopped = "max_steps"
                break
            if max_sec and time.perf_counter() - t0 > max_sec:
                stopped = "max_minutes"
                break
        sched.step()
        model.eval()
        with torch.no_grad():
            val = float(val_fn(model))
        if not math.isfinite(val):
            raise BadInputError(
                f"{label}: training diverged at epoch {epoch} (validation loss={val:g}); "
                f"lower train.lr (now {float(params['lr']):g})"
            )
        history.append(
            {
                "epoch": float(epoch),
                "train_loss": float(np.mean(losses)) if losses else float("nan"),
                "val_loss": val,
                "seconds": time.perf_counter() - te,
            }
        )
        if progress:
            err_console.print(
                f"{label} epoch {epoch}/{epochs}: train {history[-1]['train_loss']:.5g} "
                f"val {val:.5g} ({history[-1]['seconds']:.1f} s)",
                markup=False,
                highlight=False,
            )
        if val < best_val:
            best_val, best_epoch = val, epoch
            best_state = copy.deepcopy(model.state_dict())
        if stopped != "epochs":
            break
    model.load_state_dict(best_state)
    model.eval()
    return FitResult(
        best_epoch=best_epoch,
        best_val=best_val,
        epochs=epoch,
        steps=steps,
        seconds=time.perf_counter() - t0,
        history=history,
        stopped=stopped,
    )


def write_run(
    run: Path,
    *,
    config: Mapping[str, Any],
    sidecar: Mapping[str, Any],
    metrics: Mapping[str, Any],
    report: Mapping[str, Any],
) -> None:
    """Write config.json, model.json, report.json and (last) metrics.json into ``run``."""
    run.mkdir(parents=True, exist_ok=True)
    atomic_write_json(run / "config.json", clean_json(config))
    atomic_write_json(run / "model.json", clean_json(sidecar))
    atomic_write_json(run / "report.json", clean_json(report))
    atomic_write_json(run / "metrics.json", clean_json(metrics))


@dataclass(frozen=True)
class RunStart:
    """What every pixel fit sets up before it samples data (see :func:`start_run`).

    Attributes:
        t_start: ``time.perf_counter()`` at the start of the run.
        determinism: Seed and torch thread count (applied).
        commit: The code's ``train_commit``, recorded before training starts.
        cache: Per-clip sample cache directory.
        parts: Corpus clips per split (``train``/``val``/``test``).
        src_split: Source ids per split.
    """

    t_start: float
    determinism: Determinism
    commit: str
    cache: Path
    parts: dict[str, list[Any]]
    src_split: dict[str, list[str]]

    @property
    def seed(self) -> int:
        return self.determinism.seed

    @property
    def threads(self) -> int:
        return self.determinism.threads

    def provenance(self, cfg: Any, corpus: Any) -> dict[str, Any]:
        """The ONNX metadata of the run's export: id, seed, commit, manifest and recipe sha256."""
        return {
            "id": cfg.id,
            "seed": self.seed,
            "train_commit": self.commit,
            "manifest_sha256": corpus.manifest_sha256,
            "config_sha256": cfg.sha256(),
        }


def start_run(cfg: Any, corpus: Any, run: Path, cache: Path | None) -> RunStart:
    """Start a pixel training run: the clock, seeded deterministic torch with the recipe's
    thread count, the code's ``train_commit`` (recorded before training starts), the sample cache
    (default ``run/cache``) and the corpus's clips and source ids per split."""
    t_start = time.perf_counter()
    det = Determinism(int(cfg.train["seed"]), int(cfg.train["threads"]))
    det.apply()
    return RunStart(
        t_start=t_start,
        determinism=det,
        commit=git_commit(),
        cache=cache if cache is not None else run / "cache",
        parts=corpus.split(**cfg.split),
        src_split=corpus.split_sources(**cfg.split),
    )


def run_metrics(
    start: RunStart,
    *,
    cfg: Any,
    corpus: Any,
    parts: Mapping[str, Sequence[Any]],
    n_rows: int,
    fit: FitResult,
    n_params: int,
    export: Any,
) -> dict[str, Any]:
    """The ``metrics.json`` fields every pixel run shares: seed, split sizes and sources,
    training summary, provenance, export summary, the corpus table's metadata and wall time.

    Args:
        start: The run's start (seed, threads, commit, clock, source ids per split).
        cfg: The recipe (:class:`~vmaf_train.recipes.PixelConfig`).
        corpus: The :class:`~vmaf_train.data.frames.PixelCorpus` trained on.
        parts: Clips per split (``train``/``val``/``test``) actually used.
        n_rows: Training samples.
        fit: What the training loop did.
        n_params: Trainable parameters.
        export: The :class:`~vmaf_train.ship.export.ExportInfo` of the fp32 model.
    """
    seed, commit, threads, src_split = start.seed, start.commit, start.threads, start.src_split
    return {
        "seed": seed,
        "n_sources": len(src_split["train"]),
        "n_rows": int(n_rows),
        "splits": {
            name: {
                "n_rows": int(sum(c.n_frames for c in parts[name])),
                "n_clips": len(parts[name]),
                "n_sources": len(src_split[name]),
                "sources": src_split[name],
            }
            for name in ("train", "val", "test")
        },
        "training": {
            "parameters": int(n_params),
            "best_epoch": fit.best_epoch,
            "epochs": fit.epochs,
            "steps": fit.steps,
            "seconds": fit.seconds,
            "stopped": fit.stopped,
            "threads": threads,
            "history": fit.history,
        },
        "provenance": {
            "manifest_sha256": corpus.manifest_sha256,
            "train_commit": commit,
            "config_sha256": cfg.sha256(),
        },
        "export": {
            "bytes": export.bytes,
            "sha256": export.sha256,
            "opset": export.opset,
            "ops": list(export.ops),
            "max_abs_diff": export.max_abs_diff,
            "verify_batches": list(export.batches),
        },
        "table_metadata": corpus.table_metadata,
        "seconds": time.perf_counter() - start.t_start,
    }
