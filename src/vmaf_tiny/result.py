"""What a score is: per-frame model outputs checked and pooled, and the result that carries them.

Shared by every scoring path (FR features, NR frames, frame pairs) so that none of them imports
another: :func:`score_output` picks the score output, :func:`finish_scores` refuses non-finite
or implausible values and applies the sidecar's clamp, :func:`pool_scores` pools them the way
libvmaf does, and :class:`ScoreResult` is what every path returns.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vmaf_tiny._lazy import numpy as np  # numpy on first use (start-up)
from vmaf_tiny.errors import BadInputError, BadModelError

if TYPE_CHECKING:
    from vmaf_tiny.ffmpeg import FFmpeg
    from vmaf_tiny.records import FrameRecords
    from vmaf_tiny.scoring import CodecFields
    from vmaf_tiny.session import LoadedModel

__all__ = [
    "DTYPES",
    "POOLS",
    "ScoreResult",
    "finish_scores",
    "harmonic_mean",
    "head_spread",
    "percentile_linear",
    "pool_scores",
    "score_output",
    "versions",
]


class _Dtypes(Mapping[str, Any]):
    """sidecar dtype name -> numpy scalar type, looked up when used (numpy loads lazily)."""

    _NAMES = ("float32", "float16", "int64", "int32", "uint8")

    def __getitem__(self, name: str) -> Any:
        if name not in self._NAMES:
            raise KeyError(name)
        return getattr(np, name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._NAMES)

    def __len__(self) -> int:
        return len(self._NAMES)


#: sidecar dtype name -> numpy dtype
DTYPES: Mapping[str, Any] = _Dtypes()


def harmonic_mean(scores: np.ndarray) -> float:
    """libvmaf's harmonic-mean pooling: ``n / sum(1 / (s + 1)) - 1``."""
    s = np.asarray(scores, dtype=np.float64)
    return float(len(s) / np.sum(1.0 / (s + 1.0)) - 1.0)


def percentile_linear(values: np.ndarray, q: float) -> float:
    """``np.percentile(values, q)`` (the default linear method), bit for bit, for 1-D data.

    numpy's own first call imports ``numpy.ma`` (about 15 ms of every ``vmaf-tiny score``).
    """
    v = np.sort(np.asarray(values, dtype=np.float64).ravel())
    if v.size == 0:
        raise BadInputError("no values for a percentile")
    idx = (v.size - 1) * (float(q) / 100.0)
    lo = min(int(np.floor(idx)), v.size - 1)
    hi = min(lo + 1, v.size - 1)
    t = idx - lo
    a, b = v[lo], v[hi]
    diff = b - a
    # numpy's lerp: from the nearer end, so t = 1 gives b exactly
    return float(b - diff * (1.0 - t) if t >= 0.5 else a + diff * t)


#: The pooled statistics of every score, in the order tables show them.
POOLS: tuple[str, ...] = ("mean", "harmonic_mean", "median", "stdev", "min", "p5", "max")


def pool_scores(scores: np.ndarray) -> dict[str, float]:
    """Pooled statistics of per-frame scores (the keys of :data:`POOLS`).

    ``mean``, ``harmonic_mean`` (libvmaf's), ``median``, ``stdev`` (population, ``ddof=0``),
    ``min``, ``p5`` (5th percentile, linear) and ``max``.
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.size == 0:
        raise BadInputError("no frames to pool")
    return {
        "mean": float(np.mean(s)),
        "harmonic_mean": harmonic_mean(s),
        "median": percentile_linear(s, 50.0),
        "stdev": float(np.std(s)),
        "min": float(np.min(s)),
        "p5": percentile_linear(s, 5.0),
        "max": float(np.max(s)),
    }


def score_output(model: LoadedModel, outputs: Sequence[np.ndarray], n: int) -> np.ndarray:
    """Per-row scores from the model's score output (role ``score``, else the first)."""
    sidecar = model.sidecar
    idx = 0
    for i, o in enumerate(sidecar["outputs"]):
        if o.get("role") == "score":
            idx = i
            break
    out = np.asarray(outputs[idx])
    if out.ndim == 0 or out.shape[0] != n or out.size != n:
        raise BadModelError(
            f"model {model.model_id} returned shape {list(out.shape)} for {n} rows; "
            "expected one score per row"
        )
    return out.reshape(n).astype(np.float64)


def head_spread(model: LoadedModel, outputs: Sequence[np.ndarray], n: int) -> np.ndarray | None:
    """Per-row uncertainty of an ensemble: the spread (population standard deviation) of its
    head scores, from the output with role ``heads`` (``[N, K]``); None without such an output.

    Raises:
        BadModelError: a ``heads`` output that is not ``n`` rows of finite values.
    """
    for i, o in enumerate(model.sidecar["outputs"]):
        if o.get("role") == "heads":
            heads = np.asarray(outputs[i], dtype=np.float64)
            if heads.ndim != 2 or heads.shape[0] != n or not np.isfinite(heads).all():
                raise BadModelError(
                    f"model {model.model_id} returned heads of shape {list(heads.shape)} for "
                    f"{n} rows (or non-finite values); expected [N, K] finite"
                )
            return np.std(heads, axis=1)
    return None


def finish_scores(sidecar: Mapping[str, Any], scores: np.ndarray) -> np.ndarray:
    """Refuse non-finite raw outputs and raw outputs outside
    :func:`vmaf_tiny.bounds.score_bounds`, then clip to ``output.range`` when the sidecar's
    ``output.clamp`` is true.

    The band is checked on the raw outputs, before clamping: a clamp trims a regressor's small
    overshoot, it never turns an absurd output (1e30, 150 on a 0..100 scale) into a score.

    Raises:
        BadModelError: a NaN/inf output, or one outside the plausible band (one line naming
            the model, the value and the band).
    """
    from vmaf_tiny.bounds import SCORE_MARGIN, score_bounds

    spec = sidecar.get("output") or {}
    rng = spec.get("range")
    scores = np.asarray(scores, dtype=np.float64)
    name = sidecar.get("id", "model")
    finite = np.isfinite(scores)
    if not finite.all():
        i = int(np.argmin(finite))
        raise BadModelError(f"model {name} produced a non-finite score ({scores[i]}) at row {i}")
    lo, hi = score_bounds(sidecar)
    bad = (scores < lo) | (scores > hi)
    if bad.any():
        i = int(np.argmax(bad))
        declared = f"its output.range {list(rng)}" if rng else "no output.range (default [0, 100])"
        raise BadModelError(
            f"model {name} produced score {scores[i]:.6g} at row {i}, outside the plausible "
            f"range [{lo:g}, {hi:g}] ({declared} widened by {SCORE_MARGIN:.0%} of its width on "
            "each side); not a score"
        )
    if spec.get("clamp") and rng:
        scores = np.clip(scores, float(rng[0]), float(rng[1]))
    return scores


@dataclass
class ScoreResult:
    """Scores of one video (pair) under one model.

    Attributes:
        model_id: The model.
        kind: ``fr`` or ``nr``.
        frames: Per-frame model scores.
        pooled: mean, harmonic_mean, min, p5, max of ``frames``.
        svm_frames: libvmaf vmaf_v0.6.1 per frame from the same pass (``with_svm``), else None.
        svm_pooled: Its pooled values, else None.
        provider: The execution provider that ran the model.
        reference: Reference path (None for NR).
        distorted: Distorted path.
        codec: Codec fields used (codec-aware models).
        versions: vmaf-tiny, onnxruntime, ffmpeg and libvmaf versions.
        warnings: Non-fatal notes.
        seconds: Where the time went (load, features/decode, model, total).
        damaged_frames_dropped: Frames left out of the scores because an input was damaged
            (only with ``allow_damaged``; see :mod:`vmaf_tiny.damage`).
        records: Per-frame records (frame, time, features, scores, teacher, extras) as
            :class:`vmaf_tiny.records.FrameRecords` (``dict(res.records)``: numpy arrays;
            ``res.records.to_structured()``: a structured array), else None.
        teacher: The libvmaf model of ``svm_frames`` (``vmaf_v0.6.1`` unless chosen).
        subsample: Every ``subsample``-th frame was scored (1: all); pooled values are over
            the scored frames.
        n_frames_total: Frames in the input (pair) before subsampling (0: not recorded).
        uncertainty: Per-frame uncertainty of the scores (spread of a model's ensemble heads)
            where the model reports one, else None.
        uncertainty_note: Why there is no uncertainty, when there is none for an NR model.
        fast: Fast models (:mod:`vmaf_tiny.fast`): the operating point (bands, fraction,
            subsample) and what was sampled; else None.
        out_of_domain: NR models (pixel and stream): True when at least half the scored frames
            are flat (:mod:`vmaf_tiny.nr`, :mod:`vmaf_tiny.nr_stream`; the score means nothing
            there) or, for a stream model, the coded size is far below its training sizes
            (:data:`vmaf_tiny.nr_stream.MIN_STREAM_AREA`), False otherwise; None for every other
            path (and absent from :meth:`to_dict`).
    """

    model_id: str
    kind: str
    frames: np.ndarray
    pooled: dict[str, float]
    provider: str
    distorted: str
    reference: str | None = None
    svm_frames: np.ndarray | None = None
    svm_pooled: dict[str, float] | None = None
    codec: CodecFields | None = None
    versions: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    damaged_frames_dropped: int = 0
    records: FrameRecords | None = None
    teacher: str = "vmaf_v0.6.1"
    subsample: int = 1
    n_frames_total: int = 0
    uncertainty: np.ndarray | None = None
    uncertainty_note: str | None = None
    fast: dict[str, Any] | None = None
    out_of_domain: bool | None = None

    @property
    def n_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def frame_index(self) -> np.ndarray:
        """The index of each scored frame in the pair (``records["frame"]``)."""
        if self.records is not None:
            return np.asarray(self.records["frame"])
        return np.arange(self.n_frames, dtype=np.int64) * max(1, self.subsample)

    @property
    def mean(self) -> float:
        return self.pooled["mean"]

    def to_dict(self, per_frame: bool = True) -> dict[str, Any]:
        d: dict[str, Any] = {
            "model": self.model_id,
            "kind": self.kind,
            "reference": self.reference,
            "distorted": self.distorted,
            "n_frames": self.n_frames,
            "damaged_frames_dropped": self.damaged_frames_dropped,
            "pooled": self.pooled,
            "provider": self.provider,
            "versions": self.versions,
            "warnings": list(self.warnings),
            "seconds": {k: round(v, 6) for k, v in self.seconds.items()},
        }
        if self.codec is not None:
            d["codec"] = self.codec.to_dict()
        if self.svm_pooled is not None:
            d["svm"] = {"model": self.teacher, "pooled": self.svm_pooled}
        d["subsample"] = self.subsample
        d["n_frames_total"] = self.n_frames_total or self.n_frames
        if self.uncertainty is not None:
            d["uncertainty"] = {"pooled_mean": float(np.mean(self.uncertainty))}
        elif self.uncertainty_note is not None:
            d["uncertainty"] = {"pooled_mean": None, "note": self.uncertainty_note}
        if self.fast is not None:
            d["fast"] = dict(self.fast)
        if self.out_of_domain is not None:
            d["out_of_domain"] = self.out_of_domain
        if per_frame:
            d["frames"] = [float(v) for v in self.frames]
            if self.svm_frames is not None:
                d["svm"]["frames"] = [float(v) for v in self.svm_frames]
            if self.uncertainty is not None:
                d["uncertainty"]["frames"] = [float(v) for v in self.uncertainty]
            if self.records is not None:
                d["records"] = self.records.to_rows()
        return d


def versions(model: LoadedModel, ff: FFmpeg, libvmaf: str | None) -> dict[str, str]:
    """Versions recorded with every score."""
    import onnxruntime

    import vmaf_tiny

    v = {
        "vmaf_tiny": vmaf_tiny.__version__,
        "onnxruntime": onnxruntime.__version__,
        "ffmpeg": ff.version,
    }
    if libvmaf:
        v["libvmaf"] = libvmaf
    return v
