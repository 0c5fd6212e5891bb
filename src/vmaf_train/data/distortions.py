"""Distortions: the codec x preset x CRF grid, resolution ladders and pure scaling.

Every encoder runs single-threaded so a build is reproducible byte for byte. A ladder
downscales, encodes, and is upscaled back (bicubic) for scoring by the features pass; pure
scaling downscales and stores the result losslessly (FFV1), so only the resampling distorts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vmaf_tiny.errors import BadInputError
from vmaf_tiny.ffmpeg import FFmpeg
from vmaf_tiny.fsutil import atomic_path

__all__ = [
    "CODECS",
    "Distortion",
    "encoder_args",
    "make_distorted",
    "scaled_size",
]

# encoder -> (short tag for keys, valid presets or None for numeric, CRF range)
CODECS: dict[str, tuple[str, tuple[str, ...] | None, tuple[int, int]]] = {
    "libx264": (
        "x264",
        (
            "ultrafast",
            "superfast",
            "veryfast",
            "faster",
            "fast",
            "medium",
            "slow",
            "slower",
            "veryslow",
        ),
        (0, 51),
    ),
    "libx265": (
        "x265",
        (
            "ultrafast",
            "superfast",
            "veryfast",
            "faster",
            "fast",
            "medium",
            "slow",
            "slower",
            "veryslow",
        ),
        (0, 51),
    ),
    "libvpx-vp9": ("vp9", None, (0, 63)),
    "libsvtav1": ("svtav1", None, (0, 63)),
    "libaom-av1": ("aom", None, (0, 63)),
}
_NUMERIC_PRESET_RANGE = {"libvpx-vp9": (0, 8), "libsvtav1": (0, 13), "libaom-av1": (0, 10)}
SCALE_FILTERS = ("bicubic", "bilinear", "lanczos", "neighbor", "area")


@dataclass(frozen=True)
class Distortion:
    """One way of making a distorted clip from a reference.

    Attributes:
        kind: ``encode`` (full size), ``ladder`` (downscale + encode) or ``scale`` (no codec).
        codec: Encoder name, ``none`` for pure scaling.
        preset: Preset/speed as given to the encoder ('' for none).
        crf: CRF (None for pure scaling).
        scale: Downscale factor (1.0 = full size).
        scaler: Downscale filter for ladders and pure scaling.
    """

    kind: str
    codec: str
    preset: str = ""
    crf: int | None = None
    scale: float = 1.0
    scaler: str = "bicubic"

    def tag(self) -> str:
        """Stable, human-readable id of this distortion (used in clip keys)."""
        if self.kind == "scale":
            return f"scale{self.scale:g}-{self.scaler}"
        short = CODECS[self.codec][0]
        base = f"{short}-{self.preset}-crf{self.crf}"
        return base if self.kind == "encode" else f"{base}-s{self.scale:g}"

    def validate(self) -> None:
        """Raise BadInputError for an unknown codec, preset, CRF or scale."""
        if self.kind not in ("encode", "ladder", "scale"):
            raise BadInputError(f"unknown distortion kind {self.kind!r}")
        if not 0.05 <= self.scale <= 1.0:
            raise BadInputError(f"scale must be in [0.05, 1], got {self.scale}")
        if self.scaler not in SCALE_FILTERS:
            raise BadInputError(f"unknown scaler {self.scaler!r}; choose from {SCALE_FILTERS}")
        if self.kind == "scale":
            return
        if self.codec not in CODECS:
            raise BadInputError(f"unknown codec {self.codec!r}; choose from {sorted(CODECS)}")
        _, presets, (lo, hi) = CODECS[self.codec]
        if presets is not None and self.preset not in presets:
            raise BadInputError(f"{self.codec}: unknown preset {self.preset!r}")
        if presets is None:
            plo, phi = _NUMERIC_PRESET_RANGE[self.codec]
            if not self.preset.isdigit() or not plo <= int(self.preset) <= phi:
                raise BadInputError(f"{self.codec}: preset must be an integer {plo}..{phi}")
        if self.crf is None or not lo <= self.crf <= hi:
            raise BadInputError(f"{self.codec}: crf must be in {lo}..{hi}, got {self.crf}")


def scaled_size(width: int, height: int, scale: float) -> tuple[int, int]:
    """Even frame size after scaling (encoders need even 4:2:0 dimensions), at least 16x16."""
    return max(16, 2 * round(width * scale / 2)), max(16, 2 * round(height * scale / 2))


def encoder_args(codec: str, preset: str, crf: int) -> list[str]:
    """Single-threaded, reproducible encoder arguments."""
    c = str(crf)
    if codec == "libx264":
        return ["-c:v", "libx264", "-preset", preset, "-crf", c, "-threads", "1"]
    if codec == "libx265":
        return [
            "-c:v",
            "libx265",
            "-preset",
            preset,
            "-crf",
            c,
            "-x265-params",
            "log-level=error:pools=1:frame-threads=1",
        ]
    if codec == "libvpx-vp9":
        return [
            "-c:v",
            "libvpx-vp9",
            "-b:v",
            "0",
            "-crf",
            c,
            "-deadline",
            "realtime",
            "-cpu-used",
            preset,
            "-threads",
            "1",
            "-row-mt",
            "0",
        ]
    if codec == "libsvtav1":
        return ["-c:v", "libsvtav1", "-preset", preset, "-crf", c, "-svtav1-params", "lp=1"]
    if codec == "libaom-av1":
        return [
            "-c:v",
            "libaom-av1",
            "-usage",
            "realtime",
            "-cpu-used",
            preset,
            "-crf",
            c,
            "-b:v",
            "0",
            "-threads",
            "1",
            "-row-mt",
            "0",
        ]
    raise BadInputError(f"unknown codec {codec!r}")


def make_distorted(
    reference: Path, dist: Distortion, out: Path, *, width: int, height: int, ffmpeg: FFmpeg
) -> tuple[Path, int, int]:
    """Encode/scale ``reference`` into ``out`` (Matroska, atomic).

    Returns:
        (out, encode_width, encode_height).
    """
    ew, eh = scaled_size(width, height, dist.scale) if dist.scale < 1.0 else (width, height)
    vf = [f"scale={ew}:{eh}:flags={dist.scaler}"] if (ew, eh) != (width, height) else []
    if dist.kind == "scale":
        codec_args = ["-c:v", "ffv1", "-level", "3", "-threads", "1", "-slices", "4"]
    else:
        codec_args = encoder_args(dist.codec, dist.preset, int(dist.crf or 0))
    args = ["-loglevel", "error", "-i", str(reference)]
    if vf:
        args += ["-vf", ",".join(vf)]
    with atomic_path(out) as tmp:
        ffmpeg.run(
            [*args, *codec_args, "-an", "-fflags", "+bitexact", "-f", "matroska", str(tmp)],
            what=f"{dist.tag()} on {reference.stem}",
            env={"SVT_LOG": "1"},
        )
    return out, ew, eh
