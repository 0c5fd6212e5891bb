"""The no-reference metric network (C2): distorted luma frame -> per-frame VMAF estimate.

A patchify stem (4x4 convolution, stride 4: every pixel seen once, cheap at 640x360), then
depthwise-separable blocks (depthwise 3x3 + pointwise 1x1, each with BatchNorm and ReLU6),
global average pooling and a linear head. Fully convolutional: any frame size works; the sidecar
fixes the size the runtime feeds. BatchNorm is folded into the convolutions at export (eval mode).

:class:`StatsNRNet` is the alternative: fixed gradient statistics of the whole frame
(:class:`GradStats`, no learned weights) into a small ensemble of MLP heads.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["MSCN", "GradStats", "NRNet", "StatsNRNet", "ds_block"]


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


def _block_kernels() -> tuple[torch.Tensor, torch.Tensor]:
    """Fixed filters of :class:`GradStats`.

    The 4x4 stride-4 bank (28 filters, every pixel seen once): the 12 horizontal and 12
    vertical neighbour differences inside a 4x4 block and the 4 Laplacians centred on its inner
    2x2; with the [28, 3] matrix that averages each group. The 9x9 stride-8 grid bank (32
    filters): for each of the 8 rows of an 8x8 block the difference across the block's right
    edge (columns 7|8) and the one in its middle (3|4), and the same for columns (rows 7|8, 3|4).
    """
    bank = torch.zeros(28, 1, 4, 4)
    group = torch.zeros(28, 3)
    i = 0
    for r in range(4):
        for c in range(3):
            bank[i, 0, r, c], bank[i, 0, r, c + 1] = -1.0, 1.0  # horizontal
            bank[i + 12, 0, c, r], bank[i + 12, 0, c + 1, r] = -1.0, 1.0  # vertical
            group[i, 0], group[i + 12, 1] = 1.0 / 12, 1.0 / 12
            i += 1
    for j, (r, c) in enumerate(((1, 1), (1, 2), (2, 1), (2, 2))):
        k = bank[24 + j, 0]
        k[r, c] = 4.0
        k[r - 1, c] = k[r + 1, c] = k[r, c - 1] = k[r, c + 1] = -1.0
        group[24 + j, 2] = 0.25
    grid = torch.zeros(32, 1, 9, 9)
    for r in range(8):
        for n, (a, b) in enumerate(((7, 8), (3, 4))):
            grid[8 * n + r, 0, r, a], grid[8 * n + r, 0, r, b] = -1.0, 1.0  # across columns
            grid[16 + 8 * n + r, 0, a, r], grid[16 + 8 * n + r, 0, b, r] = -1.0, 1.0  # rows
    return torch.cat([bank.flatten(1), group], 1), grid


class GradStats(nn.Module):
    """Fixed whole-frame sharpness and blockiness statistics (no learned weights).

    At each scale (average-pooled by ``scales[i]``) a fixed 4x4 stride-4 filter bank gives the
    horizontal and vertical neighbour differences and the 4-neighbour Laplacian inside every
    4x4 block (three quarters of all neighbour pairs); the statistics are the mean absolute
    value and the mean square of each of the three (6 per scale). At full scale also the
    blockiness ratios: the mean absolute difference across the 8-pixel grid (columns 8k+7|8k+8,
    and rows) over the one midway between grid lines (8k+3|8k+4), from a 9x9 stride-8 bank.
    The output is the log of each statistic (``6 * len(scales) + 2`` per frame).

    Strided convolutions keep it cheap on ONNX Runtime's CPU provider (each pixel is read once
    per bank; an element-wise formulation with shifted slices, or a stride-1 3x3 convolution,
    measured several times slower at 640x360). Default-domain operators only.

    Args:
        scales: Increasing pooling factors, each a multiple of the previous (starts at 1).
        eps: Added before the log and to ratio denominators.
    """

    bank: torch.Tensor
    group: torch.Tensor
    grid: torch.Tensor

    def __init__(self, scales: Sequence[int] = (1, 2, 4), eps: float = 1e-6) -> None:
        super().__init__()
        self.scales = tuple(int(s) for s in scales)
        if not self.scales or self.scales[0] != 1:
            raise ValueError("scales must start at 1")
        if any(b % a for a, b in zip(self.scales[:-1], self.scales[1:], strict=True)):
            raise ValueError("each scale must be a multiple of the previous one")
        self.eps = float(eps)
        bank_group, grid = _block_kernels()
        self.register_buffer("bank", bank_group[:, :16].reshape(28, 1, 4, 4).contiguous())
        self.register_buffer("group", bank_group[:, 16:].contiguous())
        self.register_buffer("grid", grid)

    @property
    def n_out(self) -> int:
        """Statistics per frame."""
        return 6 * len(self.scales) + 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[N, 1, H, W] luma in [0, 1] -> [N, n_out] log statistics."""
        f = nn.functional
        feats: list[torch.Tensor] = []
        y, prev = x, 1
        for s in self.scales:
            if s != prev:
                y = f.avg_pool2d(y, s // prev, s // prev)
                prev = s
            d = f.conv2d(y, self.bank, stride=4)  # [N, 28, H/4, W/4]
            feats += [d.abs().mean(dim=(2, 3)) @ self.group, (d * d).mean(dim=(2, 3)) @ self.group]
        g = f.conv2d(x, self.grid, stride=8).abs().mean(dim=(2, 3))  # [N, 32]
        g = g.reshape(-1, 4, 8).mean(dim=2)  # across cols, middle cols, across rows, middle rows
        block = g[:, 0::2] / (g[:, 1::2] + self.eps)
        return torch.log(torch.cat([*feats, block], dim=1) + self.eps)


class StatsNRNet(nn.Module):
    """No-reference VMAF from fixed frame statistics: :class:`GradStats` -> MLP ensemble.

    The statistics are standardised with the training set's mean and standard deviation and
    clipped to ``[-clip, clip]`` (so unusual content cannot push the heads far outside what
    they were trained on); each of ``heads`` independent MLPs (one hidden ReLU layer) predicts
    a standardised score and the estimate is ``out_mean + out_std * mean(heads)``.

    Args:
        scales: Pooling factors of the statistics (see :class:`GradStats`).
        hidden: Hidden width of each head.
        heads: Number of heads averaged.
        dropout: Dropout before each head's output layer (training only).
        clip: Clip of the standardised statistics.
        feat_mean: Training mean of the statistics (None: zeros).
        feat_std: Training standard deviation of the statistics (None: ones).
        out_mean: Output offset (training target mean).
        out_std: Output scale (training target standard deviation).
    """

    feat_mean: torch.Tensor
    feat_std: torch.Tensor
    out_mean: torch.Tensor
    out_std: torch.Tensor

    def __init__(
        self,
        scales: Sequence[int] = (1, 2, 4),
        hidden: int = 16,
        heads: int = 5,
        dropout: float = 0.1,
        clip: float = 2.0,
        feat_mean: torch.Tensor | None = None,
        feat_std: torch.Tensor | None = None,
        out_mean: float = 0.0,
        out_std: float = 1.0,
    ) -> None:
        super().__init__()
        self.stats = GradStats(scales)
        n = self.stats.n_out
        fm = torch.zeros(n) if feat_mean is None else feat_mean.detach().float().reshape(n)
        fs = torch.ones(n) if feat_std is None else feat_std.detach().float().reshape(n)
        self.register_buffer("feat_mean", fm.clone())
        self.register_buffer("feat_std", fs.clone())
        self.clip = float(clip)
        self.heads = nn.ModuleList(
            nn.Sequential(
                nn.Linear(n, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, 1)
            )
            for _ in range(int(heads))
        )
        self.register_buffer("out_mean", torch.tensor(float(out_mean)))
        self.register_buffer("out_std", torch.tensor(float(out_std)))

    def head_outputs(self, feats: torch.Tensor) -> torch.Tensor:
        """[N, n_out] log statistics -> [N, heads] scores (one column per head)."""
        z = ((feats - self.feat_mean) / self.feat_std).clamp(-self.clip, self.clip)
        out = torch.cat([h(z) for h in self.heads], dim=1)
        return out * self.out_std + self.out_mean

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[N, 1, H, W] luma in [0, 1] -> [N, 1] scores."""
        return self.head_outputs(self.stats(x)).mean(dim=1, keepdim=True)
