"""Probing a video input: frame count, geometry, pixel format, rate, codec and damage.

A y4m file is read from its own headers (and its size checked frame by frame); anything else is
one ffmpeg pass over the packets (``framecrc``), its log scanned for demuxer damage.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from vmaf_tiny.damage import clean_prefix, scan_log
from vmaf_tiny.errors import BadInputError
from vmaf_tiny.ffmpeg import FFmpeg, last_error_line, resolve_ffmpeg
from vmaf_tiny.video_spec import (
    VideoInfo,
    VideoSpec,
    as_spec,
    check_file,
    check_pix_fmt,
    frame_bytes,
)

__all__ = ["probe"]

# decoder name -> the encoder family our codec fields use
_DECODER_FAMILY = {"h264": "libx264", "hevc": "libx265", "vp9": "libvpx-vp9"}
_KNOWN_ENCODERS = ("libx264", "libx265", "libvpx-vp9", "libsvtav1", "libaom-av1")


_STREAM_RE = re.compile(
    # at a line's start, after the log level (a title tag cannot fake it); the pixel format's
    # brackets may nest: "yuv420p(tv, top coded first (swapped))"
    r"(?m)^(?:\[\w+\] )?[ \t]*Stream #0:\d+[^:]*: Video: (?P<codec>\w+)[^,]*, "
    r"(?P<pix>\w+)(?:\((?:[^()]|\([^()]*\))*\))?"
    r"(?:, [^,]*?)?, (?P<w>\d+)x(?P<h>\d+)"
)
_SAR_RE = re.compile(r"SAR (?P<num>\d+):(?P<den>\d+) DAR")
_FPS_RE = re.compile(r", (?P<fps>\d+(?:\.\d+)?)(?P<k>k?) (?:fps|tbr)")  # "1k fps": 1000
_CRF_RE = re.compile(rb"crf=(\d+(?:\.\d+)?)")
_ROTATION_RE = re.compile(r"display ?matrix: rotation of (?P<deg>-?\d+(?:\.\d+)?) degrees", re.I)


def _quarter_turned(stream_section: str) -> bool:
    """True when the stream's display matrix turns it by 90 or 270 degrees.

    ffmpeg decodes such a stream upright (autorotate, on by default), so its frames are the
    coded size turned: height x width. A phone video is the common case.
    """
    m = _ROTATION_RE.search(stream_section)
    return m is not None and round(float(m.group("deg"))) % 180 == 90


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


def _sar(num: int, den: int) -> tuple[int, int] | None:
    """A stated sample aspect ratio, or None for an unknown one (0:0, 0:1, ...)."""
    return (num, den) if num > 0 and den > 0 else None


def _y4m_sar(tag: str) -> tuple[int, int] | None:
    """The ``A`` tag of a y4m header (``1:1``; ``0:0`` or garbage: unknown)."""
    num, _, den = tag.partition(":")
    return _sar(int(num), int(den)) if num.isdigit() and den.isdigit() else None


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
        sar=_y4m_sar(tags.get("A", "0:0")),
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
    check_file(path)
    if spec.is_raw:
        if not spec.width or not spec.height:
            raise BadInputError(f"{path.name}: raw yuv needs --width, --height (and --pix-fmt)")
        pix_fmt = spec.pix_fmt or "yuv420p"
        depth = check_pix_fmt(pix_fmt, path)
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
    ff = ffmpeg or resolve_ffmpeg()
    st = path.stat()
    key = (spec, ff.path, st.st_ino, st.st_size, st.st_mtime_ns)
    info = _PROBED.get(key)
    if info is None:
        info = _probe_ffmpeg(spec, ff)
        if len(_PROBED) >= _PROBED_MAX:
            _PROBED.pop(next(iter(_PROBED)))
        _PROBED[key] = info
    return info


#: ffmpeg probes of this process, by (spec, ffmpeg, inode, size, mtime): scoring asks about the
#: same file more than once (the NR model choice, the scorer, the frame index) and each ffmpeg
#: probe costs tens of milliseconds; a changed file has a new key.
_PROBED: dict[tuple[object, ...], VideoInfo] = {}
_PROBED_MAX = 64


#: framecrc's packet flag for a packet the demuxer marks to be decoded but not shown.
_PKT_DISCARD = 0x4


def _packets(framecrc: str) -> list[tuple[int | None, int | None, bool]]:
    """(dts, pts, corrupt) per shown packet from ``-c copy -f framecrc`` output."""
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
        bits = int(flags[2:], 16) if flags.startswith("F=") else 0
        if bits & _PKT_DISCARD:  # pre-roll an edit list hides (a cut without re-encoding)
            continue
        corrupt = bool(bits & 0x2)
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
    depth = check_pix_fmt(pix_fmt, path)
    packets = _packets(proc.stdout.decode("ascii", "replace"))
    n_frames = len(packets)
    if n_frames <= 0:
        raise BadInputError(f"{path.name}: video has zero frames")
    damage, _ = scan_log(err)
    clean = clean_prefix(packets) if damage else None
    fps_m = _FPS_RE.search(input_section[m.start() :])
    fps = float(fps_m.group("fps")) * (1000 if fps_m.group("k") else 1) if fps_m else 25.0
    sar_m = _SAR_RE.search(input_section[m.start() :].split("\n", 1)[0])
    decoder = m.group("codec")
    width, height = int(m.group("w")), int(m.group("h"))
    sar = _sar(int(sar_m.group("num")), int(sar_m.group("den"))) if sar_m else None
    stream_section = re.split(r"\n\s*Stream #", input_section[m.end() :], maxsplit=1)[0]
    turned = _quarter_turned(stream_section)
    if turned:  # frames come out turned (see _quarter_turned)
        width, height = height, width
        sar = (sar[1], sar[0]) if sar else None
    encoder = _encoder_from_tags(input_section[m.start() :]) or _DECODER_FAMILY.get(decoder)
    bitrate = None
    if decoder != "rawvideo" and fps > 0:
        bitrate = path.stat().st_size * 8 / 1000 / (n_frames / fps)
    return VideoInfo(
        path=path,
        width=width,
        height=height,
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
        sar=sar,
        turned=turned,
    )
