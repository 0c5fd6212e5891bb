"""Stream-aware no-reference scoring: an encoded file -> stream features -> ``nr_stream_v2``.

A model whose sidecar has an input with role ``stream_features`` reads the features its
``feature_order`` names, computed by :mod:`vmaf_tiny.stream` from one decode pass of the encoded
file; the model gives one score per frame, pooled like every other score. Raw and y4m inputs carry
no stream facts: :func:`choose_nr_model` then picks the pixel model instead, with a one-line note.
"""

from __future__ import annotations

import os
import time
from typing import Any

from vmaf_tiny._lazy import numpy as np
from vmaf_tiny.damage import damaged_error
from vmaf_tiny.errors import BadInputError, DamagedInputError
from vmaf_tiny.ffmpeg import FFmpeg, resolve_ffmpeg
from vmaf_tiny.nr import flat_warning, score_nr
from vmaf_tiny.result import ScoreResult, finish_scores, pool_scores, score_output, versions
from vmaf_tiny.session import LoadedModel, load_model
from vmaf_tiny.sidecar import input_roles
from vmaf_tiny.stream import extract_stream, is_encoded_stream
from vmaf_tiny.stream_features import CODEC_FAMILIES, stream_feature_matrix
from vmaf_tiny.video import VideoSpec, as_spec, probe

__all__ = [
    "MAX_DOMAIN_ASPECT",
    "MIN_DOMAIN_SIDE",
    "MIN_STREAM_AREA",
    "PIXEL_NR_MODEL",
    "STREAM_NR_MODEL",
    "choose_nr_model",
    "is_stream_model",
    "outside_sizes",
    "score_default_nr",
    "score_stream",
    "score_stream_frames",
]

STREAM_NR_MODEL = "nr_stream_v2"
PIXEL_NR_MODEL = "nr_metric_v2"

#: Coded frame area (pixels) under which a stream score is flagged out of domain: a quarter of
#: the smallest coded size in ``nr_stream_v2``'s corpus (320x180, its half-size ladder rung). Far
#: below it the per-pixel rates are dominated by headers and the content statistics by a handful
#: of blocks; the model still answers, confidently and meaninglessly.
MIN_STREAM_AREA = 160 * 90
#: Shortest coded side (pixels) and widest aspect ratio (either way) a stream score is not
#: flagged at: training saw 16:9 frames only, portrait video (9:16) is common and fine.
MIN_DOMAIN_SIDE = 72
MAX_DOMAIN_ASPECT = 4.0


def outside_sizes(width: int, height: int) -> bool:
    """True for a coded size far from ``nr_stream_v2``'s training sizes: an area under
    :data:`MIN_STREAM_AREA`, a side under :data:`MIN_DOMAIN_SIDE` or an aspect ratio beyond
    :data:`MAX_DOMAIN_ASPECT` to 1."""
    short, long = sorted((width, height))
    return (
        width * height < MIN_STREAM_AREA
        or short < MIN_DOMAIN_SIDE
        or long > MAX_DOMAIN_ASPECT * short
    )


def is_stream_model(lm: LoadedModel) -> bool:
    """True when the model reads stream features (an input with role ``stream_features``)."""
    return "stream_features" in input_roles(lm.sidecar)


def choose_nr_model(
    distorted: VideoSpec | str | os.PathLike[str],
    *,
    width: int | None = None,
    height: int | None = None,
    pix_fmt: str | None = None,
    ffmpeg: FFmpeg | None = None,
    allow_damaged: bool = False,
) -> tuple[str, str | None]:
    """The default NR model for an input: the stream model for an encoded stream, else the
    pixel model.

    With ``allow_damaged`` a damaged encoded stream also gets the pixel model (the stream model
    reads every frame's facts and cannot skip damaged ones; the pixel model scores the clean
    frames), with a note.

    Returns:
        (model id, a one-line note for stderr when falling back to the pixel model, else None).

    Raises:
        BadInputError: the input cannot be probed.
    """
    spec = as_spec(distorted, width=width, height=height, pix_fmt=pix_fmt)
    info = probe(spec, ffmpeg or resolve_ffmpeg())
    if is_encoded_stream(info):
        if not (allow_damaged and info.damage):
            return STREAM_NR_MODEL, None
        return PIXEL_NR_MODEL, _damaged_note(spec.path.name)
    what = "raw yuv" if spec.is_raw else f"{info.decoder} ({spec.path.suffix or 'no suffix'})"
    return PIXEL_NR_MODEL, (
        f"{spec.path.name}: {what} carries no stream facts; scoring with the pixel model "
        f"{PIXEL_NR_MODEL} instead of {STREAM_NR_MODEL}"
    )


def _damaged_note(name: str) -> str:
    return (
        f"{name}: damaged stream; {STREAM_NR_MODEL} cannot skip damaged frames, so "
        f"--allow-damaged scores the clean frames with the pixel model {PIXEL_NR_MODEL}"
    )


def score_default_nr(
    distorted: VideoSpec | str | os.PathLike[str],
    *,
    width: int | None = None,
    height: int | None = None,
    pix_fmt: str | None = None,
    ffmpeg: FFmpeg | None = None,
    allow_damaged: bool = False,
    **score_args: Any,
) -> tuple[ScoreResult, str]:
    """``score --no-reference`` without a model: score with :func:`choose_nr_model`'s choice.

    With ``allow_damaged``, damage that only the stream model's decode pass sees (the probe saw
    none) falls back to the pixel model too, as probed damage does. The choice's note comes
    first in the result's warnings.

    Returns:
        (the result, the model id used).

    Raises:
        As :func:`vmaf_tiny.nr.score_nr` (``score_args``: its backend, threads, int8).
    """
    ff = ffmpeg or resolve_ffmpeg()
    spec = as_spec(distorted, width=width, height=height, pix_fmt=pix_fmt)
    model, note = choose_nr_model(spec, ffmpeg=ff, allow_damaged=allow_damaged)
    args = {**score_args, "ffmpeg": ff, "allow_damaged": allow_damaged}
    try:
        res = score_nr(spec, model, **args)
    except DamagedInputError:
        if not allow_damaged or model != STREAM_NR_MODEL:
            raise
        model, note = PIXEL_NR_MODEL, _damaged_note(spec.path.name)
        res = score_nr(spec, model, **args)
    if note:  # after scoring: input it cannot score gets its one-line error alone
        res.warnings = [note, *res.warnings]
    return res, model


#: A frame is flat (black, one colour) for a stream model when its luma (8-bit code values)
#: varies by less than this both coarsely (standard deviation at 1/8 size) and finely (mean
#: absolute neighbour difference at 1/2 size, measured every ``fine_stride``-th frame).
STREAM_FLAT_LEVEL = 1.0


def _flat_frames(content: dict[str, np.ndarray]) -> np.ndarray:
    """Per-frame flat flags from :func:`vmaf_tiny.stream.extract_stream`'s content statistics."""
    out: np.ndarray = (content["luma_std"] < STREAM_FLAT_LEVEL) & (
        content["grad_c2"] < STREAM_FLAT_LEVEL
    )
    return out


def score_stream(
    distorted: VideoSpec | str | os.PathLike[str],
    model: str | os.PathLike[str] | LoadedModel = STREAM_NR_MODEL,
    *,
    backend: str = "auto",
    threads: int = 1,
    display: tuple[int, int] | None = None,
    ffmpeg: FFmpeg | None = None,
    allow_damaged: bool = False,
) -> ScoreResult:
    """Score an encoded video without a reference with a stream-features NR model.

    As :func:`score_stream_frames`, without the per-frame flat flags.
    """
    return score_stream_frames(
        distorted,
        model,
        backend=backend,
        threads=threads,
        display=display,
        ffmpeg=ffmpeg,
        allow_damaged=allow_damaged,
    )[0]


def _refuse_damage(name: str, damage: list[str], model_id: str) -> None:
    """Raise for a damaged stream: a stream model reads every frame's facts, it cannot skip any
    (with or without ``--allow-damaged``), so the error points to the pixel model, which can
    score the clean frames.

    Raises:
        DamagedInputError: ``damage`` is not empty.
    """
    if not damage:
        return
    raise damaged_error(
        name,
        damage,
        f"{model_id} reads every frame's stream facts and cannot skip damaged frames",
        f"score the clean ones with -m {PIXEL_NR_MODEL} --allow-damaged",
    )


def score_stream_frames(
    distorted: VideoSpec | str | os.PathLike[str],
    model: str | os.PathLike[str] | LoadedModel = STREAM_NR_MODEL,
    *,
    backend: str = "auto",
    threads: int = 1,
    display: tuple[int, int] | None = None,
    ffmpeg: FFmpeg | None = None,
    allow_damaged: bool = False,
    max_frames: int | None = None,
) -> tuple[ScoreResult, np.ndarray]:
    """Score an encoded video without a reference with a stream-features NR model.

    Args:
        distorted: The encoded file (H.264, HEVC, VP9, AV1, ...).
        model: Registry id, .onnx path or a loaded model with a ``stream_features`` input.
        backend: Execution backend.
        threads: ONNX Runtime intra-op threads.
        display: (width, height) the video is shown at, when it is upscaled for display (a
            ladder rung); None: its coded size.
        ffmpeg: ffmpeg binary (resolved if None).
        allow_damaged: Accepted for symmetry with the pixel model; a stream model cannot skip
            damaged frames, so a damaged stream is refused either way, with a message that
            points to the pixel model, which can.
        max_frames: Score only the first this many frames (None: all).

    Returns:
        Per-frame and pooled scores, and per-frame flags of the flat frames (black, one
        colour: outside the model's domain, their scores mean nothing).

    Raises:
        BadInputError: not an encoded stream, unreadable/damaged, not a stream model, or a
            ``display`` that is not two positive integers.
    """
    t0 = time.perf_counter()
    lm = (
        model
        if isinstance(model, LoadedModel)
        else load_model(model, backend=backend, threads=threads)
    )
    t_load = time.perf_counter() - t0
    if display is not None and not (
        len(display) == 2 and all(isinstance(v, int) and v > 0 for v in display)
    ):
        raise BadInputError(f"display {display!r}: give (width, height) as positive integers")
    if lm.kind != "nr" or not is_stream_model(lm):
        raise BadInputError(f"model {lm.model_id} does not read stream features")
    ff = ffmpeg or resolve_ffmpeg()
    spec = as_spec(distorted)
    t1 = time.perf_counter()
    info = probe(spec, ff)
    if not is_encoded_stream(info):
        raise BadInputError(
            f"{spec.path.name}: {lm.model_id} needs an encoded stream, not {info.decoder}; "
            f"use the pixel model {PIXEL_NR_MODEL}"
        )
    _refuse_damage(spec.path.name, list(info.damage), lm.model_id)
    warnings = list(lm.warnings)
    if info.decoder not in CODEC_FAMILIES:  # every codec one-hot 0: a row training never had
        warnings.append(
            f"{spec.path.name}: {info.decoder} is not one of {lm.model_id}'s training codecs "
            f"({', '.join(sorted(CODEC_FAMILIES))}); its score is an extrapolation"
        )
    meta = lm.sidecar.get("metadata") or {}
    stride = int(meta.get("fine_stride", 4))
    sf = extract_stream(spec, ffmpeg=ff, info=info, fine_stride=stride, max_frames=max_frames)
    _refuse_damage(spec.path.name, list(sf.damage), lm.model_id)  # the decoder's
    x = stream_feature_matrix(sf, lm.sidecar.get("feature_order") or [], display=display)
    inp = input_roles(lm.sidecar)["stream_features"]
    tm = time.perf_counter()
    outs = lm.run({inp["name"]: np.ascontiguousarray(x)})
    t_model = time.perf_counter() - tm
    scores = finish_scores(lm.sidecar, score_output(lm, outs, x.shape[0]))
    flat_frames = np.asarray(_flat_frames(sf.content), dtype=bool)[: len(scores)]
    flat = [bool(v) for v in flat_frames]
    if note := flat_warning(spec.path.name, lm.model_id, flat):
        warnings.append(note)
    off_size = outside_sizes(sf.width, sf.height)
    if off_size:
        warnings.append(
            f"{spec.path.name}: a coded size of {sf.width}x{sf.height} is far from the sizes "
            f"{lm.model_id} was trained on (16:9, 320x180 to 640x360): out of the model's domain"
        )
    if sf.decode_order:
        warnings.append(
            f"{spec.path.name}: a raw stream without timestamps and with B-frames: packet sizes "
            "are paired with frames in decode order, so per-frame scores are approximate "
            "(a container such as mp4 or mkv carries the order)"
        )
    t3 = time.perf_counter()
    res = ScoreResult(
        model_id=lm.model_id,
        kind="nr",
        frames=scores,
        pooled=pool_scores(scores),
        provider=lm.provider,
        distorted=str(spec.path),
        versions=versions(lm, ff, None),
        warnings=warnings,
        damaged_frames_dropped=0,
        out_of_domain=off_size or 2 * sum(flat) >= len(flat),
        seconds={
            "load": t_load,
            "decode": t3 - t1 - t_model,
            "model": t_model,
            "total": t3 - t0,
        },
    )
    return res, flat_frames
