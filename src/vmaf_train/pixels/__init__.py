"""Pixel models: no-reference metric, learned filter, saliency student, smoke checkpoints.

Modules by concept: ``frames`` (corpus clips, splits, decoding, seeded sampling), ``teacher``
(spectral-residual saliency), ``metrics``, ``config`` (recipes), ``runs`` (determinism, the loop,
run directories), ``export`` / ``quantize`` (ONNX + int8), ``nr`` / ``filter`` / ``saliency``
(train + evaluate), ``smoke``, ``register`` and ``cards``.
"""

from __future__ import annotations

from vmaf_train.pixels.cards import is_pixel_model, render_pixel_card, write_pixel_cards
from vmaf_train.pixels.config import PixelConfig, load_pixel_config, parse_overrides
from vmaf_train.pixels.export import PixelExport, TensorSpec, export_pixel_onnx, ort_session
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
from vmaf_train.pixels.quantize import NR_MAX_PLCC_DROP, gate_path, quantize_qdq
from vmaf_train.pixels.register import register_files, register_pixel_run, register_smoke
from vmaf_train.pixels.runs import FitResult, clean_json, fit_loop, setup_torch
from vmaf_train.pixels.saliency import fit_saliency, load_saliency_config
from vmaf_train.pixels.smoke import SMOKE_IDS, DistsSq, make_smoke
from vmaf_train.pixels.teacher import TeacherParams, spectral_residual, teacher_maps

__all__ = [
    "NR_MAX_PLCC_DROP",
    "SMOKE_IDS",
    "ClipRecord",
    "DistsSq",
    "FitResult",
    "PixelConfig",
    "PixelCorpus",
    "PixelExport",
    "TeacherParams",
    "TensorSpec",
    "clean_json",
    "clip_pool",
    "clip_rng",
    "crop_boxes",
    "decode",
    "evaluate_filter",
    "export_pixel_onnx",
    "fit_filter",
    "fit_loop",
    "fit_nr",
    "fit_saliency",
    "gate_path",
    "gather",
    "is_pixel_model",
    "load_filter_config",
    "load_nr_config",
    "load_pixel_config",
    "load_saliency_config",
    "make_smoke",
    "map_cc",
    "ort_session",
    "parse_overrides",
    "predict_clips",
    "psnr",
    "quantize_qdq",
    "register_files",
    "register_pixel_run",
    "register_smoke",
    "render_pixel_card",
    "sample_indices",
    "score_metrics",
    "setup_torch",
    "spectral_residual",
    "teacher_maps",
    "top_iou",
    "write_pixel_cards",
]
