"""End-to-end scoring: videos -> libvmaf features (or luma frames) -> tiny model -> pooled score.

Full-reference (``kind: fr``) models take the per-frame features of one libvmaf pass, arranged
by the sidecar's ``feature_order``, standardised when the sidecar's normalisation is not baked
into the graph, plus the codec block for codec-aware models; every frame goes through the model
in one batch. No-reference (``kind: nr``) models take decoded luma frames prepared as the
sidecar's ``frame`` block says (:mod:`vmaf_tiny.nr`). Outputs are checked and pooled by
:mod:`vmaf_tiny.result` (re-exported here), which every scoring path shares.

The pure functions (:func:`fr_inputs`, :func:`resolve_codec`) hold the logic; :func:`score`
only wires files, libvmaf and the session together; the model loads in a thread beside the
libvmaf pass (:mod:`vmaf_tiny.score_loading`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from vmaf_tiny._lazy import numpy as np  # numpy on first use (start-up)
from vmaf_tiny.codec import check_codec_fields, codec_columns, codec_notes
from vmaf_tiny.errors import BadInputError, BadModelError
from vmaf_tiny.features import FeatureResult, extract_features, model_features
from vmaf_tiny.ffmpeg import FFmpeg, resolve_ffmpeg
from vmaf_tiny.framepair import score_frame_pair
from vmaf_tiny.kinds import require_kind, runtime_path
from vmaf_tiny.result import (
    DTYPES,
    ScoreResult,
    finish_scores,
    harmonic_mean,
    percentile_linear,
    pool_scores,
    score_output,
    versions,
)
from vmaf_tiny.score_loading import start_loading
from vmaf_tiny.session import LoadedModel
from vmaf_tiny.sidecar import input_roles
from vmaf_tiny.video import VideoInfo, VideoSpec, as_spec, probe

__all__ = [
    "DTYPES",
    "CodecFields",
    "ScoreResult",
    "finish_scores",
    "fr_inputs",
    "harmonic_mean",
    "percentile_linear",
    "pool_scores",
    "resolve_codec",
    "score",
    "score_output",
    "versions",
]


# ---------------------------------------------------------------------------- pure functions


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
        return {
            "codec": self.codec,
            "preset": self.preset,
            "crf": self.crf,
            "source": dict(self.source),
        }


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
        BadInputError: the codec or CRF cannot be determined (says which flag to pass), or a
            CRF/preset the encoder does not take (:func:`vmaf_tiny.codec.check_codec_fields`).
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
    if codec == "none" and (crf is not None or preset):
        warns.append("--codec none marks a video that was not encoded: --crf/--preset are unused")
    if codec != "none":
        check_codec_fields(codec, preset, crf)  # the flags, before any stream value is read
        if crf is not None:
            source["crf"] = "flag"
        elif info is not None and info.crf is not None and (info.encoder == codec):
            crf, source["crf"] = info.crf, "stream"
            check_codec_fields(codec, None, crf, source=f"the stream of {name}")
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
            feeds[spec["name"]] = cb.astype(DTYPES[spec["dtype"]])
        else:
            x = np.concatenate([x, cb.astype(np.float64)], axis=1)
    spec = roles["features"]
    feeds[spec["name"]] = np.ascontiguousarray(x.astype(DTYPES[spec["dtype"]]))
    return feeds


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
    allow_damaged: bool = False,
    subsample: int = 1,
    teacher: str = "vmaf_v0.6.1",
    extras: Sequence[str] = (),
    fps: float | None = None,
    scale_algo: str = "bicubic",
    progress: Callable[[int, int], None] | None = None,
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
        allow_damaged: Score the clean frames of a damaged (truncated, corrupt) input instead of
            raising; the result's ``damaged_frames_dropped`` says how many were left out.
        subsample: Score every N-th frame only (libvmaf ``n_subsample``); pooled over those.
        teacher: libvmaf model reported with ``with_svm`` (a key of
            :data:`vmaf_tiny.features.TEACHERS`), from the same pass.
        extras: Extra libvmaf metrics for the per-frame records (``psnr_y``, ``float_ssim``,
            ``float_ms_ssim``, ``cambi``), from the same pass.
        fps: Resample both videos to this frame rate before pairing frames.
        scale_algo: ffmpeg scale flags for resizing the distorted video.
        progress: Called as ``progress(done, total)`` while libvmaf reads frames.

    Returns:
        Per-frame and pooled scores, and the per-frame records.

    Raises:
        BadInputError: unreadable, damaged or mismatched videos, missing codec fields.
        BadModelError: the model failed a check, is not FR, or produced NaN/inf.
    """
    t0 = time.perf_counter()
    loading = start_loading(model, backend=backend, threads=threads, int8=int8)
    sidecar, model_id = loading.sidecar, loading.model_id
    if runtime_path(sidecar) == "fast":  # libvmaf on a sample (vmaf_tiny.fast)
        from vmaf_tiny.fast import score_with_loading

        unsupported = [
            flag
            for flag, used in (
                ("--subsample", subsample != 1),
                ("--teacher", teacher != "vmaf_v0.6.1"),
                ("--extras", bool(extras)),
                ("--fps", fps is not None),
                ("--int8", int8),
                ("--allow-damaged", allow_damaged),
            )
            if used
        ]
        if unsupported:
            loading.wait_quietly()
            raise BadInputError(
                f"{model_id} is a fast model (libvmaf on a sample): {', '.join(unsupported)} "
                "not supported; its operating point fixes the sampling (see --fast-level)"
            )
        return score_with_loading(
            reference, distorted, loading, with_svm=with_svm, truncate=truncate,
            width=width, height=height, pix_fmt=pix_fmt, ffmpeg=ffmpeg, t0=t0, n_threads=threads,
        )  # fmt: skip
    try:
        require_kind(sidecar["kind"], model_id, "fr")
    except BadInputError:
        loading.wait_quietly()
        raise
    try:
        ff = ffmpeg or resolve_ffmpeg()
        if runtime_path(sidecar) == "frame_pair":  # (reference, distorted) frames, not features
            lm = loading.result()
            if with_svm or extras or fps is not None:
                raise BadInputError(
                    f"--with-svm, --extras and --fps need libvmaf features; {lm.model_id} "
                    "reads frames"
                )
            from vmaf_tiny.multi import index_result

            res = score_frame_pair(
                reference, distorted, lm, backend=backend, threads=threads, truncate=truncate,
                width=width, height=height, pix_fmt=pix_fmt, ffmpeg=ff,
                allow_damaged=allow_damaged,
            )  # fmt: skip
            stride = int((lm.sidecar.get("frame") or {}).get("stride") or 1)
            fps_in = probe(as_spec(distorted, width=width, height=height, pix_fmt=pix_fmt), ff).fps
            return index_result(res, stride=stride, fps=fps_in, subsample=subsample)
        rspec = as_spec(reference, width=width, height=height, pix_fmt=pix_fmt)
        dspec = as_spec(distorted, width=width, height=height, pix_fmt=pix_fmt)
        t1 = time.perf_counter()
        rinfo = probe(rspec, ff)
        dinfo = probe(dspec, ff)
        fields = None
        codec_warns: list[str] = []
        if sidecar.get("codec_block") is not None:
            fields, codec_warns = resolve_codec(dinfo, codec=codec, preset=preset, crf=crf)
            codec_warns += codec_notes(sidecar["codec_block"], fields.codec, dinfo.decoder)
        loading.raise_if_failed()  # a model that already failed its checks: no libvmaf pass
        feats: FeatureResult = extract_features(
            rspec,
            dspec,
            n_threads=threads,
            truncate=truncate,
            ffmpeg=ff,
            reference_info=rinfo,
            distorted_info=dinfo,
            allow_damaged=allow_damaged,
            subsample=subsample,
            teacher=teacher,
            extras=extras,
            fps=fps,
            scale_algo=scale_algo,
            progress=progress,
            features=model_features(sidecar),
        )
    except BaseException:
        loading.wait_quietly()
        raise
    t2 = time.perf_counter()
    lm = loading.result()  # usually long done: it ran beside the pass
    warns = [*lm.warnings, *codec_warns]
    t_model = time.perf_counter()
    feeds = fr_inputs(lm.sidecar, feats.columns, fields)
    scores = finish_scores(lm.sidecar, score_output(lm, lm.run(feeds), feats.n_frames))
    t3 = time.perf_counter()
    warns += list(feats.warnings)
    from vmaf_tiny.records import feature_records

    teacher_frames = feats.teacher_scores.copy() if with_svm else None
    return ScoreResult(
        model_id=lm.model_id,
        kind="fr",
        frames=scores,
        pooled=pool_scores(scores),
        provider=lm.provider,
        reference=str(rspec.path),
        distorted=str(dspec.path),
        svm_frames=teacher_frames,
        svm_pooled=pool_scores(teacher_frames) if teacher_frames is not None else None,
        codec=fields,
        versions=versions(lm, ff, feats.libvmaf_version),
        warnings=warns,
        seconds={
            # the load ran beside the probes and the pass, in a thread
            "load": 0.0 if isinstance(model, LoadedModel) else lm.load_seconds,
            "features": t2 - t1,
            "model": t3 - t_model,
            "total": t3 - t0,
        },
        damaged_frames_dropped=feats.damaged_frames_dropped,
        records=feature_records(feats, {lm.model_id: scores}, with_teacher=with_svm, extras=extras),
        teacher=feats.teacher,
        subsample=feats.subsample,
        n_frames_total=feats.n_frames_total,
    )
