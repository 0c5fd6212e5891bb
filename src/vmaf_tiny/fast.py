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
function). One ffmpeg process decodes both videos, samples and scores; the model loads beside it.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vmaf_tiny._lazy import numpy as np  # numpy on first use (start-up)
from vmaf_tiny.errors import BadInputError, BadModelError
from vmaf_tiny.features import CANONICAL6, TEACHER_MODEL
from vmaf_tiny.ffmpeg import FFmpeg, last_error_line, resolve_ffmpeg
from vmaf_tiny.video import VideoInfo, VideoSpec, as_spec, frames_to_read, probe

__all__ = [
    "DEFAULT_FAST_LEVEL",
    "FAST_FEATURES",
    "FAST_LEVELS",
    "FastFeatures",
    "FastScoreResult",
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

# Every column the fast pass can produce (a model's feature_order picks from these).
FAST_FEATURES: tuple[str, ...] = (
    *(f"sample_{c}" for c in CANONICAL6),
    "sample_vmaf",
    "sample_psnr_y",
    "log2_bpp",
)
# --fast-level N -> registry id; level 1 is the default operating point, 0 the most accurate.
FAST_LEVELS: dict[int, str] = {
    0: "vmaf_tiny_fast_l0_v1",
    1: "vmaf_tiny_fast_v1",
    2: "vmaf_tiny_fast_l2_v1",
    3: "vmaf_tiny_fast_l3_v1",
}
DEFAULT_FAST_LEVEL = 1
BAND_ALIGN = 16  # band heights in rows: a multiple of libvmaf's 4-level wavelet block
MIN_BAND = 32  # rows; libvmaf 86da14d crashes (SIGSEGV) on 16-row pictures
RAW_BPP = 12.0  # bits per pixel assumed for uncompressed (y4m/raw) distorted inputs
PSNR_CAP = 60.0  # libvmaf's psnr_y of identical planes (8-bit); capped so outliers stay bounded


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


@dataclass(frozen=True)
class OperatingPoint:
    """Which part of the picture and which frames the fast pass measures.

    Attributes:
        bands: Horizontal bands, evenly spaced over the picture's height.
        fraction: Target fraction of the picture's rows sampled (all bands together); 1.0
            samples the whole picture.
        subsample: Score every ``subsample``-th frame (1: every frame).
    """

    bands: int
    fraction: float
    subsample: int

    def __post_init__(self) -> None:
        if not (isinstance(self.bands, int) and 1 <= self.bands <= 64):
            raise BadModelError(f"fast.bands must be an integer in 1..64, got {self.bands!r}")
        if not (isinstance(self.fraction, int | float) and 0.0 < float(self.fraction) <= 1.0):
            raise BadModelError(f"fast.fraction must be in (0, 1], got {self.fraction!r}")
        if not (isinstance(self.subsample, int) and 1 <= self.subsample <= 64):
            raise BadModelError(
                f"fast.subsample must be an integer in 1..64, got {self.subsample!r}"
            )

    @property
    def tag(self) -> str:
        """Short stable name, e.g. ``b4f0.25k2`` (corpus column prefixes use it)."""
        return f"b{self.bands}f{self.fraction:g}k{self.subsample}"

    def to_dict(self) -> dict[str, Any]:
        return {"bands": self.bands, "fraction": float(self.fraction), "subsample": self.subsample}

    @classmethod
    def from_sidecar(cls, sidecar: Mapping[str, Any]) -> OperatingPoint:
        """Read the operating point from a sidecar's ``fast`` block.

        Raises:
            BadModelError: no ``fast`` block, or a field missing or out of range.
        """
        block = sidecar.get("fast")
        name = sidecar.get("id", "model")
        if not isinstance(block, Mapping):
            raise BadModelError(f"model {name} has no 'fast' block: not a fast-path model")
        try:
            return cls(
                bands=block["bands"], fraction=block["fraction"], subsample=block["subsample"]
            )
        except KeyError as exc:
            raise BadModelError(f"model {name}: fast block lacks {exc.args[0]!r}") from None

    def layout(self, height: int) -> list[tuple[int, int]]:
        """(top row, rows) of each band for a picture ``height`` rows high.

        Band heights are multiples of 16 rows, at least :data:`MIN_BAND` (libvmaf crashes on
        16-row pictures), and tops are even (4:2:0 chroma stays aligned). A sample that would
        cover the whole picture, or a picture under two minimum bands, is the whole picture.
        """
        if self.fraction >= 1.0 or height < 2 * MIN_BAND:
            return [(0, height)]
        band = max(MIN_BAND, BAND_ALIGN * round(height * self.fraction / self.bands / BAND_ALIGN))
        if band * self.bands >= height:
            return [(0, height)]
        out = []
        for i in range(self.bands):
            centre = (i + 0.5) * height / self.bands
            top = round((centre - band / 2) / 2) * 2
            out.append((min(max(top, 0), height - band), band))
        return out

    def sampled_fraction(self, height: int) -> float:
        """Fraction of the picture's rows the layout samples."""
        return sum(h for _, h in self.layout(height)) / height


def band_log(log_path: str, band: int) -> str:
    """libvmaf's log of band ``band`` (band 0 writes ``log_path`` itself)."""
    return log_path if band == 0 else f"{log_path}.{band}"


def output_args(op: OperatingPoint, height: int) -> list[str]:
    """ffmpeg output arguments that consume every band's libvmaf output (``[o0]``, ...)."""
    out: list[str] = []
    for i in range(len(op.layout(height))):
        out += ["-map", f"[o{i}]", "-f", "null", "-"]
    return out


def fast_graph(
    ref: VideoInfo,
    dis: VideoInfo,
    op: OperatingPoint,
    *,
    log_path: str,
    n_frames: int | None = None,
    n_threads: int = 1,
) -> str:
    """The one ffmpeg filter graph of the fast pass (distorted is input 0, reference input 1).

    The distorted video is upscaled (bicubic) to the reference's size first, as VMAF expects;
    both are then cut alike into the bands of ``op.layout``, and each band gets its own libvmaf
    (vmaf_v0.6.1 + PSNR, every ``subsample``-th frame, log :func:`band_log`): bands are never
    stacked into one picture, whose seams would bias the features. Outputs are labelled
    ``[o0]``, ``[o1]``, ... (:func:`output_args` consumes them).
    """
    dis_chain = []
    if (dis.width, dis.height) != (ref.width, ref.height):
        dis_chain.append(f"scale={ref.width}:{ref.height}:flags=bicubic")
    if dis.pix_fmt != ref.pix_fmt or dis_chain:
        dis_chain.append(f"format={ref.pix_fmt}")
    ref_chain: list[str] = []
    if n_frames is not None:
        dis_chain.append(f"trim=end_frame={n_frames}")
        ref_chain.append(f"trim=end_frame={n_frames}")
    tail = ["settb=1/25", "setpts=N"]
    bands = op.layout(ref.height)
    b = len(bands)
    parts = [
        f"[0:v]{','.join([*dis_chain, *tail])}" + ("[d0]" if b == 1 else f",split={b}")
        + ("" if b == 1 else "".join(f"[d{i}]" for i in range(b))),
        f"[1:v]{','.join([*ref_chain, *tail])}" + ("[r0]" if b == 1 else f",split={b}")
        + ("" if b == 1 else "".join(f"[r{i}]" for i in range(b))),
    ]  # fmt: skip
    for i, (y, h) in enumerate(bands):
        opts = [
            f"model=version={TEACHER_MODEL}",
            "feature=name=psnr",
            "log_fmt=json",
            f"log_path={band_log(log_path, i)}",
            f"n_threads={n_threads}",
        ]
        if op.subsample > 1:
            opts.append(f"n_subsample={op.subsample}")
        crop = f"crop={ref.width}:{h}:0:{y}"
        parts += [
            f"[d{i}]{crop}[ds{i}]",
            f"[r{i}]{crop}[rs{i}]",
            f"[ds{i}][rs{i}]libvmaf={':'.join(opts)}[o{i}]",
        ]
    return ";".join(parts)


@dataclass(frozen=True)
class FastFeatures:
    """What the fast pass measured.

    Attributes:
        frame_index: Indices of the scored frames (every ``subsample``-th).
        columns: name (:data:`FAST_FEATURES`) -> float64 per scored frame.
        n_frames: Frames in the pair (scored or not).
        op: The operating point.
        sampled_fraction: Fraction of the picture's rows in the sample.
        reference: Probe of the reference.
        distorted: Probe of the distorted video.
        libvmaf_version: libvmaf's version string.
        seconds: Wall time of the ffmpeg pass.
    """

    frame_index: np.ndarray
    columns: dict[str, np.ndarray]
    n_frames: int
    op: OperatingPoint
    sampled_fraction: float
    reference: VideoInfo
    distorted: VideoInfo
    libvmaf_version: str
    seconds: float = 0.0


def bits_per_pixel(dis: VideoInfo, ref: VideoInfo) -> float:
    """Stream bits per reference pixel per frame (``RAW_BPP`` for raw/y4m or unknown)."""
    if dis.bitrate_kbps is None or dis.fps <= 0:
        return RAW_BPP
    return float(dis.bitrate_kbps) * 1000.0 / (dis.fps * ref.width * ref.height)


def _start_pass(
    rspec: VideoSpec,
    dspec: VideoSpec,
    rinfo: VideoInfo,
    dinfo: VideoInfo,
    op: OperatingPoint,
    ff: FFmpeg,
    log_path: str,
    truncate: bool,
) -> tuple[subprocess.Popen[bytes], int]:
    rclean = frames_to_read(rinfo, False)
    dclean = frames_to_read(dinfo, False)
    n = min(rclean, dclean)
    if rinfo.n_frames != dinfo.n_frames and not truncate:
        raise BadInputError(
            f"frame counts differ: reference {rspec.path.name} has {rinfo.n_frames}, "
            f"distorted {dspec.path.name} has {dinfo.n_frames} (use --truncate to score the "
            f"first {n})"
        )
    cut = n if (n != rinfo.n_frames or n != dinfo.n_frames) else None
    graph = fast_graph(rinfo, dinfo, op, log_path=log_path, n_frames=cut)
    args = [
        *ff.base_args(), "-loglevel", "level+error", *dspec.input_args(), *rspec.input_args(),
        "-filter_complex", graph, *output_args(op, rinfo.height),
    ]  # fmt: skip
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE), n


def _finish_pass(
    proc: subprocess.Popen[bytes],
    log_path: str,
    n: int,
    op: OperatingPoint,
    rinfo: VideoInfo,
    dinfo: VideoInfo,
    t0: float,
) -> FastFeatures:
    _, err = proc.communicate()
    n_bands = len(op.layout(rinfo.height))
    logs = [band_log(log_path, i) for i in range(n_bands)]
    if proc.returncode != 0 or not all(Path(p).is_file() for p in logs):
        raise BadInputError(
            f"libvmaf failed on {dinfo.path.name} vs {rinfo.path.name}: {last_error_line(err)}"
        )
    parsed = [json.loads(Path(p).read_text()) for p in logs]
    log = parsed[0]
    want = math.ceil(n / op.subsample)
    for band in parsed:
        got = len(band.get("frames") or [])
        if got != want:
            raise BadInputError(
                f"libvmaf scored {got} of {want} sampled frames of {dinfo.path.name} "
                "(corrupt or truncated video?)"
            )
    frames = log.get("frames") or []
    keys = {f"sample_{c}": f"integer_{c}" for c in CANONICAL6}
    keys["sample_vmaf"] = "vmaf"
    keys["sample_psnr_y"] = "psnr_y"
    cols = {name: np.full(len(frames), np.nan, dtype=np.float64) for name in keys}
    index = np.zeros(len(frames), dtype=np.int64)
    for i, fr in enumerate(frames):
        index[i] = int(fr.get("frameNum", i * op.subsample))
        for name, key in keys.items():
            vals = [b["frames"][i].get("metrics", {}).get(key) for b in parsed]
            if all(v is not None for v in vals):  # bands are equally tall: a plain mean
                cols[name][i] = float(np.mean(np.asarray(vals, dtype=np.float64)))
    missing = [k for k, v in cols.items() if np.isnan(v).any()]
    if missing:
        raise BadInputError(f"libvmaf log lacks {missing} for {dinfo.path.name}")
    cols["sample_psnr_y"] = np.minimum(cols["sample_psnr_y"], PSNR_CAP)
    bpp = bits_per_pixel(dinfo, rinfo)
    cols["log2_bpp"] = np.full(len(frames), float(np.clip(np.log2(max(bpp, 1e-6)), -16, 8)))
    return FastFeatures(
        frame_index=index,
        columns=cols,
        n_frames=n,
        op=op,
        sampled_fraction=op.sampled_fraction(rinfo.height),
        reference=rinfo,
        distorted=dinfo,
        libvmaf_version=str(log.get("version", "unknown")),
        seconds=time.perf_counter() - t0,
    )


def extract_fast_features(
    reference: VideoSpec | str | os.PathLike[str],
    distorted: VideoSpec | str | os.PathLike[str],
    op: OperatingPoint,
    *,
    truncate: bool = False,
    ffmpeg: FFmpeg | None = None,
    reference_info: VideoInfo | None = None,
    distorted_info: VideoInfo | None = None,
) -> FastFeatures:
    """Run the fast pass (one ffmpeg process) over a pair.

    Args:
        reference: Reference video (path or VideoSpec).
        distorted: Distorted video; upscaled to the reference size when it differs.
        op: The operating point (from a model's sidecar: :meth:`OperatingPoint.from_sidecar`).
        truncate: Score the common frames when the frame counts differ.
        ffmpeg: ffmpeg binary (resolved if None).
        reference_info: A probe of the reference, if the caller has one.
        distorted_info: A probe of the distorted video, if the caller has one.

    Returns:
        Per sampled frame: the :data:`FAST_FEATURES` columns.

    Raises:
        BadInputError: unreadable, damaged or mismatched inputs; libvmaf failing.
    """
    ff = ffmpeg or resolve_ffmpeg()
    rspec, dspec = as_spec(reference), as_spec(distorted)
    rinfo = reference_info or probe(rspec, ff)
    dinfo = distorted_info or probe(dspec, ff)
    with tempfile.TemporaryDirectory(prefix="vmaf-tiny-fast-") as tmp:
        log_path = str(Path(tmp) / "vmaf.json")
        t0 = time.perf_counter()
        proc, n = _start_pass(rspec, dspec, rinfo, dinfo, op, ff, log_path, truncate)
        return _finish_pass(proc, log_path, n, op, rinfo, dinfo, t0)


@dataclass
class FastScoreResult:
    """Scores of one pair under a fast model (the fields of a ScoreResult, plus the sample).

    Attributes:
        model_id: The model.
        kind: ``fr``.
        frames: Per scored frame: the model's estimate of full-frame vmaf_v0.6.1.
        frame_index: Which frames ``frames`` belong to (every ``subsample``-th).
        pooled: mean, harmonic_mean, min, p5, max of ``frames`` (the clip estimate is the mean).
        provider: Execution provider.
        reference: Reference path.
        distorted: Distorted path.
        operating_point: bands, fraction, subsample and the fraction of rows actually sampled.
        svm_frames: With ``with_svm``: libvmaf's vmaf_v0.6.1 *of the sample* (not of the frame).
        svm_pooled: Its pooled values.
        versions: Versions of the parts.
        warnings: Non-fatal notes.
        seconds: load, features (the ffmpeg pass), model, total.
    """

    model_id: str
    kind: str
    frames: np.ndarray
    frame_index: np.ndarray
    pooled: dict[str, float]
    provider: str
    reference: str
    distorted: str
    operating_point: dict[str, Any]
    svm_frames: np.ndarray | None = None
    svm_pooled: dict[str, float] | None = None
    codec: None = None
    versions: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    damaged_frames_dropped: int = 0

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
            "damaged_frames_dropped": 0,
            "pooled": self.pooled,
            "provider": self.provider,
            "versions": self.versions,
            "warnings": list(self.warnings),
            "seconds": {k: round(v, 6) for k, v in self.seconds.items()},
            "fast": dict(self.operating_point),
        }
        if self.svm_pooled is not None:
            d["svm"] = {"model": "vmaf_v0.6.1 (on the sample)", "pooled": self.svm_pooled}
        if per_frame:
            d["frames"] = [float(v) for v in self.frames]
            d["frame_index"] = [int(v) for v in self.frame_index]
            if self.svm_frames is not None:
                d["svm"]["frames"] = [float(v) for v in self.svm_frames]
        return d


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
) -> FastScoreResult:
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
        threads: ONNX Runtime threads (libvmaf runs one thread).
        truncate: Score the common frames when the frame counts differ.
        width: Raw yuv inputs: frame width.
        height: Raw yuv inputs: frame height.
        pix_fmt: Raw yuv inputs: pixel format.
        ffmpeg: ffmpeg binary (resolved if None).

    Returns:
        Per scored frame and pooled estimates.

    Raises:
        BadInputError: bad inputs, an unknown level, or a model that is not a fast model.
        BadModelError: the model failed a load-time check or produced a bad output.
    """
    from vmaf_tiny.scoring import _start_loading

    t0 = time.perf_counter()
    if model is None:
        model = fast_model_id(DEFAULT_FAST_LEVEL if level is None else level)
    loading = _start_loading(model, backend=backend, threads=threads, int8=False)
    return score_with_loading(
        reference, distorted, loading, with_svm=with_svm, truncate=truncate, width=width,
        height=height, pix_fmt=pix_fmt, ffmpeg=ffmpeg, t0=t0,
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
) -> FastScoreResult:
    """:func:`score_fast` for a model whose load has started (``vmaf_tiny.scoring``'s loader).

    Raises:
        BadInputError: bad inputs, or the model is not a fast model.
        BadModelError: the model failed a load-time check or produced a bad output.
    """
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
            proc, n = _start_pass(rspec, dspec, rinfo, dinfo, op, ff, log_path, truncate)
        except BaseException:
            loading.wait_quietly()
            raise
        try:
            lm = loading.result()  # the checks and the session, beside the pass
        except BaseException:
            proc.kill()
            proc.communicate()
            raise
        feats = _finish_pass(proc, log_path, n, op, rinfo, dinfo, t1)
    t2 = time.perf_counter()
    if OperatingPoint.from_sidecar(lm.sidecar) != op:  # pragma: no cover - same bytes checked
        raise BadModelError(f"model {lm.model_id}: its fast block changed while loading")
    feeds = fr_inputs(lm.sidecar, feats.columns)
    n_scored = int(feats.frame_index.shape[0])
    scores = finish_scores(lm.sidecar, score_output(lm, lm.run(feeds), n_scored))
    t3 = time.perf_counter()
    svm = feats.columns["sample_vmaf"]
    return FastScoreResult(
        model_id=lm.model_id,
        kind="fr",
        frames=scores,
        frame_index=feats.frame_index,
        pooled=pool_scores(scores),
        provider=lm.provider,
        reference=str(rspec.path),
        distorted=str(dspec.path),
        operating_point={
            **op.to_dict(),
            "sampled_fraction": round(feats.sampled_fraction, 6),
            "frames_scored": n_scored,
            "frames_total": feats.n_frames,
        },
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
