"""vmaf-tiny runtime: guarded loading and fast scoring of tiny video-quality models."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vmaf_tiny._lazy import lazy_exports
from vmaf_tiny.errors import BadInputError, BadModelError, MissingToolError, VmafTinyError

if TYPE_CHECKING:
    from vmaf_tiny.fast import score_fast
    from vmaf_tiny.fast_pass import OperatingPoint, extract_fast_features
    from vmaf_tiny.features import extract_features
    from vmaf_tiny.features_log import FeatureResult
    from vmaf_tiny.features_names import CANONICAL6
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
    from vmaf_tiny.multi import MultiResult, score_models
    from vmaf_tiny.nr import score_nr
    from vmaf_tiny.nr_stream import score_stream
    from vmaf_tiny.pairs import PairJob, read_pairs, score_pair
    from vmaf_tiny.records import FrameRecords
    from vmaf_tiny.registry import ModelRef, Registry, load_registry, resolve_model, verify_registry
    from vmaf_tiny.result import ScoreResult, pool_scores
    from vmaf_tiny.saliency import SaliencyResult, load_saliency, saliency_maps
    from vmaf_tiny.scoring import CodecFields, score
    from vmaf_tiny.session import LoadedModel, load_model
    from vmaf_tiny.stream import extract_stream
    from vmaf_tiny.video import VideoInfo, VideoSpec, probe, read_luma

__version__ = "0.1.0"

# Public names load their module on first use (PEP 562): ``import vmaf_tiny.cli`` or
# ``from vmaf_tiny.errors import ...`` must not pay for numpy, onnx and onnxruntime.
_LAZY: dict[str, str] = {
    "CANONICAL6": "vmaf_tiny.features_names",
    "FeatureResult": "vmaf_tiny.features_log",
    "extract_features": "vmaf_tiny.features",
    "OperatingPoint": "vmaf_tiny.fast_pass",
    "score_fast": "vmaf_tiny.fast",
    "extract_fast_features": "vmaf_tiny.fast_pass",
    "FFmpeg": "vmaf_tiny.ffmpeg",
    "resolve_ffmpeg": "vmaf_tiny.ffmpeg",
    "FilterResult": "vmaf_tiny.filtering",
    "filter_video": "vmaf_tiny.filtering",
    "load_filter": "vmaf_tiny.filtering",
    "score_frame_pair": "vmaf_tiny.framepair",
    "ALLOWED_OPS": "vmaf_tiny.guard",
    "MAX_MODEL_BYTES": "vmaf_tiny.guard",
    "SIZE_CLASSES": "vmaf_tiny.guard",
    "CheckReport": "vmaf_tiny.guard",
    "GuardedModel": "vmaf_tiny.guard",
    "SizeClassWarning": "vmaf_tiny.guard",
    "check_model": "vmaf_tiny.guard",
    "check_size_class": "vmaf_tiny.guard",
    "guard_model": "vmaf_tiny.guard",
    "MultiResult": "vmaf_tiny.multi",
    "score_models": "vmaf_tiny.multi",
    "score_nr": "vmaf_tiny.nr",
    "FrameRecords": "vmaf_tiny.records",
    "score_stream": "vmaf_tiny.nr_stream",
    "extract_stream": "vmaf_tiny.stream",
    "PairJob": "vmaf_tiny.pairs",
    "read_pairs": "vmaf_tiny.pairs",
    "score_pair": "vmaf_tiny.pairs",
    "ModelRef": "vmaf_tiny.registry",
    "Registry": "vmaf_tiny.registry",
    "load_registry": "vmaf_tiny.registry",
    "resolve_model": "vmaf_tiny.registry",
    "verify_registry": "vmaf_tiny.registry",
    "SaliencyResult": "vmaf_tiny.saliency",
    "load_saliency": "vmaf_tiny.saliency",
    "saliency_maps": "vmaf_tiny.saliency",
    "CodecFields": "vmaf_tiny.scoring",
    "ScoreResult": "vmaf_tiny.result",
    "pool_scores": "vmaf_tiny.result",
    "score": "vmaf_tiny.scoring",
    "LoadedModel": "vmaf_tiny.session",
    "load_model": "vmaf_tiny.session",
    "VideoInfo": "vmaf_tiny.video",
    "VideoSpec": "vmaf_tiny.video",
    "probe": "vmaf_tiny.video",
    "read_luma": "vmaf_tiny.video",
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)


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
    "FrameRecords",
    "GuardedModel",
    "LoadedModel",
    "MissingToolError",
    "ModelRef",
    "MultiResult",
    "OperatingPoint",
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
    "extract_fast_features",
    "extract_features",
    "extract_stream",
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
    "score_fast",
    "score_frame_pair",
    "score_models",
    "score_nr",
    "score_pair",
    "score_stream",
    "verify_registry",
]
