"""The benchmark's clips: a deterministic reference/distorted pair per size, cached.

For each clip size, a pair is generated once into a cache (``clips/`` under :func:`cache_dir`,
or ``--clips-dir``; never the working directory or the package): the reference is lavfi
``testsrc2`` written as y4m, the distorted is its single-threaded x264 encode
(``-preset veryfast -crf 30``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from vmaf_tiny.errors import BadInputError
from vmaf_tiny.ffmpeg import FFmpeg, resolve_ffmpeg
from vmaf_tiny.fsutil import atomic_path

__all__ = [
    "DIS_CODEC",
    "ENV_CACHE",
    "STANDARD_SIZES",
    "cache_dir",
    "clip_pair",
    "parse_sizes",
]

STANDARD_SIZES: tuple[tuple[int, int, int], ...] = ((640, 360, 300), (1920, 1080, 60))
#: How the distorted clip is encoded (a codec-aware model gets these as its codec fields).
DIS_CODEC: dict[str, Any] = {"codec": "libx264", "preset": "veryfast", "crf": 30.0}
#: Environment variable naming the cache directory (generated clips, default results file).
ENV_CACHE = "VMAF_TINY_CACHE"


def cache_dir() -> Path:
    """Where generated files go: ``$VMAF_TINY_CACHE``, else ``$XDG_CACHE_HOME/vmaf-tiny``, else
    ``~/.cache/vmaf-tiny`` (never the working directory; the default one when the cache of
    remembered checks is turned off with ``VMAF_TINY_CACHE=0``)."""
    from vmaf_tiny import usercache

    return usercache.cache_dir() or usercache.default_dir()


def parse_sizes(text: str) -> list[tuple[int, int, int]]:
    """Parse ``640x360x300,1920x1080`` into (width, height, frames) triples.

    Without a frame count, a standard size gets its standard count, any other 30 frames.
    """
    out = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        m = re.fullmatch(r"(\d+)x(\d+)(?:x(\d+))?", part)
        if not m:
            raise BadInputError(f"bad size {part!r}: use WxH or WxHxFRAMES, e.g. 640x360x300")
        w, h = int(m.group(1)), int(m.group(2))
        if w < 16 or h < 16 or w % 2 or h % 2:
            raise BadInputError(f"bad size {part!r}: width and height must be even and >= 16")
        std = {(sw, sh): sf for sw, sh, sf in STANDARD_SIZES}
        frames = int(m.group(3)) if m.group(3) else std.get((w, h), 30)
        if frames < 2:
            raise BadInputError(f"bad size {part!r}: at least 2 frames")
        out.append((w, h, frames))
    if not out:
        raise BadInputError("no sizes given")
    return out


def clip_pair(
    width: int, height: int, frames: int, clips_dir: Path, ff: FFmpeg | None = None
) -> tuple[Path, Path]:
    """The deterministic reference/distorted pair of this size, generated once into the cache."""
    ff = ff or resolve_ffmpeg()
    clips_dir.mkdir(parents=True, exist_ok=True)
    tag = f"{width}x{height}x{frames}"
    ref = clips_dir / f"ref_{tag}.y4m"
    dis = clips_dir / f"dis_{tag}_x264_crf{int(DIS_CODEC['crf'])}.mp4"
    if not ref.is_file():
        with atomic_path(ref) as tmp:
            ff.run(
                [
                    "-loglevel",
                    "error",
                    "-f",
                    "lavfi",
                    "-i",
                    f"testsrc2=size={width}x{height}:rate=25",
                    "-frames:v",
                    str(frames),
                    "-pix_fmt",
                    "yuv420p",
                    str(tmp),
                ],
                what=f"generate reference {tag}",
            )
    if not dis.is_file():
        with atomic_path(dis) as tmp:
            ff.run(
                [
                    "-loglevel",
                    "error",
                    "-i",
                    str(ref),
                    "-c:v",
                    "libx264",
                    "-preset",
                    str(DIS_CODEC["preset"]),
                    "-crf",
                    str(int(DIS_CODEC["crf"])),
                    "-threads",
                    "1",
                    "-pix_fmt",
                    "yuv420p",
                    str(tmp),
                ],
                what=f"encode distorted {tag}",
            )
    return ref, dis
