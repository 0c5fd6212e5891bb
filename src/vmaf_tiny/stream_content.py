"""Cheap per-frame content statistics of decoded luma, for the stream-aware NR models.

:class:`ContentStats` takes each frame as ffmpeg hands it to :func:`vmaf_tiny.stream.
extract_stream` (half size, area-averaged, 8-bit) and keeps one row of statistics per frame:
gradient energy at several scales, temporal difference, mean and spread, the coding-grid
blockiness and the share of flat blocks. The models were fitted on exactly these numbers: any
change here must keep them bit for bit (``tests/vmaf_tiny/test_nr_stream.py``).
"""

from __future__ import annotations

from vmaf_tiny._lazy import numpy as np  # numpy on first use (start-up)

__all__ = ["ContentStats"]


def _block_mean(a: np.ndarray, k: int) -> np.ndarray:
    """Float32 mean of each ``k`` x ``k`` block (trailing partial blocks dropped).

    Summed with strided adds, not a reduction over a 4-D view (several times faster). The
    result is bit-identical to ``reshape(...).mean(axis=(1, 3), dtype=float32)`` for 8-bit input
    and its block means: every partial sum is exact (integer, or a multiple of a power-of-two
    fraction, far below 2**24) and the division is by a power of two.
    """
    h, w = (a.shape[0] // k) * k, (a.shape[1] // k) * k
    a = a[:h, :w]
    exact_int = a.dtype == np.uint8 and k <= 16  # k*k*255 fits uint16
    cols = a[:, 0::k].astype(np.uint16 if exact_int else np.float32)
    for j in range(1, k):
        np.add(cols, a[:, j::k], out=cols)
    s = cols[0::k].copy()
    for i in range(1, k):
        np.add(s, cols[i::k], out=s)
    return s.astype(np.float32) / np.float32(k * k)


def _steps(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Absolute horizontal (``dx[:, j] = |a[:, j+1] - a[:, j]|``) and vertical steps."""
    return np.abs(np.diff(a, axis=1)), np.abs(np.diff(a, axis=0))


def _grad(a: np.ndarray) -> float:
    dx, dy = _steps(a)
    return float(dx.mean() + dy.mean())


def _grid_ratio(dx: np.ndarray, dy: np.ndarray, period: int) -> float:
    p = period
    on = float(dx[:, p - 1 :: p].mean() + dy[p - 1 :: p, :].mean()) / 2
    off = float(dx.mean() + dy.mean()) / 2
    return on / (off + 0.5)


def _flat_share(a: np.ndarray, k: int) -> float:
    """Share of ``k`` x ``k`` blocks whose luma spread (max - min) is under 1.5 code values."""
    h, w = (a.shape[0] // k) * k, (a.shape[1] // k) * k
    if h == 0 or w == 0:
        return 0.0
    a = a[:h, :w]
    # strided element-wise max/min: much faster than reductions over a 4-D block view
    hi, lo = a[:, 0::k], a[:, 0::k]
    for j in range(1, k):
        hi, lo = np.maximum(hi, a[:, j::k]), np.minimum(lo, a[:, j::k])
    hi2, lo2 = hi[0::k], lo[0::k]
    for i in range(1, k):
        hi2, lo2 = np.maximum(hi2, hi[i::k]), np.minimum(lo2, lo[i::k])
    return float(((hi2 - lo2) < 1.5).mean())


class ContentStats:
    """Per-frame content statistics of the half-size (area-averaged) 8-bit luma.

    ``grad_c2``/``grad_c8``/``grad_c16``/``grad_c32``: mean absolute neighbour difference at
    1/2, 1/8, 1/16 and 1/32 of the coded size; ``tdiff_c16``/``tdiff_c2``: mean absolute
    difference from the previous frame at 1/16 and 1/2 (the fine one sees surviving grain and
    noise as well as motion); ``luma_mean``/``luma_std`` at 1/8; ``blocky``: steps across the
    8-pixel coding grid (4 pixels at half size) relative to all steps; ``flat``: the share of
    8x8 blocks (4x4 at half size) whose luma spread is under 1.5 code values. ``grad_c2``,
    ``blocky``, ``tdiff_c2`` and ``flat`` are measured every ``fine_stride``-th frame and carried
    forward.
    """

    NAMES = (
        "grad_c8",
        "grad_c16",
        "tdiff_c16",
        "luma_mean",
        "luma_std",
        "grad_c32",
        "grad_c2",
        "blocky",
        "tdiff_c2",
        "flat",
    )

    def __init__(self, fine_stride: int) -> None:
        self.fine_stride = max(1, fine_stride)
        self.rows: list[tuple[float, ...]] = []
        self._prev: np.ndarray | None = None
        self._prev_half: np.ndarray | None = None
        self._fine = (float("nan"),) * 4

    def add(self, half: np.ndarray) -> None:
        i = len(self.rows)
        f = half.astype(np.float32)
        c8 = _block_mean(half, 4) if min(f.shape) >= 8 else f
        c16 = _block_mean(c8, 2) if min(c8.shape) >= 4 else c8
        c32 = _block_mean(c16, 2) if min(c16.shape) >= 4 else c16
        td = float(np.abs(c16 - self._prev).mean()) if self._prev is not None else float("nan")
        self._prev = c16
        if i % self.fine_stride == 0:
            p = self._prev_half
            td2 = float(np.abs(f - p).mean()) if p is not None else float("nan")
            dx, dy = _steps(f)  # shared by the gradient and the blockiness
            grad = float(dx.mean() + dy.mean())
            self._fine = (grad, _grid_ratio(dx, dy, 4), td2, _flat_share(f, 4))
        self._prev_half = half
        self.rows.append(
            (
                _grad(c8),
                _grad(c16),
                td,
                float(c8.mean()),
                float(c8.std()),
                _grad(c32),
                *self._fine,
            )
        )

    def arrays(self) -> dict[str, np.ndarray]:
        arr = np.asarray(self.rows, dtype=np.float64).reshape(len(self.rows), len(self.NAMES))
        out = {name: arr[:, j].copy() for j, name in enumerate(self.NAMES)}
        td = out["tdiff_c16"]
        if td.size > 1:
            td[0] = td[1]  # the first frame has no predecessor: use the next difference
        elif td.size == 1:
            td[0] = 0.0
        td2 = out["tdiff_c2"]  # the first fine frame has none either: use the next one measured
        later = td2[np.isfinite(td2)]
        td2[~np.isfinite(td2)] = later[0] if later.size else 0.0
        return out
