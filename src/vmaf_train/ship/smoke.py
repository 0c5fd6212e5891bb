"""Smoke checkpoints: contract-exercising pixel models with no quality claim.

* ``dists_sq_placeholder_v0`` -- two inputs (reference frame, distorted frame) -> one score per
  pair: fixed, seeded convolution features of both frames, their mean squared difference ``d``,
  ``100 * exp(-alpha * d)``. Exercises the two-input contract (roles ``reference_frame`` and
  ``distorted_frame``) through guard, session and scoring.
* ``mobilesal_placeholder_v0`` -- frame -> map: the saliency student's architecture with seeded
  random weights. Exercises the map-output contract.

Both are built deterministically from a seed (no training, no data), exported and verified like
the real models; their registry rows carry ``smoke: true`` and ``training: null``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from vmaf_train.fit.loop import git_commit
from vmaf_train.models.saliency import SaliencyStudent
from vmaf_train.ship.export import ExportInfo, TensorSpec, export_pixel_onnx

__all__ = ["SMOKE_IDS", "DistsSq", "make_smoke"]

SMOKE_IDS = ("dists_sq_placeholder_v0", "mobilesal_placeholder_v0")
_SIZE = (144, 256)  # (height, width) both smoke models take


class DistsSq(nn.Module):
    """Placeholder two-frame FR score: squared distance of fixed random conv features.

    Args:
        seed: Seed of the fixed weights.
        channels: Feature channels.
        alpha: Sensitivity: score = 100 * exp(-alpha * mean squared feature difference).
    """

    def __init__(self, seed: int = 0, channels: int = 8, alpha: float = 40.0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.c1 = nn.Conv2d(1, channels, 3, 2, 1)
        self.c2 = nn.Conv2d(channels, channels, 3, 2, 1)
        with torch.no_grad():
            for conv in (self.c1, self.c2):
                fan_in = conv.weight[0].numel()
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=g) / fan_in**0.5)
                if conv.bias is not None:
                    conv.bias.zero_()
        self.alpha = float(alpha)

    def _feat(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.c2(torch.relu(self.c1(x))))

    def forward(self, reference: torch.Tensor, distorted: torch.Tensor) -> torch.Tensor:
        """Two [N, 1, H, W] luma frames -> [N, 1] scores in (0, 100]."""
        d = ((self._feat(reference) - self._feat(distorted)) ** 2).mean(dim=(1, 2, 3))
        return (100.0 * torch.exp(-self.alpha * d))[:, None]


def _sidecar(
    mid: str,
    kind: str,
    desc: str,
    inputs: list[TensorSpec],
    outputs: list[TensorSpec],
    target: str,
    rng: list[float],
    pooling: str,
    opset: int,
) -> dict[str, Any]:
    h, w = _SIZE
    return {
        "schema_version": 1,
        "id": mid,
        "kind": kind,
        "class": "C2",
        "onnx": f"{mid}.onnx",
        "opset": opset,
        "smoke": True,
        "description": desc,
        "inputs": [s.sidecar() for s in inputs],
        "outputs": [s.sidecar() for s in outputs],
        "frame": {
            "channels": "luma",
            "value_range": [0.0, 1.0],
            "crop": None,
            "resize": [w, h],
            "stride": 1,
            "pooling": pooling,
        },
        "output": {"target": target, "range": rng, "clamp": True},
        "int8": None,
        "metadata": {"seed": 0, "smoke": True},
    }


def make_smoke(out: str | Path, seed: int = 0) -> dict[str, tuple[ExportInfo, dict[str, Any]]]:
    """Build, export and verify both smoke checkpoints into ``out`` (``<id>.onnx`` + ``<id>.json``).

    Returns:
        id -> (export info, sidecar dict). The sidecars are written by the caller's registration
        (:func:`vmaf_train.ship.register.register_smoke`).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    h, w = _SIZE
    meta = {"seed": seed, "train_commit": git_commit(), "smoke": "true"}
    gen = torch.Generator().manual_seed(seed + 11)
    results: dict[str, tuple[ExportInfo, dict[str, Any]]] = {}

    mid = "dists_sq_placeholder_v0"
    ins = [
        TensorSpec("reference", ("N", 1, h, w), "reference_frame"),
        TensorSpec("distorted", ("N", 1, h, w), "distorted_frame"),
    ]
    outs = [TensorSpec("score", ("N", 1), "score")]
    model: nn.Module = DistsSq(seed=seed).eval()

    def pair(b: int) -> tuple[torch.Tensor, ...]:
        ref = torch.rand(b, 1, h, w, generator=gen)
        return ref, (ref + 0.05 * torch.randn(b, 1, h, w, generator=gen)).clamp(0, 1)

    exp = export_pixel_onnx(
        model,
        out / f"{mid}.onnx",
        inputs=ins,
        outputs=outs,
        example=pair,
        metadata={**meta, "id": mid},
    )
    results[mid] = (
        exp,
        _sidecar(
            mid,
            "fr",
            "Smoke checkpoint, no quality claim: a two-input full-reference placeholder "
            "(reference luma frame, distorted luma frame -> score) built from fixed seeded "
            "convolution features; exercises the two-input contract through guard, session and "
            "scoring.",
            ins,
            outs,
            "vmaf",
            [0.0, 100.0],
            "mean",
            exp.opset,
        ),
    )

    mid = "mobilesal_placeholder_v0"
    torch.manual_seed(seed)
    model = SaliencyStudent(input_size=_SIZE, width=8).eval()
    ins = [TensorSpec("frame", ("N", 1, h, w), "frame")]
    outs = [TensorSpec("saliency", ("N", 1, h // 4, w // 4), "map")]
    exp = export_pixel_onnx(
        model,
        out / f"{mid}.onnx",
        inputs=ins,
        outputs=outs,
        example=lambda b: (torch.rand(b, 1, h, w, generator=gen),),
        metadata={**meta, "id": mid},
    )
    results[mid] = (
        exp,
        _sidecar(
            mid,
            "saliency",
            "Smoke checkpoint, no quality claim: the saliency student's encoder-decoder with "
            "seeded random weights (frame -> map); exercises the map-output contract.",
            ins,
            outs,
            "saliency",
            [0.0, 1.0],
            "none",
            exp.opset,
        ),
    )
    return results
