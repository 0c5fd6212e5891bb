"""Video inputs: describe, probe and decode them through the project's ffmpeg.

Supported inputs are y4m, the usual containers (mp4/mkv/webm/ivf/mov and raw bitstreams) and raw
planar ``.yuv`` files, which need an explicit width, height and pixel format. 8- and 10-bit
4:2:0/4:2:2/4:4:4 are supported.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from vmaf_tiny._lazy import numpy as np  # numpy on first use (start-up)
from vmaf_tiny.errors import BadInputError
from vmaf_tiny.ffmpeg import FFmpeg, last_error_line, resolve_ffmpeg

__all__ = [
    "PIX_FMTS",
    "RAW_SUFFIXES",
    "VideoInfo",
    "VideoSpec",
    "as_spec",
    "frame_bytes",
    "probe",
    "read_luma",
]

RAW_SUFFIXES = frozenset({".yuv", ".raw"})

# pixel format -> (bit depth, chroma horizontal shift, chroma vertical shift)
PIX_FMTS: dict[str, tuple[int, int, int]] = {
    "yuv420p": (8, 1, 1),
    "yuvj420p": (8, 1, 1),
    "yuv422p": (8, 1, 0),
    "yuv444p": (8, 0, 0),
    "yuv420p10le": (10, 1, 1),
    "yuv422p10le": (10, 1, 0),
    "yuv444p10le": (10, 0, 0),
}

# decoder name -> the encoder family our codec fields use
_DECODER_FAMILY = {"h264": "libx264", "hevc": "libx265", "vp9": "libvpx-vp9"}
_KNOWN_ENCODERS = ("libx264", "libx265", "libvpx-vp9", "libsvtav1", "libaom-av1")


@dataclass(frozen=True)
class VideoSpec:
    """What the user gave: a path plus, for raw ``.yuv``, its geometry.

    Attributes:
        path: The file.
        width: Raw yuv only: frame width.
        height: Raw yuv only: frame height.
        pix_fmt: Raw yuv only: pixel format (default ``yuv420p``).
        fps: Raw yuv only: frame rate used to time-stamp frames (default 25).
    """

    path: Path
    width: int | None = None
    height: int | None = None
    pix_fmt: str | None = None
    fps: float | None = None

    @property
    def is_raw(self) -> bool:
        return self.path.suffix.lower() in RAW_SUFFIXES

    def input_args(self) -> list[str]:
        """ffmpeg arguments that open this input (``-f rawvideo ... -i path`` or ``-i path``)."""
        if self.is_raw:
            if not self.width or not self.height:
                raise BadInputError(
                    f"{self.path.name}: raw yuv needs --width, --height (and --pix-fmt)"
                )
            return [
                "-f",
                "rawvideo",
                "-pix_fmt",
                self.pix_fmt or "yuv420p",
                "-s",
                f"{self.width}x{self.height}",
                "-framerate",
                f"{self.fps or 25}",
                "-i",
                str(self.path),
            ]
        return ["-i", str(self.path)]


def as_spec(
    video: VideoSpec | str | os.PathLike[str],
    *,
    width: int | None = None,
    height: int | None = None,
    pix_fmt: str | None = None,
) -> VideoSpec:
    """Turn a path (or an existing spec) into a VideoSpec, applying raw geometry if given."""
    spec = video if isinstance(video, VideoSpec) else VideoSpec(Path(video))
    if width or height or pix_fmt:
        spec = replace(
            spec,
            width=width or spec.width,
            height=height or spec.height,
            pix_fmt=pix_fmt or spec.pix_fmt,
        )
    return spec


@dataclass(frozen=True)
class VideoInfo:
    """What probing found.

    Attributes:
        path: The file.
        width: Frame width.
        height: Frame height.
        pix_fmt: Pixel format name.
        bit_depth: 8 or 10.
        n_frames: Number of video frames.
        fps: Frame rate (nominal).
        decoder: ffmpeg's codec name of the stream (``h264``, ``rawvideo``, ...).
        encoder: Encoder library when it can be read from the stream tags, else None.
        crf: CRF when the encoder wrote it into the bitstream (x264/x265), else None.
        bitrate_kbps: Bitrate of the video stream from the file size, None for raw/y4m.
    """

    path: Path
    width: int
    height: int
    pix_fmt: str
    bit_depth: int
    n_frames: int
    fps: float
    decoder: str
    encoder: str | None = None
    crf: float | None = None
    bitrate_kbps: float | None = None


def frame_bytes(width: int, height: int, pix_fmt: str) -> int:
    """Bytes of one raw planar frame of this geometry and pixel format."""
    depth, sx, sy = PIX_FMTS[pix_fmt]
    cw = -(-width // (1 << sx))
    ch = -(-height // (1 << sy))
    return (width * height + 2 * cw * ch) * (2 if depth > 8 else 1)


def _check_file(path: Path) -> None:
    if not path.exists():
        raise BadInputError(f"no such file: {path}")
    if not path.is_file():
        raise BadInputError(f"not a regular file: {path}")
    if path.stat().st_size == 0:
        raise BadInputError(f"{path.name}: file is empty (0 bytes)")


def _check_pix_fmt(pix_fmt: str, path: Path) -> int:
    if pix_fmt not in PIX_FMTS:
        raise BadInputError(
            f"{path.name}: unsupported pixel format {pix_fmt!r} "
            f"(supported: {', '.join(sorted(PIX_FMTS))})"
        )
    return PIX_FMTS[pix_fmt][0]


_STREAM_RE = re.compile(
    r"Stream #0:\d+[^:]*: Video: (?P<codec>\w+)[^,]*, (?P<pix>\w+)(?:\([^)]*\))?"
    r"(?:, [^,]*?)?, (?P<w>\d+)x(?P<h>\d+)"
)
_FPS_RE = re.compile(r", (?P<fps>\d+(?:\.\d+)?) (?:fps|tbr)")
_FRAME_RE = re.compile(r"frame=\s*(\d+)")
_CRF_RE = re.compile(rb"crf=(\d+(?:\.\d+)?)")


def _encoder_from_tags(input_section: str) -> str | None:
    for line in input_section.splitlines():
        key, _, value = line.strip().partition(":")
        if key.strip().lower() == "encoder":
            for enc in _KNOWN_ENCODERS:
                if value.strip().endswith(enc):
                    return enc
    return None


def _crf_from_bitstream(path: Path, encoder: str | None) -> float | None:
    """x264 and x265 write their options (``crf=28.0``) into an SEI near the start."""
    if encoder not in ("libx264", "libx265"):
        return None
    with path.open("rb") as fh:
        head = fh.read(1 << 18)
    m = _CRF_RE.search(head)
    return float(m.group(1)) if m else None


# y4m colour-space tag -> pixel format (the ones vmaf_tiny.video supports)
_Y4M_FORMATS = {
    "420": "yuv420p",
    "420jpeg": "yuv420p",
    "420mpeg2": "yuv420p",
    "420paldv": "yuv420p",
    "422": "yuv422p",
    "444": "yuv444p",
    "420p10": "yuv420p10le",
    "422p10": "yuv422p10le",
    "444p10": "yuv444p10le",
}


def _y4m_info(path: Path) -> VideoInfo | None:
    """Probe an uncompressed y4m from its header and size alone (no ffmpeg run).

    Returns None (the caller falls back to ffmpeg) unless the file is a whole number of frames
    that all start with the same plain ``FRAME`` header.
    """
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(1024)
            nl = head.find(b"\n")
            if not head.startswith(b"YUV4MPEG2 ") or nl < 0 or head[nl + 1 : nl + 7] != b"FRAME\n":
                return None
            tags = {t[:1]: t[1:] for t in head[10:nl].decode("ascii").split() if t}
            width, height = int(tags["W"]), int(tags["H"])
            pix_fmt = _Y4M_FORMATS.get(tags.get("C", "420jpeg"))
            num, den = (int(v) for v in tags.get("F", "25:1").split(":"))
            if pix_fmt is None or width <= 0 or height <= 0 or num <= 0 or den <= 0:
                return None
            frame = 6 + frame_bytes(width, height, pix_fmt)
            body = size - (nl + 1)
            if body <= 0 or body % frame:
                return None
            n = body // frame
            fh.seek(nl + 1 + (n - 1) * frame)
            if fh.read(6) != b"FRAME\n":
                return None
    except (OSError, ValueError, KeyError, UnicodeDecodeError):
        return None
    return VideoInfo(
        path=path,
        width=width,
        height=height,
        pix_fmt=pix_fmt,
        bit_depth=10 if pix_fmt.endswith("10le") else 8,
        n_frames=n,
        fps=num / den,
        decoder="rawvideo",
    )


def probe(video: VideoSpec | str | os.PathLike[str], ffmpeg: FFmpeg | None = None) -> VideoInfo:
    """Read geometry, pixel format, frame count and (where possible) codec fields of a video.

    Raw yuv files are measured from their size, plain y4m files from their header and size;
    everything else goes through one ``ffmpeg -c copy`` pass (no decoding).

    Raises:
        BadInputError: missing/empty/unreadable file, unsupported pixel format, raw yuv without
            geometry or with a size that is not a whole number of frames, or zero frames.
    """
    spec = as_spec(video)
    path = spec.path
    _check_file(path)
    if spec.is_raw:
        if not spec.width or not spec.height:
            raise BadInputError(f"{path.name}: raw yuv needs --width, --height (and --pix-fmt)")
        pix_fmt = spec.pix_fmt or "yuv420p"
        depth = _check_pix_fmt(pix_fmt, path)
        size = path.stat().st_size
        fb = frame_bytes(spec.width, spec.height, pix_fmt)
        if size % fb:
            raise BadInputError(
                f"{path.name}: size {size} is not a whole number of {spec.width}x{spec.height} "
                f"{pix_fmt} frames ({fb} bytes each)"
            )
        return VideoInfo(
            path=path,
            width=spec.width,
            height=spec.height,
            pix_fmt=pix_fmt,
            bit_depth=depth,
            n_frames=size // fb,
            fps=float(spec.fps or 25),
            decoder="rawvideo",
        )

    if path.suffix.lower() == ".y4m":
        # A y4m reference is read in full by ffmpeg just to count frames (~3 MB a frame at
        # 1080p); a plain one is described completely by its header and size.
        info = _y4m_info(path)
        if info is not None:
            return info
    return _probe_ffmpeg(spec, ffmpeg or resolve_ffmpeg())


def _probe_ffmpeg(spec: VideoSpec, ff: FFmpeg) -> VideoInfo:
    """Probe through one ``ffmpeg -c copy`` pass (no decoding)."""
    path = spec.path
    proc = subprocess.run(
        [*ff.base_args(), *spec.input_args(), "-map", "0:v:0", "-c", "copy", "-f", "null", "-"],
        capture_output=True,
        timeout=600,
        check=False,
    )
    err = proc.stderr.decode("utf-8", "replace")
    input_section = err.split("Stream mapping:")[0]
    m = _STREAM_RE.search(input_section)
    if proc.returncode != 0 or m is None:
        reason = last_error_line(proc.stderr) if proc.returncode != 0 else "no video stream"
        raise BadInputError(f"{path.name}: cannot read video ({reason})")
    pix_fmt = m.group("pix")
    if pix_fmt == "none" or int(m.group("w")) == 0:
        raise BadInputError(f"{path.name}: cannot decode the video stream (truncated or corrupt?)")
    depth = _check_pix_fmt(pix_fmt, path)
    frames = _FRAME_RE.findall(err.split("Stream mapping:")[-1])
    n_frames = int(frames[-1]) if frames else 0
    if n_frames <= 0:
        raise BadInputError(f"{path.name}: video has zero frames")
    fps_m = _FPS_RE.search(input_section[m.start() :])
    fps = float(fps_m.group("fps")) if fps_m else 25.0
    decoder = m.group("codec")
    encoder = _encoder_from_tags(input_section[m.start() :]) or _DECODER_FAMILY.get(decoder)
    bitrate = None
    if decoder != "rawvideo" and fps > 0:
        bitrate = path.stat().st_size * 8 / 1000 / (n_frames / fps)
    return VideoInfo(
        path=path,
        width=int(m.group("w")),
        height=int(m.group("h")),
        pix_fmt=pix_fmt,
        bit_depth=depth,
        n_frames=n_frames,
        fps=fps,
        decoder=decoder,
        encoder=encoder,
        crf=_crf_from_bitstream(path, encoder),
        bitrate_kbps=bitrate,
    )


def read_luma(
    video: VideoSpec | str | os.PathLike[str],
    *,
    ffmpeg: FFmpeg | None = None,
    info: VideoInfo | None = None,
    size: tuple[int, int] | None = None,
    max_frames: int | None = None,
) -> Iterator[np.ndarray]:
    """Decode luma frames as float32 arrays in [0, 1] (8- and 10-bit alike).

    Args:
        video: The input.
        ffmpeg: The binary (resolved if None).
        info: A probe result (probed if None).
        size: Optional (width, height) to scale to (bicubic) before output.
        max_frames: Stop after this many frames.

    Yields:
        Arrays of shape (height, width), float32.
    """
    spec = as_spec(video)
    ff = ffmpeg or resolve_ffmpeg()
    vi = info or probe(spec, ff)
    w, h = size or (vi.width, vi.height)
    high = vi.bit_depth > 8
    out_fmt = "gray10le" if high else "gray"
    vf = [f"scale={w}:{h}:flags=bicubic"] if size else []
    args = [*ff.base_args(), "-loglevel", "error", *spec.input_args(), "-map", "0:v:0"]
    if vf:
        args += ["-vf", ",".join(vf)]
    if max_frames:
        args += ["-frames:v", str(max_frames)]
    args += ["-f", "rawvideo", "-pix_fmt", out_fmt, "-"]
    n = w * h * (2 if high else 1)
    scale = np.float32(1023.0 if high else 255.0)
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stdout = proc.stdout
    if stdout is None:  # pragma: no cover - Popen with PIPE always sets it
        raise RuntimeError("no stdout pipe")
    try:
        while True:
            buf = stdout.read(n)
            if len(buf) < n:
                break
            arr = np.frombuffer(buf, dtype="<u2" if high else np.uint8).reshape(h, w)
            yield arr.astype(np.float32) / scale
    finally:
        stdout.close()
        rc = proc.wait()
        stderr = proc.stderr.read() if proc.stderr else b""
        if proc.stderr:
            proc.stderr.close()
    if rc != 0:
        raise BadInputError(f"{spec.path.name}: decode failed ({last_error_line(stderr)})")
