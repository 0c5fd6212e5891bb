"""Prediction-to-subjective-score mappings fitted before PLCC/RMSE (VQEG / ITU-T P.1401 practice).

An objective score and a mean opinion score live on different scales and are rarely linearly
related, so subjective-test practice fits a monotonic map from the prediction to the MOS on the
evaluated clips and reports PLCC and RMSE after it (prediction accuracy), SROCC before it
(monotonicity; a monotonic map does not change ranks). Pure functions over numpy arrays:

* ``none``: the identity.
* ``linear``: ``a + b * x`` (least squares, closed form).
* ``logistic4``: ``bottom + (top - bottom) / (1 + exp(-slope * (x - mid)))``, ``slope >= 0``
  (``top < bottom`` fits a decreasing relation), monotonic.
* ``logistic5``: ``logistic4 + lin * (x - mid)``, the logistic-plus-linear form of the VQEG FR-TV
  Phase II / LIVE analyses; monotonic only while ``lin`` does not fight the logistic.

The logistics are fitted by ``scipy.optimize.curve_fit`` (trust-region reflective, bounded) from
start values computed from the data, so the same input always gives the same parameters.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize, stats

from vmaf_tiny.errors import BadInputError
from vmaf_train.evaluate.metrics import check_pair

__all__ = [
    "MAPPINGS",
    "FittedMap",
    "fit_mapping",
    "logistic4",
    "logistic5",
    "mapping_kind",
]

#: Mapping kinds, in the order of the CLI choice.
MAPPINGS = ("none", "linear", "logistic4", "logistic5")
_ALIASES = {"logistic": "logistic4"}
_PARAMS = {
    "none": (),
    "linear": ("intercept", "slope"),
    "logistic4": ("top", "bottom", "mid", "slope"),
    "logistic5": ("top", "bottom", "mid", "slope", "lin"),
}
_MAXFEV = 5000


def _sigmoid(z: np.ndarray) -> np.ndarray:
    # exp overflows to inf for large -z; 1 / (1 + inf) = 0 is the right limit.
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-z))


def logistic4(x: Any, top: float, bottom: float, mid: float, slope: float) -> np.ndarray:
    """The 4-parameter logistic: ``bottom`` far below ``mid``, ``top`` far above it."""
    v = np.asarray(x, dtype=np.float64)
    return bottom + (top - bottom) * _sigmoid(slope * (v - mid))


def logistic5(
    x: Any, top: float, bottom: float, mid: float, slope: float, lin: float
) -> np.ndarray:
    """The 4-parameter logistic plus a linear term ``lin * (x - mid)``."""
    v = np.asarray(x, dtype=np.float64)
    return logistic4(v, top, bottom, mid, slope) + lin * (v - mid)


@dataclass(frozen=True)
class FittedMap:
    """A fitted mapping from prediction to target.

    Attributes:
        kind: One of :data:`MAPPINGS`.
        params: Parameter name -> value (empty for ``none``).
        n: Rows it was fitted on.
        at_bounds: Parameters that ended on a bound of the fit (the data do not pin them down,
            e.g. a plateau the points never reach).
    """

    kind: str
    params: dict[str, float]
    n: int = 0
    at_bounds: tuple[str, ...] = ()

    def __call__(self, x: Any) -> np.ndarray:
        """Map predictions to the target's scale."""
        v = np.asarray(x, dtype=np.float64)
        p = self.params
        if self.kind == "none":
            return v.copy()
        if self.kind == "linear":
            return p["intercept"] + p["slope"] * v
        if self.kind == "logistic4":
            return logistic4(v, p["top"], p["bottom"], p["mid"], p["slope"])
        return logistic5(v, p["top"], p["bottom"], p["mid"], p["slope"], p["lin"])

    @property
    def monotonic(self) -> bool:
        """Whether the map is monotonic over the whole line (then it keeps SROCC up to sign)."""
        if self.kind != "logistic5":
            return True
        p = self.params
        # d/dx = (top - bottom) * slope * s * (1 - s) + lin with s * (1 - s) in (0, 1/4].
        peak = (p["top"] - p["bottom"]) * p["slope"] / 4.0
        return p["lin"] == 0.0 or peak == 0.0 or (p["lin"] > 0) == (peak > 0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: kind, parameters, rows fitted on."""
        return {
            "kind": self.kind,
            "params": dict(self.params),
            "n_fit": self.n,
            "at_bounds": list(self.at_bounds),
        }


def mapping_kind(kind: str) -> str:
    """The canonical mapping kind (``logistic`` -> ``logistic4``).

    Raises:
        BadInputError: an unknown kind.
    """
    k = _ALIASES.get(kind, kind)
    if k not in MAPPINGS:
        choices = ", ".join((*MAPPINGS, *_ALIASES))
        raise BadInputError(f"--mapping must be one of {choices}; got {kind!r}")
    return k


def _start_and_bounds(
    x: np.ndarray, y: np.ndarray, kind: str
) -> tuple[list[float], tuple[list[float], list[float]]]:
    """Data-derived start values and box bounds of a logistic fit."""
    xr = float(np.ptp(x))
    yr = float(np.ptp(y))
    ylo, yhi = float(y.min()), float(y.max())
    rising = stats.spearmanr(x, y)[0] >= 0 if np.ptp(y) > 0 else True
    top, bottom = (yhi, ylo) if rising else (ylo, yhi)
    # A slope of 4 / range spans the data with the steep middle part of the curve.
    start = [top, bottom, float(np.median(x)), 4.0 / xr]
    lo = [ylo - 2 * yr, ylo - 2 * yr, float(x.min()) - xr, 0.0]
    hi = [yhi + 2 * yr, yhi + 2 * yr, float(x.max()) + xr, 200.0 / xr]
    if kind == "logistic5":
        start.append(0.0)
        lim = 10.0 * yr / xr
        lo.append(-lim)
        hi.append(lim)
    return start, (lo, hi)


def fit_mapping(pred: Any, target: Any, kind: str = "logistic4") -> FittedMap:
    """Least-squares fit of a map from predictions to targets.

    Args:
        pred: Objective scores (x).
        target: Subjective scores (y), same length.
        kind: One of :data:`MAPPINGS` (``logistic`` means ``logistic4``).

    Returns:
        The fitted map; ``fit(pred)`` approximates ``target``.

    Raises:
        BadInputError: an unknown kind, too few rows for its parameters, a constant
            prediction, NaN/inf values, or a fit that does not converge.
    """
    k = mapping_kind(kind)
    y, x = check_pair(target, pred)
    if k == "none":
        return FittedMap("none", {}, int(x.size))
    need = len(_PARAMS[k]) + 1
    if x.size < need:
        raise BadInputError(f"a {k} mapping needs at least {need} points, got {x.size}")
    if np.ptp(x) == 0.0:
        raise BadInputError(f"cannot fit a {k} mapping: the prediction is constant ({x[0]:g})")
    if k == "linear":
        slope, intercept = np.polyfit(x, y, 1)
        params = {"intercept": float(intercept), "slope": float(slope)}
        return FittedMap("linear", params, int(x.size))
    if np.ptp(y) == 0.0:
        raise BadInputError(f"cannot fit a {k} mapping: the target is constant ({y[0]:g})")
    fn = logistic4 if k == "logistic4" else logistic5
    start, bounds = _start_and_bounds(x, y, k)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optimize.OptimizeWarning)
            params, _ = optimize.curve_fit(
                fn, x, y, p0=start, bounds=bounds, method="trf", maxfev=_MAXFEV
            )
    except (RuntimeError, ValueError) as exc:
        raise BadInputError(
            f"the {k} mapping did not converge on {x.size} points "
            f"({str(exc).splitlines()[0]}); try --mapping linear"
        ) from None
    if not np.all(np.isfinite(params)):
        raise BadInputError(f"the {k} mapping did not converge on {x.size} points")
    lo, hi = (np.asarray(b, dtype=np.float64) for b in bounds)
    tol = 1e-6 * np.maximum(1.0, np.abs(hi - lo))
    pinned = (np.abs(params - lo) <= tol) | (np.abs(params - hi) <= tol)
    names = _PARAMS[k]
    return FittedMap(
        k,
        {n: float(v) for n, v in zip(names, params, strict=True)},
        int(x.size),
        tuple(n for n, p in zip(names, pinned, strict=True) if p),
    )
