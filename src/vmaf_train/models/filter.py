"""The learned filter network (C3): coded luma -> restored luma (residual CNN).

``y = x + r(x)``: a few 3x3 convolutions (ReLU) predict a correction that is added to the input.
The last layer starts at zero, so the untrained filter is the identity. No clamp in the graph:
the runtime clips to [0, 1] and counts how many pixels it had to clip (an audit figure).

With ``center`` c > 0 the body sees the re-centred luma ``(x - 0.5) * c`` and its correction is
divided by c: ``y = x + r((x - 0.5) * c) / c``. Coding errors are a few 8-bit steps; on raw [0, 1]
luma the body's output (and its gradients) are tiny next to its inputs and plain Adam learns
next to nothing (+0.001 dB); re-centred and amplified it does (``learned_filter_v2``: c = 4).
"""

from __future__ import annotations

import torch
from torch import nn

from vmaf_train.recipes.pixel import FILTER_VIEWS as VIEWS

__all__ = ["VIEWS", "FilterViews", "ResidualFilter", "UnshuffleFilter"]


class ResidualFilter(nn.Module):
    """Residual restoration CNN.

    Args:
        width: Channels of the hidden layers.
        depth: Number of hidden 3x3 layers after the first.
    """

    def __init__(self, width: int = 16, depth: int = 3, center: float = 0.0) -> None:
        super().__init__()
        self.width, self.depth, self.center = int(width), int(depth), float(center)
        layers: list[nn.Module] = [nn.Conv2d(1, width, 3, 1, 1), nn.ReLU()]
        for _ in range(depth):
            layers += [nn.Conv2d(width, width, 3, 1, 1), nn.ReLU()]
        last = nn.Conv2d(width, 1, 3, 1, 1)
        nn.init.zeros_(last.weight)
        if last.bias is not None:
            nn.init.zeros_(last.bias)
        layers.append(last)
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[N, 1, H, W] coded luma in [0, 1] -> [N, 1, H, W] restored luma (unclipped)."""
        return _residual(self.body, x, self.center)


class UnshuffleFilter(nn.Module):
    """Residual restoration CNN working at half resolution (``learned_filter_v2``).

    ``y = x + shuffle(r(unshuffle(x)))``: the luma is folded 2x2 into four channels
    (``PixelUnshuffle``), a few 3x3 convolutions (ReLU) predict the four folded corrections, which
    ``PixelShuffle`` unfolds and adds to the input. Each 3x3 layer sees 6x6 input pixels at a
    quarter of the full-resolution cost, so a 16-channel net has a wide receptive field (an 8x8
    coding block and its neighbours) at ~1/5 of the operations of :class:`ResidualFilter`. The
    last layer starts at zero (identity). Height and width must be even (the runtime pads odd
    frames by edge replication).

    Args:
        width: Channels of the hidden layers.
        depth: Number of hidden 3x3 layers after the first.
        scale: Fold factor (2: 2x2 blocks).
        center: > 0: the body sees ``(x - 0.5) * center``, its correction is divided by it.
    """

    def __init__(
        self, width: int = 16, depth: int = 3, scale: int = 2, center: float = 0.0
    ) -> None:
        super().__init__()
        self.width, self.depth, self.scale = int(width), int(depth), int(scale)
        self.center = float(center)
        c = self.scale * self.scale
        layers: list[nn.Module] = [nn.PixelUnshuffle(scale), nn.Conv2d(c, width, 3, 1, 1)]
        layers.append(nn.ReLU())
        for _ in range(depth):
            layers += [nn.Conv2d(width, width, 3, 1, 1), nn.ReLU()]
        last = nn.Conv2d(width, c, 3, 1, 1)
        nn.init.zeros_(last.weight)
        if last.bias is not None:
            nn.init.zeros_(last.bias)
        layers += [last, nn.PixelShuffle(scale)]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[N, 1, H, W] coded luma in [0, 1] (H, W even) -> restored luma (unclipped)."""
        return _residual(self.body, x, self.center)


def _residual(body: nn.Module, x: torch.Tensor, center: float) -> torch.Tensor:
    """``x + body(x)``, or with ``center`` > 0 ``x + body((x - 0.5) * center) / center``."""
    if center > 0:
        return x + body((x - 0.5) * center) * (1.0 / center)
    return x + body(x)


#: The eight symmetries of the square as (mirror rows, mirror columns, transpose after), in the
#: order :class:`FilterViews` takes them: the frame, its transpose, its two mirrors, the rest.
_SYMMETRIES: tuple[tuple[bool, bool, bool], ...] = (
    (False, False, False),
    (False, False, True),
    (False, True, False),
    (True, False, False),
    (True, True, False),
    (False, True, True),
    (True, False, True),
    (True, True, True),
)


def _view(x: torch.Tensor, k: int) -> torch.Tensor:
    """The k-th symmetry of :data:`_SYMMETRIES` applied to [N, C, H, W]."""
    rows, cols, transpose = _SYMMETRIES[k]
    dims = [d for d, on in ((2, rows), (3, cols)) if on]
    if dims:
        x = x.flip(dims)
    return x.transpose(2, 3) if transpose else x


def _unview(y: torch.Tensor, k: int) -> torch.Tensor:
    """The inverse of :func:`_view`."""
    rows, cols, transpose = _SYMMETRIES[k]
    if transpose:
        y = y.transpose(2, 3)
    dims = [d for d, on in ((2, rows), (3, cols)) if on]
    return y.flip(dims) if dims else y


class FilterViews(nn.Module):
    """A filter run on ``views`` mirrored / transposed copies of the frame, outputs averaged.

    A test-time ensemble (``arch.views``): view 0 is the frame, 1 its transpose, 2 and 3 its
    horizontal and vertical mirrors, 4..7 the rest of the square's symmetries. Each view is
    filtered and mapped back, and the restored frames are averaged, so the network's errors that
    depend on orientation partly cancel. It costs ``views`` times the network's operations and
    adds no weights (``net.`` prefixes the wrapped filter's parameter names). Mirroring keeps an
    even frame size even; the transpose swaps height and width.

    Args:
        net: The trained filter.
        views: 1, 2, 4 or 8.
    """

    def __init__(self, net: nn.Module, views: int) -> None:
        super().__init__()
        if views not in VIEWS:
            raise ValueError(f"views must be one of {VIEWS}, not {views}")
        self.net, self.views = net, int(views)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[N, 1, H, W] coded luma -> the mean of the views' restored luma."""
        outs = [_unview(self.net(_view(x, k)), k) for k in range(self.views)]
        return outs[0] if self.views == 1 else torch.stack(outs).mean(0)
