"""The fast pass: libvmaf at full resolution on a sample of the picture, one ffmpeg process.

An :class:`OperatingPoint` (a fast model's sidecar ``fast`` block) says which rows and frames
are measured: ``bands`` horizontal bands evenly spaced over the height, about ``fraction`` of
the rows together, every ``subsample``-th frame. :func:`extract_fast_features` decodes both
videos once, upscales the distorted one to the reference's size when they differ, cuts the
bands out of both at full resolution (``crop``) and runs one libvmaf per band (vmaf_v0.6.1 +
PSNR, ``n_subsample``; the temporal ``motion2`` extractor still sees every frame). The corpus
builder computes training columns with the same function (:mod:`vmaf_train.data.fast_features`).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vmaf_tiny._lazy import numpy as np  # numpy on first use (start-up)
from vmaf_tiny.errors import BadInputError, BadModelError
from vmaf_tiny.features_names import CANONICAL6, TEACHER_MODEL
from vmaf_tiny.ffmpeg import FFmpeg, last_error_line, resolve_ffmpeg
from vmaf_tiny.video import VideoInfo, VideoSpec, as_spec, frames_to_read, probe

__all__ = [
    "BAND_ALIGN",
    "FAST_FEATURES",
    "MIN_BAND",
    "PSNR_CAP",
    "RAW_BPP",
    "FastFeatures",
    "OperatingPoint",
    "band_log",
    "bits_per_pixel",
    "extract_fast_features",
    "fast_graph",
    "finish_pass",
    "output_args",
    "start_pass",
]

# Every column the fast pass can produce (a model's feature_order picks from these).
FAST_FEATURES: tuple[str, ...] = (
    *(f"sample_{c}" for c in CANONICAL6),
    "sample_vmaf",
    "sample_psnr_y",
    "log2_bpp",
)
BAND_ALIGN = 16  # band heights in rows: a multiple of libvmaf's 4-level wavelet block
MIN_BAND = 32  # rows; libvmaf 86da14d crashes (SIGSEGV) on 16-row pictures
RAW_BPP = 12.0  # bits per pixel assumed for uncompressed (y4m/raw) distorted inputs
PSNR_CAP = 60.0  # libvmaf's psnr_y of identical planes (8-bit); capped so outliers stay bounded


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


def start_pass(
    rspec: VideoSpec,
    dspec: VideoSpec,
    rinfo: VideoInfo,
    dinfo: VideoInfo,
    op: OperatingPoint,
    ff: FFmpeg,
    log_path: str,
    truncate: bool,
    n_threads: int = 1,
) -> tuple[subprocess.Popen[bytes], int]:
    """Check the pair and start the ffmpeg pass (returns the process and the frames paired).

    Raises:
        BadInputError: a damaged input, or frame counts that differ without ``truncate``.
    """
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
    graph = fast_graph(rinfo, dinfo, op, log_path=log_path, n_frames=cut, n_threads=n_threads)
    args = [
        *ff.base_args(), "-loglevel", "level+error", *dspec.input_args(), *rspec.input_args(),
        "-filter_complex", graph, *output_args(op, rinfo.height),
    ]  # fmt: skip
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE), n


def finish_pass(
    proc: subprocess.Popen[bytes],
    log_path: str,
    n: int,
    op: OperatingPoint,
    rinfo: VideoInfo,
    dinfo: VideoInfo,
    t0: float,
) -> FastFeatures:
    """Wait for the pass, read every band's libvmaf log and average the bands per frame.

    Raises:
        BadInputError: ffmpeg/libvmaf failed, or scored fewer frames than expected.
    """
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
    n_threads: int = 1,
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
        n_threads: libvmaf threads of each band's pass.

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
        proc, n = start_pass(rspec, dspec, rinfo, dinfo, op, ff, log_path, truncate, n_threads)
        return finish_pass(proc, log_path, n, op, rinfo, dinfo, t0)
