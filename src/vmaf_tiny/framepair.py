"""Frame-pair full-reference scoring: reference luma + distorted luma -> a pixel FR model.

For ``kind: fr`` models whose inputs have the roles ``reference_frame`` and ``distorted_frame``
(``[N, 1, H, W]`` each; e.g. the ``dists_sq_placeholder_v0`` smoke checkpoint) instead of libvmaf
features. Both videos are decoded through the project's ffmpeg as luma in [0, 1] and prepared as
the sidecar's ``frame`` block says (resize, centre crop, value range, stride); without a
``resize`` the distorted video is rescaled to the reference's size, as libvmaf does. Frames are
paired in order; their counts must agree (or ``truncate``). One score per pair, pooled like the
feature-based FR path.

:func:`is_frame_pair` tells the two FR contracts apart; :func:`score_frame_pair` is the scoring.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from typing import Any

from vmaf_tiny._lazy import numpy as np  # numpy on first use (start-up)
from vmaf_tiny.damage import DecodeLog
from vmaf_tiny.errors import BadInputError
from vmaf_tiny.ffmpeg import FFmpeg, resolve_ffmpeg
from vmaf_tiny.kinds import FRAME_PAIR_ROLES, runtime_path
from vmaf_tiny.nr import damage_warnings, prepare_frame
from vmaf_tiny.result import (
    DTYPES,
    ScoreResult,
    finish_scores,
    pool_scores,
    score_output,
    versions,
)
from vmaf_tiny.session import LoadedModel, load_model
from vmaf_tiny.sidecar import input_roles
from vmaf_tiny.video import VideoSpec, as_spec, probe, read_luma

__all__ = ["FRAME_PAIR_ROLES", "is_frame_pair", "score_frame_pair"]

_BATCH_BYTES = 32 * 1024 * 1024


def is_frame_pair(sidecar: Mapping[str, Any]) -> bool:
    """True for a full-reference model that takes two luma frames (not libvmaf features)."""
    return runtime_path(sidecar) == "frame_pair"


def _pairs(
    ref: Iterator[np.ndarray],
    dis: Iterator[np.ndarray],
    stride: int,
    truncate: bool,
    names: tuple[str, str],
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    i = 0
    while True:
        r = next(ref, None)
        d = next(dis, None)
        if r is None or d is None:
            if (r is None) != (d is None) and not truncate:
                longer = names[0] if d is None else names[1]
                raise BadInputError(
                    f"frame counts differ: {longer} has more than {i} frames "
                    "(pass --truncate to score the common frames)"
                )
            return
        if i % stride == 0:
            yield r, d
        i += 1


def score_frame_pair(
    reference: VideoSpec | str | os.PathLike[str],
    distorted: VideoSpec | str | os.PathLike[str],
    model: str | os.PathLike[str] | LoadedModel,
    *,
    backend: str = "auto",
    threads: int = 1,
    truncate: bool = False,
    width: int | None = None,
    height: int | None = None,
    pix_fmt: str | None = None,
    ffmpeg: FFmpeg | None = None,
    allow_damaged: bool = False,
) -> ScoreResult:
    """Score a distorted video against its reference with a frame-pair FR model.

    Args:
        reference: Reference video.
        distorted: Distorted video.
        model: Registry id, .onnx path or a loaded frame-pair model.
        backend: Execution backend.
        threads: ONNX Runtime intra-op threads.
        truncate: Score the common frames when the frame counts differ.
        width: Raw yuv inputs: frame width.
        height: Raw yuv inputs: frame height.
        pix_fmt: Raw yuv inputs: pixel format.
        ffmpeg: ffmpeg binary (resolved if None).
        allow_damaged: Score the clean frames of a damaged input (the pair is cut to the common
            clean frames) instead of raising.

    Returns:
        Per-frame and pooled scores (``kind`` ``fr``).

    Raises:
        BadInputError: not a frame-pair model, unreadable videos, frame counts differ.
        BadModelError: a load-time check failed or the model's output is unusable.
    """
    t0 = time.perf_counter()
    lm = load_model(model, backend=backend, threads=threads)
    t_load = time.perf_counter() - t0
    if not is_frame_pair(lm.sidecar):
        raise BadInputError(
            f"model {lm.model_id} does not take a (reference_frame, distorted_frame) pair"
        )
    ff = ffmpeg or resolve_ffmpeg()
    rspec = as_spec(reference, width=width, height=height, pix_fmt=pix_fmt)
    dspec = as_spec(distorted, width=width, height=height, pix_fmt=pix_fmt)
    t1 = time.perf_counter()
    rinfo, dinfo = probe(rspec, ff), probe(dspec, ff)
    frame = lm.sidecar.get("frame") or {}
    resize = frame.get("resize")
    size = (int(resize[0]), int(resize[1])) if resize else (rinfo.width, rinfo.height)
    roles = input_roles(lm.sidecar)
    rin, din = roles["reference_frame"], roles["distorted_frame"]
    dtype = DTYPES[din["dtype"]]
    fw, fh = frame.get("crop") or size
    batch = max(1, min(64, _BATCH_BYTES // max(1, 8 * int(fw) * int(fh))))
    rlog, dlog = DecodeLog(), DecodeLog()
    rsize = size if resize else None
    damaged = bool(rinfo.damage or dinfo.damage)
    ref_it = read_luma(
        rspec, ffmpeg=ff, info=rinfo, size=rsize, allow_damaged=allow_damaged, log=rlog
    )
    dis_it = read_luma(
        dspec, ffmpeg=ff, info=dinfo, size=size, allow_damaged=allow_damaged, log=dlog
    )
    scores: list[np.ndarray] = []
    t_model = 0.0
    buf_r: list[np.ndarray] = []
    buf_d: list[np.ndarray] = []

    def flush() -> None:
        nonlocal t_model
        xr = np.ascontiguousarray(np.stack(buf_r)[:, None].astype(dtype))
        xd = np.ascontiguousarray(np.stack(buf_d)[:, None].astype(dtype))
        tm = time.perf_counter()
        outs = lm.run({rin["name"]: xr, din["name"]: xd})
        t_model += time.perf_counter() - tm
        scores.append(score_output(lm, outs, xr.shape[0]))
        buf_r.clear()
        buf_d.clear()

    pairs = _pairs(
        ref_it,
        dis_it,
        int(frame.get("stride") or 1),
        truncate or (allow_damaged and damaged),
        (rspec.path.name, dspec.path.name),
    )
    for r, d in pairs:
        buf_r.append(prepare_frame(r, frame))
        buf_d.append(prepare_frame(d, frame))
        if len(buf_r) == batch:
            flush()
    if buf_r:
        flush()
    if not scores:
        raise BadInputError(f"{dspec.path.name}: no frames decoded")
    out = finish_scores(lm.sidecar, np.concatenate(scores))
    t3 = time.perf_counter()
    return ScoreResult(
        model_id=lm.model_id,
        kind="fr",
        frames=out,
        pooled=pool_scores(out),
        provider=lm.provider,
        reference=str(rspec.path),
        distorted=str(dspec.path),
        versions=versions(lm, ff, None),
        warnings=[
            *lm.warnings,
            *damage_warnings(rspec.path.name, rlog),
            *damage_warnings(dspec.path.name, dlog),
        ],
        seconds={"load": t_load, "decode": t3 - t1 - t_model, "model": t_model, "total": t3 - t0},
        damaged_frames_dropped=max(rlog.dropped, dlog.dropped),
    )
