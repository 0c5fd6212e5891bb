"""End-to-end scoring: videos -> libvmaf features (or luma frames) -> tiny model -> pooled score.

Full-reference (``kind: fr``) models take the per-frame features of one libvmaf pass, arranged
by the sidecar's ``feature_order``, standardised when the sidecar's normalisation is not baked
into the graph, plus the codec block for codec-aware models; every frame goes through the model
in one batch. No-reference (``kind: nr``) models take decoded luma frames prepared as the
sidecar's ``frame`` block says. Outputs are checked to be finite and pooled (mean, harmonic mean,
min, 5th percentile).

The pure functions (:func:`pool_scores`, :func:`fr_inputs`, :func:`prepare_frame`) hold the
logic; :func:`score` and :func:`score_nr` only wire files, libvmaf and the session together.
"""

from __future__ import annotations

import csv
import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vmaf_tiny.codec import codec_columns
from vmaf_tiny.errors import BadInputError, BadModelError
from vmaf_tiny.features import FeatureResult, extract_features
from vmaf_tiny.ffmpeg import FFmpeg, resolve_ffmpeg
from vmaf_tiny.session import LoadedModel, load_model
from vmaf_tiny.sidecar import input_roles
from vmaf_tiny.video import VideoInfo, VideoSpec, as_spec, frame_bytes, probe, read_luma

__all__ = [
    "CodecFields",
    "PairJob",
    "ScoreResult",
    "fast_probe",
    "fr_inputs",
    "harmonic_mean",
    "pool_scores",
    "prepare_frame",
    "read_pairs",
    "resolve_codec",
    "score",
    "score_nr",
    "score_pair",
]

_DTYPES = {"float32": np.float32, "float16": np.float16, "int64": np.int64, "int32": np.int32,
           "uint8": np.uint8}  # fmt: skip
# NR frames per ONNX Runtime call when the batch axis is dynamic (bounded by bytes too).
_NR_BATCH_BYTES = 64 * 1024 * 1024


# ---------------------------------------------------------------------------- pure functions


def harmonic_mean(scores: np.ndarray) -> float:
    """libvmaf's harmonic-mean pooling: ``n / sum(1 / (s + 1)) - 1``."""
    s = np.asarray(scores, dtype=np.float64)
    return float(len(s) / np.sum(1.0 / (s + 1.0)) - 1.0)


def pool_scores(scores: np.ndarray) -> dict[str, float]:
    """Pooled statistics of per-frame scores: mean, harmonic mean, min, 5th percentile, max."""
    s = np.asarray(scores, dtype=np.float64)
    if s.size == 0:
        raise BadInputError("no frames to pool")
    return {
        "mean": float(np.mean(s)),
        "harmonic_mean": harmonic_mean(s),
        "min": float(np.min(s)),
        "p5": float(np.percentile(s, 5)),
        "max": float(np.max(s)),
    }


@dataclass(frozen=True)
class CodecFields:
    """Codec, preset and CRF of the distorted encode, and where each came from.

    Attributes:
        codec: Encoder name (``libx264``...), ``none`` for pure scaling.
        preset: Encoder preset, None when unknown.
        crf: CRF, None when unknown.
        source: field -> ``flag`` / ``stream`` / ``unknown``.
    """

    codec: str
    preset: str | None
    crf: float | None
    source: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"codec": self.codec, "preset": self.preset, "crf": self.crf,
                "source": dict(self.source)}  # fmt: skip


def resolve_codec(
    info: VideoInfo | None,
    *,
    codec: str | None = None,
    preset: str | None = None,
    crf: float | None = None,
) -> tuple[CodecFields, list[str]]:
    """Codec fields for a codec-aware model: flags first, then the distorted stream's info.

    Returns:
        The fields and any warnings (an unknown preset is used as the block's "unknown" value).

    Raises:
        BadInputError: the codec or CRF cannot be determined (says which flag to pass).
    """
    source: dict[str, str] = {}
    name = info.path.name if info is not None else "the distorted video"
    if codec:
        source["codec"] = "flag"
    elif info is not None and info.encoder:
        codec, source["codec"] = info.encoder, "stream"
    else:
        decoder = f" (stream codec {info.decoder})" if info is not None else ""
        raise BadInputError(
            f"this model is codec-aware and the encoder of {name} cannot be read{decoder}: "
            "pass --codec (e.g. --codec libx264, or --codec none for an unencoded video)"
        )
    warns: list[str] = []
    if codec != "none":
        if crf is not None:
            source["crf"] = "flag"
        elif info is not None and info.crf is not None and (info.encoder == codec):
            crf, source["crf"] = info.crf, "stream"
        else:
            raise BadInputError(
                f"this model is codec-aware and the CRF of {name} ({codec}) cannot be read "
                "from the stream: pass --crf"
            )
        if preset:
            source["preset"] = "flag"
        else:
            source["preset"] = "unknown"
            warns.append(
                f"preset of {name} is unknown (streams do not record it): using the codec "
                "block's 'unknown' value; pass --preset for an exact input"
            )
    return CodecFields(codec=codec, preset=preset, crf=crf, source=source), warns


def fr_inputs(
    sidecar: Mapping[str, Any],
    columns: Mapping[str, np.ndarray],
    codec: CodecFields | None = None,
) -> dict[str, np.ndarray]:
    """Build an FR model's input arrays from per-frame feature columns.

    Args:
        sidecar: The validated sidecar.
        columns: feature name -> per-frame values (e.g. ``FeatureResult.columns``).
        codec: Codec fields, required when the sidecar has a ``codec_block``.

    Returns:
        input name -> array with the dtype the sidecar declares.

    Raises:
        BadModelError: the sidecar asks for a feature the columns lack.
        BadInputError: a codec-aware model without codec fields.
    """
    order = list(sidecar.get("feature_order") or [])
    missing = [f for f in order if f not in columns]
    if missing:
        raise BadModelError(
            f"model {sidecar['id']} needs feature(s) {missing} that libvmaf's pass does not "
            f"produce (available: {sorted(columns)})"
        )
    x = np.stack([np.asarray(columns[f], dtype=np.float64) for f in order], axis=1)
    norm = sidecar.get("normalization")
    if norm is not None and not norm["baked"]:
        mean = np.asarray(norm["feature_mean"], dtype=np.float64)
        std = np.asarray(norm["feature_std"], dtype=np.float64)
        x = (x - mean) / std
    roles = input_roles(sidecar)
    feeds: dict[str, np.ndarray] = {}
    block = sidecar.get("codec_block")
    if block is not None:
        if codec is None:
            raise BadInputError(f"model {sidecar['id']} is codec-aware: codec fields are needed")
        cb = codec_columns(block, codec.codec, codec.preset, codec.crf, n=x.shape[0])
        if "codec" in roles:
            spec = roles["codec"]
            feeds[spec["name"]] = cb.astype(_DTYPES[spec["dtype"]])
        else:
            x = np.concatenate([x, cb.astype(np.float64)], axis=1)
    spec = roles["features"]
    feeds[spec["name"]] = np.ascontiguousarray(x.astype(_DTYPES[spec["dtype"]]))
    return feeds


def _score_output(model: LoadedModel, outputs: Sequence[np.ndarray], n: int) -> np.ndarray:
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


def _finish(sidecar: Mapping[str, Any], scores: np.ndarray) -> np.ndarray:
    spec = sidecar.get("output") or {}
    rng = spec.get("range")
    if spec.get("clamp") and rng:
        scores = np.clip(scores, float(rng[0]), float(rng[1]))
    return scores


def prepare_frame(luma: np.ndarray, frame_spec: Mapping[str, Any]) -> np.ndarray:
    """Centre-crop a luma frame (already resized) and map [0, 1] to the sidecar's value range.

    ``crop`` is ``[width, height]``; ``value_range`` is ``[lo, hi]`` (default [0, 1]).
    """
    out = luma
    crop = frame_spec.get("crop")
    if crop:
        cw, ch = int(crop[0]), int(crop[1])
        h, w = out.shape
        if cw > w or ch > h:
            raise BadInputError(f"frame {w}x{h} is smaller than the model's crop {cw}x{ch}")
        y0, x0 = (h - ch) // 2, (w - cw) // 2
        out = out[y0 : y0 + ch, x0 : x0 + cw]
    lo, hi = frame_spec.get("value_range") or (0.0, 1.0)
    if (lo, hi) != (0.0, 1.0):
        out = out * np.float32(hi - lo) + np.float32(lo)
    return out


# ---------------------------------------------------------------------------- probing

# y4m colour-space tag -> pixel format (the ones vmaf_tiny.video supports)
_Y4M_FORMATS = {
    "420": "yuv420p", "420jpeg": "yuv420p", "420mpeg2": "yuv420p", "420paldv": "yuv420p",
    "422": "yuv422p", "444": "yuv444p", "420p10": "yuv420p10le", "422p10": "yuv422p10le",
    "444p10": "yuv444p10le",
}  # fmt: skip


def _y4m_info(path: Path) -> VideoInfo | None:
    """Probe an uncompressed y4m from its header and size alone (no ffmpeg run).

    Returns None (the caller falls back to ffmpeg) unless the file is a whole number of frames
    that all start with the same plain ``FRAME`` header.
    """
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(1024)
            nl = head.find(b"\n")
            if not head.startswith(b"YUV4MPEG2 ") or nl < 0 or head[nl + 1 : nl + 7] != b"FRAME\n":
                return None
            tags = {t[:1]: t[1:] for t in head[10:nl].decode("ascii").split() if t}
            width, height = int(tags["W"]), int(tags["H"])
            pix_fmt = _Y4M_FORMATS.get(tags.get("C", "420jpeg"))
            num, den = (int(v) for v in tags.get("F", "25:1").split(":"))
            if pix_fmt is None or width <= 0 or height <= 0 or num <= 0 or den <= 0:
                return None
            frame = 6 + frame_bytes(width, height, pix_fmt)
            body = size - (nl + 1)
            if body <= 0 or body % frame:
                return None
            n = body // frame
            fh.seek(nl + 1 + (n - 1) * frame)
            if fh.read(6) != b"FRAME\n":
                return None
    except (OSError, ValueError, KeyError, UnicodeDecodeError):
        return None
    return VideoInfo(
        path=path, width=width, height=height, pix_fmt=pix_fmt,
        bit_depth=10 if pix_fmt.endswith("10le") else 8, n_frames=n, fps=num / den,
        decoder="rawvideo",
    )  # fmt: skip


def fast_probe(spec: VideoSpec, ff: FFmpeg) -> VideoInfo:
    """:func:`vmaf_tiny.video.probe`, but plain y4m files are read from their header (no ffmpeg).

    A y4m reference at 1080p is ~3 MB a frame; ffmpeg's probe reads all of it just to count
    frames. Anything unusual (frame parameters, a partial last frame) goes to ``probe``.
    """
    if not spec.is_raw and spec.path.suffix.lower() == ".y4m" and spec.path.is_file():
        info = _y4m_info(spec.path)
        if info is not None:
            return info
    return probe(spec, ff)


# ---------------------------------------------------------------------------- results


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

    @property
    def n_frames(self) -> int:
        return int(self.frames.shape[0])

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
            "pooled": self.pooled,
            "provider": self.provider,
            "versions": self.versions,
            "warnings": list(self.warnings),
            "seconds": {k: round(v, 6) for k, v in self.seconds.items()},
        }
        if self.codec is not None:
            d["codec"] = self.codec.to_dict()
        if self.svm_pooled is not None:
            d["svm"] = {"model": "vmaf_v0.6.1", "pooled": self.svm_pooled}
        if per_frame:
            d["frames"] = [float(v) for v in self.frames]
            if self.svm_frames is not None:
                d["svm"]["frames"] = [float(v) for v in self.svm_frames]
        return d


def _versions(model: LoadedModel, ff: FFmpeg, libvmaf: str | None) -> dict[str, str]:
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


# ---------------------------------------------------------------------------- scoring


def score(
    reference: VideoSpec | str | os.PathLike[str],
    distorted: VideoSpec | str | os.PathLike[str],
    model: str | os.PathLike[str] | LoadedModel = "vmaf_tiny_v2",
    *,
    with_svm: bool = False,
    backend: str = "auto",
    threads: int = 1,
    int8: bool = False,
    codec: str | None = None,
    preset: str | None = None,
    crf: float | None = None,
    truncate: bool = False,
    width: int | None = None,
    height: int | None = None,
    pix_fmt: str | None = None,
    ffmpeg: FFmpeg | None = None,
) -> ScoreResult:
    """Score a distorted video against its reference with a full-reference tiny model.

    One libvmaf pass gives the features (and, for free, libvmaf's own vmaf_v0.6.1 score); the
    model scores every frame in one batch.

    Args:
        reference: Reference video (path or VideoSpec).
        distorted: Distorted video; upscaled to the reference size when smaller.
        model: Registry id, .onnx path or a loaded model.
        with_svm: Also return libvmaf's vmaf_v0.6.1 from the same pass.
        backend: ``auto``, ``cpu``, ``cuda`` or ``openvino``.
        threads: ONNX Runtime intra-op threads and libvmaf threads.
        int8: For a registry id: use its int8 file.
        codec: Codec-aware models: the encoder (else read from the stream).
        preset: Codec-aware models: the encoder preset.
        crf: Codec-aware models: the CRF (else read from x264/x265 streams).
        truncate: Score the common frames when the frame counts differ.
        width: Raw yuv inputs: frame width (both inputs).
        height: Raw yuv inputs: frame height.
        pix_fmt: Raw yuv inputs: pixel format.
        ffmpeg: ffmpeg binary (resolved if None).

    Returns:
        Per-frame and pooled scores.

    Raises:
        BadInputError: unreadable or mismatched videos, missing codec fields.
        BadModelError: the model failed a check, is not FR, or produced NaN/inf.
    """
    t0 = time.perf_counter()
    lm = load_model(model, backend=backend, threads=threads, int8=int8)
    t_load = time.perf_counter() - t0
    if lm.kind != "fr":
        raise BadInputError(
            f"model {lm.model_id} is kind {lm.kind!r}; use --no-reference for NR models"
            if lm.kind == "nr"
            else f"model {lm.model_id} is kind {lm.kind!r}, not a full-reference model"
        )
    ff = ffmpeg or resolve_ffmpeg()
    rspec = as_spec(reference, width=width, height=height, pix_fmt=pix_fmt)
    dspec = as_spec(distorted, width=width, height=height, pix_fmt=pix_fmt)
    t1 = time.perf_counter()
    rinfo = fast_probe(rspec, ff)
    dinfo = fast_probe(dspec, ff)
    warns = list(lm.warnings)
    fields = None
    if lm.sidecar.get("codec_block") is not None:
        fields, cwarn = resolve_codec(dinfo, codec=codec, preset=preset, crf=crf)
        warns += cwarn
    feats: FeatureResult = extract_features(
        rspec, dspec, n_threads=threads, truncate=truncate, ffmpeg=ff,
        reference_info=rinfo, distorted_info=dinfo,
    )  # fmt: skip
    t2 = time.perf_counter()
    feeds = fr_inputs(lm.sidecar, feats.columns, fields)
    scores = _finish(lm.sidecar, _score_output(lm, lm.run(feeds), feats.n_frames))
    t3 = time.perf_counter()
    warns += list(feats.warnings)
    return ScoreResult(
        model_id=lm.model_id,
        kind="fr",
        frames=scores,
        pooled=pool_scores(scores),
        provider=lm.provider,
        reference=str(rspec.path),
        distorted=str(dspec.path),
        svm_frames=feats.vmaf.copy() if with_svm else None,
        svm_pooled=pool_scores(feats.vmaf) if with_svm else None,
        codec=fields,
        versions=_versions(lm, ff, feats.libvmaf_version),
        warnings=warns,
        seconds={"load": t_load, "features": t2 - t1, "model": t3 - t2, "total": t3 - t0},
    )


def _nr_frames(
    spec: VideoSpec, info: VideoInfo, frame: Mapping[str, Any], ff: FFmpeg,
    in_hw: tuple[Any, Any],
) -> Iterator[np.ndarray]:  # fmt: skip
    resize = frame.get("resize")
    size = (int(resize[0]), int(resize[1])) if resize else None
    stride = int(frame.get("stride") or 1)
    for i, luma in enumerate(read_luma(spec, ffmpeg=ff, info=info, size=size)):
        if i % stride:
            continue
        out = prepare_frame(luma, frame)
        h, w = in_hw
        if (isinstance(h, int) and out.shape[0] != h) or (isinstance(w, int) and out.shape[1] != w):
            raise BadInputError(
                f"{spec.path.name}: frames are {out.shape[1]}x{out.shape[0]} but the model takes "
                f"{w}x{h} (its sidecar has no resize/crop to get there)"
            )
        yield out


def _batches(frames: Iterable[np.ndarray], batch: int) -> Iterator[np.ndarray]:
    buf: list[np.ndarray] = []
    for f in frames:
        buf.append(f)
        if len(buf) == batch:
            yield np.stack(buf)[:, None]
            buf = []
    if buf:
        yield np.stack(buf)[:, None]


def score_nr(
    distorted: VideoSpec | str | os.PathLike[str],
    model: str | os.PathLike[str] | LoadedModel,
    *,
    backend: str = "auto",
    threads: int = 1,
    int8: bool = False,
    width: int | None = None,
    height: int | None = None,
    pix_fmt: str | None = None,
    ffmpeg: FFmpeg | None = None,
) -> ScoreResult:
    """Score a video without a reference with a no-reference (``kind: nr``) model.

    Frames are decoded through the project's ffmpeg as luma in [0, 1], resized to the sidecar's
    ``frame.resize`` ([width, height], bicubic), centre-cropped to ``frame.crop``, mapped to
    ``frame.value_range``, every ``frame.stride``-th frame kept; the model gives one score per
    frame, pooled by the mean.

    Args:
        distorted: The video.
        model: Registry id, .onnx path or a loaded NR model.
        backend: Execution backend.
        threads: ONNX Runtime intra-op threads.
        int8: For a registry id: use its int8 file.
        width: Raw yuv input: frame width.
        height: Raw yuv input: frame height.
        pix_fmt: Raw yuv input: pixel format.
        ffmpeg: ffmpeg binary (resolved if None).

    Returns:
        Per-frame and pooled scores.
    """
    t0 = time.perf_counter()
    lm = load_model(model, backend=backend, threads=threads, int8=int8)
    t_load = time.perf_counter() - t0
    if lm.kind != "nr":
        raise BadInputError(f"model {lm.model_id} is kind {lm.kind!r}; --no-reference needs NR")
    ff = ffmpeg or resolve_ffmpeg()
    dspec = as_spec(distorted, width=width, height=height, pix_fmt=pix_fmt)
    t1 = time.perf_counter()
    info = fast_probe(dspec, ff)
    roles = input_roles(lm.sidecar)
    spec = roles.get("frame") or roles["distorted_frame"]
    shape = spec["shape"]
    frame = lm.sidecar.get("frame") or {}
    dtype = _DTYPES[spec["dtype"]]
    if isinstance(shape[0], int):
        batch = shape[0]
    else:
        fw, fh = frame.get("crop") or frame.get("resize") or (info.width, info.height)
        batch = max(1, min(256, _NR_BATCH_BYTES // max(1, int(fw) * int(fh) * 4)))
    per_frame: list[np.ndarray] = []
    t_model = 0.0
    for x in _batches(_nr_frames(dspec, info, frame, ff, (shape[2], shape[3])), batch):
        n = x.shape[0]
        if isinstance(shape[0], int) and n != shape[0]:
            pad = np.repeat(x[-1:], shape[0] - n, axis=0)
            x = np.concatenate([x, pad])
        tm = time.perf_counter()
        outs = lm.run({spec["name"]: np.ascontiguousarray(x.astype(dtype))})
        t_model += time.perf_counter() - tm
        per_frame.append(_score_output(lm, outs, x.shape[0])[:n])
    if not per_frame:
        raise BadInputError(f"{dspec.path.name}: no frames decoded")
    scores = _finish(lm.sidecar, np.concatenate(per_frame))
    t3 = time.perf_counter()
    return ScoreResult(
        model_id=lm.model_id,
        kind="nr",
        frames=scores,
        pooled=pool_scores(scores),
        provider=lm.provider,
        distorted=str(dspec.path),
        versions=_versions(lm, ff, None),
        warnings=list(lm.warnings),
        seconds={
            "load": t_load,
            "decode": t3 - t1 - t_model,
            "model": t_model,
            "total": t3 - t0,
        },
    )


# ---------------------------------------------------------------------------- many pairs


@dataclass(frozen=True)
class PairJob:
    """One row of a pairs file, with the options that apply to every row (picklable).

    Attributes:
        index: Row number (0-based, data rows).
        reference: Reference path.
        distorted: Distorted path.
        model: Registry id or .onnx path.
        options: Keyword arguments for :func:`score` (row values override).
    """

    index: int
    reference: str
    distorted: str
    model: str
    options: tuple[tuple[str, Any], ...] = ()


_PAIR_COLUMNS = ("codec", "preset", "crf", "width", "height", "pix_fmt")
_MODEL_CACHE: dict[tuple[Any, ...], LoadedModel] = {}


def read_pairs(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read a pairs CSV: header with ``reference,distorted`` (optional ``codec, preset, crf,
    width, height, pix_fmt``); relative paths are relative to the CSV's directory.

    Raises:
        BadInputError: missing file/columns, empty file, bad numbers.
    """
    p = Path(path)
    if not p.is_file():
        raise BadInputError(f"no such pairs file: {p}")
    with p.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        header = [h.strip() for h in (reader.fieldnames or [])]
        need = {"reference", "distorted"}
        if not need.issubset(header):
            raise BadInputError(
                f"{p.name}: header must have columns reference,distorted (got {header})"
            )
        rows = []
        for i, raw in enumerate(reader):
            row = {k.strip(): (v or "").strip() for k, v in raw.items() if k}
            if not row.get("reference") and not row.get("distorted"):
                continue
            out: dict[str, Any] = {}
            for key in ("reference", "distorted"):
                if not row.get(key):
                    raise BadInputError(f"{p.name}: row {i + 2} has no {key}")
                q = Path(row[key])
                out[key] = str(q if q.is_absolute() else p.parent / q)
            for key in _PAIR_COLUMNS:
                val = row.get(key) or None
                if val is not None and key in ("crf",):
                    val = _number(val, float, p.name, i, key)
                elif val is not None and key in ("width", "height"):
                    val = _number(val, int, p.name, i, key)
                if val is not None:
                    out[key] = val
            rows.append(out)
    if not rows:
        raise BadInputError(f"{p.name}: no pairs")
    return rows


def _number(val: str, kind: type, name: str, i: int, key: str) -> Any:
    try:
        return kind(val)
    except ValueError as exc:
        raise BadInputError(f"{name}: row {i + 2}: {key} {val!r} is not a number") from exc


def _cached_model(model: str, backend: str, threads: int, int8: bool) -> LoadedModel:
    key = (model, backend, threads, int8, os.environ.get("VMAF_TINY_ZOO"))
    lm = _MODEL_CACHE.get(key)
    if lm is None:
        lm = load_model(model, backend=backend, threads=threads, int8=int8)
        _MODEL_CACHE[key] = lm
    return lm


def score_pair(job: PairJob) -> dict[str, Any]:
    """Score one pair (a module-level function, so Dask workers can run it).

    The model is loaded once per worker process and reused.

    Returns:
        A flat row: reference, distorted, n_frames, pooled values, SVM mean if asked, provider.
    """
    opts = dict(job.options)
    lm = _cached_model(
        job.model, opts.pop("backend", "auto"), int(opts.get("threads", 1)),
        bool(opts.pop("int8", False)),
    )  # fmt: skip
    res = score(job.reference, job.distorted, lm, **opts)
    row: dict[str, Any] = {
        "reference": job.reference,
        "distorted": job.distorted,
        "n_frames": res.n_frames,
        **res.pooled,
        "provider": res.provider,
    }
    if res.svm_pooled is not None:
        row["svm_mean"] = res.svm_pooled["mean"]
        row["svm_harmonic_mean"] = res.svm_pooled["harmonic_mean"]
    if res.codec is not None:
        row["codec"] = res.codec.codec
        row["crf"] = res.codec.crf
    return row
