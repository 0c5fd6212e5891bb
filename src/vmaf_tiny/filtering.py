"""Apply a learned filter (``kind: filter``, class C3) to a video: luma in, luma out, chroma kept.

Frames are decoded through the project's ffmpeg in their own pixel format (8- or 10-bit planar
YUV); the luma plane goes through the model as float32 in [0, 1] (``[N, 1, H, W]``), is clipped
to [0, 1] and rounded back to code values; the chroma planes are passed through untouched; the
result is piped into ffmpeg and written atomically: ``.y4m`` (lossless, the default), ``.yuv``
(raw) or any container with ``codec=`` (e.g. ``libx264`` with a CRF, or ``ffv1`` for lossless).

Audit figures come back with the result: the mean luma shift (output minus input, in 8-bit code
values) and the fraction of luma samples the clip to [0, 1] had to touch.

:func:`filter_video` takes any callable ``[N, 1, H, W] -> [N, 1, H, W]``; :func:`load_filter`
makes one from a registry id or ``.onnx`` path through the runtime's guard and session.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from vmaf_tiny.damage import DecodeLog
from vmaf_tiny.errors import BadInputError, BadModelError
from vmaf_tiny.ffmpeg import (
    FFmpeg,
    failure_reason,
    last_error_line,
    resolve_ffmpeg,
)
from vmaf_tiny.filter_output import (
    check_output,
    input_tags,
    plane_sizes,
    strip_context,
    writer_args,
)
from vmaf_tiny.fsutil import atomic_path, writing_output
from vmaf_tiny.kinds import require_kind
from vmaf_tiny.video import (
    VideoInfo,
    VideoSpec,
    as_spec,
    frames_to_read,
    probe,
    read_raw,
)

__all__ = [
    "FilterResult",
    "FrameRunner",
    "color_range",
    "filter_video",
    "load_filter",
    "luma_from_float",
    "luma_to_float",
    "pad_even",
    "read_planes",
]

FrameRunner = Callable[[np.ndarray], np.ndarray]
_BATCH_BYTES = 32 * 1024 * 1024


@dataclass
class FilterResult:
    """What :func:`filter_video` wrote and measured.

    Attributes:
        output: The written file.
        n_frames: Frames filtered.
        width: Frame width.
        height: Frame height.
        pix_fmt: Pixel format (input and output).
        mean_shift: Mean of (output - input) luma, in 8-bit code values.
        mean_abs_change: Mean |output - input| luma, in 8-bit code values.
        clip_fraction: Fraction of luma samples the model put outside [0, 1] (clipped).
        model_id: The model (None for a bare callable).
        provider: Execution provider (None for a bare callable).
        seconds: load / decode+write / model / total.
        damaged_frames_dropped: Frames of a damaged input left out (``allow_damaged``).
        warnings: Non-fatal notes (damage accepted with ``allow_damaged``).
        strength: The correction's scale the filter ran with (None for a bare callable).
        gate: The quality gate's summary (:mod:`vmaf_tiny.filter_gate`), None without a gate.
    """

    output: str
    n_frames: int
    width: int
    height: int
    pix_fmt: str
    mean_shift: float
    mean_abs_change: float
    clip_fraction: float
    model_id: str | None = None
    provider: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    damaged_frames_dropped: int = 0
    warnings: list[str] = field(default_factory=list)
    strength: float | None = None
    gate: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "output": self.output,
            "n_frames": self.n_frames,
            "damaged_frames_dropped": self.damaged_frames_dropped,
            "warnings": list(self.warnings),
            "width": self.width,
            "height": self.height,
            "pix_fmt": self.pix_fmt,
            "audit": {
                "mean_shift_8bit": self.mean_shift,
                "mean_abs_change_8bit": self.mean_abs_change,
                "clip_fraction": self.clip_fraction,
            },
            "model": self.model_id,
            "strength": self.strength,
            "gate": self.gate,
            "provider": self.provider,
            "seconds": {k: round(v, 6) for k, v in self.seconds.items()},
        }


def luma_to_float(y: np.ndarray, bit_depth: int) -> np.ndarray:
    """Integer luma code values -> float32 in [0, 1]."""
    return y.astype(np.float32) / np.float32((1 << bit_depth) - 1)


def luma_from_float(x: np.ndarray, bit_depth: int) -> tuple[np.ndarray, int]:
    """Float luma -> integer code values (clipped, rounded) and how many samples were clipped."""
    n_clip = int(np.count_nonzero((x < 0.0) | (x > 1.0)))
    peak = (1 << bit_depth) - 1
    q = np.rint(np.clip(x, 0.0, 1.0) * peak)
    return q.astype(np.uint16 if bit_depth > 8 else np.uint8), n_clip


def read_planes(
    spec: VideoSpec,
    info: VideoInfo,
    ff: FFmpeg,
    *,
    max_frames: int | None = None,
    allow_damaged: bool = False,
    log: DecodeLog | None = None,
) -> Iterator[tuple[np.ndarray, bytes]]:
    """Decode frames in their own pixel format: (luma code values (H, W), chroma bytes).

    Frames are read as stored (``-fps_mode passthrough``); damage is checked as in
    :func:`vmaf_tiny.video.read_luma`.
    """
    ybytes, cbytes = plane_sizes(info)
    dtype = "<u2" if info.bit_depth > 8 else np.uint8
    for buf in read_raw(
        spec,
        info,
        ff,
        pix_fmt=info.pix_fmt,
        frame_size=ybytes + cbytes,
        max_frames=max_frames,
        allow_damaged=allow_damaged,
        log=log,
    ):
        y = np.frombuffer(buf[:ybytes], dtype=dtype)
        yield y.reshape(info.height, info.width), buf[ybytes:]


def color_range(spec: VideoSpec, ff: FFmpeg) -> str | None:
    """The input's colour range as ffmpeg reports it (``pc`` full, ``tv`` limited), or None."""
    return input_tags(spec, ff).color_range


def filter_video(
    video: VideoSpec | str | os.PathLike[str],
    output: str | os.PathLike[str],
    runner: FrameRunner,
    *,
    codec: str | None = None,
    crf: float | None = None,
    preset: str | None = None,
    max_frames: int | None = None,
    batch: int | None = None,
    ffmpeg: FFmpeg | None = None,
    allow_damaged: bool = False,
) -> FilterResult:
    """Filter the luma of every frame of ``video`` with ``runner`` and write ``output``.

    Args:
        video: Input video (path or VideoSpec; raw yuv needs geometry).
        output: Output file; ``.y4m``/``.yuv`` are written losslessly, other suffixes need
            ``codec``. Written atomically (nothing is left behind on failure).
        runner: ``[N, 1, H, W]`` float32 in [0, 1] -> same shape (unclipped).
        codec: ffmpeg encoder for the output (``libx264``, ``ffv1``, ...).
        crf: Encoder CRF.
        preset: Encoder preset.
        max_frames: Stop after this many frames.
        batch: Frames per model call (default: by size, up to 32 MiB of input).
        ffmpeg: The binary (resolved if None).
        allow_damaged: Filter the clean frames of a damaged input instead of raising.

    Raises:
        BadInputError: unreadable or damaged input, unsupported or unwritable output (one
            line naming ``output``), encoder failure.
        BadModelError: the model returned the wrong shape.
        SystemExit: SIGTERM while writing (status 143, after the temporary file is removed).
    """
    t0 = time.perf_counter()
    ff = ffmpeg or resolve_ffmpeg()
    spec = as_spec(video)
    info = probe(spec, ff)
    out = Path(output)
    check_output(spec, out, codec, crf, preset, ff, info)
    frames_to_read(info, allow_damaged)  # a damaged input fails before anything is written
    with writing_output(out):
        return _filter_into(
            spec, info, out, runner, ff, t0, codec, crf, preset, max_frames, batch,
            allow_damaged,
        )  # fmt: skip


def _filter_into(
    spec: VideoSpec,
    info: VideoInfo,
    out: Path,
    runner: FrameRunner,
    ff: FFmpeg,
    t0: float,
    codec: str | None,
    crf: float | None,
    preset: str | None,
    max_frames: int | None,
    batch: int | None,
    allow_damaged: bool,
) -> FilterResult:
    n_batch = batch or max(1, min(16, _BATCH_BYTES // (info.width * info.height * 4)))
    depth = info.bit_depth
    t_model = 0.0
    n = n_clip = 0
    shift = abs_change = 0.0
    dlog = DecodeLog()
    with atomic_path(out) as tmp, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            writer_args(ff, tmp, info, codec, crf, preset, input_tags(spec, ff), dest=out),
            stdin=subprocess.PIPE,
            stderr=err,
        )
        stdin: IO[bytes] | None = proc.stdin
        if stdin is None:  # pragma: no cover - Popen with PIPE always sets it
            raise RuntimeError("no stdin pipe")
        ok = False
        try:
            pending: list[tuple[np.ndarray, bytes]] = []

            def flush() -> None:
                nonlocal t_model, n, n_clip, shift, abs_change
                x = np.stack([luma_to_float(y, depth) for y, _ in pending])[:, None]
                tm = time.perf_counter()
                yhat = np.asarray(runner(x))
                t_model += time.perf_counter() - tm
                if yhat.shape != x.shape:
                    raise BadModelError(
                        f"filter returned shape {list(yhat.shape)} for input {list(x.shape)}"
                    )
                for (y, chroma), f in zip(pending, yhat[:, 0], strict=True):
                    q, c = luma_from_float(f, depth)
                    n_clip += c
                    d = (q.astype(np.float64) - y) * (255.0 / ((1 << depth) - 1))
                    shift += float(d.mean())
                    abs_change += float(np.abs(d).mean())
                    stdin.write(q.astype("<u2" if depth > 8 else np.uint8).tobytes() + chroma)
                    n += 1
                pending.clear()

            frames = read_planes(
                spec, info, ff, max_frames=max_frames, allow_damaged=allow_damaged, log=dlog
            )
            for frame in frames:
                pending.append(frame)
                if len(pending) == n_batch:
                    flush()
            if pending:
                flush()
            ok = True
        except BrokenPipeError:
            pass
        finally:
            try:
                stdin.close()
            except BrokenPipeError:
                ok = False
            rc = proc.wait()
        err.seek(0)
        msg = err.read().replace(str(tmp).encode(), str(out).encode())
        if rc != 0:
            raise BadInputError(
                f"{out.name}: writing failed ({strip_context(failure_reason(rc, msg))})"
            )
        if not ok:
            raise BadInputError(
                f"{out.name}: the encoder stopped early ({strip_context(last_error_line(msg))})"
            )
        if n == 0:
            raise BadInputError(f"{spec.path.name}: no frames decoded")
    total = time.perf_counter() - t0
    return FilterResult(
        output=str(out),
        n_frames=n,
        width=info.width,
        height=info.height,
        pix_fmt=info.pix_fmt,
        mean_shift=shift / n,
        mean_abs_change=abs_change / n,
        clip_fraction=n_clip / (n * info.width * info.height),
        seconds={"model": t_model, "io": total - t_model, "total": total},
        damaged_frames_dropped=dlog.dropped,
        warnings=damage_warnings(spec.path.name, dlog),
    )


def damage_warnings(name: str, log: DecodeLog) -> list[str]:
    """Warning lines for damage accepted with ``allow_damaged`` (see :mod:`vmaf_tiny.nr`)."""
    from vmaf_tiny.nr import damage_warnings as warn

    return warn(name, log)


#: Accepted range of :func:`load_filter`'s ``strength``.
STRENGTH_RANGE = (0.0, 2.0)


def pad_even(x: np.ndarray) -> np.ndarray:
    """``[N, C, H, W]`` padded by edge replication to an even height and width."""
    ph, pw = x.shape[-2] % 2, x.shape[-1] % 2
    if not (ph or pw):
        return x
    return np.pad(x, ((0, 0), (0, 0), (0, ph), (0, pw)), mode="edge")


def load_filter(
    model: str | os.PathLike[str],
    *,
    backend: str = "auto",
    threads: int = 1,
    strength: float = 1.0,
) -> tuple[FrameRunner, Any]:
    """Load a ``kind: filter`` model through the runtime's guard and session.

    Frames of odd height or width are padded by edge replication to an even size for the model
    (folding filters need it) and cropped back. ``strength`` blends the model's correction:
    ``x + strength * (f(x) - x)`` (0: the input unchanged, 1: the model as trained, up to 2).

    Returns:
        (runner, the loaded model).

    Raises:
        BadModelError: a load-time check failed or the model is not a filter.
        BadInputError: ``strength`` outside [0, 2].
    """
    from vmaf_tiny.session import load_model

    lo_s, hi_s = STRENGTH_RANGE
    if not lo_s <= strength <= hi_s:
        raise BadInputError(f"--strength must be in [{lo_s:g}, {hi_s:g}], got {strength:g}")
    lm = load_model(model, backend=backend, threads=threads)
    require_kind(lm.kind, lm.model_id, "filter")
    frame = lm.sidecar.get("frame") or {}
    if frame.get("resize") or frame.get("crop"):
        raise BadModelError(
            f"model {lm.model_id}: a filter must take frames at their own size (no resize/crop)"
        )
    name = lm.sidecar["inputs"][0]["name"]
    lo, hi = frame.get("value_range") or (0.0, 1.0)

    def run(x: np.ndarray) -> np.ndarray:
        h, w = x.shape[-2:]
        xp = pad_even(x)
        xin = xp if (lo, hi) == (0.0, 1.0) else xp * np.float32(hi - lo) + np.float32(lo)
        y = lm.run({name: np.ascontiguousarray(xin, dtype=np.float32)})[0]
        y = y if (lo, hi) == (0.0, 1.0) else (y - np.float32(lo)) / np.float32(hi - lo)
        y = np.asarray(y)[..., :h, :w]
        if strength != 1.0:
            y = x + np.float32(strength) * (y - x)
        return y

    return run, lm
