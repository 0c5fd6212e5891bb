"""Per-frame scores over time as a self-contained SVG (``vmaf-tiny score --plot FILE.svg``).

The runtime has no plotting library (matplotlib is a training-extra dependency), and a score
plot is a few polylines: :func:`score_series` reads the lines out of a ``vmaf-tiny score`` JSON
document (every model, the teacher, each NR model's uncertainty band) and :func:`score_svg`
draws them with their pooled values in the legend. Both are pure functions; the toolkit's
``vmaf-train plot-scores`` (PNG, matplotlib) reads the same series.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from vmaf_tiny.errors import BadInputError

__all__ = ["PLOT_FORMATS", "ScoreSeries", "score_series", "score_svg"]

#: ``--plot`` file extensions the runtime writes.
PLOT_FORMATS = (".svg",)

# a colour-blind-safe palette (Okabe-Ito), cycled
_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
_W, _PLOT_H = 960, 360
_LEFT, _RIGHT, _BOTTOM = 56, 16, 44


@dataclass(frozen=True)
class ScoreSeries:
    """One line of the plot.

    Attributes:
        label: Model id or teacher name.
        values: Per-record score (NaN where the record has none).
        pooled: The pooled values of the document (mean, harmonic_mean, min, ...), if any.
        band: Per-record uncertainty (a ± band), if the model reports one.
    """

    label: str
    values: tuple[float, ...]
    pooled: Mapping[str, float] | None = None
    band: tuple[float, ...] | None = None


def _column(records: Sequence[Mapping[str, Any]], name: str) -> tuple[float, ...]:
    return tuple(math.nan if r.get(name) is None else float(r[name]) for r in records)


def score_series(doc: Mapping[str, Any]) -> tuple[tuple[float, ...], list[ScoreSeries]]:
    """The x values (``time_s``, else the frame number) and the lines of a score document.

    Raises:
        BadInputError: the document has no per-frame records.
    """
    records = doc.get("records")
    if not isinstance(records, list) or not records:
        raise BadInputError("no per-frame records: pass the JSON of `vmaf-tiny score --json`")
    blocks = doc["models"] if isinstance(doc.get("models"), list) else [doc]
    x = tuple(float(r.get("time_s", r.get("frame", i))) for i, r in enumerate(records))
    series = []
    for b in blocks:
        mid = str(b["model"])
        unc_name = f"{mid}_uncertainty"
        band = _column(records, unc_name) if any(unc_name in r for r in records) else None
        series.append(ScoreSeries(mid, _column(records, mid), b.get("pooled"), band))
    svm = doc.get("svm") or next((b.get("svm") for b in blocks if b.get("svm")), None)
    if svm:
        name = str(svm["model"])
        series.append(ScoreSeries(name, _column(records, name), svm.get("pooled")))
    return x, series


def _ticks(lo: float, hi: float, n: int = 6) -> list[float]:
    """About ``n`` round tick values covering [lo, hi]."""
    span = hi - lo if hi > lo else 1.0
    raw = span / max(1, n - 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


def _legend_text(s: ScoreSeries) -> str:
    text = s.label
    if s.pooled:
        p = s.pooled
        text += f"  mean {p['mean']:.2f}  hmean {p['harmonic_mean']:.2f}  min {p['min']:.2f}"
    if s.band is not None:
        finite = [v for v in s.band if math.isfinite(v)]
        if finite:
            text += f"  ±{sum(finite) / len(finite):.2f}"
    return text


def score_svg(doc: Mapping[str, Any]) -> str:
    """An SVG line plot of every model's (and the teacher's) per-frame score over time, pooled
    values in the legend and each NR model's uncertainty as a shaded ± band.

    Raises:
        BadInputError: the document has no per-frame records.
    """
    x, series = score_series(doc)
    ys = [v for s in series for v in s.values if math.isfinite(v)]
    for s in series:
        if s.band is not None:
            ys += [v + d for v, d in zip(s.values, s.band, strict=True) if math.isfinite(v + d)]
            ys += [v - d for v, d in zip(s.values, s.band, strict=True) if math.isfinite(v - d)]
    lo = min(0.0, min(ys, default=0.0))
    hi = max(100.0, max(ys, default=100.0))
    x0, x1 = min(x), max(x)
    if x1 <= x0:
        x1 = x0 + 1.0
    top = 40 + 16 * len(series)  # the legend sits above the plot, never over a line
    pw, ph = _W - _LEFT - _RIGHT, _PLOT_H
    height = top + ph + _BOTTOM

    def px(v: float) -> float:
        return _LEFT + (v - x0) / (x1 - x0) * pw

    def py(v: float) -> float:
        return top + (hi - v) / (hi - lo) * ph

    title = Path(str((doc.get("models") or [doc])[0].get("distorted") or "")).name
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{height}" '
        f'viewBox="0 0 {_W} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{_W}" height="{height}" fill="white"/>',
        f'<text x="{_W / 2:.1f}" y="20" text-anchor="middle" font-size="14">{escape(title)}</text>',
    ]
    for t in _ticks(lo, hi):
        y = py(t)
        out.append(f'<line x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
                   'stroke="#ddd"/>')  # fmt: skip
        out.append(f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{t:g}</text>')
    for t in _ticks(x0, x1):
        xx = px(t)
        out.append(f'<line x1="{xx:.1f}" x2="{xx:.1f}" y1="{top}" y2="{top + ph}" '
                   'stroke="#eee"/>')  # fmt: skip
        out.append(f'<text x="{xx:.1f}" y="{top + ph + 16}" text-anchor="middle">{t:g}</text>')
    out.append(f'<rect x="{_LEFT}" y="{top}" width="{pw}" height="{ph}" fill="none" '
               'stroke="#888"/>')  # fmt: skip
    xlabel = "time (s)" if "time_s" in (doc.get("records") or [{}])[0] else "frame"
    mid_x = _LEFT + pw / 2
    out.append(f'<text x="{mid_x:.1f}" y="{height - 8}" text-anchor="middle">{xlabel}</text>')
    out.append(f'<text x="14" y="{top + ph / 2:.1f}" text-anchor="middle" '
               f'transform="rotate(-90 14 {top + ph / 2:.1f})">score</text>')  # fmt: skip
    legend: list[str] = []
    for i, s in enumerate(series):
        colour = _COLOURS[i % len(_COLOURS)]
        if s.band is not None:
            pts = [(xv, v, d) for xv, v, d in zip(x, s.values, s.band, strict=True)
                   if math.isfinite(v) and math.isfinite(d)]  # fmt: skip
            if pts:
                upper = " ".join(f"{px(a):.1f},{py(v + d):.1f}" for a, v, d in pts)
                lower = " ".join(f"{px(a):.1f},{py(v - d):.1f}" for a, v, d in reversed(pts))
                out.append(f'<polygon points="{upper} {lower}" fill="{colour}" '
                           'fill-opacity="0.2" stroke="none"/>')  # fmt: skip
        segment: list[str] = []
        for xv, v in [*zip(x, s.values, strict=True), (math.nan, math.nan)]:
            if math.isfinite(v):
                segment.append(f"{px(xv):.1f},{py(v):.1f}")
                continue
            if len(segment) == 1:
                cx, cy = segment[0].split(",")
                out.append(f'<circle cx="{cx}" cy="{cy}" r="2" fill="{colour}"/>')
            elif segment:
                out.append(f'<polyline points="{" ".join(segment)}" fill="none" '
                           f'stroke="{colour}" stroke-width="1.5"/>')  # fmt: skip
            segment = []
        ly = 44 + 16 * i
        legend.append(f'<line x1="{_LEFT + 10}" x2="{_LEFT + 30}" y1="{ly - 4}" y2="{ly - 4}" '
                      f'stroke="{colour}" stroke-width="2"/>')  # fmt: skip
        legend.append(f'<text x="{_LEFT + 36}" y="{ly}">{escape(_legend_text(s))}</text>')
    out += legend
    out.append("</svg>")
    return "\n".join(out) + "\n"
