"""Pixel models: no-reference metric, learned filter, saliency student, smoke checkpoints.

Modules by concept: ``frames`` (corpus clips, splits, decoding, seeded sampling), ``teacher``
(spectral-residual saliency), ``metrics``, ``config`` (recipes), ``runs`` (determinism, the loop,
run directories), ``export`` / ``quantize`` (ONNX + int8), ``nr`` / ``filter`` / ``saliency``
(train + evaluate), ``smoke``, ``register`` and ``cards``.
"""

from __future__ import annotations

from vmaf_train.pixels.config import PixelConfig, load_pixel_config, parse_overrides
from vmaf_train.pixels.filter import evaluate_filter, fit_filter, load_filter_config
from vmaf_train.pixels.frames import (
    ClipRecord,
    PixelCorpus,
    clip_rng,
    crop_boxes,
    decode,
    gather,
    sample_indices,
)
from vmaf_train.pixels.metrics import clip_pool, map_cc, psnr, score_metrics, top_iou
from vmaf_train.pixels.nr import fit_nr, load_nr_config, predict_clips
from vmaf_train.pixels.runs import FitResult, clean_json, fit_loop, setup_torch
from vmaf_train.pixels.saliency import fit_saliency, load_saliency_config
from vmaf_train.pixels.teacher import TeacherParams, spectral_residual, teacher_maps

__all__ = [
    "ClipRecord",
    "FitResult",
    "PixelConfig",
    "PixelCorpus",
    "TeacherParams",
    "clean_json",
    "clip_pool",
    "clip_rng",
    "crop_boxes",
    "decode",
    "evaluate_filter",
    "fit_filter",
    "fit_loop",
    "fit_nr",
    "fit_saliency",
    "gather",
    "load_filter_config",
    "load_nr_config",
    "load_pixel_config",
    "load_saliency_config",
    "map_cc",
    "parse_overrides",
    "predict_clips",
    "psnr",
    "sample_indices",
    "score_metrics",
    "setup_torch",
    "spectral_residual",
    "teacher_maps",
    "top_iou",
]
