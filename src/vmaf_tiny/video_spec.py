"""Video inputs described: what a file is (path, raw geometry) and what probing found.

Supported inputs are y4m, the usual containers (mp4/mkv/webm/ivf/mov and raw bitstreams) and raw
planar ``.yuv`` files, which need an explicit width, height and pixel format. 8- and 10-bit
4:2:0/4:2:2/4:4:4 are supported. Probing is :mod:`vmaf_tiny.video_probe`, decoding
:mod:`vmaf_tiny.video`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

from vmaf_tiny.errors import BadInputError

__all__ = [
    "PIX_FMTS",
    "RAW_SUFFIXES",
    "VideoInfo",
    "VideoSpec",
    "as_spec",
    "check_file",
    "check_pix_fmt",
    "check_raw_flags",
    "frame_bytes",
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
                ffmpeg_path(self.path),
            ]
        return ["-i", ffmpeg_path(self.path)]


def ffmpeg_path(path: Path) -> str:
    """``path`` as ffmpeg must be given a local file: a name that starts like a URL (``pipe:0``,
    ``a:b.mp4``) gets the ``file:`` protocol, or ffmpeg would read stdin or look for a protocol.
    """
    s = str(path)
    return f"file:{s}" if re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", s) else s


def check_raw_flags(
    videos: list[str | os.PathLike[str] | None],
    *,
    width: int | None = None,
    height: int | None = None,
    pix_fmt: str | None = None,
    what: str | None = None,
) -> None:
    """Refuse ``--width``/``--height``/``--pix-fmt`` when none of ``videos`` is raw yuv: they
    describe raw input only, and any other input would silently ignore them.

    ``what`` names the inputs in the message (for example every video of a pairs CSV) instead
    of listing their file names.

    Raises:
        BadInputError: one line naming the flags.
    """
    given = [f for f, v in (("--width", width), ("--height", height), ("--pix-fmt", pix_fmt)) if v]
    if not given or any(v is not None and VideoSpec(Path(v)).is_raw for v in videos):
        return
    names = list(dict.fromkeys(Path(v).name for v in videos if v is not None))
    them = "them" if len(given) > 1 else "it"
    if what is not None:
        whose = f"{what} state their"
    elif len(names) > 1:
        whose = f"{' and '.join(names)} state their"
    else:
        whose = f"{names[0] if names else 'the input'} states its"
    raise BadInputError(
        f"{', '.join(given)}: only raw yuv input ({'/'.join(sorted(RAW_SUFFIXES))}) takes {them}; "
        f"{whose} own size and pixel format"
    )


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
        sar: Sample aspect ratio (num, den) when the container states one, else None.
        turned: The display matrix turns the stream by 90 or 270 degrees: ``width`` x
            ``height`` is the upright (decoded) size, the coded size is ``height`` x ``width``.
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
    sar: tuple[int, int] | None = None
    turned: bool = False


def frame_bytes(width: int, height: int, pix_fmt: str) -> int:
    """Bytes of one raw planar frame of this geometry and pixel format."""
    depth, sx, sy = PIX_FMTS[pix_fmt]
    cw = -(-width // (1 << sx))
    ch = -(-height // (1 << sy))
    return (width * height + 2 * cw * ch) * (2 if depth > 8 else 1)


def check_file(path: Path) -> None:
    if not path.exists():
        raise BadInputError(f"no such file: {path}")
    if not path.is_file():
        raise BadInputError(f"not a regular file: {path}")
    if path.stat().st_size == 0:
        raise BadInputError(f"{path.name}: file is empty (0 bytes)")


def check_pix_fmt(pix_fmt: str, path: Path) -> int:
    if pix_fmt not in PIX_FMTS:
        raise BadInputError(
            f"{path.name}: unsupported pixel format {pix_fmt!r} "
            f"(supported: {', '.join(sorted(PIX_FMTS))})"
        )
    return PIX_FMTS[pix_fmt][0]
