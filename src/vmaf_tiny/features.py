"""VMAF features from the real libvmaf teacher, one ffmpeg pass per reference/distorted pair.

Per frame we return VMAF's canonical-6 features (libvmaf's integer extractors; our names drop the
``integer_`` prefix), the teacher score ``vmaf`` (vmaf_v0.6.1) and optional extras.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from vmaf_tiny._lazy import numpy as np  # numpy on first use (start-up)
from vmaf_tiny.bounds import check_threads
from vmaf_tiny.damage import ALLOW_HINT, damaged_error, scan_log
from vmaf_tiny.errors import BadInputError
from vmaf_tiny.ffmpeg import FFmpeg, last_error_line, resolve_ffmpeg
from vmaf_tiny.video import VideoInfo, VideoSpec, as_spec, frames_to_read, probe

__all__ = [
    "CANONICAL6",
    "EXTRAS",
    "TEACHER_MODEL",
    "FeatureResult",
    "extract_features",
]

CANONICAL6: tuple[str, ...] = (
    "adm2",
    "motion2",
    "vif_scale0",
    "vif_scale1",
    "vif_scale2",
    "vif_scale3",
)
# our column -> (libvmaf feature extractor, key in libvmaf's per-frame log)
EXTRAS: dict[str, tuple[str, str]] = {
    "psnr_y": ("psnr", "psnr_y"),
    "float_ssim": ("float_ssim", "float_ssim"),
    "float_ms_ssim": ("float_ms_ssim", "float_ms_ssim"),
    "cambi": ("cambi", "cambi"),
}
TEACHER_MODEL = "vmaf_v0.6.1"


@dataclass(frozen=True)
class FeatureResult:
    """Per-frame features of one pair.

    Attributes:
        columns: name -> float64 array of length ``n_frames``: the canonical-6, ``vmaf`` and any
            requested extras (NaN where libvmaf could not compute an extra, e.g. MS-SSIM on
            frames too small for its five scales).
        n_frames: Frames scored.
        reference: Probe of the reference.
        distorted: Probe of the distorted video.
        ffmpeg_version: ffmpeg's version line.
        libvmaf_version: libvmaf's version string from its log.
        model_version: The teacher model (``vmaf_v0.6.1``).
        warnings: Non-fatal notes (e.g. an extra that could not be computed, damage accepted
            with ``allow_damaged``).
        damaged_frames_dropped: Frames left out because an input was damaged.
    """

    columns: dict[str, np.ndarray]
    n_frames: int
    reference: VideoInfo
    distorted: VideoInfo
    ffmpeg_version: str
    libvmaf_version: str
    model_version: str = TEACHER_MODEL
    warnings: tuple[str, ...] = field(default_factory=tuple)
    damaged_frames_dropped: int = 0

    def matrix(self, names: Sequence[str] = CANONICAL6) -> np.ndarray:
        """Stack the named columns into an (n_frames, len(names)) float32 array."""
        return np.stack([self.columns[n] for n in names], axis=1).astype(np.float32)

    @property
    def vmaf(self) -> np.ndarray:
        return self.columns["vmaf"]


def _filter_graph(
    ref: VideoInfo,
    dis: VideoInfo,
    *,
    n_frames: int,
    truncate: bool,
    log_path: str,
    n_threads: int,
    extras: Sequence[str],
) -> str:
    dis_chain = []
    if (dis.width, dis.height) != (ref.width, ref.height):
        # VMAF scores at the reference's resolution: upscale the distorted (bicubic).
        dis_chain.append(f"scale={ref.width}:{ref.height}:flags=bicubic")
    if dis.pix_fmt != ref.pix_fmt or dis_chain:
        dis_chain.append(f"format={ref.pix_fmt}")
    ref_chain = []
    if truncate:
        dis_chain.append(f"trim=end_frame={n_frames}")
        ref_chain.append(f"trim=end_frame={n_frames}")
    # Pair frames by index, as stored: each side's timestamps become its frame number, so a
    # variable-frame-rate or re-timed file pairs frame i with frame i (not by clock time).
    tail = ["settb=1/25", "setpts=N"]
    feats = "|".join(f"name={EXTRAS[e][0]}" for e in extras)
    opts = [
        f"model=version={TEACHER_MODEL}",
        "log_fmt=json",
        f"log_path={log_path}",
        f"n_threads={n_threads}",
    ]
    if feats:
        opts.append(f"feature='{feats}'")
    return (
        f"[0:v]{','.join([*dis_chain, *tail])}[d];"
        f"[1:v]{','.join([*ref_chain, *tail])}[r];"
        f"[d][r]libvmaf={':'.join(opts)}"
    )


def extract_features(
    reference: VideoSpec | str | os.PathLike[str],
    distorted: VideoSpec | str | os.PathLike[str],
    *,
    extras: Sequence[str] = (),
    n_threads: int = 1,
    truncate: bool = False,
    ffmpeg: FFmpeg | None = None,
    reference_info: VideoInfo | None = None,
    distorted_info: VideoInfo | None = None,
    allow_damaged: bool = False,
) -> FeatureResult:
    """Run libvmaf once over a pair and return per-frame features and teacher scores.

    Args:
        reference: Reference video (path or VideoSpec; raw yuv needs geometry).
        distorted: Distorted video; upscaled (bicubic) to the reference size if it differs.
        extras: Any of ``psnr_y``, ``float_ssim``, ``float_ms_ssim``, ``cambi``.
        n_threads: libvmaf threads (default 1).
        truncate: If the frame counts differ, score the first min(n_ref, n_dis) frames instead
            of raising.
        ffmpeg: The binary to use (resolved if None).
        reference_info: A probe of the reference, if the caller already has one.
        distorted_info: A probe of the distorted video, if the caller already has one.
        allow_damaged: Score the clean frames of a damaged input (the pair is cut to the common
            clean frames; the count dropped is in the result) instead of raising.

    Returns:
        The per-frame features.

    Raises:
        BadInputError: unreadable inputs, frame-count mismatch (unless ``truncate``), an
            unknown extra, libvmaf scoring fewer frames than expected, or a damaged input
            (unless ``allow_damaged``).
    """
    unknown = [e for e in extras if e not in EXTRAS]
    if unknown:
        raise BadInputError(f"unknown extra feature(s) {unknown}; choose from {sorted(EXTRAS)}")
    check_threads(n_threads, "n_threads")
    ff = ffmpeg or resolve_ffmpeg()
    rspec, dspec = as_spec(reference), as_spec(distorted)
    rinfo = reference_info or probe(rspec, ff)
    dinfo = distorted_info or probe(dspec, ff)
    rclean = frames_to_read(rinfo, allow_damaged, spec=rspec, ffmpeg=ff)
    dclean = frames_to_read(dinfo, allow_damaged, spec=dspec, ffmpeg=ff)
    damaged = bool(rinfo.damage or dinfo.damage) or (
        rclean < rinfo.n_frames or dclean < dinfo.n_frames
    )
    n = min(rclean, dclean)
    if rinfo.n_frames != dinfo.n_frames and not truncate and not damaged:
        raise BadInputError(
            f"frame counts differ: reference {rspec.path.name} has {rinfo.n_frames}, "
            f"distorted {dspec.path.name} has {dinfo.n_frames} (use --truncate to score the "
            f"first {n})"
        )
    with tempfile.TemporaryDirectory(prefix="vmaf-tiny-") as tmp:
        log_path = str(Path(tmp) / "vmaf.json")
        graph = _filter_graph(
            rinfo,
            dinfo,
            n_frames=n,
            truncate=n != rinfo.n_frames or n != dinfo.n_frames,
            log_path=log_path,
            n_threads=n_threads,
            extras=extras,
        )
        args = [
            *ff.base_args(),
            "-loglevel",
            "level+warning",
            *dspec.input_args(),
            *rspec.input_args(),
            "-lavfi",
            graph,
            "-f",
            "null",
            "-",
        ]
        proc = subprocess.run(args, capture_output=True, check=False)
        if proc.returncode != 0 or not Path(log_path).exists():
            raise BadInputError(
                f"libvmaf failed on {dspec.path.name} vs {rspec.path.name}: "
                f"{last_error_line(proc.stderr)}"
            )
        log = json.loads(Path(log_path).read_text())
    text = proc.stderr.decode("utf-8", "replace")
    notes: list[str] = []
    scored = min(n, len(log.get("frames") or []))
    for idx, info, clean in ((0, dinfo, dclean), (1, rinfo, rclean)):
        # A line that names no input is blamed on an input known to be damaged, if one is.
        untagged = bool(info.damage) or clean < info.n_frames or not damaged
        said, _ = scan_log(text, source=idx, decoder=info.decoder, untagged=untagged)
        if clean < info.n_frames and not said:
            said = [f"damage found by a strict decode: {clean} of {info.n_frames} frames clean"]
        said = list(dict.fromkeys([*info.damage, *said]))
        if not said:
            continue
        if not allow_damaged:
            raise damaged_error(info.path.name, said, f"{scored} of {n} frames scored")
        notes.append(f"{info.path.name}: damaged stream ({'; '.join(said[:3])})")
    if scored != n:
        short = f"libvmaf scored {scored} of {n} frames of {dspec.path.name} vs {rspec.path.name}"
        if not allow_damaged:
            raise BadInputError(f"{short} (damaged input?); {ALLOW_HINT}")
        notes.append(short)
    n_expected = n
    if allow_damaged:
        n_expected = scored
        log["frames"] = (log.get("frames") or [])[:scored]
    # Frames the damaged file(s) hold but that were not used (not the ones cut away entirely).
    dropped = (rinfo.n_frames - rclean) + (dinfo.n_frames - dclean) + (n - n_expected)
    if notes:
        notes.append(
            f"--allow-damaged: {dropped} damaged frame(s) dropped; {n_expected} of the "
            f"reference's {rinfo.n_frames} frames scored"
        )
    res = _parse_log(log, rinfo=rinfo, dinfo=dinfo, n_expected=n_expected, extras=extras, ff=ff)
    pairing = _pairing_notes(rinfo, dinfo)
    if notes or pairing:
        res = replace(res, warnings=(*pairing, *notes, *res.warnings))
    if notes:
        res = replace(res, damaged_frames_dropped=dropped)
    return res


def _pairing_notes(rinfo: VideoInfo, dinfo: VideoInfo) -> list[str]:
    """Warnings for a pair that scores, but perhaps not as the user meant."""
    notes = []
    if dinfo.width * dinfo.height > rinfo.width * rinfo.height:
        notes.append(
            f"distorted {dinfo.path.name} ({dinfo.width}x{dinfo.height}) is larger than the "
            f"reference ({rinfo.width}x{rinfo.height}); it was scaled down to the reference"
        )
    if rinfo.fps > 0 and dinfo.fps > 0 and abs(rinfo.fps - dinfo.fps) > 0.01 * rinfo.fps:
        notes.append(
            f"frame rates differ (reference {rinfo.fps:g} fps, distorted {dinfo.fps:g} fps): "
            "frames are paired by index, not by time"
        )
    return notes


def _parse_log(
    log: dict,
    *,
    rinfo: VideoInfo,
    dinfo: VideoInfo,
    n_expected: int,
    extras: Sequence[str],
    ff: FFmpeg,
) -> FeatureResult:
    frames = log.get("frames") or []
    if len(frames) != n_expected:
        raise BadInputError(
            f"libvmaf scored {len(frames)} of {n_expected} frames of {dinfo.path.name} "
            "(corrupt or truncated video?)"
        )
    wanted = {name: f"integer_{name}" for name in CANONICAL6}
    wanted["vmaf"] = "vmaf"
    for e in extras:
        wanted[e] = EXTRAS[e][1]
    cols = {name: np.full(n_expected, np.nan, dtype=np.float64) for name in wanted}
    for i, fr in enumerate(frames):
        metrics = fr.get("metrics", {})
        for name, key in wanted.items():
            if key in metrics:
                cols[name][i] = float(metrics[key])
    missing = [n for n in (*CANONICAL6, "vmaf") if np.isnan(cols[n]).any()]
    if missing:
        raise BadInputError(f"libvmaf log lacks {missing} for {dinfo.path.name}")
    warns = tuple(
        f"extra {e!r} unavailable for {dinfo.path.name} at {rinfo.width}x{rinfo.height}"
        for e in extras
        if np.isnan(cols[e]).all()
    )
    return FeatureResult(
        columns=cols,
        n_frames=n_expected,
        reference=rinfo,
        distorted=dinfo,
        ffmpeg_version=ff.version_line,
        libvmaf_version=str(log.get("version", "unknown")),
        warnings=warns,
    )
