"""PNG plots (matplotlib, Agg backend): training curve, scatter by source, LOSO folds, and the
per-frame scores of a ``vmaf-tiny score`` JSON document (``vmaf-train plot-scores``)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np

from vmaf_tiny.fsutil import atomic_path, output_error

__all__ = ["plot_folds", "plot_scatter", "plot_score_document", "plot_training_curve"]


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


def plot_score_document(doc: Mapping[str, Any], path: str | os.PathLike[str]) -> int:
    """Per-frame scores over time of every model (and the teacher) in a ``vmaf-tiny score``
    JSON document (``--json`` or ``-o FILE.json``), pooled values in the legend and each NR
    model's uncertainty as a shaded band; returns the number of lines drawn.

    Raises:
        BadInputError: the document has no per-frame records, or the PNG cannot be written.
    """
    from vmaf_tiny.score_plot import score_series

    x, lines = score_series(doc)
    t = np.asarray(x, dtype=float)
    series = [
        (
            ln.label,
            np.asarray(ln.values, dtype=float),
            ln.pooled,
            None if ln.band is None else np.asarray(ln.band, dtype=float),
        )
        for ln in lines
    ]
    blocks = doc["models"] if isinstance(doc.get("models"), list) else [doc]
    fig, ax = plt.subplots(figsize=(10, 4.5), dpi=100)
    for label, s, pooled, band in series:
        text = label
        if pooled:
            text += (
                f" (mean {pooled['mean']:.2f}, hmean {pooled['harmonic_mean']:.2f}, "
                f"min {pooled['min']:.2f})"
            )
        (line,) = ax.plot(t, s, label=text, linewidth=1.2, marker="." if len(s) < 60 else None)
        if band is not None:
            ax.fill_between(t, s - band, s + band, color=line.get_color(), alpha=0.2)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("score")
    ax.set_title(Path(str(blocks[0].get("distorted") or doc.get("distorted") or "")).name)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    try:
        _save(fig, path)
    except OSError as exc:
        plt.close(fig)
        raise output_error(Path(path), exc) from None
    return len(series)
