"""PNG plots of runs (matplotlib, Agg backend): training curve, scatter by source, LOSO folds."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np

from vmaf_tiny.fsutil import atomic_path

__all__ = ["plot_folds", "plot_scatter", "plot_training_curve"]


def _save(fig: Any, path: str | os.PathLike[str]) -> None:
    with atomic_path(Path(path)) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png", metadata={"Software": None})
    plt.close(fig)


def plot_training_curve(
    history: Sequence[Mapping[str, float]], path: str | os.PathLike[str], *, title: str
) -> None:
    """Train and validation RMSE per epoch (log scale)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    ep = [h["epoch"] for h in history]
    ax.plot(ep, [h["train_rmse"] for h in history], label="train RMSE")
    ax.plot(ep, [h["val_rmse"] for h in history], label="val RMSE")
    best = int(np.argmin([h["val_rmse"] for h in history]))
    ax.axvline(ep[best], color="grey", linestyle=":", label=f"best epoch {ep[best]}")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("RMSE")
    ax.set_title(title)
    ax.legend()
    _save(fig, path)


def plot_scatter(
    target: np.ndarray,
    pred: np.ndarray,
    sources: np.ndarray,
    path: str | os.PathLike[str],
    *,
    title: str,
    xlabel: str = "target",
    ylabel: str = "prediction",
) -> None:
    """Predicted vs target, one colour per source, with the y = x line; metrics in the title."""
    fig, ax = plt.subplots(figsize=(6, 6))
    src = np.asarray(sources).astype(str)
    names = sorted(set(src.tolist()))
    cmap = plt.get_cmap("tab20")
    for i, s in enumerate(names):
        m = src == s
        ax.scatter(target[m], pred[m], s=6, alpha=0.6, color=cmap(i % 20), label=s)
    lo = float(min(np.min(target), np.min(pred)))
    hi = float(max(np.max(target), np.max(pred)))
    ax.plot([lo, hi], [lo, hi], color="black", linewidth=1, label="y = x")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    if len(names) <= 20:
        ax.legend(fontsize=6, markerscale=2, loc="upper left")
    _save(fig, path)


def plot_folds(
    rows: Sequence[Mapping[str, Any]], path: str | os.PathLike[str], *, title: str
) -> None:
    """Per-fold PLCC and RMSE bars (mean over seeds; error bars = seed std when > 1 seed)."""
    names = sorted({str(r["fold"]) for r in rows})
    fig, axes = plt.subplots(1, 2, figsize=(max(6, 0.5 * len(names) + 3), 4))
    for ax, metric in zip(axes, ("plcc", "rmse"), strict=True):
        means, stds = [], []
        for n in names:
            vals = [
                float(r[metric]) for r in rows if str(r["fold"]) == n and r.get(metric) is not None
            ]
            means.append(np.mean(vals) if vals else np.nan)
            stds.append(np.std(vals, ddof=1) if len(vals) > 1 else 0.0)
        ax.bar(range(len(names)), means, yerr=stds, color="tab:blue")
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=60, ha="right", fontsize=7)
        ax.set_ylabel(metric.upper())
        if metric == "plcc":
            finite = [m for m in means if np.isfinite(m)]
            if finite:
                ax.set_ylim(max(0.0, min(finite) - 0.01), 1.0)
    fig.suptitle(title, fontsize=9)
    _save(fig, path)
