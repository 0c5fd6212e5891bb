"""VMAF features from the real libvmaf teacher, one ffmpeg pass per reference/distorted pair.

Per frame we return VMAF's canonical-6 features (libvmaf's integer extractors; our names drop the
``integer_`` prefix), the teacher score ``vmaf`` (vmaf_v0.6.1) and optional extras.

The names of features and teachers live in :mod:`vmaf_tiny.features_names`, the result type and
the reading of libvmaf's log in :mod:`vmaf_tiny.features_log`, the notes on how a pair is paired
in :mod:`vmaf_tiny.pairing`; the public names are re-exported here.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from vmaf_tiny._lazy import numpy as np  # numpy on first use (start-up)
from vmaf_tiny.bounds import check_threads
from vmaf_tiny.damage import ALLOW_HINT, damaged_error, scan_log
from vmaf_tiny.errors import BadInputError
from vmaf_tiny.features_log import FeatureResult, parse_log
from vmaf_tiny.features_names import (
    CANONICAL6,
    EXTRAS,
    FEATURE_KEYS,
    NEG_FEATURES,
    SCALE_ALGOS,
    TEACHER_COLUMNS,
    TEACHER_MODEL,
    TEACHERS,
    libvmaf_needs,
    model_features,
)
from vmaf_tiny.ffmpeg import FFmpeg, last_error_line, resolve_ffmpeg
from vmaf_tiny.pairing import pairing_notes, rates_differ
from vmaf_tiny.video import VideoInfo, VideoSpec, as_spec, frames_to_read, probe

__all__ = [
    "CANONICAL6",
    "EXTRAS",
    "FEATURE_KEYS",
    "NEG_FEATURES",
    "SCALE_ALGOS",
    "TEACHERS",
    "TEACHER_COLUMNS",
    "TEACHER_MODEL",
    "FeatureResult",
    "extract_features",
    "libvmaf_needs",
    "model_features",
]


def _filter_graph(
    ref: VideoInfo,
    dis: VideoInfo,
    *,
    n_frames: int,
    truncate: bool,
    log_path: str,
    n_threads: int,
    extras: Sequence[str],
    subsample: int = 1,
    teacher: str = TEACHER_MODEL,
    fps: float | None = None,
    scale_algo: str = "bicubic",
    teachers: Sequence[str] = (),
    features: Sequence[str] = (),
) -> str:
    dis_chain = []
    if (dis.width, dis.height) != (ref.width, ref.height):
        # VMAF scores at the reference's resolution: upscale the distorted (bicubic by default).
        dis_chain.append(f"scale={ref.width}:{ref.height}:flags={scale_algo}")
    if dis.pix_fmt != ref.pix_fmt or dis_chain:
        dis_chain.append(f"format={ref.pix_fmt}")
    ref_chain: list[str] = []
    if fps is not None:
        # Resample both sides to one rate by time (ffmpeg's fps filter), then pair by index.
        dis_chain.insert(0, f"fps={fps:g}")
        ref_chain.append(f"fps={fps:g}")
    elif truncate:
        dis_chain.append(f"trim=end_frame={n_frames}")
        ref_chain.append(f"trim=end_frame={n_frames}")
    # Pair frames by index, as stored: each side's timestamps become its frame number, so a
    # variable-frame-rate or re-timed file pairs frame i with frame i (not by clock time).
    tail = ["settb=1/25", "setpts=N"]
    feats = "|".join(f"name={EXTRAS[e][0]}" for e in extras)
    pass_models = _pass_models(teacher, teachers, features)
    if len(pass_models) == 1:
        model = f"model=version={TEACHER_MODEL}"
    else:
        specs = "|".join(f"{TEACHERS[t]}\\:name={TEACHER_COLUMNS[t]}" for t in pass_models)
        model = f"model='{specs}'"
    opts = [model, "log_fmt=json", f"log_path={log_path}", f"n_threads={n_threads}"]
    if subsample > 1:
        opts.append(f"n_subsample={subsample}")
    if fps is not None:
        opts.append("shortest=1")  # the resampled inputs may differ by a frame at the end
    if feats:
        opts.append(f"feature='{feats}'")
    return (
        f"[0:v]{','.join([*dis_chain, *tail])}[d];"
        f"[1:v]{','.join([*ref_chain, *tail])}[r];"
        f"[d][r]libvmaf={':'.join(opts)}"
    )


def _pass_models(teacher: str, teachers: Sequence[str], features: Sequence[str]) -> list[str]:
    """The libvmaf models of one pass: vmaf_v0.6.1 first, then each other one needed, once."""
    need = [TEACHER_MODEL, teacher, *teachers, *(FEATURE_KEYS[f][1] for f in features)]
    return [t for t in dict.fromkeys(need) if t]


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
    subsample: int = 1,
    teacher: str = TEACHER_MODEL,
    fps: float | None = None,
    scale_algo: str = "bicubic",
    progress: Callable[[int, int], None] | None = None,
    teachers: Sequence[str] = (),
    features: Sequence[str] = (),
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
        subsample: libvmaf's ``n_subsample``: score frames ``0, N, 2N, ...`` only.
        teacher: A key of :data:`TEACHERS`, scored beside vmaf_v0.6.1 in the same pass (its
            per-frame scores are the column ``teacher`` when it is not vmaf_v0.6.1).
        fps: Resample both inputs to this frame rate (ffmpeg's ``fps`` filter) before pairing
            frames by index; for inputs whose frame rates differ.
        scale_algo: ffmpeg ``scale`` flags for resizing the distorted video (:data:`SCALE_ALGOS`).
        progress: Called as ``progress(done, total)`` with the frames the pass has read.
        teachers: More libvmaf models scored in the same pass, each a column named by
            :data:`TEACHER_COLUMNS` (``vmaf_neg``, ``vmaf_4k``, ...).
        features: Feature columns wanted beside the canonical-6 (keys of :data:`FEATURE_KEYS`,
            e.g. the NEG-mode ``adm2_egl_1``); one that only a NEG model computes adds
            vmaf_v0.6.1neg to the same pass.

    Returns:
        The per-frame features.

    Raises:
        BadInputError: unreadable inputs, frame-count or frame-rate mismatch (unless
            ``truncate`` or ``fps``), an unknown extra, teacher or scale algorithm, libvmaf
            scoring fewer frames than expected, or a damaged input (unless ``allow_damaged``).
    """
    unknown = [e for e in extras if e not in EXTRAS]
    if unknown:
        raise BadInputError(f"unknown extra feature(s) {unknown}; choose from {sorted(EXTRAS)}")
    for t in (teacher, *teachers):
        if t not in TEACHERS:
            raise BadInputError(f"unknown teacher {t!r}; choose from {', '.join(TEACHERS)}")
    bad = [f for f in features if f not in FEATURE_KEYS]
    if bad:
        raise BadInputError(f"unknown feature(s) {bad}; libvmaf gives {', '.join(FEATURE_KEYS)}")
    if scale_algo not in SCALE_ALGOS:
        raise BadInputError(
            f"unknown scale algorithm {scale_algo!r}; choose from {', '.join(SCALE_ALGOS)}"
        )
    if isinstance(subsample, bool) or not isinstance(subsample, int) or subsample < 1:
        raise BadInputError(f"subsample must be an integer >= 1, got {subsample!r}")
    if fps is not None and not (0 < fps <= 1000):
        raise BadInputError(f"fps must be in (0, 1000], got {fps!r}")
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
    if fps is not None:
        # The resampled pair ends with the shorter input; libvmaf's log gives the count.
        rfps, dfps = rinfo.fps or 25.0, dinfo.fps or 25.0
        n = max(1, min(round(rclean / rfps * fps), round(dclean / dfps * fps)))
    elif rinfo.n_frames != dinfo.n_frames and not truncate and not damaged:
        if rates_differ(rinfo, dinfo):
            raise BadInputError(
                f"frame rates differ: reference {rspec.path.name} is {rinfo.fps:g} fps "
                f"({rinfo.n_frames} frames), distorted {dspec.path.name} is {dinfo.fps:g} fps "
                f"({dinfo.n_frames} frames); pass --fps {rinfo.fps:g} to resample both to one "
                "rate (or --truncate to pair the first frames by index)"
            )
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
            subsample=subsample,
            teacher=teacher,
            fps=fps,
            scale_algo=scale_algo,
            teachers=teachers,
            features=features,
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
        returncode, stderr = _run_pass(args, total=n, progress=progress)
        if returncode != 0 or not Path(log_path).exists():
            raise BadInputError(
                f"libvmaf failed on {dspec.path.name} vs {rspec.path.name}: "
                f"{last_error_line(stderr)}{_extras_hint(extras, rinfo)}"
            )
        log = json.loads(Path(log_path).read_text())
    text = stderr.decode("utf-8", "replace")
    notes: list[str] = []
    n_log = len(log.get("frames") or [])
    if fps is not None:  # the resampled count is libvmaf's (``n`` above is an estimate)
        n_sub = n_log
        if subsample == 1:
            n = n_log
    else:
        n_sub = -(-n // subsample)
    scored = min(n_sub, n_log)
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
            raise damaged_error(info.path.name, said, f"{scored} of {n_sub} frames scored")
        notes.append(f"{info.path.name}: damaged stream ({'; '.join(said[:3])})")
    if scored != n_sub:
        short = (
            f"libvmaf scored {scored} of {n_sub} frames of {dspec.path.name} vs {rspec.path.name}"
        )
        if not allow_damaged:
            raise BadInputError(f"{short} (damaged input?); {ALLOW_HINT}")
        notes.append(short)
    n_expected = n_sub
    if allow_damaged:
        n_expected = scored
        log["frames"] = (log.get("frames") or [])[:scored]
    # Frames the damaged file(s) hold but that were not used (not the ones cut away entirely).
    dropped = (rinfo.n_frames - rclean) + (dinfo.n_frames - dclean) + (n_sub - n_expected)
    if notes:
        notes.append(
            f"--allow-damaged: {dropped} damaged frame(s) dropped; {n_expected} of the "
            f"reference's {rinfo.n_frames} frames scored"
        )
    res = parse_log(
        log,
        rinfo=rinfo,
        dinfo=dinfo,
        n_expected=n_expected,
        extras=extras,
        ff=ff,
        teacher=teacher,
        teachers=teachers,
        features=features,
    )
    index = np.asarray(
        [int(f.get("frameNum", i * subsample)) for i, f in enumerate(log.get("frames") or [])],
        dtype=np.int64,
    )
    res = replace(
        res,
        frame_index=index,
        fps=float(fps) if fps is not None else rinfo.fps,
        subsample=subsample,
        n_frames_total=n,
        teacher=teacher,
    )
    pairing = pairing_notes(rinfo, dinfo, resampled=fps)
    if notes or pairing:
        res = replace(res, warnings=(*pairing, *notes, *res.warnings))
    if notes:
        res = replace(res, damaged_frames_dropped=dropped)
    return res


def _extras_hint(extras: Sequence[str], rinfo: VideoInfo) -> str:
    """Why a pass with extras may fail: MS-SSIM and CAMBI need frames larger than tiny clips."""
    small = [e for e in extras if e in ("float_ms_ssim", "cambi")]
    if small and min(rinfo.width, rinfo.height) < 176:
        return f" ({', '.join(small)} need(s) frames larger than {rinfo.width}x{rinfo.height})"
    return ""


def _run_pass(
    args: list[str], *, total: int, progress: Callable[[int, int], None] | None
) -> tuple[int, bytes]:
    """Run the libvmaf pass; with ``progress``, report ffmpeg's frame counter as it goes."""
    if progress is None:
        proc = subprocess.run(args, capture_output=True, check=False)
        return proc.returncode, proc.stderr
    args = [*args[:-3], "-progress", "pipe:1", "-nostats", *args[-3:]]
    popen = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    err: list[bytes] = []
    drain = threading.Thread(target=lambda: err.append(popen.stderr.read()), daemon=True)  # type: ignore[union-attr]
    drain.start()
    try:
        for raw in popen.stdout:  # type: ignore[union-attr]
            if raw.startswith(b"frame="):
                done = raw[6:].strip()
                if done.isdigit():
                    progress(min(int(done), total), total)
    except BaseException:  # SIGTERM, Ctrl-C, a failing callback: stop ffmpeg too
        popen.kill()
        raise
    finally:
        popen.wait()
        drain.join()
    return popen.returncode, b"".join(err)
