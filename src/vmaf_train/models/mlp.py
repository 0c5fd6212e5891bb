"""Tiny FR regressors: an MLP over the canonical-6 features (optionally plus a codec block).

The module's graph is what gets exported: optional baked standardisation (Sub/Div), Gemm layers
with ReLU or GELU (exact GELU exports as Erf, the tanh form as Tanh, both plain ONNX ops), an
output affine that maps the head back to the target scale, and an optional Clip.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

__all__ = ["FRMLP", "Standardize", "count_parameters", "make_activation"]


def make_activation(name: str) -> nn.Module:
    """``relu``, ``gelu`` (exact, Erf) or ``gelu_tanh``."""
    if name == "relu":
        return nn.ReLU()
    if name == "gelu":
        return nn.GELU()
    if name == "gelu_tanh":
        return nn.GELU(approximate="tanh")
    raise ValueError(f"unknown activation {name!r}")


class Standardize(nn.Module):
    """``(x - mean) / std`` with fixed buffers (exported as Sub and Div)."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, mean: np.ndarray, std: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(np.asarray(mean, dtype=np.float32)))
        self.register_buffer("std", torch.as_tensor(np.asarray(std, dtype=np.float32)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class FRMLP(nn.Module):
    """MLP: features (N, F) [+ codec (N, K)] -> score (N, 1).

    Args:
        n_features: Width of the ``features`` input (6 for the canonical-6).
        codec_width: Width of the ``codec`` input (0: no codec input).
        hidden: Hidden layer widths.
        activation: ``relu``, ``gelu`` or ``gelu_tanh``.
        feature_mean: Per-feature mean (standardisation).
        feature_std: Per-feature std (> 0).
        bake_scaler: True: the graph standardises its raw input; False: the input is expected
            already standardised (the runtime applies the sidecar's mean/std).
        target_mean: Output offset (the head learns a standardised target).
        target_std: Output scale.
        clamp: ``(low, high)`` to clip the output to, or None.
    """

    target_mean: torch.Tensor
    target_std: torch.Tensor

    def __init__(
        self,
        n_features: int,
        codec_width: int,
        hidden: Sequence[int],
        activation: str,
        *,
        feature_mean: np.ndarray,
        feature_std: np.ndarray,
        bake_scaler: bool,
        target_mean: float,
        target_std: float,
        clamp: tuple[float, float] | None,
    ) -> None:
        super().__init__()
        self.n_features = int(n_features)
        self.codec_width = int(codec_width)
        self.bake_scaler = bool(bake_scaler)
        self.scaler = Standardize(feature_mean, feature_std)
        layers: list[nn.Module] = []
        width = self.n_features + self.codec_width
        for h in hidden:
            layers += [nn.Linear(width, int(h)), make_activation(activation)]
            width = int(h)
        layers.append(nn.Linear(width, 1))
        self.body = nn.Sequential(*layers)
        self.register_buffer("target_mean", torch.tensor(float(target_mean)))
        self.register_buffer("target_std", torch.tensor(float(target_std)))
        self.clamp = None if clamp is None else (float(clamp[0]), float(clamp[1]))

    def raw(self, features: torch.Tensor, codec: torch.Tensor | None = None) -> torch.Tensor:
        """The unclamped output (used for the training loss)."""
        x = self.scaler(features) if self.bake_scaler else features
        if self.codec_width:
            if codec is None:
                raise ValueError("this model needs a codec input")
            x = torch.cat([x, codec], dim=1)
        return self.body(x) * self.target_std + self.target_mean

    def forward(self, features: torch.Tensor, codec: torch.Tensor | None = None) -> torch.Tensor:
        y = self.raw(features, codec)
        if self.clamp is not None:
            y = torch.clamp(y, self.clamp[0], self.clamp[1])
        return y


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
