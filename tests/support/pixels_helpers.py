"""Shared helpers of the pixel-model tests: tiny recipes and once-per-session trained runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

# Small enough for the smoke corpus (192x108 frames, 3 sources: one per split).
SPLIT = {"val_frac": 0.34, "test_frac": 0.33}
NR_TINY: dict[str, Any] = {
    "train": {"epochs": 2, "threads": 2, "batch_size": 8},
    "data": {"size": [192, 108], "crop": [96, 64], "frames_per_clip": 2, "val_frames_per_clip": 1},
    "split": SPLIT,
    "int8": {"enabled": True, "calib_frames": 8},
}
FILTER_TINY: dict[str, Any] = {
    "train": {"epochs": 2, "threads": 2, "batch_size": 16},
    "data": {"patch": 32, "frames_per_clip": 2, "patches_per_frame": 4, "eval_frames": 3},
    "split": SPLIT,
}
SAL_TINY: dict[str, Any] = {
    "train": {"epochs": 3, "threads": 2, "batch_size": 8},
    "data": {"size": [128, 64], "ref_frames_per_source": 4, "eval_ref_frames_per_source": 4},
    "split": SPLIT,
}


def files_in(run: Path) -> set[str]:
    return {p.name for p in run.iterdir()}


def export_filter(model: Any, path: Path) -> None:
    """Export a filter network as fit does (any frame size; verified against torch)."""
    import torch

    from vmaf_train.ship.export import TensorSpec, export_pixel_onnx

    gen = torch.Generator().manual_seed(0)
    export_pixel_onnx(
        model.eval(),
        path,
        inputs=[TensorSpec("frame", ("N", 1, "H", "W"), "frame")],
        outputs=[TensorSpec("restored", ("N", 1, "H", "W"), "frame")],
        example=lambda b: (torch.rand(b, 1, 24 + 8 * b, 40 + 4 * b, generator=gen),),
        metadata={},
        opset=17,
    )
