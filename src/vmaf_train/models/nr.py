"""The no-reference metric network (C2): distorted luma frame -> per-frame VMAF estimate.

A patchify stem (4x4 convolution, stride 4: every pixel seen once, cheap at 640x360), then
depthwise-separable blocks (depthwise 3x3 + pointwise 1x1, each with BatchNorm and ReLU6),
global average pooling and a linear head. Fully convolutional: any frame size works; the sidecar
fixes the size the runtime feeds. BatchNorm is folded into the convolutions at export (eval mode).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["MSCN", "NRNet", "ds_block"]


class MSCN(nn.Module):
    """Local contrast normalisation as fixed convolutions (no learned weights).

    Outputs two channels: the mean-subtracted contrast-normalised luma
    ``(x - mu) / (sigma + c)`` and the local standard deviation ``sigma`` (so the network
    still sees how much texture there is), with ``mu``/``sigma`` from a Gaussian window.
    Exported as Conv, Mul, Sub, Relu, Sqrt, Add and Div: default-domain operators only.

    Args:
        size: Window side (odd).
        sigma: Gaussian standard deviation in pixels.
        c: Stabiliser added to sigma (in [0, 1] luma units).
    """

    kernel: torch.Tensor

    def __init__(self, size: int = 7, sigma: float = 7 / 6, c: float = 1 / 255) -> None:
        super().__init__()
        r = torch.arange(size, dtype=torch.float32) - size // 2
        g = torch.exp(-(r**2) / (2 * sigma**2))
        k = torch.outer(g, g)
        self.register_buffer("kernel", (k / k.sum())[None, None])
        self.pad = size // 2
        self.c = float(c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mu = nn.functional.conv2d(x, self.kernel, padding=self.pad)
        var = nn.functional.conv2d(x * x, self.kernel, padding=self.pad) - mu * mu
        sd = torch.sqrt(torch.relu(var) + 1e-8)
        return torch.cat([(x - mu) / (sd + self.c), sd * 10.0], dim=1)


def ds_block(cin: int, cout: int, stride: int) -> nn.Sequential:
    """Depthwise-separable block: dw3x3(stride) + BN + ReLU6, pw1x1 + BN + ReLU6."""
    return nn.Sequential(
        nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False),
        nn.BatchNorm2d(cin),
        nn.ReLU6(),
        nn.Conv2d(cin, cout, 1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU6(),
    )


class NRNet(nn.Module):
    """Tiny CNN for no-reference VMAF.

    Args:
        channels: Stem width followed by the output width of each depthwise-separable block.
        strides: Stride of each block (len(channels) - 1 entries).
        stem: Stem kernel size and stride (patchify).
        out_mean: Output offset (the training target mean): the head predicts a standardised
            score, ``out_mean + out_std * head(...)`` is the estimate.
        out_std: Output scale (the training target standard deviation).
        front: ``none`` (luma straight into the stem) or ``mscn`` (fixed local contrast
            normalisation first: two channels, see :class:`MSCN`).
    """

    def __init__(
        self,
        channels: Sequence[int] = (16, 32, 48, 64, 96),
        strides: Sequence[int] = (2, 2, 2, 1),
        stem: int = 4,
        out_mean: float = 0.0,
        out_std: float = 1.0,
        front: str = "none",
    ) -> None:
        super().__init__()
        if len(strides) != len(channels) - 1:
            raise ValueError("strides needs one entry per block (len(channels) - 1)")
        self.channels = tuple(int(c) for c in channels)
        self.strides = tuple(int(s) for s in strides)
        self.stem_size = int(stem)
        if front not in ("none", "mscn"):
            raise ValueError(f"front must be 'none' or 'mscn', got {front!r}")
        self.front_kind = front
        self.front: nn.Module = MSCN() if front == "mscn" else nn.Identity()
        layers: list[nn.Module] = [
            nn.Conv2d(2 if front == "mscn" else 1, channels[0], stem, stem, 0, bias=False),
            nn.BatchNorm2d(channels[0]),
            nn.ReLU6(),
        ]
        for cin, cout, s in zip(channels[:-1], channels[1:], strides, strict=True):
            layers.append(ds_block(cin, cout, s))
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(channels[-1], 1)
        self.register_buffer("out_mean", torch.tensor(float(out_mean)))
        self.register_buffer("out_std", torch.tensor(float(out_std)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[N, 1, H, W] luma in [0, 1] -> [N, 1] scores."""
        z = self.head(self.features(self.front(x)).mean(dim=(2, 3)))
        return z * self.out_std + self.out_mean
