"""PNG plots (matplotlib, Agg backend): training curve, scatter by source, LOSO folds, the
per-frame scores of a ``vmaf-tiny score`` JSON document (``vmaf-train plot-scores``) and the
prediction-vs-target scatter of ``vmaf-train eval --plot`` (any format matplotlib writes)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np

from vmaf_tiny.errors import BadInputError
from vmaf_tiny.fsutil import atomic_path, check_writable, output_error

__all__ = [
    "check_image_path",
    "plot_eval",
    "plot_folds",
    "plot_scatter",
    "plot_score_document",
    "plot_training_curve",
]


def _save(fig: Any, path: str | os.PathLike[str], fmt: str = "png") -> None:
    meta = {"Software": None} if fmt == "png" else None
    with atomic_path(Path(path)) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format=fmt, metadata=meta)
    plt.close(fig)


def image_formats() -> dict[str, str]:
    """Extensions (without the dot) matplotlib's Agg canvas writes -> format description
    (``.pgf`` left out: it is LaTeX source that needs a TeX toolchain to render)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    formats = dict(FigureCanvasAgg.get_supported_filetypes())
    formats.pop("pgf", None)
    return formats


def check_image_path(path: str | os.PathLike[str], option: str = "-o") -> str:
    """The image format of ``path`` from its extension, checked before any work is done.

    Returns:
        The format name for ``savefig`` (the lower-case extension).

    Raises:
        BadInputError: an extension matplotlib cannot write, a directory, or a parent that is
            not a directory or not writable.
    """
    p = Path(path)
    fmt = p.suffix.lower().lstrip(".")
    formats = image_formats()
    if fmt not in formats:
        raise BadInputError(
            f"{option} {p.name}: matplotlib cannot write "
            f"{('.' + fmt + ' files') if fmt else 'a file without an extension'}; "
            f"use one of {', '.join('.' + f for f in sorted(formats))}"
        )
    check_writable(p)
    return fmt


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


#: Most frame points an eval scatter draws (a seeded sample beyond; axes span all of them).
MAX_SCATTER = 20_000


def _metrics_text(name: str, m: Mapping[str, Any]) -> str:
    return f"{name}: PLCC {m['plcc']:.4f}, SROCC {m['srocc']:.4f}, RMSE {m['rmse']:.3f}"


def plot_eval(
    res: Mapping[str, Any],
    *,
    frame_target: np.ndarray,
    frame_pred: np.ndarray,
    clip_target: np.ndarray | None,
    clip_pred: np.ndarray | None,
    mapping: Any,
    path: str | os.PathLike[str],
) -> None:
    """The ``vmaf-train eval --plot`` scatter: prediction (x) vs target (y) per frame, per clip
    when the evaluation is at clip level, the y = x line over the range both axes share (when
    they share at least a quarter of the wider one), the
    fitted map (a callable, or None) as a curve, and the reported metrics in the legend.

    Args:
        res: The result of :func:`vmaf_train.evaluate.model.evaluate_model` (model, split,
            level, target, metrics and optionally mapping).
        frame_target: Per-frame targets.
        frame_pred: Per-frame predictions.
        clip_target: Per-clip targets (clip level) or None.
        clip_pred: Per-clip predictions (clip level) or None.
        mapping: The fitted map or None.
        path: The image; its extension picks the format.

    Raises:
        BadInputError: an unsupported extension or the file cannot be written.
    """
    fmt = check_image_path(path, "--plot")
    ft = np.asarray(frame_target, np.float64)
    fp = np.asarray(frame_pred, np.float64)
    clips = clip_target is not None and clip_pred is not None
    fig, ax = plt.subplots(figsize=(6.5, 6))
    shown = np.arange(ft.size)
    if ft.size > MAX_SCATTER:  # a seeded sample keeps a large table's plot light and repeatable
        shown = np.sort(np.random.default_rng(0).choice(ft.size, MAX_SCATTER, replace=False))
    label = (
        f"frames ({ft.size})" if shown.size == ft.size else f"frames ({shown.size} of {ft.size})"
    )
    ax.scatter(fp[shown], ft[shown], s=5, alpha=0.25 if clips else 0.5, color="tab:blue",
               label=label)  # fmt: skip
    xs, ys = [fp], [ft]
    if clips:
        ct = np.asarray(clip_target, np.float64)
        cp = np.asarray(clip_pred, np.float64)
        ax.scatter(cp, ct, s=28, color="tab:orange", edgecolor="black", linewidth=0.5,
                   label=f"clips, mean over frames ({ct.size})")  # fmt: skip
        xs.append(cp)
        ys.append(ct)
    x_lo, x_hi = min(float(a.min()) for a in xs), max(float(a.max()) for a in xs)
    y_lo, y_hi = min(float(a.min()) for a in ys), max(float(a.max()) for a in ys)
    # y = x over the range both axes share, when they share a good part of it (a 0-100
    # prediction against a 1-5 MOS shares almost nothing: the map's curve says it all there).
    lo, hi = max(x_lo, y_lo), min(x_hi, y_hi)
    if hi - lo >= 0.25 * max(x_hi - x_lo, y_hi - y_lo):
        ax.plot([lo, hi], [lo, hi], color="black", linewidth=1, linestyle="--", label="y = x")
    m = res["metrics"]
    ax.plot([], [], " ", label=_metrics_text("raw", m))
    mp = res.get("mapping")
    if mapping is not None and mp:
        grid = np.linspace(x_lo, x_hi, 200)
        ax.plot(grid, mapping(grid), color="tab:red", linewidth=1.5,
                label=_metrics_text(f"{mp['kind']} map", mp["metrics"]))  # fmt: skip
    pad_x, pad_y = 0.03 * (x_hi - x_lo or 1.0), 0.03 * (y_hi - y_lo or 1.0)
    ax.set_xlim(x_lo - pad_x, x_hi + pad_x)
    ax.set_ylim(y_lo - pad_y, y_hi + pad_y)
    ax.set_xlabel(f"prediction ({res['model']})")
    ax.set_ylabel(f"target ({res['target']})")
    ax.set_title(
        f"{res['model']}: {res['split']} split, {res['level']} level, n = {m['n']}", fontsize=9
    )
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    try:
        _save(fig, path, fmt)
    except OSError as exc:
        plt.close(fig)
        raise output_error(Path(path), exc) from None
