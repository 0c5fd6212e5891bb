"""Video inputs: describe, probe and decode them through the project's ffmpeg.

Supported inputs are y4m, the usual containers (mp4/mkv/webm/ivf/mov and raw bitstreams) and raw
planar ``.yuv`` files, which need an explicit width, height and pixel format. 8- and 10-bit
4:2:0/4:2:2/4:4:4 are supported. This module decodes (luma planes, raw frames); what an input is
lives in :mod:`vmaf_tiny.video_spec` and probing in :mod:`vmaf_tiny.video_probe` (their public
names are importable from here).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator

from vmaf_tiny._lazy import numpy as np  # numpy on first use (start-up)
from vmaf_tiny.damage import DecodeLog, damaged_error, scan_log
from vmaf_tiny.errors import BadInputError, DamagedInputError
from vmaf_tiny.ffmpeg import FFmpeg, last_error_line, resolve_ffmpeg
from vmaf_tiny.video_probe import probe
from vmaf_tiny.video_spec import (
    PIX_FMTS,
    RAW_SUFFIXES,
    VideoInfo,
    VideoSpec,
    as_spec,
    frame_bytes,
)

__all__ = [
    "PIX_FMTS",
    "RAW_SUFFIXES",
    "VideoInfo",
    "VideoSpec",
    "as_spec",
    "finish_decode",
    "frame_bytes",
    "frames_to_read",
    "locate_clean_frames",
    "probe",
    "read_luma",
    "read_raw",
]


def frames_to_read(
    info: VideoInfo,
    allow_damaged: bool,
    *,
    spec: VideoSpec | None = None,
    ffmpeg: FFmpeg | None = None,
) -> int:
    """How many frames to read from a probed input, refusing a damaged one unless allowed.

    With ``allow_damaged`` and ``spec`` given, the stream is also decoded once by
    :func:`locate_clean_frames` (damage inside the stream, which the probe cannot see, cuts the
    usable prefix there); that extra decode is the price of opting in.

    Raises:
        DamagedInputError: the input is damaged and ``allow_damaged`` is false, or no frame
            comes before its damage (then with or without ``allow_damaged``, and without advice
            to rerun with it).
    """
    clean = info.n_frames if info.clean_frames is None else info.clean_frames
    if info.damage and not allow_damaged and clean > 0:
        raise damaged_error(
            info.path.name,
            list(info.damage),
            f"at most {clean} of {info.n_frames} frames usable, fewer if a strict decode finds "
            "damage earlier",
        )
    if allow_damaged and spec is not None:
        clean = min(clean, locate_clean_frames(spec, ffmpeg or resolve_ffmpeg()))
    if clean <= 0:
        raise DamagedInputError(
            f"{info.path.name}: damaged stream with no usable frames (the damage starts at its "
            "first frame; --allow-damaged keeps only the frames before the first damage)"
        )
    return clean


def locate_clean_frames(spec: VideoSpec, ff: FFmpeg) -> int:
    """Frames of ``spec`` (display order) that decode before the first sign of damage.

    One strict decode: ``-err_detect explode`` makes decoders fail instead of concealing,
    ``-xerror`` stops at the first error and one thread keeps the output in step. Every frame
    it delivered was decoded before the damaged data was reached, but the frame next to the damage
    may itself be partial, so it is left out too. A clean stream keeps every frame.
    """
    args = [
        *ff.base_args(), "-threads", "1", "-err_detect", "explode", "-xerror",
        "-loglevel", "level+warning", *spec.input_args(), "-map", "0:v:0",
        "-fps_mode", "passthrough", "-c:v", "wrapped_avframe", "-f", "framecrc", "-",
    ]  # fmt: skip
    proc = subprocess.run(args, capture_output=True, check=False)
    lines = proc.stdout.decode("ascii", "replace").splitlines()
    delivered = sum(1 for ln in lines if ln and not ln.startswith("#"))
    messages, _ = scan_log(proc.stderr.decode("utf-8", "replace"))
    if proc.returncode == 0 and not messages:
        return delivered
    return max(0, delivered - 1)


def finish_decode(
    name: str,
    info: VideoInfo,
    stderr: bytes,
    *,
    delivered: int,
    max_frames: int | None,
    allow_damaged: bool,
    log: DecodeLog | None,
) -> None:
    """Check a finished decode pass: its log and its frame count against the probe.

    Args:
        name: The input's file name (for messages).
        info: Its probe.
        stderr: The pass's stderr (``-loglevel level+warning``).
        delivered: Frames the pass delivered.
        max_frames: The caller's frame limit (None: the whole stream).
        allow_damaged: Accept damage (record it in ``log``) instead of raising.
        log: Filled with the frame count, messages and dropped/concealed counts.

    Raises:
        BadInputError: damage, or fewer/more frames than the container holds, unless allowed.
    """
    messages, concealed = scan_log(stderr.decode("utf-8", "replace"))
    usable = info.n_frames if info.clean_frames is None else info.clean_frames
    expected = usable if max_frames is None else min(max_frames, usable)
    if delivered != expected:
        messages.append(f"frame count: decoded {delivered}, the container has {expected}")
    messages = list(dict.fromkeys([*info.damage, *messages]))
    if messages and not allow_damaged:
        raise damaged_error(name, messages, f"{delivered} of {expected} frames decoded")
    if log is not None:
        log.frames = delivered
        log.messages = messages
        log.concealed = concealed
        cap = info.n_frames if max_frames is None else min(max_frames, info.n_frames)
        log.dropped = max(0, cap - delivered)


def read_luma(
    video: VideoSpec | str | os.PathLike[str],
    *,
    ffmpeg: FFmpeg | None = None,
    info: VideoInfo | None = None,
    size: tuple[int, int] | None = None,
    max_frames: int | None = None,
    allow_damaged: bool = False,
    log: DecodeLog | None = None,
) -> Iterator[np.ndarray]:
    """Decode luma frames as float32 arrays in [0, 1] (8- and 10-bit alike).

    Frames are read as stored (``-fps_mode passthrough``: no frame is duplicated or dropped to
    fit a nominal rate). A damaged input (see :mod:`vmaf_tiny.damage`) is refused unless
    ``allow_damaged``; then only its clean frames are read and ``log`` says how many were
    dropped.

    Args:
        video: The input.
        ffmpeg: The binary (resolved if None).
        info: A probe result (probed if None).
        size: Optional (width, height) to scale to (bicubic) before output.
        max_frames: Stop after this many frames.
        allow_damaged: Use the clean frames of a damaged input instead of raising.
        log: Filled in when the stream has been read to the end.

    Yields:
        Arrays of shape (height, width), float32.

    Raises:
        BadInputError: decode failure, or damage when not ``allow_damaged``.
    """
    spec = as_spec(video)
    ff = ffmpeg or resolve_ffmpeg()
    vi = info or probe(spec, ff)
    w, h = size or (vi.width, vi.height)
    high = vi.bit_depth > 8
    scale = np.float32(1023.0 if high else 255.0)
    for buf in read_raw(
        spec,
        vi,
        ff,
        pix_fmt="gray10le" if high else "gray",
        frame_size=w * h * (2 if high else 1),
        vf=f"scale={w}:{h}:flags=bicubic" if size else None,
        max_frames=max_frames,
        allow_damaged=allow_damaged,
        log=log,
    ):
        arr = np.frombuffer(buf, dtype="<u2" if high else np.uint8).reshape(h, w)
        yield arr.astype(np.float32) / scale


def read_raw(
    spec: VideoSpec,
    info: VideoInfo,
    ff: FFmpeg,
    *,
    pix_fmt: str,
    frame_size: int,
    vf: str | None = None,
    max_frames: int | None = None,
    allow_damaged: bool = False,
    log: DecodeLog | None = None,
) -> Iterator[bytes]:
    """Decode ``spec`` to raw frames of ``pix_fmt`` (``frame_size`` bytes each), as stored.

    The one raw-frame pipe of the runtime: passthrough timing, damage refused unless
    ``allow_damaged`` (then only the clean frames are read), and :func:`finish_decode` on the
    pass's log and frame count once the stream has been read to the end.

    Raises:
        BadInputError: decode failure, or damage when not ``allow_damaged``.
    """
    limit = frames_to_read(info, allow_damaged, spec=spec, ffmpeg=ff)
    cut = info.damage or limit < info.n_frames
    asked = min(max_frames, limit) if max_frames else (limit if cut else None)
    args = [*ff.base_args(), "-loglevel", "level+warning", *spec.input_args(), "-map", "0:v:0"]
    args += ["-fps_mode", "passthrough"]
    if vf:
        args += ["-vf", vf]
    if asked:
        args += ["-frames:v", str(asked)]
    args += ["-f", "rawvideo", "-pix_fmt", pix_fmt, "-"]
    delivered = 0
    with tempfile.TemporaryFile() as err:  # a file, not a pipe: no deadlock on a chatty log
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=err)
        stdout = proc.stdout
        if stdout is None:  # pragma: no cover - Popen with PIPE always sets it
            raise RuntimeError("no stdout pipe")
        try:
            while True:
                buf = stdout.read(frame_size)
                if len(buf) < frame_size:
                    break
                delivered += 1
                yield buf
        finally:
            stdout.close()
            rc = proc.wait()
            err.seek(0)
            stderr = err.read()
    if rc != 0:
        raise BadInputError(f"{spec.path.name}: decode failed ({last_error_line(stderr)})")
    finish_decode(
        spec.path.name,
        info,
        stderr,
        delivered=delivered,
        max_frames=max_frames,
        allow_damaged=allow_damaged,
        log=log,
    )
