"""No-reference scoring: decoded luma frames -> a ``kind: nr`` model -> pooled score.

Frames come through the project's ffmpeg (:func:`vmaf_tiny.video.read_luma`) and are prepared as
the sidecar's ``frame`` block says: resized to ``resize`` ([width, height], bicubic), centre-
cropped to ``crop`` ([width, height]), mapped from [0, 1] to ``value_range``, every ``stride``-th
frame kept. With ``temporal: "previous"`` each frame goes in with the kept frame before it as a
second channel ([N, 2, H, W]; the first frame is its own previous), so a model can measure
motion and coding flicker. Frames go to the model in batches (one per call when its batch axis
is static).

Input outside what a pixel model (one with ``frame.resize``) can score is handled in two ways:
a side under :data:`MIN_NR_SIDE` pixels is refused (:class:`BadInputError`; the model would see
an interpolation, not content), and a clip whose frames are mostly flat (luma standard deviation
under :data:`FLAT_STD`, e.g. all black or one colour) is scored but flagged
(``ScoreResult.out_of_domain`` and a warning): no training clip looked like that, and the
shipped models put such frames near 100.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from vmaf_tiny._lazy import numpy as np  # numpy on first use (start-up)
from vmaf_tiny.damage import DecodeLog
from vmaf_tiny.errors import BadInputError
from vmaf_tiny.ffmpeg import FFmpeg, resolve_ffmpeg
from vmaf_tiny.kinds import require_kind
from vmaf_tiny.records import FrameRecords, frame_records
from vmaf_tiny.result import (
    DTYPES,
    ScoreResult,
    finish_scores,
    head_spread,
    pool_scores,
    score_output,
    versions,
)
from vmaf_tiny.session import LoadedModel, load_model
from vmaf_tiny.sidecar import input_roles
from vmaf_tiny.video import VideoInfo, VideoSpec, as_spec, probe, read_luma

__all__ = [
    "FLAT_STD",
    "MIN_NR_SIDE",
    "damage_warnings",
    "flat_warning",
    "prepare_frame",
    "score_nr",
    "with_previous",
]

# Frames per ONNX Runtime call when the batch axis is dynamic, bounded by bytes: small batches
# stay in cache (at 640x360 one frame per call measured fastest per frame, 16 or 72 up to 2x
# slower); small frames are still batched.
_NR_BATCH_BYTES = 1024 * 1024

#: Smallest side (pixels) a pixel NR model with ``frame.resize`` scores: a 15-pixel side is
#: upscaled more than 20x to 640x360, so the model would measure the interpolation filter.
MIN_NR_SIDE = 16
#: A frame whose luma (in [0, 1], on a 4-pixel grid) has a standard deviation under this is flat.
FLAT_STD = 1.0 / 255.0


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


def _nr_frames(
    spec: VideoSpec,
    info: VideoInfo,
    frame: Mapping[str, Any],
    ff: FFmpeg,
    in_hw: tuple[Any, Any],
    allow_damaged: bool = False,
    log: DecodeLog | None = None,
    flat: list[bool] | None = None,
) -> Iterator[np.ndarray]:
    resize = frame.get("resize")
    size = (int(resize[0]), int(resize[1])) if resize else None
    stride = int(frame.get("stride") or 1)
    frames = read_luma(spec, ffmpeg=ff, info=info, size=size, allow_damaged=allow_damaged, log=log)
    for i, luma in enumerate(frames):
        if i % stride:
            continue
        if flat is not None:
            flat.append(bool(luma[::4, ::4].std() < FLAT_STD))
        out = prepare_frame(luma, frame)
        h, w = in_hw
        if (isinstance(h, int) and out.shape[0] != h) or (isinstance(w, int) and out.shape[1] != w):
            raise BadInputError(
                f"{spec.path.name}: frames are {out.shape[1]}x{out.shape[0]} but the model takes "
                f"{w}x{h} (its sidecar has no resize/crop to get there)"
            )
        yield out


def damage_warnings(name: str, log: DecodeLog) -> list[str]:
    """The warning lines for damage accepted with ``allow_damaged`` (none for a clean read)."""
    if not log.messages:
        return []
    out = [
        f"{name}: damaged stream ({'; '.join(log.messages[:3])}): --allow-damaged dropped "
        f"{log.dropped} frame(s), {log.frames} used"
    ]
    if log.concealed:
        out.append(
            f"{name}: {log.concealed} frame(s) the decoder concealed are kept (ffmpeg cannot "
            "single them out)"
        )
    return out


def flat_warning(name: str, model_id: str, flat: list[bool]) -> str | None:
    """The warning for flat frames (None when there are none); flagged when at least half."""
    k, n = sum(flat), len(flat)
    if not k:
        return None
    what = "out of the model's domain" if 2 * k >= n else "they pull the mean towards 100"
    return (
        f"{name}: {k} of {n} frames are flat (black or one colour), which {model_id} never "
        f"saw in training: {what}"
    )


def _records(
    model_id: str, scores: np.ndarray, spread: list[np.ndarray], stride: int, fps: float
) -> FrameRecords:
    """Per-frame records of an NR score: frame index (every ``stride``-th), time, score."""
    cols = {model_id: scores}
    if spread:
        cols[f"{model_id}_uncertainty"] = np.concatenate(spread)
    return frame_records(np.arange(scores.shape[0], dtype=np.int64) * stride, fps, cols)


def with_previous(frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """Each [H, W] frame as [2, H, W]: the frame and the one before it (the first: itself)."""
    prev: np.ndarray | None = None
    for f in frames:
        yield np.stack([f, f if prev is None else prev])
        prev = f


def _batches(frames: Iterable[np.ndarray], batch: int) -> Iterator[np.ndarray]:
    buf: list[np.ndarray] = []
    for f in frames:
        buf.append(f)
        if len(buf) == batch:
            yield _stack(buf)
            buf = []
    if buf:
        yield _stack(buf)


def _stack(buf: list[np.ndarray]) -> np.ndarray:
    """[H, W] frames -> [N, 1, H, W]; [C, H, W] frame stacks -> [N, C, H, W]."""
    x = np.stack(buf)
    return x[:, None] if x.ndim == 3 else x


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
    allow_damaged: bool = False,
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
        allow_damaged: Score the clean frames of a damaged input instead of raising.

    Returns:
        Per-frame and pooled scores.

    Raises:
        BadInputError: unreadable or damaged (unless ``allow_damaged``) video, wrong model kind.
    """
    t0 = time.perf_counter()
    lm = load_model(model, backend=backend, threads=threads, int8=int8)
    t_load = time.perf_counter() - t0
    require_kind(lm.kind, lm.model_id, "nr")
    dspec = as_spec(distorted, width=width, height=height, pix_fmt=pix_fmt)
    if "stream_features" in input_roles(lm.sidecar):  # stream-aware NR (nr_stream_v1, v2)
        from vmaf_tiny.nr_stream import score_stream

        return score_stream(dspec, lm, ffmpeg=ffmpeg, allow_damaged=allow_damaged)
    ff = ffmpeg or resolve_ffmpeg()
    t1 = time.perf_counter()
    info = probe(dspec, ff)
    roles = input_roles(lm.sidecar)
    spec = roles.get("frame") or roles["distorted_frame"]
    shape = spec["shape"]
    frame = lm.sidecar.get("frame") or {}
    resized = bool(frame.get("resize"))
    if resized and min(info.width, info.height) < MIN_NR_SIDE:
        raise BadInputError(
            f"{dspec.path.name}: {info.width}x{info.height} is too small for {lm.model_id} "
            f"(each side at least {MIN_NR_SIDE} pixels)"
        )
    dtype = DTYPES[spec["dtype"]]
    if isinstance(shape[0], int):
        batch = shape[0]
    else:
        fw, fh = frame.get("crop") or frame.get("resize") or (info.width, info.height)
        batch = max(1, min(256, _NR_BATCH_BYTES // max(1, int(fw) * int(fh) * 4)))
    per_frame: list[np.ndarray] = []
    spread: list[np.ndarray] = []  # ensemble models: the spread of their heads (uncertainty)
    t_model = 0.0
    dlog = DecodeLog()
    flat: list[bool] = []
    frames: Iterable[np.ndarray] = _nr_frames(
        dspec, info, frame, ff, (shape[2], shape[3]), allow_damaged, dlog, flat if resized else None
    )
    if frame.get("temporal") == "previous":
        frames = with_previous(frames)
    for x in _batches(frames, batch):
        n = x.shape[0]
        if isinstance(shape[0], int) and n != shape[0]:
            pad = np.repeat(x[-1:], shape[0] - n, axis=0)
            x = np.concatenate([x, pad])
        tm = time.perf_counter()
        outs = lm.run({spec["name"]: np.ascontiguousarray(x.astype(dtype))})
        t_model += time.perf_counter() - tm
        per_frame.append(score_output(lm, outs, x.shape[0])[:n])
        heads = head_spread(lm, outs, x.shape[0])
        if heads is not None:
            spread.append(heads[:n])
    if not per_frame:
        raise BadInputError(f"{dspec.path.name}: no frames decoded")
    scores = finish_scores(lm.sidecar, np.concatenate(per_frame))
    flat_note = flat_warning(dspec.path.name, lm.model_id, flat)
    t3 = time.perf_counter()
    return ScoreResult(
        model_id=lm.model_id,
        kind="nr",
        frames=scores,
        pooled=pool_scores(scores),
        provider=lm.provider,
        distorted=str(dspec.path),
        versions=versions(lm, ff, None),
        warnings=[
            *lm.warnings,
            *damage_warnings(dspec.path.name, dlog),
            *([flat_note] if flat_note else []),
        ],
        damaged_frames_dropped=dlog.dropped,
        out_of_domain=(2 * sum(flat) >= len(flat)) if resized else None,
        uncertainty=np.concatenate(spread) if spread else None,
        records=_records(lm.model_id, scores, spread, int(frame.get("stride") or 1), info.fps),
        seconds={
            "load": t_load,
            "decode": t3 - t1 - t_model,
            "model": t_model,
            "total": t3 - t0,
        },
    )
