"""Pixel-model metrics: score agreement, map agreement (CC, top-k IoU) and PSNR.

Pure numpy functions. Scores are compared raw (no logistic mapping) with the project's metric
functions (:mod:`vmaf_train.eval`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from vmaf_tiny.errors import BadInputError
from vmaf_train import eval as ev

__all__ = [
    "clip_pool",
    "map_cc",
    "psnr",
    "score_metrics",
    "top_iou",
]


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    ac, bc = a - a.mean(), b - b.mean()
    den = np.sqrt(np.dot(ac, ac) * np.dot(bc, bc))
    if den == 0:
        return float("nan")
    return float(np.clip(np.dot(ac, bc) / den, -1.0, 1.0))


def _or_nan(fn: Any, t: np.ndarray, p: np.ndarray) -> float:
    """A correlation from :mod:`vmaf_train.eval`, NaN when it is undefined (constant input)."""
    try:
        return float(fn(t, p))
    except BadInputError as exc:
        if "undefined" in str(exc):
            return float("nan")
        raise


def score_metrics(target: Any, pred: Any) -> dict[str, Any]:
    """n, PLCC, SROCC and RMSE of predictions against the target (the project's metric
    functions, :mod:`vmaf_train.eval`; PLCC/SROCC are NaN when an input is constant, e.g. an
    untrained model predicting one value, so a report can still be written).

    Raises:
        BadInputError: lengths differ, fewer than 2 rows, or NaN/inf values.
    """
    t, p = ev.check_pair(target, pred)
    return {
        "n": int(t.size),
        "plcc": _or_nan(ev.plcc, t, p),
        "srocc": _or_nan(ev.srocc, t, p),
        "rmse": float(ev.rmse(t, p)),
    }


def clip_pool(keys: Sequence[Any] | np.ndarray, *arrays: Any) -> list[np.ndarray]:
    """Mean of each array over rows sharing a key, in sorted key order."""
    k = np.asarray(keys)
    _, inv = np.unique(k, return_inverse=True)
    counts = np.bincount(inv).astype(np.float64)
    return [np.bincount(inv, weights=np.asarray(a, np.float64).ravel()) / counts for a in arrays]


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
