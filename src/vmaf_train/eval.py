"""Accuracy metrics: PLCC, SROCC, RMSE with seeded bootstrap intervals; clip pooling.

Pure numpy/scipy functions over (target, prediction) arrays. Scores are compared raw: no logistic
mapping is fitted before PLCC/RMSE (the models predict the teacher's scale directly).
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
    "plcc",
    "pool_by_key",
    "rmse",
    "score_metrics",
    "srocc",
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


def plcc(target: Any, pred: Any) -> float:
    """Pearson linear correlation (no logistic fit).

    Raises:
        BadInputError: lengths differ, fewer than 2 rows, NaN/inf, or a constant input.
    """
    t, p = check_pair(target, pred)
    _check_varies(t, p, "PLCC")
    tc, pc = t - t.mean(), p - p.mean()
    r = float(np.dot(tc, pc) / np.sqrt(np.dot(tc, tc) * np.dot(pc, pc)))
    return float(np.clip(r, -1.0, 1.0))


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


def score_metrics(
    target: Any,
    pred: Any,
    *,
    groups: Sequence[Any] | np.ndarray | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """n, PLCC, SROCC, RMSE and (if ``n_boot``) their bootstrap 95 % intervals.

    Returns:
        ``{"n", "plcc", "srocc", "rmse"}`` plus ``"<metric>_ci": [low, high]`` and ``n_boot``,
        ``ci_unit`` ("group" or "row") when ``n_boot > 0``.
    """
    t, p = check_pair(target, pred)
    out: dict[str, Any] = {
        "n": int(t.size),
        "plcc": plcc(t, p),
        "srocc": srocc(t, p),
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
