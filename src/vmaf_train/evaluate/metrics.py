"""Accuracy metrics of every model kind, one module: scores, maps and images.

Scores (FR and NR models): PLCC, SROCC (ranks from ``scipy.stats``), RMSE with seeded bootstrap
intervals, clip pooling. Maps (saliency): Pearson correlation and top-k IoU. Images (filter): PSNR.
Pure numpy/scipy functions over arrays. Scores are compared raw here (the models predict the
teacher's scale directly); the maps fitted before PLCC/RMSE against subjective scores live in
:mod:`vmaf_train.evaluate.mapping`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy import stats

from vmaf_tiny.errors import BadInputError

__all__ = [
    "METRICS",
    "bootstrap_ci",
    "check_pair",
    "map_cc",
    "plcc",
    "pool_by_key",
    "psnr",
    "rmse",
    "score_metrics",
    "srocc",
    "top_iou",
]


def check_pair(target: Any, pred: Any) -> tuple[np.ndarray, np.ndarray]:
    """Target and prediction as equal-length finite float64 vectors of at least 2 rows.

    Raises:
        BadInputError: lengths differ, fewer than 2 rows, or NaN/inf values.
    """
    t = np.asarray(target, dtype=np.float64).ravel()
    p = np.asarray(pred, dtype=np.float64).ravel()
    if t.shape != p.shape:
        raise BadInputError(f"target has {t.size} values but prediction has {p.size}")
    if t.size < 2:
        raise BadInputError(f"need at least 2 rows to compute a metric, got {t.size}")
    bad = int((~np.isfinite(t)).sum() + (~np.isfinite(p)).sum())
    if bad:
        raise BadInputError(f"{bad} NaN/inf values in target or prediction")
    return t, p


def _check_varies(t: np.ndarray, p: np.ndarray, what: str) -> None:
    for name, a in (("target", t), ("prediction", p)):
        if np.ptp(a) == 0.0:
            raise BadInputError(
                f"{what} is undefined: the {name} is constant ({a[0]:g} in all {a.size} rows)"
            )


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two float64 vectors, clipped to [-1, 1]; NaN if one is constant."""
    ac, bc = a - a.mean(), b - b.mean()
    den = np.sqrt(np.dot(ac, ac) * np.dot(bc, bc))
    if den == 0:
        return float("nan")
    return float(np.clip(np.dot(ac, bc) / den, -1.0, 1.0))


def plcc(target: Any, pred: Any) -> float:
    """Pearson linear correlation (no logistic fit).

    Raises:
        BadInputError: lengths differ, fewer than 2 rows, NaN/inf, or a constant input.
    """
    t, p = check_pair(target, pred)
    _check_varies(t, p, "PLCC")
    return _pearson(t, p)


def srocc(target: Any, pred: Any) -> float:
    """Spearman rank-order correlation (ties get average ranks).

    Raises:
        BadInputError: lengths differ, fewer than 2 rows, NaN/inf, or a constant input.
    """
    t, p = check_pair(target, pred)
    _check_varies(t, p, "SROCC")
    return plcc(stats.rankdata(t), stats.rankdata(p))


def rmse(target: Any, pred: Any) -> float:
    """Root mean squared error in the target's units.

    Raises:
        BadInputError: lengths differ, fewer than 2 rows, or NaN/inf.
    """
    t, p = check_pair(target, pred)
    return float(np.sqrt(np.mean((p - t) ** 2)))


METRICS: dict[str, Callable[[Any, Any], float]] = {"plcc": plcc, "srocc": srocc, "rmse": rmse}


def _group_index(groups: Sequence[Any] | np.ndarray | None, n: int) -> list[np.ndarray]:
    if groups is None:
        return [np.array([i]) for i in range(n)]
    g = np.asarray(groups)
    if g.shape[0] != n:
        raise BadInputError(f"groups has {g.shape[0]} values for {n} rows")
    _, inv = np.unique(g, return_inverse=True)
    order = np.argsort(inv, kind="stable")
    bounds = np.flatnonzero(np.diff(inv[order])) + 1
    return np.split(order, bounds)


def bootstrap_ci(
    target: Any,
    pred: Any,
    metrics: Sequence[str] = ("plcc", "srocc", "rmse"),
    *,
    groups: Sequence[Any] | np.ndarray | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap intervals, resampling whole groups (e.g. clips) with replacement.

    Frames of one clip are strongly correlated; resampling clips (``groups`` = clip keys) gives
    honest intervals. Resamples where a metric is undefined (constant) are dropped.

    Args:
        target: Teacher / subjective scores.
        pred: Predictions.
        metrics: Names from :data:`METRICS`.
        groups: Resampling unit per row (None: rows).
        n_boot: Resamples.
        seed: Seed of the numpy Generator.
        level: Coverage (0.95 -> 2.5th and 97.5th percentiles).

    Returns:
        metric -> (low, high); (nan, nan) when no resample was usable.
    """
    t, p = check_pair(target, pred)
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise BadInputError(f"unknown metric(s) {unknown}; choose from {sorted(METRICS)}")
    if not 0 < level < 1:
        raise BadInputError(f"level must be in (0, 1), got {level}")
    idx = _group_index(groups, t.size)
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {m: [] for m in metrics}
    for _ in range(max(0, n_boot)):
        pick = rng.integers(0, len(idx), size=len(idx))
        rows = np.concatenate([idx[i] for i in pick])
        tb, pb = t[rows], p[rows]
        for m in metrics:
            try:
                draws[m].append(METRICS[m](tb, pb))
            except BadInputError:
                continue
    alpha = (1.0 - level) / 2.0
    out: dict[str, tuple[float, float]] = {}
    for m, vals in draws.items():
        if not vals:
            out[m] = (float("nan"), float("nan"))
        else:
            lo, hi = np.quantile(np.asarray(vals), [alpha, 1.0 - alpha])
            out[m] = (float(lo), float(hi))
    return out


def _or_nan(fn: Callable[[Any, Any], float], t: np.ndarray, p: np.ndarray) -> float:
    """A correlation, NaN when it is undefined (constant input)."""
    try:
        return float(fn(t, p))
    except BadInputError as exc:
        if "undefined" in str(exc):
            return float("nan")
        raise


def score_metrics(
    target: Any,
    pred: Any,
    *,
    groups: Sequence[Any] | np.ndarray | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    constant_ok: bool = False,
) -> dict[str, Any]:
    """n, PLCC, SROCC, RMSE and (if ``n_boot``) their bootstrap 95 % intervals.

    Args:
        target: Teacher / subjective scores.
        pred: Predictions.
        groups: Bootstrap resampling unit per row (None: rows).
        n_boot: Bootstrap resamples (0: no intervals).
        seed: Seed of the bootstrap.
        constant_ok: PLCC/SROCC are NaN (not an error) when an input is constant, e.g. an
            untrained model predicting one value, so a report can still be written.

    Returns:
        ``{"n", "plcc", "srocc", "rmse"}`` plus ``"<metric>_ci": [low, high]`` and ``n_boot``,
        ``ci_unit`` ("group" or "row") when ``n_boot > 0``.

    Raises:
        BadInputError: lengths differ, fewer than 2 rows, NaN/inf values, or (unless
            ``constant_ok``) a constant input.
    """
    t, p = check_pair(target, pred)
    corr = _or_nan if constant_ok else (lambda fn, a, b: fn(a, b))
    out: dict[str, Any] = {
        "n": int(t.size),
        "plcc": corr(plcc, t, p),
        "srocc": corr(srocc, t, p),
        "rmse": rmse(t, p),
    }
    if n_boot > 0:
        ci = bootstrap_ci(t, p, groups=groups, n_boot=n_boot, seed=seed)
        for m, (lo, hi) in ci.items():
            out[f"{m}_ci"] = [lo, hi]
        out["n_boot"] = int(n_boot)
        out["ci_unit"] = "group" if groups is not None else "row"
    return out


def pool_by_key(
    keys: Sequence[Any] | np.ndarray, *arrays: Any
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Mean-pool each array over rows sharing a key (clip-level scores).

    Returns:
        (sorted unique keys, [pooled array per input array]).
    """
    k = np.asarray(keys)
    uniq, inv = np.unique(k, return_inverse=True)
    counts = np.bincount(inv, minlength=uniq.size).astype(np.float64)
    pooled = []
    for a in arrays:
        v = np.asarray(a, dtype=np.float64).ravel()
        if v.size != k.size:
            raise BadInputError(f"array has {v.size} values for {k.size} keys")
        pooled.append(np.bincount(inv, weights=v, minlength=uniq.size) / counts)
    return uniq, pooled


def map_cc(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two maps (flattened); NaN if either is constant."""
    return _pearson(np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel())


def top_iou(a: np.ndarray, b: np.ndarray, frac: float = 0.2) -> float:
    """IoU of the top ``frac`` of pixels of each map (each thresholded at its own quantile)."""
    if not 0 < frac < 1:
        raise BadInputError(f"frac must be in (0, 1), got {frac}")
    a = np.asarray(a, np.float64).ravel()
    b = np.asarray(b, np.float64).ravel()
    k = max(1, round(frac * a.size))
    ma = np.zeros(a.size, bool)
    mb = np.zeros(b.size, bool)
    ma[np.argsort(-a, kind="stable")[:k]] = True
    mb[np.argsort(-b, kind="stable")[:k]] = True
    return float((ma & mb).sum() / (ma | mb).sum())


def psnr(x: np.ndarray, ref: np.ndarray, peak: float = 1.0) -> float:
    """PSNR in dB of ``x`` against ``ref`` (capped at 100 dB for identical inputs)."""
    mse = float(np.mean((np.asarray(x, np.float64) - np.asarray(ref, np.float64)) ** 2))
    if mse <= peak**2 * 1e-10:
        return 100.0
    return float(10.0 * np.log10(peak**2 / mse))
