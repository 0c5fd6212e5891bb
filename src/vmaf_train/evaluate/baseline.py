"""SVM baselines: VMAF's own recipe retrained on our split, and the upstream v0.6.1 SVM itself.

* :class:`SvrBaseline` retrains the recipe of upstream ``vmaf_v0.6.1.json``: ``linear_rescale``
  normalisation (each feature and the label mapped to [0, 1] by their min/max on the training
  rows), an RBF ``NuSVR(nu=0.9, C=4.0, gamma=0.04)``, predictions mapped back and clipped to
  [0, 100]: "same data, different model class".
* :class:`UpstreamSvm` evaluates the upstream model file (its support vectors, normalisation and
  clip) in numpy. It reproduces the teacher's per-frame ``vmaf`` from our canonical-6 columns,
  which checks that the features are VMAF's own, and gives the SVM's per-row latency.

The upstream model file is read from a path at run time; it is not part of this package.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vmaf_tiny.errors import BadInputError
from vmaf_tiny.features import CANONICAL6

__all__ = [
    "SvrBaseline",
    "UpstreamSvm",
    "linear_rescale_fit",
    "svr_baseline_run",
    "time_per_row",
]

_UPSTREAM_PREFIX = "VMAF_integer_feature_"


def linear_rescale_fit(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """VMAF's ``linear_rescale``: slopes and intercepts mapping each column's [min, max] to
    [0, 1] (``x_norm = slope * x + intercept``); a constant column gets slope 1, intercept -min.
    """
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    lo, hi = a.min(axis=0), a.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    slope = 1.0 / span
    return slope, -lo * slope


class SvrBaseline:
    """NuSVR with VMAF's recipe.

    Args:
        nu: NuSVR nu (upstream 0.9).
        C: NuSVR C (upstream 4.0).
        gamma: RBF gamma (upstream 0.04).
        clip: Output clip range (upstream [0, 100]); None for no clip.
        max_rows: Train on at most this many rows, drawn with ``seed`` (kernel SVR training
            grows quadratically with rows); None for all.
        seed: Seed of the row subsample.

    Attributes (after ``fit``):
        model_: The fitted ``sklearn.svm.NuSVR``.
        x_slope_, x_intercept_: Feature normalisation.
        y_slope_, y_intercept_: Label normalisation.
        n_train_: Rows actually used.
        n_support_: Support vectors.
        fit_seconds_: Training wall time.
    """

    def __init__(
        self,
        nu: float = 0.9,
        C: float = 4.0,
        gamma: float = 0.04,
        clip: tuple[float, float] | None = (0.0, 100.0),
        max_rows: int | None = 4000,
        seed: int = 0,
    ) -> None:
        self.nu = nu
        self.C = C
        self.gamma = gamma
        self.clip = clip
        self.max_rows = max_rows
        self.seed = seed

    def fit(self, x: np.ndarray, y: np.ndarray) -> SvrBaseline:
        """Fit on raw canonical-6 rows ``x`` (n, 6) and targets ``y``; returns self."""
        from sklearn.svm import NuSVR

        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64).ravel()
        if x.shape[0] != y.shape[0] or x.shape[0] < 2:
            raise BadInputError(f"SVR baseline needs matching rows >= 2, got {x.shape[0]}")
        if self.max_rows is not None and x.shape[0] > self.max_rows:
            pick = np.sort(
                np.random.default_rng(self.seed).choice(x.shape[0], self.max_rows, replace=False)
            )
            x, y = x[pick], y[pick]
        self.x_slope_, self.x_intercept_ = linear_rescale_fit(x)
        ys, yi = linear_rescale_fit(y)
        self.y_slope_, self.y_intercept_ = float(ys[0]), float(yi[0])
        t0 = time.perf_counter()
        self.model_ = NuSVR(kernel="rbf", nu=self.nu, C=self.C, gamma=self.gamma)
        self.model_.fit(
            x * self.x_slope_ + self.x_intercept_, y * self.y_slope_ + self.y_intercept_
        )
        self.fit_seconds_ = time.perf_counter() - t0
        self.n_train_ = int(x.shape[0])
        self.n_support_ = int(self.model_.support_.shape[0])
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Scores for raw canonical-6 rows."""
        xn = np.asarray(x, dtype=np.float64) * self.x_slope_ + self.x_intercept_
        y = (self.model_.predict(xn) - self.y_intercept_) / self.y_slope_
        return np.clip(y, *self.clip) if self.clip else y


@dataclass(frozen=True)
class UpstreamSvm:
    """The upstream libsvm nu-SVR model (``vmaf_v0.6.1.json``) evaluated in numpy.

    Attributes:
        support: (n_sv, 6) normalised support vectors, columns in CANONICAL6 order.
        coef: (n_sv,) dual coefficients.
        rho: Decision offset.
        gamma: RBF gamma.
        x_slope, x_intercept: Feature ``linear_rescale``.
        y_slope, y_intercept: Label ``linear_rescale``.
        clip: Output clip range or None.
    """

    support: np.ndarray
    coef: np.ndarray
    rho: float
    gamma: float
    x_slope: np.ndarray
    x_intercept: np.ndarray
    y_slope: float
    y_intercept: float
    clip: tuple[float, float] | None

    @classmethod
    def from_json(cls, path: str | os.PathLike[str]) -> UpstreamSvm:
        """Parse an upstream VMAF JSON model (libsvm nu-SVR over the integer canonical-6).

        Raises:
            BadInputError: missing file or a model of another kind / feature set.
        """
        p = Path(path)
        if not p.is_file():
            raise BadInputError(f"no such VMAF model file: {p}")
        try:
            md = json.loads(p.read_text())["model_dict"]
        except (ValueError, KeyError) as exc:
            raise BadInputError(f"{p.name}: not a VMAF JSON model ({exc})") from exc
        names = [
            n.removeprefix(_UPSTREAM_PREFIX).removesuffix("_score")
            for n in md.get("feature_names", [])
        ]
        if names != list(CANONICAL6) or md.get("norm_type") != "linear_rescale":
            raise BadInputError(f"{p.name}: expected a linear_rescale model over {CANONICAL6}")
        lines = [ln for ln in str(md["model"]).splitlines() if ln.strip()]
        header: dict[str, str] = {}
        i = 0
        while i < len(lines) and lines[i].strip() != "SV":
            k, _, v = lines[i].partition(" ")
            header[k] = v.strip()
            i += 1
        if header.get("kernel_type") != "rbf":
            raise BadInputError(f"{p.name}: expected an RBF kernel")
        coef, sv = [], []
        for ln in lines[i + 1 :]:
            parts = ln.split()
            row = np.zeros(len(CANONICAL6))
            for tok in parts[1:]:
                j, _, val = tok.partition(":")
                row[int(j) - 1] = float(val)
            coef.append(float(parts[0]))
            sv.append(row)
        slopes, intercepts = md["slopes"], md["intercepts"]
        clip = md.get("score_clip")
        return cls(
            support=np.asarray(sv),
            coef=np.asarray(coef),
            rho=float(header["rho"]),
            gamma=float(header["gamma"]),
            x_slope=np.asarray(slopes[1:], dtype=np.float64),
            x_intercept=np.asarray(intercepts[1:], dtype=np.float64),
            y_slope=float(slopes[0]),
            y_intercept=float(intercepts[0]),
            clip=(float(clip[0]), float(clip[1])) if clip else None,
        )

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Scores for raw canonical-6 rows (no ``score_transform``, as libvmaf by default)."""
        xn = np.asarray(x, dtype=np.float64) * self.x_slope + self.x_intercept
        # ||x - s||^2 = ||x||^2 + ||s||^2 - 2 x.s: one matrix product instead of an (n, sv, 6)
        # broadcast.
        sv = self.support
        d2 = (xn * xn).sum(axis=1)[:, None] + (sv * sv).sum(axis=1)[None, :] - 2.0 * (xn @ sv.T)
        yn = np.exp(-self.gamma * np.maximum(d2, 0.0)) @ self.coef - self.rho
        y = (yn - self.y_intercept) / self.y_slope
        return np.clip(y, *self.clip) if self.clip else y

    @property
    def n_support(self) -> int:
        return int(self.coef.shape[0])


def time_per_row(
    predict: Any, x: np.ndarray, *, batch_sizes: tuple[int, ...] = (1, 1024), repeats: int = 50
) -> dict[str, float]:
    """Median per-row latency (microseconds) of ``predict`` at each batch size."""
    res: dict[str, float] = {}
    for b in batch_sizes:
        chunk = np.ascontiguousarray(x[np.arange(b) % x.shape[0]])
        reps = max(5, repeats if b <= 64 else repeats // 5)
        predict(chunk)
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            predict(chunk)
            times.append(time.perf_counter() - t0)
        res[f"us_per_row_b{b}"] = float(np.median(times) / b * 1e6)
    return res


def svr_baseline_run(
    features: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    split: Any = None,
    max_rows: int | None = 4000,
    seed: int = 0,
    upstream_model: str | os.PathLike[str] | None = None,
    n_boot: int = 1000,
) -> dict[str, Any]:
    """Retrain the VMAF recipe on the train split, score the test split, time it.

    Args:
        features: Features table.
        out: Output directory (``metrics.json``, ``predictions.parquet``).
        split: A :class:`~vmaf_train.recipes.SplitConfig` (default fractions if None).
        max_rows: Training-row cap (seeded sample).
        seed: Seed of the sample.
        upstream_model: Optional upstream ``vmaf_v0.6.1.json``: also time the upstream SVM and
            report how closely it reproduces the table's ``vmaf`` column.
        n_boot: Bootstrap resamples for the test intervals.

    Returns:
        The metrics written to ``out/metrics.json``.
    """
    from vmaf_tiny.fsutil import atomic_write_json
    from vmaf_train.data.dataset import load_fr_data, read_table_for, split_data
    from vmaf_train.evaluate.model import evaluate_split, write_predictions
    from vmaf_train.recipes import SplitConfig

    table = read_table_for(features, "vmaf")
    data = load_fr_data(table, target="vmaf")
    parts, splits = split_data(data, split or SplitConfig())
    train, test = parts["train"], parts["test"]
    svr = SvrBaseline(max_rows=max_rows, seed=seed).fit(train.features, train.target)
    pred = svr.predict(test.features)
    dest = Path(out)
    dest.mkdir(parents=True, exist_ok=True)
    write_predictions(dest / "predictions.parquet", test, pred)
    metrics: dict[str, Any] = {
        "model": "SVR baseline (VMAF recipe: linear_rescale, NuSVR rbf)",
        "params": {
            "nu": svr.nu,
            "C": svr.C,
            "gamma": svr.gamma,
            "max_rows": max_rows,
            "seed": seed,
        },
        "n_train": svr.n_train_,
        "n_support": svr.n_support_,
        "fit_seconds": round(svr.fit_seconds_, 3),
        "splits": {n: len(getattr(splits, n)) for n in ("train", "val", "test")},
        "test": evaluate_split(test, pred, n_boot=n_boot, seed=0),
        "latency": time_per_row(svr.predict, test.features),
    }
    if upstream_model:
        up = UpstreamSvm.from_json(upstream_model)
        pu = up.predict(data.features)
        metrics["upstream_svm"] = {
            "model_file": Path(upstream_model).name,
            "n_support": up.n_support,
            "max_abs_diff_vs_teacher": float(np.max(np.abs(pu - data.vmaf))),
            "latency": time_per_row(up.predict, test.features),
        }
    from vmaf_train.fit.loop import nonfinite_path

    bad = nonfinite_path(metrics)
    if bad is not None:
        raise BadInputError(f"the SVR baseline produced a non-finite metric ({bad}); not written")
    atomic_write_json(dest / "metrics.json", metrics, strict=True)
    return metrics
