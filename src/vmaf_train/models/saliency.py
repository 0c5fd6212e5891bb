"""The saliency student: luma frame -> saliency map (a tiny encoder-decoder).

Four stride-2 3x3 convolutions (to 1/16 of the input), two bilinear 2x upsamplings back to 1/4,
a skip connection from the 1/4-scale encoder features, a 1x1 output layer, plus a learned
position bias map (the classical teacher has a centre bias that a small convolutional network
cannot infer from zero padding alone), then a sigmoid: the map is in [0, 1] at 1/4 of the input
size. The input size is fixed by the sidecar (the bias map has a fixed shape).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["SaliencyStudent"]


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.ReLU())


class SaliencyStudent(nn.Module):
    """Tiny encoder-decoder with a learned position bias.

    Args:
        input_size: (height, width) of the input; both divisible by 16.
        width: Channels of the encoder.
    """

    def __init__(self, input_size: tuple[int, int] = (144, 256), width: int = 24) -> None:
        super().__init__()
        h, w = input_size
        if h % 16 or w % 16:
            raise ValueError(f"input size {w}x{h} must be divisible by 16")
        self.input_size = (int(h), int(w))
        self.width = int(width)
        c = width
        self.enc1 = _conv(1, c // 2, 2)  # 1/2
        self.enc2 = _conv(c // 2, c, 2)  # 1/4
        self.enc3 = _conv(c, c, 2)  # 1/8
        self.enc4 = _conv(c, c, 2)  # 1/16
        self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.dec3 = _conv(c, c)
        self.dec2 = _conv(2 * c, c // 2)
        self.out = nn.Conv2d(c // 2, 1, 1)
        self.bias_map = nn.Parameter(torch.zeros(1, 1, h // 4, w // 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[N, 1, H, W] luma in [0, 1] -> [N, 1, H/4, W/4] saliency in [0, 1]."""
        e2 = self.enc2(self.enc1(x))
        e4 = self.enc4(self.enc3(e2))
        d3 = self.dec3(self.up(e4))
        d2 = self.dec2(torch.cat([self.up(d3), e2], dim=1))
        return torch.sigmoid(self.out(d2) + self.bias_map)
