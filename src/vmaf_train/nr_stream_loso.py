"""The stream-features table, the logit ridge and the leave-one-source-out evaluation shared by
the stream and pixel NR fits (:mod:`vmaf_train.nr_stream`, :mod:`vmaf_train.nr_stream_v2`,
:mod:`vmaf_train.nr_pixel`).

Evaluation is leave-one-source-out at clip level over content *families*: a source id's segment
suffix (``bikes_a`` .. ``bikes_e`` are five shots of one clip) is stripped, so no shot of the
held-out content is ever in training.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyarrow.parquet as pq

from vmaf_tiny.errors import BadInputError
from vmaf_tiny.stream import STREAM_FEATURES

__all__ = [
    "CODEC_RATE_TERMS",
    "DEFAULT_FEATURES",
    "QP_TERMS",
    "RATE_SHAPE_TERMS",
    "V1_RUNTIME_FEATURES",
    "LogitRidge",
    "Regressor",
    "StreamData",
    "clip_means",
    "clip_metrics",
    "drop_families",
    "load_stream_data",
    "logit_standardise",
    "loso",
    "source_family",
]

_CODECS = ("codec_h264", "codec_hevc", "codec_vp9", "codec_av1")
#: The 36 runtime stream features nr_stream_v1 was fitted on (the first 36 of STREAM_FEATURES;
#: later ones were added for v2 and must not change v1's recipe).
V1_RUNTIME_FEATURES: tuple[str, ...] = STREAM_FEATURES[:36]
#: nr_stream_v1's inputs (64, the sidecar schema's limit): its runtime stream features plus
#: rate x codec, quantiser x content/codec and rate x scaling terms.
#: Products shared by nr_stream_v1's and nr_stream_v2's inputs: rate x codec and quantiser x
#: content/codec terms (``a__b`` = column a times column b).
CODEC_RATE_TERMS: tuple[str, ...] = tuple(
    f"{c}__{b}" for c in _CODECS for b in ("clip_log_bpp", "clip_rate_vs_detail")
)
QP_TERMS: tuple[str, ...] = tuple(
    f"clip_q_norm__{b}"
    for b in (
        "clip_q_norm",
        "clip_log_grad_c8",
        "clip_log_tdiff_c16",
        "clip_sharpness",
        "clip_log_bpp",
        "codec_h264",
        "codec_hevc",
        "codec_vp9",
    )
)
#: Rate x scaling and squared terms, the last inputs of both.
RATE_SHAPE_TERMS: tuple[str, ...] = (
    "log2_upscale__clip_log_bpp",
    "clip_log_bpp__clip_log_bpp",
    "clip_rate_vs_detail__clip_rate_vs_detail",
)
DEFAULT_FEATURES: tuple[str, ...] = (
    *V1_RUNTIME_FEATURES,
    *CODEC_RATE_TERMS,
    *QP_TERMS,
    *(
        f"clip_hdr_q__{b}"
        for b in (
            "clip_hdr_q",
            "clip_log_grad_c8",
            "clip_log_tdiff_c16",
            "clip_sharpness",
            "clip_log_bpp",
            *_CODECS,
        )
    ),
    *RATE_SHAPE_TERMS,
)
_SEGMENT = re.compile(r"_[a-z]$")


def source_family(source_id: str) -> str:
    """The content a source id belongs to: ``bikes_c`` -> ``bikes`` (segments of one clip)."""
    return _SEGMENT.sub("", source_id)


@dataclass(frozen=True)
class StreamData:
    """A stream-features table as arrays (one row per frame).

    Attributes:
        x: Inputs, shape (n, len(names)).
        y: Teacher vmaf_v0.6.1 per frame.
        names: Column names of ``x``.
        key: Clip key per row.
        source_id: Source per row.
        family: Content family per row (the LOSO unit).
        codec: Encoder per row.
        distortion: ``encode`` or ``ladder`` per row.
        kind: Source kind per row (``natural``, ``synthetic``, ``user``).
    """

    x: np.ndarray
    y: np.ndarray
    names: tuple[str, ...]
    key: np.ndarray
    source_id: np.ndarray
    family: np.ndarray
    codec: np.ndarray
    distortion: np.ndarray
    kind: np.ndarray


def load_stream_data(path: Path, names: Sequence[str] = DEFAULT_FEATURES) -> StreamData:
    """Read ``stream_features.parquet`` and build the model inputs ``names``.

    Raises:
        BadInputError: missing or unreadable file, or a column the table does not have.
    """
    if not path.is_file():
        raise BadInputError(f"{path}: no such stream features table")
    try:
        t = pq.read_table(path).to_pydict()
    except (OSError, ValueError) as e:  # pyarrow's ArrowInvalid is a ValueError
        why = (str(e).splitlines() or [type(e).__name__])[0]
        raise BadInputError(f"{path}: not a Parquet stream features table ({why})") from None
    cols: list[np.ndarray] = []
    for n in names:
        a, _, b = n.partition("__")
        for part in (a, b) if b else (a,):
            if part not in t:
                raise BadInputError(f"{path}: no column {part!r}")
        va = np.asarray(t[a], dtype=np.float64)
        cols.append(va * np.asarray(t[b], dtype=np.float64) if b else va)
    src = np.asarray(t["source_id"])
    return StreamData(
        x=np.stack(cols, axis=1),
        y=np.asarray(t["vmaf"], dtype=np.float64),
        names=tuple(names),
        key=np.asarray(t["key"]),
        source_id=src,
        family=np.asarray([source_family(s) for s in src]),
        codec=np.asarray(t["codec"]),
        distortion=np.asarray(t["distortion"]),
        kind=np.asarray(t.get("source_kind", ["natural"] * src.size)),
    )


def drop_families(data: StreamData, families: Sequence[str]) -> StreamData:
    """``data`` without the rows of ``families``.

    Raises:
        BadInputError: a family is not in the table, or fewer than two would be left.
    """
    if not families:
        return data
    unknown = sorted(set(families) - set(data.family.tolist()))
    if unknown:
        raise BadInputError(f"--hold-out: no such family in the table: {', '.join(unknown)}")
    keep = ~np.isin(data.family, list(families))
    left = sorted(set(data.family[keep].tolist()))
    if len(left) < 2:  # LOSO needs two families; none left would fit a NaN model
        raise BadInputError(
            f"--hold-out leaves {len(left)} famil{'y' if len(left) == 1 else 'ies'} "
            f"({', '.join(left) or 'none'}): leave-one-source-out needs at least 2 to fit"
        )
    return replace(
        data,
        **{
            f.name: getattr(data, f.name)[keep]
            for f in fields(data)
            if isinstance(getattr(data, f.name), np.ndarray)
        },
    )


class Regressor(Protocol):
    """What the LOSO loop needs of a model: ``fit`` (returns self) and ``predict`` (VMAF)."""

    def fit(self, x: np.ndarray, y: np.ndarray) -> Regressor: ...

    def predict(self, x: np.ndarray) -> np.ndarray: ...


def logit_standardise(
    x: np.ndarray, y: np.ndarray, eps: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The logit targets of VMAF ``y`` (clipped to [eps, 1 - eps] of 100) and the inputs' column
    means and standard deviations (1 where a column is constant)."""
    p = np.clip(y / 100.0, eps, 1.0 - eps)
    std = x.std(axis=0)
    return np.log(p / (1.0 - p)), x.mean(axis=0), np.where(std > 1e-8, std, 1.0)


class LogitRidge:
    """Ridge regression on logit(VMAF/100), standardised inputs; predicts 100 * sigmoid(.).

    Args:
        alpha: L2 penalty on the standardised coefficients.
        eps: Targets are clipped to [eps, 1 - eps] before the logit.
    """

    def __init__(self, alpha: float = 10.0, eps: float = 0.01) -> None:
        self.alpha = alpha
        self.eps = eps

    def fit(self, x: np.ndarray, y: np.ndarray) -> LogitRidge:
        """Fit in closed form (deterministic). Returns self."""
        z, self.mean_, self.std_ = logit_standardise(x, y, self.eps)
        xs = (x - self.mean_) / self.std_
        zm = float(z.mean())
        a = xs.T @ xs + self.alpha * np.eye(xs.shape[1])
        self.coef_ = np.linalg.solve(a, xs.T @ (z - zm))
        self.intercept_ = zm
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Per-row VMAF estimates in (0, 100)."""
        z = ((x - self.mean_) / self.std_) @ self.coef_ + self.intercept_
        out: np.ndarray = 100.0 / (1.0 + np.exp(-z))
        return out


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    if a.size < 2 or a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def _rank(a: np.ndarray) -> np.ndarray:
    order = np.argsort(a, kind="stable")
    r = np.empty(a.size)
    r[order] = np.arange(a.size)
    # average ties
    _, inv = np.unique(a, return_inverse=True)
    sums = np.bincount(inv, r)
    return np.asarray(sums[inv] / np.bincount(inv)[inv])


def clip_metrics(truth: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """PLCC, SROCC, RMSE, mean error (bias) and count."""
    err = pred - truth
    return {
        "n": int(truth.size),
        "plcc": _pearson(truth, pred),
        "srocc": _pearson(_rank(truth), _rank(pred)),
        "rmse": float(np.sqrt(np.mean(err**2))) if truth.size else float("nan"),
        "bias": float(err.mean()) if truth.size else float("nan"),
    }


def clip_means(key: np.ndarray, *vals: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Sorted unique clip keys and, for each of ``vals``, its mean per clip."""
    keys, idx = np.unique(key, return_inverse=True)
    cnt = np.bincount(idx)
    return keys, [np.bincount(idx, v) / cnt for v in vals]


def loso(data: StreamData, make: Callable[[], Regressor] = LogitRidge) -> dict[str, Any]:
    """Leave-one-family-out predictions and clip-level tables, over natural content only.

    Every natural family is held out in turn; sources of another kind (synthetic test patterns)
    are in every fold's training set and in no figure.

    Returns:
        ``clip`` (pooled metrics over every held-out clip), ``frame`` (per-frame metrics),
        ``per_codec``, ``per_family``, ``per_distortion`` (clip-level tables) and ``folds``
        (family -> its clip metrics).
    """
    nat = data.kind == "natural"
    pred = np.zeros_like(data.y)
    for fam in np.unique(data.family[nat]):
        te = data.family == fam
        pred[te] = make().fit(data.x[~te], data.y[~te]).predict(data.x[te])
    pred = np.clip(pred[nat], 0.0, 100.0)
    y, key = data.y[nat], data.key[nat]
    keys, (yc, pc) = clip_means(key, y, pred)
    first = {k: i for i, k in reversed(list(enumerate(key)))}
    rows = [first[k] for k in keys]
    tables: dict[str, dict[str, dict[str, float]]] = {}
    for name, col in (
        ("per_codec", data.codec[nat]),
        ("per_family", data.family[nat]),
        ("per_distortion", data.distortion[nat]),
    ):
        g = col[rows]
        tables[name] = {str(v): clip_metrics(yc[g == v], pc[g == v]) for v in np.unique(g)}
    return {
        "clip": clip_metrics(yc, pc),
        "frame": clip_metrics(y, pred),
        **tables,
        "folds": tables["per_family"],
        "n_families": int(np.unique(data.family[nat]).size),
        "n_frames": int(y.size),
        "n_clips": int(keys.size),
    }
