"""vmaf-tiny runtime: guarded loading and fast scoring of tiny video-quality models."""

from __future__ import annotations

from vmaf_tiny.errors import BadInputError, BadModelError, MissingToolError, VmafTinyError
from vmaf_tiny.features import CANONICAL6, FeatureResult, extract_features
from vmaf_tiny.ffmpeg import FFmpeg, resolve_ffmpeg
from vmaf_tiny.video import VideoInfo, VideoSpec, probe, read_luma

__version__ = "0.1.0"

__all__ = [
    "CANONICAL6",
    "BadInputError",
    "BadModelError",
    "FFmpeg",
    "FeatureResult",
    "MissingToolError",
    "VideoInfo",
    "VideoSpec",
    "VmafTinyError",
    "__version__",
    "extract_features",
    "probe",
    "read_luma",
    "resolve_ffmpeg",
]
