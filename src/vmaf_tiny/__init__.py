"""vmaf-tiny runtime: guarded loading and fast scoring of tiny video-quality models."""

from __future__ import annotations

from vmaf_tiny.errors import BadInputError, BadModelError, MissingToolError, VmafTinyError
from vmaf_tiny.features import CANONICAL6, FeatureResult, extract_features
from vmaf_tiny.ffmpeg import FFmpeg, resolve_ffmpeg
from vmaf_tiny.filtering import FilterResult, filter_video, load_filter
from vmaf_tiny.framepair import score_frame_pair
from vmaf_tiny.guard import (
    ALLOWED_OPS,
    MAX_MODEL_BYTES,
    SIZE_CLASSES,
    CheckReport,
    GuardedModel,
    SizeClassWarning,
    check_model,
    check_size_class,
    guard_model,
)
from vmaf_tiny.nr import score_nr
from vmaf_tiny.pairs import PairJob, read_pairs, score_pair
from vmaf_tiny.registry import ModelRef, Registry, load_registry, resolve_model, verify_registry
from vmaf_tiny.saliency import SaliencyResult, load_saliency, saliency_maps
from vmaf_tiny.scoring import CodecFields, ScoreResult, pool_scores, score
from vmaf_tiny.session import LoadedModel, load_model
from vmaf_tiny.video import VideoInfo, VideoSpec, probe, read_luma

__version__ = "0.1.0"

__all__ = [
    "ALLOWED_OPS",
    "CANONICAL6",
    "MAX_MODEL_BYTES",
    "SIZE_CLASSES",
    "BadInputError",
    "BadModelError",
    "CheckReport",
    "CodecFields",
    "FFmpeg",
    "FeatureResult",
    "FilterResult",
    "GuardedModel",
    "LoadedModel",
    "MissingToolError",
    "ModelRef",
    "PairJob",
    "Registry",
    "SaliencyResult",
    "ScoreResult",
    "SizeClassWarning",
    "VideoInfo",
    "VideoSpec",
    "VmafTinyError",
    "__version__",
    "check_model",
    "check_size_class",
    "extract_features",
    "filter_video",
    "guard_model",
    "load_filter",
    "load_model",
    "load_registry",
    "load_saliency",
    "pool_scores",
    "probe",
    "read_luma",
    "read_pairs",
    "resolve_ffmpeg",
    "resolve_model",
    "saliency_maps",
    "score",
    "score_frame_pair",
    "score_nr",
    "score_pair",
    "verify_registry",
]
