"""Several models over one input (pair) in one pass: one libvmaf run feeds every FR model.

:func:`score_models` loads every model first (so a bad id or a wrong kind is reported before
any work), runs libvmaf once when a feature-based FR model, the teacher (``with_svm``) or an
extra needs it, scores every feature-based FR model on those features, and runs the frame-pair
FR and NR models on their own decodes (no libvmaf). Results are joined by frame index into one
:class:`vmaf_tiny.records.FrameRecords`. :func:`index_result` gives an NR or frame-pair result
its frame indices and applies ``subsample`` to it, for the single-model paths as well.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from vmaf_tiny._lazy import numpy as np  # numpy on first use (start-up)
from vmaf_tiny.errors import BadInputError
from vmaf_tiny.ffmpeg import FFmpeg, resolve_ffmpeg
from vmaf_tiny.kinds import runtime_path
from vmaf_tiny.records import FrameRecords, feature_records, frame_records, join_records
from vmaf_tiny.result import ScoreResult, finish_scores, pool_scores, score_output, versions
from vmaf_tiny.video import VideoSpec, as_spec, probe

if TYPE_CHECKING:
    from vmaf_tiny.session import LoadedModel

__all__ = ["MultiResult", "check_together", "index_result", "model_stride", "score_models"]

#: What an NR model without ensemble heads says instead of an uncertainty.
NO_HEADS = "{model} has a single score output (no ensemble heads): no uncertainty"


@dataclass
class MultiResult:
    """Scores of one input (pair) under several models, from one libvmaf pass.

    Attributes:
        results: One :class:`ScoreResult` per model, in the order asked.
        records: Per-frame records of all models (joined by frame index).
        libvmaf_passes: libvmaf runs made (0 or 1).
        reference: Reference path (None without one).
        distorted: Distorted path.
        teacher: libvmaf model of ``svm_frames``.
        svm_frames: The teacher's per-frame scores (``with_svm``), else None.
        svm_pooled: Their pooled values, else None.
        subsample: Every N-th frame was scored.
        n_frames_total: Frames of the input before subsampling.
        warnings: Non-fatal notes of all models (each once).
        seconds: ``features`` (the libvmaf pass) and ``total``.
    """

    results: list[ScoreResult]
    records: FrameRecords
    libvmaf_passes: int
    distorted: str
    reference: str | None = None
    teacher: str = "vmaf_v0.6.1"
    svm_frames: np.ndarray | None = None
    svm_pooled: dict[str, float] | None = None
    subsample: int = 1
    n_frames_total: int = 0
    warnings: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self, per_frame: bool = True) -> dict[str, Any]:
        """JSON form: shared fields, one block per model (as single-model JSON), records."""
        models = []
        for r in self.results:
            block = r.to_dict(per_frame)
            block.pop("records", None)
            models.append(block)
        d: dict[str, Any] = {
            "reference": self.reference,
            "distorted": self.distorted,
            "libvmaf_passes": self.libvmaf_passes,
            "subsample": self.subsample,
            "n_frames_total": self.n_frames_total,
            "models": models,
            "warnings": list(self.warnings),
            "seconds": {k: round(v, 6) for k, v in self.seconds.items()},
        }
        if self.svm_pooled is not None:
            d["svm"] = {"model": self.teacher, "pooled": self.svm_pooled}
            if per_frame and self.svm_frames is not None:
                d["svm"]["frames"] = [float(v) for v in self.svm_frames]
        if per_frame:
            d["records"] = self.records.to_rows()
        return d


def index_result(
    res: ScoreResult, *, stride: int, fps: float, subsample: int = 1, n_frames_total: int = 0
) -> ScoreResult:
    """Give a decoded-frames result (NR, frame pair) its frame indices, records and subsample.

    The model scored frames ``0, stride, 2*stride, ...``; with ``subsample`` N only frames whose
    index is a multiple of N are kept (and pooled).
    """
    index = np.arange(res.n_frames, dtype=np.int64) * max(1, stride)
    frames, unc = res.frames, res.uncertainty
    if subsample > 1:
        keep = index % subsample == 0
        index, frames = index[keep], frames[keep]
        unc = unc[keep] if unc is not None else None
        if index.size == 0:
            raise BadInputError(f"--subsample {subsample} leaves no frames of {res.distorted}")
    cols: dict[str, np.ndarray] = {res.model_id: frames}
    if unc is not None:
        cols[f"{res.model_id}_uncertainty"] = unc
    note = res.uncertainty_note
    if res.kind == "nr" and unc is None and note is None:
        note = NO_HEADS.format(model=res.model_id)
    return replace(
        res,
        frames=frames,
        pooled=pool_scores(frames),
        uncertainty=unc,
        uncertainty_note=note,
        records=frame_records(index, fps, cols),
        subsample=subsample,
        n_frames_total=n_frames_total or res.n_frames_total or res.n_frames * max(1, stride),
    )


def _stride(sidecar: dict[str, Any]) -> int:
    return int((sidecar.get("frame") or {}).get("stride") or 1)


def model_stride(model: str | os.PathLike[str], *, int8: bool = False) -> int:
    """The frame stride of a model's sidecar (``frame.stride``, 1 without one)."""
    from vmaf_tiny.guard_sidecar import read_sidecar
    from vmaf_tiny.registry import resolve_model

    ref = resolve_model(model, int8=int8)
    return _stride(read_sidecar(ref.onnx, sidecar=ref.sidecar))


def check_together(loaded: Sequence[LoadedModel]) -> dict[str, str | None]:
    """Check that models can share one pass; return model id -> runtime path.

    Raises:
        BadInputError: a model given twice, a fast model (it runs its own sampled pass) or a
            model that does not score (filter, saliency).
    """
    ids = [lm.model_id for lm in loaded]
    dups = sorted({i for i in ids if ids.count(i) > 1})
    if dups:
        raise BadInputError(f"model(s) {dups} given more than once")
    paths = {lm.model_id: runtime_path(lm.sidecar) for lm in loaded}
    for mid, path in paths.items():
        if path == "fast":
            raise BadInputError(
                f"model {mid} is a fast model (libvmaf on a sample): score it on its own "
                "(--fast or -m alone), not beside full-pass models"
            )
        if path not in ("features", "frame_pair", "nr"):
            raise BadInputError(f"model {mid} is not a scoring model (kind {path!r})")
    return paths


def score_models(
    reference: VideoSpec | str | os.PathLike[str] | None,
    distorted: VideoSpec | str | os.PathLike[str],
    models: Sequence[str | os.PathLike[str] | LoadedModel],
    *,
    with_svm: bool = False,
    teacher: str = "vmaf_v0.6.1",
    extras: Sequence[str] = (),
    subsample: int = 1,
    fps: float | None = None,
    scale_algo: str = "bicubic",
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
    progress: Callable[[int, int], None] | None = None,
) -> MultiResult:
    """Score one distorted video (and its reference) with several models, libvmaf run once.

    Args:
        reference: Reference video, or None for NR models only.
        distorted: Distorted video.
        models: Registry ids, .onnx paths or loaded models: feature-based FR, frame-pair FR
            and NR models in any mix (FR models need ``reference``).
        with_svm: Also report the teacher from the same libvmaf pass.
        teacher: The teacher (:data:`vmaf_tiny.features.TEACHERS`).
        extras: Extra libvmaf metrics for the records, from the same pass.
        subsample: Score every N-th frame (libvmaf ``n_subsample``; NR and frame-pair models
            keep the same frames).
        fps: Resample both videos to this rate (feature-based FR models only).
        scale_algo: ffmpeg scale flags for resizing the distorted video.
        backend: Execution provider.
        threads: ONNX Runtime and libvmaf threads.
        int8: Registry ids: use their int8 files.
        codec: Codec-aware models: the encoder.
        preset: Codec-aware models: the preset.
        crf: Codec-aware models: the CRF.
        truncate: Score the common frames when the frame counts differ.
        width: Raw yuv inputs: width.
        height: Raw yuv inputs: height.
        pix_fmt: Raw yuv inputs: pixel format.
        ffmpeg: ffmpeg binary (resolved if None).
        allow_damaged: Score the clean frames of a damaged input.
        progress: Called as ``progress(done, total)`` during the libvmaf pass.

    Returns:
        One result per model, the joint per-frame records and the number of libvmaf passes.

    Raises:
        BadInputError: duplicate or unusable models, an FR model without a reference, flags
            that need libvmaf without a reference, bad videos.
        BadModelError: a model failed its checks or produced unusable scores.
    """
    from vmaf_tiny.features import FeatureResult, extract_features, model_features
    from vmaf_tiny.framepair import score_frame_pair
    from vmaf_tiny.nr import score_nr
    from vmaf_tiny.scoring import CodecFields, fr_inputs, resolve_codec
    from vmaf_tiny.session import load_model

    t0 = time.perf_counter()
    if not models:
        raise BadInputError("no model to score with")
    loaded: list[LoadedModel] = [
        load_model(m, backend=backend, threads=threads, int8=int8) for m in models
    ]
    paths = check_together(loaded)
    fr_ids = [m for m, p in paths.items() if p in ("features", "frame_pair")]
    if reference is None and fr_ids:
        raise BadInputError(f"model(s) {fr_ids} are full-reference: pass --reference")
    if reference is None and (with_svm or extras):
        raise BadInputError("--with-svm and --extras need a reference (libvmaf)")
    nr_ids = [m for m, p in paths.items() if p == "nr"]
    if fps is not None and (nr_ids or any(p == "frame_pair" for p in paths.values())):
        raise BadInputError(
            f"--fps resamples the libvmaf pass only; model(s) "
            f"{[m for m, p in paths.items() if p != 'features']} read frames as stored"
        )
    ff = ffmpeg or resolve_ffmpeg()
    dspec = as_spec(distorted, width=width, height=height, pix_fmt=pix_fmt)
    rspec = as_spec(reference, width=width, height=height, pix_fmt=pix_fmt) if reference else None
    dinfo = probe(dspec, ff)
    feature_models = [lm for lm in loaded if paths[lm.model_id] == "features"]
    codec_fields: dict[str, CodecFields] = {}
    warns: list[str] = []
    for lm in feature_models:
        if lm.sidecar.get("codec_block") is not None:
            fields, cw = resolve_codec(dinfo, codec=codec, preset=preset, crf=crf)
            codec_fields[lm.model_id] = fields
            warns += cw
    feats: FeatureResult | None = None
    t_feat = 0.0
    if rspec is not None and (feature_models or with_svm or extras):
        t1 = time.perf_counter()
        feats = extract_features(
            rspec,
            dspec,
            extras=extras,
            n_threads=threads,
            truncate=truncate,
            ffmpeg=ff,
            reference_info=probe(rspec, ff),
            distorted_info=dinfo,
            allow_damaged=allow_damaged,
            subsample=subsample,
            teacher=teacher,
            fps=fps,
            scale_algo=scale_algo,
            progress=progress,
            # the NEG-mode inputs of any model that names them: NEG model in the same pass
            features=tuple(
                dict.fromkeys(f for lm in feature_models for f in model_features(lm.sidecar))
            ),
        )
        t_feat = time.perf_counter() - t1
        warns += list(feats.warnings)
    results: list[ScoreResult] = []
    for lm in loaded:
        path = paths[lm.model_id]
        if path == "features" and feats is not None:
            tm = time.perf_counter()
            feeds = fr_inputs(lm.sidecar, feats.columns, codec_fields.get(lm.model_id))
            scores = finish_scores(lm.sidecar, score_output(lm, lm.run(feeds), feats.n_frames))
            res = ScoreResult(
                model_id=lm.model_id,
                kind="fr",
                frames=scores,
                pooled=pool_scores(scores),
                provider=lm.provider,
                reference=str(rspec.path) if rspec else None,
                distorted=str(dspec.path),
                codec=codec_fields.get(lm.model_id),
                versions=versions(lm, ff, feats.libvmaf_version),
                warnings=list(lm.warnings),
                seconds={"model": time.perf_counter() - tm},
                damaged_frames_dropped=feats.damaged_frames_dropped,
                teacher=feats.teacher,
                subsample=feats.subsample,
                n_frames_total=feats.n_frames_total,
                records=frame_records(feats.frames, feats.fps, {lm.model_id: scores}),
            )
        elif path == "frame_pair" and rspec is not None:
            res = score_frame_pair(
                rspec, dspec, lm, backend=backend, threads=threads, truncate=truncate,
                ffmpeg=ff, allow_damaged=allow_damaged,
            )  # fmt: skip
            res = index_result(res, stride=_stride(lm.sidecar), fps=dinfo.fps, subsample=subsample)
        else:
            res = score_nr(dspec, lm, ffmpeg=ff, allow_damaged=allow_damaged)
            res = index_result(
                res,
                stride=_stride(lm.sidecar),
                fps=dinfo.fps,
                subsample=subsample,
                n_frames_total=dinfo.n_frames,
            )
        results.append(res)
    for r in results:
        warns += r.warnings
    if feats is not None:
        base = feature_records(
            feats,
            {r.model_id: r.frames for r in results if paths[r.model_id] == "features"},
            with_teacher=with_svm,
            extras=extras,
        )
    else:
        base = results[0].records  # type: ignore[assignment]
    for r in results:
        if r.records is not None and paths[r.model_id] != "features":
            base = join_records(base, r.records)
    teacher_frames = feats.teacher_scores.copy() if (with_svm and feats is not None) else None
    return MultiResult(
        results=results,
        records=base,
        libvmaf_passes=1 if feats is not None else 0,
        reference=str(rspec.path) if rspec else None,
        distorted=str(dspec.path),
        teacher=teacher,
        svm_frames=teacher_frames,
        svm_pooled=pool_scores(teacher_frames) if teacher_frames is not None else None,
        subsample=subsample,
        n_frames_total=feats.n_frames_total if feats is not None else dinfo.n_frames,
        warnings=list(dict.fromkeys(warns)),
        seconds={"features": t_feat, "total": time.perf_counter() - t0},
    )
