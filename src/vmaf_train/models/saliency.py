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

__all__ = ["LowResSaliencyStudent", "SaliencyStudent"]


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.ReLU())


def _checked_size(input_size: tuple[int, int]) -> tuple[int, int]:
    """(height, width) as ints, both divisible by 16 (the students' strides need it)."""
    h, w = input_size
    if h % 16 or w % 16:
        raise ValueError(f"input size {w}x{h} must be divisible by 16")
    return int(h), int(w)


class SaliencyStudent(nn.Module):
    """Tiny encoder-decoder with a learned position bias.

    Args:
        input_size: (height, width) of the input; both divisible by 16.
        width: Channels of the encoder.
    """

    def __init__(self, input_size: tuple[int, int] = (144, 256), width: int = 24) -> None:
        super().__init__()
        self.input_size = _checked_size(input_size)
        h, w = self.input_size
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


class LowResSaliencyStudent(nn.Module):
    """A student that works at the teacher's own resolution (``saliency_student_v2``).

    The spectral-residual teacher never looks at more than the frame area-averaged to its map
    size (1/4 of the input). This student does the same inside the graph -- a 4x4 average pool
    (exactly the teacher's area downscale), then a per-frame contrast normalisation (the teacher
    is blind to global gain and offset) -- and runs a tiny U-shaped stack at that resolution:
    one 3x3 convolution at the map size, two stride-2 ones (to 1/4 of the map), a dilated one
    there, one bilinear 2x upsampling added to the 1/2-scale features (a skip connection), one
    3x3 convolution there, a 1x1 output layer plus a learned
    position bias at half the map size, a sigmoid and a final bilinear 2x upsampling to the map.
    The map is the teacher's size: 1/4 of the input.

    With ``context_norm`` the coarsest features are instance-normalised per frame before the
    upsampling: what is left is how a place differs from the rest of the frame, which is what the
    teacher's spectral residual measures (a texture repeated over the whole frame is not salient).

    Args:
        input_size: (height, width) of the input; both divisible by 16.
        width: Channels at the map resolution (twice that below it).
        context_norm: Instance-normalise the 1/4-of-the-map features.
    """

    def __init__(
        self, input_size: tuple[int, int] = (144, 256), width: int = 8, context_norm: bool = False
    ) -> None:
        super().__init__()
        self.input_size = _checked_size(input_size)
        h, w = self.input_size
        self.width = int(width)
        c = width
        self.pool = nn.AvgPool2d(4)
        self.norm = nn.InstanceNorm2d(1, affine=False, eps=1e-4)
        self.enc1 = _conv(1, c)  # map size (1/4 of the input)
        self.enc2 = _conv(c, 2 * c, 2)  # 1/2 of the map
        self.enc3 = _conv(2 * c, 2 * c, 2)  # 1/4 of the map
        self.ctx = nn.Sequential(nn.Conv2d(2 * c, 2 * c, 3, 1, 2, dilation=2), nn.ReLU())
        self.context_norm = bool(context_norm)
        self.cnorm = nn.InstanceNorm2d(2 * c, affine=True, eps=1e-4) if context_norm else None
        self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.dec = _conv(2 * c, c)
        self.out = nn.Conv2d(c, 1, 1)
        self.bias_map = nn.Parameter(torch.zeros(1, 1, h // 8, w // 8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[N, 1, H, W] luma in [0, 1] -> [N, 1, H/4, W/4] saliency in [0, 1]."""
        s = self.norm(self.pool(x))
        e2 = self.enc2(self.enc1(s))
        e3 = self.ctx(self.enc3(e2))
        if self.cnorm is not None:
            e3 = self.cnorm(e3)
        d = self.dec(self.up(e3) + e2)
        return self.up(torch.sigmoid(self.out(d) + self.bias_map))
