"""Run a saliency model (``kind: saliency``) over a video and write one PNG map per frame.

Frames are decoded as luma through the project's ffmpeg, rescaled to the sidecar's
``frame.resize`` and centre-cropped to ``frame.crop`` (the runtime's NR frame preparation), run
through the model (``[N, 1, H, W] -> [N, 1, h, w]`` in [0, 1]), optionally upsampled back to the
video's size (bilinear), and written as 8-bit greyscale PNGs (``frame_000000.png`` ...). PNGs are
encoded here with zlib (no imaging dependency). The output directory is filled atomically: maps
go to a staging directory beside it and are moved in only when every frame succeeded.
"""

from __future__ import annotations

import os
import shutil
import struct
import tempfile
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vmaf_tiny.damage import DecodeLog
from vmaf_tiny.errors import BadInputError, BadModelError
from vmaf_tiny.ffmpeg import FFmpeg, resolve_ffmpeg
from vmaf_tiny.fsutil import writing_output
from vmaf_tiny.kinds import require_kind
from vmaf_tiny.nr import damage_warnings, prepare_frame
from vmaf_tiny.video import VideoInfo, VideoSpec, as_spec, frames_to_read, probe, read_luma

__all__ = [
    "MapRunner",
    "SaliencyResult",
    "encode_png_gray",
    "load_saliency",
    "resize_bilinear",
    "saliency_maps",
]

MapRunner = Callable[[np.ndarray], np.ndarray]


def encode_png_gray(img: np.ndarray) -> bytes:
    """An 8-bit greyscale PNG of a (H, W) uint8 array (filter type 0 per row, zlib level 6)."""
    a = np.ascontiguousarray(img, dtype=np.uint8)
    if a.ndim != 2 or a.size == 0:
        raise BadInputError(f"a PNG map needs a non-empty 2-D array, got shape {a.shape}")
    h, w = a.shape
    raw = np.concatenate([np.zeros((h, 1), np.uint8), a], axis=1).tobytes()

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


def resize_bilinear(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a (h, w) map to ``size`` = (H, W) (pixel centres aligned)."""
    a = np.asarray(img, dtype=np.float32)
    h, w = a.shape
    H, W = size
    if (h, w) == (H, W):
        return a

    def axis(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pos = np.clip((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0, n_in - 1)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, n_in - 1)
        return lo, hi, (pos - lo).astype(np.float32)

    y0, y1, fy = axis(h, H)
    x0, x1, fx = axis(w, W)
    top = a[y0][:, x0] * (1 - fx) + a[y0][:, x1] * fx
    bot = a[y1][:, x0] * (1 - fx) + a[y1][:, x1] * fx
    return top * (1 - fy[:, None]) + bot * fy[:, None]


@dataclass
class SaliencyResult:
    """What :func:`saliency_maps` wrote.

    Attributes:
        out_dir: The directory of PNG maps.
        files: Written file names, in frame order.
        n_frames: Frames processed.
        map_size: (width, height) of the written maps.
        mean_saliency: Mean map value over all frames (a sanity figure).
        model_id: The model (None for a bare callable).
        provider: Execution provider (None for a bare callable).
        seconds: decode / model / write / total.
        damaged_frames_dropped: Frames of a damaged input left out (``allow_damaged``).
        warnings: Non-fatal notes (damage accepted with ``allow_damaged``).
    """

    out_dir: str
    files: list[str]
    n_frames: int
    map_size: tuple[int, int]
    mean_saliency: float
    model_id: str | None = None
    provider: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    damaged_frames_dropped: int = 0
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "out_dir": self.out_dir,
            "n_frames": self.n_frames,
            "damaged_frames_dropped": self.damaged_frames_dropped,
            "warnings": list(self.warnings),
            "map_size": list(self.map_size),
            "mean_saliency": self.mean_saliency,
            "first": self.files[0] if self.files else None,
            "last": self.files[-1] if self.files else None,
            "model": self.model_id,
            "provider": self.provider,
            "seconds": {k: round(v, 6) for k, v in self.seconds.items()},
        }


def saliency_maps(
    video: VideoSpec | str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    runner: MapRunner,
    *,
    frame: dict[str, Any] | None = None,
    map_size: str = "frame",
    max_frames: int | None = None,
    batch: int = 16,
    ffmpeg: FFmpeg | None = None,
    allow_damaged: bool = False,
) -> SaliencyResult:
    """Write one PNG saliency map per frame of ``video`` into ``out_dir``.

    Args:
        video: Input video.
        out_dir: Output directory (created; must not hold PNGs already).
        runner: ``[N, 1, H, W]`` prepared luma -> ``[N, 1, h, w]`` maps in [0, 1].
        frame: The sidecar's ``frame`` block (resize, crop, value range).
        map_size: ``frame`` (upsample to the video's size) or ``model`` (as the model outputs).
        max_frames: Stop after this many frames.
        batch: Frames per model call.
        ffmpeg: The binary (resolved if None).
        allow_damaged: Map the clean frames of a damaged input instead of raising.

    Raises:
        BadInputError: unreadable or damaged input, bad options, a non-empty or unwritable
            output directory (one line naming ``out_dir``).
        BadModelError: the model's output is not a [N, 1, h, w] map.
        SystemExit: SIGTERM while writing (status 143, after the staging directory is removed).
    """
    t0 = time.perf_counter()
    if map_size not in ("frame", "model"):
        raise BadInputError(f"--map-size must be 'frame' or 'model', got {map_size!r}")
    frame = dict(frame or {})
    ff = ffmpeg or resolve_ffmpeg()
    spec = as_spec(video)
    info = probe(spec, ff)
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.glob("*.png"))):
        raise BadInputError(f"{out}: exists and is not an empty directory of maps")
    frames_to_read(info, allow_damaged)  # a damaged input fails before anything is written
    with writing_output(out):
        return _maps_into(
            spec, info, out, runner, frame, map_size, max_frames, batch, ff, t0,
            allow_damaged,
        )  # fmt: skip


def _maps_into(
    spec: VideoSpec,
    info: VideoInfo,
    out: Path,
    runner: MapRunner,
    frame: dict[str, Any],
    map_size: str,
    max_frames: int | None,
    batch: int,
    ff: FFmpeg,
    t0: float,
    allow_damaged: bool,
) -> SaliencyResult:
    resize = frame.get("resize")
    size = (int(resize[0]), int(resize[1])) if resize else None
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    dlog = DecodeLog()
    files: list[str] = []
    t_model = t_write = 0.0
    total = 0.0
    model_hw = (0, 0)
    try:
        pending: list[np.ndarray] = []

        def flush() -> None:
            nonlocal t_model, t_write, total, model_hw
            x = np.stack(pending)[:, None].astype(np.float32)
            tm = time.perf_counter()
            maps = np.asarray(runner(x))
            t_model += time.perf_counter() - tm
            if maps.ndim != 4 or maps.shape[0] != x.shape[0] or maps.shape[1] != 1:
                raise BadModelError(
                    f"saliency model returned shape {list(maps.shape)}; expected [N, 1, h, w]"
                )
            model_hw = (int(maps.shape[2]), int(maps.shape[3]))
            tw = time.perf_counter()
            for m in maps[:, 0]:
                m = np.clip(m, 0.0, 1.0)
                total += float(m.mean())
                if map_size == "frame":
                    m = resize_bilinear(m, (info.height, info.width))
                name = f"frame_{len(files):06d}.png"
                (stage / name).write_bytes(encode_png_gray(np.rint(m * 255.0).astype(np.uint8)))
                files.append(name)
            t_write += time.perf_counter() - tw
            pending.clear()

        frames = read_luma(
            spec,
            ffmpeg=ff,
            info=info,
            size=size,
            max_frames=max_frames,
            allow_damaged=allow_damaged,
            log=dlog,
        )
        for luma in frames:
            pending.append(prepare_frame(luma, frame))
            if len(pending) == batch:
                flush()
        if pending:
            flush()
        if not files:
            raise BadInputError(f"{spec.path.name}: no frames decoded")
        out.mkdir(parents=True, exist_ok=True)
        for name in files:
            os.replace(stage / name, out / name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    msize = (info.width, info.height) if map_size == "frame" else (model_hw[1], model_hw[0])
    t_all = time.perf_counter() - t0
    return SaliencyResult(
        out_dir=str(out),
        files=files,
        n_frames=len(files),
        map_size=msize,
        mean_saliency=total / len(files),
        seconds={
            "model": t_model,
            "write": t_write,
            "decode": t_all - t_model - t_write,
            "total": t_all,
        },
        damaged_frames_dropped=dlog.dropped,
        warnings=damage_warnings(spec.path.name, dlog),
    )


def load_saliency(
    model: str | os.PathLike[str], *, backend: str = "auto", threads: int = 1
) -> tuple[MapRunner, Any]:
    """Load a ``kind: saliency`` model through the runtime's guard and session.

    Returns:
        (runner, the loaded model); the sidecar's ``frame`` block is ``model.sidecar["frame"]``.
    """
    from vmaf_tiny.session import load_model

    lm = load_model(model, backend=backend, threads=threads)
    require_kind(lm.kind, lm.model_id, "saliency")
    name = lm.sidecar["inputs"][0]["name"]
    idx = next((i for i, o in enumerate(lm.sidecar["outputs"]) if o.get("role") == "map"), 0)

    def run(x: np.ndarray) -> np.ndarray:
        return lm.run({name: np.ascontiguousarray(x, dtype=np.float32)})[idx]

    return run, lm
