"""Fast VMAF estimate: libvmaf on a full-resolution sample of the picture, a tiny model on top.

A full libvmaf pass costs its feature extraction over every pixel of every frame. The fast path
runs the same libvmaf integer extractors at full resolution on a *sample*: ``bands`` horizontal
bands covering about ``fraction`` of the picture (cut out with ``crop`` in the same ffmpeg
process, one libvmaf per band, so the coding artefacts VMAF sees are untouched), on every
``subsample``-th frame (libvmaf's ``n_subsample``: the temporal ``motion2`` extractor still sees
every frame, so motion stays meaningful). A tiny C1 model maps the sample's canonical-6, its
vmaf_v0.6.1 score, its PSNR-Y and the stream's bits per pixel to the full-frame vmaf_v0.6.1.

The operating point (bands, fraction, subsample) is part of the model: its sidecar's ``fast``
block declares it and this module reads it from there, so a model is only ever fed the features
it was trained on (the corpus builder computes them with :func:`extract_fast_features`, the same
function). One ffmpeg process decodes both videos, samples and scores
(:mod:`vmaf_tiny.fast_pass`); the model loads beside it. This module: levels, scoring, results.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vmaf_tiny.errors import BadInputError, BadModelError
from vmaf_tiny.fast_pass import (
    FAST_FEATURES,
    FastFeatures,
    OperatingPoint,
    band_log,
    extract_fast_features,
    fast_graph,
    finish_pass,
    output_args,
    start_pass,
)
from vmaf_tiny.ffmpeg import FFmpeg, resolve_ffmpeg
from vmaf_tiny.result import ScoreResult
from vmaf_tiny.video import VideoSpec, as_spec, probe

__all__ = [
    "DEFAULT_FAST_LEVEL",
    "FAST_FEATURES",
    "FAST_LEVELS",
    "SAMPLE_SVM",
    "FastFeatures",
    "OperatingPoint",
    "band_log",
    "extract_fast_features",
    "fast_cli_model",
    "fast_graph",
    "fast_model_id",
    "is_fast",
    "output_args",
    "score_fast",
    "score_with_loading",
]

# --fast-level N -> registry id; level 1 is the default operating point, 0 the most accurate.
FAST_LEVELS: dict[int, str] = {
    0: "vmaf_tiny_fast_l0_v1",
    1: "vmaf_tiny_fast_v1",
    2: "vmaf_tiny_fast_l2_v1",
    3: "vmaf_tiny_fast_l3_v1",
}
DEFAULT_FAST_LEVEL = 1


def fast_model_id(level: int) -> str:
    """The registry id of fast operating point ``level``.

    Raises:
        BadInputError: an unknown level (the message lists the known ones).
    """
    if level not in FAST_LEVELS:
        raise BadInputError(f"unknown --fast-level {level}; choose from {sorted(FAST_LEVELS)}")
    return FAST_LEVELS[level]


def is_fast(sidecar: Mapping[str, Any]) -> bool:
    """True for a model that must be fed by the fast pass (its sidecar has a ``fast`` block)."""
    from vmaf_tiny.kinds import runtime_path

    return runtime_path(sidecar) == "fast"


#: The records column of libvmaf's vmaf_v0.6.1 *of the sampled bands* (``with_svm``).
SAMPLE_SVM = "vmaf_v0.6.1_sample"


def score_fast(
    reference: VideoSpec | str | os.PathLike[str],
    distorted: VideoSpec | str | os.PathLike[str],
    model: str | os.PathLike[str] | Any = None,
    *,
    level: int | None = None,
    with_svm: bool = False,
    backend: str = "auto",
    threads: int = 1,
    truncate: bool = False,
    width: int | None = None,
    height: int | None = None,
    pix_fmt: str | None = None,
    ffmpeg: FFmpeg | None = None,
) -> ScoreResult:
    """Estimate vmaf_v0.6.1 of a pair with a fast model, several times cheaper than libvmaf.

    The model's sidecar is read first (it names the operating point), the ffmpeg pass starts,
    and the model's load-time checks and session run beside it.

    Args:
        reference: Reference video (path or VideoSpec).
        distorted: Distorted video.
        model: A fast model (registry id, .onnx path or loaded model); default: ``level``'s.
        level: Fast operating point (:data:`FAST_LEVELS`), used when ``model`` is None;
            default :data:`DEFAULT_FAST_LEVEL`.
        with_svm: Also return libvmaf's vmaf_v0.6.1 of the sample (not of the full frame).
        backend: ONNX Runtime backend (``auto``, ``cpu``, ...).
        threads: ONNX Runtime threads and libvmaf threads of each band's pass.
        truncate: Score the common frames when the frame counts differ.
        width: Raw yuv inputs: frame width.
        height: Raw yuv inputs: frame height.
        pix_fmt: Raw yuv inputs: pixel format.
        ffmpeg: ffmpeg binary (resolved if None).

    Returns:
        A :class:`vmaf_tiny.result.ScoreResult`: per scored frame and pooled estimates, the
        per-frame records (frame, time, the sample's features, the estimate, and with
        ``with_svm`` the sample's vmaf_v0.6.1 as ``vmaf_v0.6.1_sample``), ``subsample`` (the
        operating point's) and ``fast`` (the operating point and the sampled fraction).

    Raises:
        BadInputError: bad inputs, an unknown level, or a model that is not a fast model.
        BadModelError: the model failed a load-time check or produced a bad output.
    """
    from vmaf_tiny.score_loading import start_loading

    t0 = time.perf_counter()
    if model is None:
        model = fast_model_id(DEFAULT_FAST_LEVEL if level is None else level)
    loading = start_loading(model, backend=backend, threads=threads, int8=False)
    return score_with_loading(
        reference, distorted, loading, with_svm=with_svm, truncate=truncate, width=width,
        height=height, pix_fmt=pix_fmt, ffmpeg=ffmpeg, t0=t0, n_threads=threads,
    )  # fmt: skip


def score_with_loading(
    reference: VideoSpec | str | os.PathLike[str],
    distorted: VideoSpec | str | os.PathLike[str],
    loading: Any,
    *,
    with_svm: bool = False,
    truncate: bool = False,
    width: int | None = None,
    height: int | None = None,
    pix_fmt: str | None = None,
    ffmpeg: FFmpeg | None = None,
    t0: float | None = None,
    n_threads: int = 1,
) -> ScoreResult:
    """:func:`score_fast` for a model whose load has started (``vmaf_tiny.score_loading``).

    Raises:
        BadInputError: bad inputs, or the model is not a fast model.
        BadModelError: the model failed a load-time check or produced a bad output.
    """
    from vmaf_tiny.records import frame_records
    from vmaf_tiny.result import finish_scores, pool_scores, score_output, versions
    from vmaf_tiny.scoring import fr_inputs

    t0 = time.perf_counter() if t0 is None else t0
    sidecar = loading.sidecar
    if not is_fast(sidecar):
        loading.wait_quietly()
        raise BadInputError(
            f"model {loading.model_id} is not a fast model (its sidecar has no 'fast' block); "
            f"fast models: {', '.join(FAST_LEVELS.values())}"
        )
    try:
        op = OperatingPoint.from_sidecar(sidecar)
        ff = ffmpeg or resolve_ffmpeg()
        rspec = as_spec(reference, width=width, height=height, pix_fmt=pix_fmt)
        dspec = as_spec(distorted, width=width, height=height, pix_fmt=pix_fmt)
        rinfo, dinfo = probe(rspec, ff), probe(dspec, ff)
    except BaseException:
        loading.wait_quietly()
        raise
    with tempfile.TemporaryDirectory(prefix="vmaf-tiny-fast-") as tmp:
        log_path = str(Path(tmp) / "vmaf.json")
        t1 = time.perf_counter()
        try:
            proc, n = start_pass(rspec, dspec, rinfo, dinfo, op, ff, log_path, truncate, n_threads)
        except BaseException:
            loading.wait_quietly()
            raise
        try:
            lm = loading.result()  # the checks and the session, beside the pass
        except BaseException:
            proc.kill()
            proc.communicate()
            raise
        feats = finish_pass(proc, log_path, n, op, rinfo, dinfo, t1)
    t2 = time.perf_counter()
    if OperatingPoint.from_sidecar(lm.sidecar) != op:  # pragma: no cover - same bytes checked
        raise BadModelError(f"model {lm.model_id}: its fast block changed while loading")
    feeds = fr_inputs(lm.sidecar, feats.columns)
    n_scored = int(feats.frame_index.shape[0])
    scores = finish_scores(lm.sidecar, score_output(lm, lm.run(feeds), n_scored))
    t3 = time.perf_counter()
    svm = feats.columns["sample_vmaf"]
    cols: dict[str, Any] = {c: feats.columns[c] for c in FAST_FEATURES if c in feats.columns}
    cols[lm.model_id] = scores
    if with_svm:
        cols[SAMPLE_SVM] = svm
    return ScoreResult(
        model_id=lm.model_id,
        kind="fr",
        frames=scores,
        pooled=pool_scores(scores),
        provider=lm.provider,
        reference=str(rspec.path),
        distorted=str(dspec.path),
        svm_frames=svm.copy() if with_svm else None,
        svm_pooled=pool_scores(svm) if with_svm else None,
        versions=versions(lm, ff, feats.libvmaf_version),
        warnings=list(lm.warnings),
        seconds={
            "load": lm.load_seconds,  # ran beside the pass
            "features": t2 - t1,
            "model": t3 - t2,
            "total": t3 - t0,
        },
        records=frame_records(feats.frame_index, rinfo.fps or dinfo.fps, cols),
        teacher=SAMPLE_SVM,
        subsample=op.subsample,
        n_frames_total=feats.n_frames,
        fast={
            **op.to_dict(),
            "sampled_fraction": round(feats.sampled_fraction, 6),
            "frames_scored": n_scored,
            "frames_total": feats.n_frames,
        },
    )


def fast_cli_model(model: str, level: int | None, *, pairs: bool = False, nr: bool = False) -> str:
    """The model ``vmaf-tiny score --fast/--fast-level`` runs.

    ``-m`` left at its default picks the level's registry model; an explicit ``-m`` (a fast
    model) is kept as given. ``--fast-level`` with an explicit ``-m`` is ambiguous.

    Raises:
        BadInputError: with ``--pairs`` or ``--no-reference``, an unknown level, or both a level
            and an explicit model.
    """
    if pairs or nr:
        raise BadInputError("--fast scores one reference/distorted pair (no --pairs, no NR)")
    if model != CLI_DEFAULT_MODEL:
        if level is not None:
            raise BadInputError("choose one of --fast-level and -m/--model")
        return model
    return fast_model_id(DEFAULT_FAST_LEVEL if level is None else level)


CLI_DEFAULT_MODEL = "vmaf_tiny_v2"  # vmaf-tiny score's -m default
