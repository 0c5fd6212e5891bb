"""Video inputs: describe, probe and decode them through the project's ffmpeg.

Supported inputs are y4m, the usual containers (mp4/mkv/webm/ivf/mov and raw bitstreams) and raw
planar ``.yuv`` files, which need an explicit width, height and pixel format. 8- and 10-bit
4:2:0/4:2:2/4:4:4 are supported.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from vmaf_tiny._lazy import numpy as np  # numpy on first use (start-up)
from vmaf_tiny.damage import DecodeLog, clean_prefix, damaged_error, scan_log
from vmaf_tiny.errors import BadInputError
from vmaf_tiny.ffmpeg import FFmpeg, last_error_line, resolve_ffmpeg

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
        damage: What the demuxer (or the y4m size check) reported as damaged; empty when clean.
        clean_frames: For a damaged input, the frames (in display order) that can be used; None
            when clean. See :mod:`vmaf_tiny.damage`.
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
    damage: tuple[str, ...] = ()
    clean_frames: int | None = None


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
        BadInputError: the input is damaged and ``allow_damaged`` is false, or nothing usable.
    """
    clean = info.n_frames if info.clean_frames is None else info.clean_frames
    if info.damage and not allow_damaged:
        raise damaged_error(
            info.path.name, list(info.damage), f"{clean} of {info.n_frames} frames decodable"
        )
    if allow_damaged and spec is not None:
        clean = min(clean, locate_clean_frames(spec, ffmpeg or resolve_ffmpeg()))
    if clean <= 0:
        raise BadInputError(f"{info.path.name}: damaged stream with no usable frames")
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


_Y4M_INTERLACE = frozenset("ptbm?")


def _y4m_bad(path: Path, why: str) -> BadInputError:
    return BadInputError(f"{path.name}: invalid y4m header ({why})")


def _y4m_info(path: Path) -> VideoInfo | None:
    """Probe an uncompressed y4m from its header and size alone (no ffmpeg run).

    The header (W, H, C, F, I) is validated and every frame's ``FRAME`` marker is checked where
    the header's geometry puts it, so a header that lies about the geometry is an error and a
    cut file is reported as damaged (its whole frames stay usable). Returns None (the caller
    falls back to ffmpeg) only for a colour space this module does not handle.

    Raises:
        BadInputError: no ``YUV4MPEG2`` signature, an unreadable or inconsistent header, or
            frames that do not line up with it.
    """
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(4096)
        if not head.startswith(b"YUV4MPEG2"):
            raise BadInputError(f"{path.name}: not a y4m file (no YUV4MPEG2 signature)")
        nl = head.find(b"\n")
        if nl < 0:
            raise _y4m_bad(path, "no end of line in the first 4096 bytes")
        try:
            words = head[9:nl].decode("ascii").split()
        except UnicodeDecodeError:
            raise _y4m_bad(path, "non-ASCII bytes") from None
        tags: dict[str, str] = {}
        for w in words:
            tags.setdefault(w[:1], w[1:])
        try:
            width, height = int(tags["W"]), int(tags["H"])
            num, den = (int(v) for v in tags.get("F", "25:1").split(":"))
        except KeyError as exc:
            raise _y4m_bad(path, f"no {exc.args[0]} tag") from None
        except ValueError:
            raise _y4m_bad(path, f"W{tags.get('W')} H{tags.get('H')} F{tags.get('F')}") from None
        if width <= 0 or height <= 0:
            raise _y4m_bad(path, f"W{width} H{height}: the size must be positive")
        if num <= 0 or den <= 0:
            raise _y4m_bad(path, f"F{num}:{den}: the frame rate must be positive")
        if tags.get("I", "p")[:1] not in _Y4M_INTERLACE:
            raise _y4m_bad(path, f"I{tags['I']}: unknown interlacing")
        pix_fmt = _Y4M_FORMATS.get(tags.get("C", "420jpeg"))
        if pix_fmt is None:
            return None
        fb = frame_bytes(width, height, pix_fmt)
        pos, n = nl + 1, 0
        damage: tuple[str, ...] = ()
        geometry = f"W{width} H{height} C{tags.get('C', '420jpeg')} frames of {fb} bytes"
        while pos < size:
            fh.seek(pos)
            marker = fh.read(256)
            eol = marker.find(b"\n")
            if not marker.startswith(b"FRAME") or eol < 0:
                if size - pos < 6 and b"FRAME".startswith(marker):
                    damage = (f"y4m size check: {size - pos} stray bytes after frame {n}",)
                    break
                raise _y4m_bad(
                    path, f"{geometry} do not match the data: no FRAME marker at byte {pos}"
                )
            data = pos + eol + 1
            if data + fb > size:
                fh.seek(data)
                if b"FRAME" in fh.read(size - data):
                    raise _y4m_bad(
                        path, f"{geometry} do not match the data: FRAME marker inside frame {n}"
                    )
                damage = (f"y4m size check: last frame has {size - data} of {fb} bytes",)
                break
            pos = data + fb
            n += 1
    if n == 0 and not damage:
        raise BadInputError(f"{path.name}: video has zero frames")
    return VideoInfo(
        path=path,
        width=width,
        height=height,
        pix_fmt=pix_fmt,
        bit_depth=10 if pix_fmt.endswith("10le") else 8,
        n_frames=n + (1 if damage else 0),
        fps=num / den,
        decoder="rawvideo",
        damage=damage,
        clean_frames=n if damage else None,
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


def _packets(framecrc: str) -> list[tuple[int | None, int | None, bool]]:
    """(dts, pts, corrupt) per packet from ``-c copy -f framecrc`` output."""
    out: list[tuple[int | None, int | None, bool]] = []
    for line in framecrc.splitlines():
        if line.startswith("#"):
            continue
        cols = [c.strip() for c in line.split(",")]
        if len(cols) < 6:
            continue
        try:
            dts, pts = int(cols[1]), int(cols[2])
        except ValueError:
            continue
        flags = cols[6] if len(cols) > 6 else ""
        corrupt = flags.startswith("F=") and bool(int(flags[2:], 16) & 0x2)
        out.append((None if dts < -(2**62) else dts, None if pts < -(2**62) else pts, corrupt))
    return out


def _probe_ffmpeg(spec: VideoSpec, ff: FFmpeg) -> VideoInfo:
    """Probe through one ``ffmpeg -c copy`` pass (no decoding).

    The pass lists every packet (``framecrc``: timestamps and the corrupt flag) and its log is
    scanned for demuxer damage (a cut file, corrupt packets); see :mod:`vmaf_tiny.damage`.
    """
    path = spec.path
    proc = subprocess.run(
        [
            *ff.base_args(),
            "-loglevel",
            "level+info",
            *spec.input_args(),
            "-map",
            "0:v:0",
            "-c",
            "copy",
            "-f",
            "framecrc",
            "-",
        ],
        capture_output=True,
        timeout=600,
        check=False,
    )
    err = proc.stderr.decode("utf-8", "replace")
    input_section = err.split("Stream mapping:")[0]
    m = _STREAM_RE.search(input_section)
    if m is None and "Input #0" in input_section:
        raise BadInputError(f"no video stream in {path.name}")
    if proc.returncode != 0 or m is None:
        reason = last_error_line(proc.stderr) if proc.returncode != 0 else "no video stream"
        raise BadInputError(f"{path.name}: cannot read video ({reason})")
    pix_fmt = m.group("pix")
    if pix_fmt == "none" or int(m.group("w")) == 0:
        raise BadInputError(f"{path.name}: cannot decode the video stream (truncated or corrupt?)")
    depth = _check_pix_fmt(pix_fmt, path)
    packets = _packets(proc.stdout.decode("ascii", "replace"))
    n_frames = len(packets)
    if n_frames <= 0:
        raise BadInputError(f"{path.name}: video has zero frames")
    damage, _ = scan_log(err)
    clean = clean_prefix(packets) if damage else None
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
        damage=tuple(damage),
        clean_frames=clean,
    )


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
