"""The learned filter network (C3): coded luma -> restored luma (residual CNN).

``y = x + r(x)``: a few 3x3 convolutions (ReLU) predict a correction that is added to the input.
The last layer starts at zero, so the untrained filter is the identity. No clamp in the graph:
the runtime clips to [0, 1] and counts how many pixels it had to clip (an audit figure).

With ``center`` c > 0 the body sees the re-centred luma ``(x - 0.5) * c`` and its correction is
divided by c: ``y = x + r((x - 0.5) * c) / c``. Coding errors are a few 8-bit steps; on raw [0, 1]
luma the body's output (and its gradients) are tiny next to its inputs and plain Adam learns
next to nothing (+0.001 dB); re-centred and amplified it does (``learned_filter_v2``: c = 4).

With ``grid`` g > 0 the network knows where each pixel sits in the codec's g x g block grid
(anchored at the frame's top-left corner, where every codec puts it): each hidden layer adds a
learned bias per channel and per position in the block (:class:`GridBias`), so it can treat a
block's edge unlike its inside, as a deblocking filter does. The biases start at zero (the
network is then exactly the one without them). They add no convolution, but filling and adding
the bias maps is memory traffic: on all four layers of ``learned_filter_v2``'s network it costs
about a third of its speed (``learned_filter_v8`` in docs/training.md).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from vmaf_train.recipes.pixel import FILTER_VIEWS as VIEWS

__all__ = ["VIEWS", "FilterViews", "GridBias", "ResidualFilter", "UnshuffleFilter"]


class ResidualFilter(nn.Module):
    """Residual restoration CNN.

    Args:
        width: Channels of the hidden layers.
        depth: Number of hidden 3x3 layers after the first.
        center: > 0: the body sees ``(x - 0.5) * center``, its correction is divided by it.
        grid: > 0: the block grid's period in pixels; the first ``grid_layers`` hidden layers
            add a bias per position in it (:class:`GridBias`).
        grid_layers: How many hidden layers (1 .. depth + 1) get grid biases.
    """

    def __init__(
        self,
        width: int = 16,
        depth: int = 3,
        center: float = 0.0,
        grid: int = 0,
        grid_layers: int = 1,
    ) -> None:
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
        self.grid_bias = _grid_bias(width, depth, int(grid), grid_layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[N, 1, H, W] coded luma in [0, 1] -> [N, 1, H, W] restored luma (unclipped)."""
        return _residual(self.body, x, self.center, self.grid_bias)


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
        grid: > 0: the block grid's period in full-resolution pixels (a multiple of ``scale``);
            the first ``grid_layers`` hidden layers add a bias per position in it
            (:class:`GridBias`).
        grid_layers: How many hidden layers (1 .. depth + 1) get grid biases.
    """

    def __init__(
        self,
        width: int = 16,
        depth: int = 3,
        scale: int = 2,
        center: float = 0.0,
        grid: int = 0,
        grid_layers: int = 1,
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
        if grid and grid % self.scale:
            raise ValueError(f"grid {grid} is not a multiple of scale {self.scale}")
        self.grid_bias = _grid_bias(width, depth, int(grid) // self.scale, grid_layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[N, 1, H, W] coded luma in [0, 1] (H, W even) -> restored luma (unclipped)."""
        return _residual(self.body, x, self.center, self.grid_bias)


class GridBias(nn.Module):
    """Learned biases, one per hidden layer, channel and position in a ``period``-square grid.

    ``tile(k, h)`` tiles layer k's biases over a feature map of h's height and width (from its
    top-left corner; the last tile is cut) as ``[1, channels, H, W]``: one layer at a time, so the
    largest tensor is one hidden layer's activations rounded up to whole tiles (the same size when
    the period divides the frame). In the exported graph the tiling is an Expand and a Reshape
    whose sizes come from the input's shape (:class:`_TileGrid`), so the runtime's load-time
    bounds check can bound it for any frame size. Starts at zero.
    """

    def __init__(self, layers: int, channels: int, period: int) -> None:
        super().__init__()
        if period < 1:
            raise ValueError(f"grid period must be >= 1, got {period}")
        self.layers, self.channels, self.period = int(layers), int(channels), int(period)
        # each [1, channels, 1, period, 1, period]: broadcast over the tiles as it is, so the
        # exported graph keeps it as a named initializer (``train.init`` reads it back)
        self.bias = nn.ParameterList(
            nn.Parameter(torch.zeros(1, channels, 1, period, 1, period)) for _ in range(layers)
        )

    def tile(self, layer: int, h: torch.Tensor) -> torch.Tensor:
        """Layer ``layer``'s biases tiled over ``h``'s spatial size: ``[1, channels, H, W]``."""
        q, bias = self.period, self.bias[layer]
        tiles = h[:1, :1, ::q, ::q]  # one per started tile
        if torch.onnx.is_in_onnx_export():
            tiled = _TileGrid.apply(bias, tiles)
        else:
            tiled = _tile(bias, tiles)
        return tiled[:, :, : h.shape[2], : h.shape[3]]


def _tile(bias: torch.Tensor, tiles: torch.Tensor) -> torch.Tensor:
    """``bias`` [1, n, 1, q, 1, q] repeated over ``tiles`` [1, 1, rows, cols]: [1, n, rows * q,
    cols * q] (differentiable; the export writes it as :class:`_TileGrid`'s nodes)."""
    n, q = bias.shape[1], bias.shape[3]
    rows, cols = tiles.shape[2], tiles.shape[3]
    return bias.expand(1, n, rows, q, cols, q).reshape(1, n, rows * q, cols * q)


class _TileGrid(torch.autograd.Function):
    """Export-time tiling: ``bias`` [1, n, 1, q, 1, q] over ``tiles`` [1, 1, rows, cols].

    Its ONNX form is ``Reshape(Expand(bias, [1, n, rows, q, cols, q]), [1, n, rows * q,
    cols * q])`` with rows and cols sliced from ``Shape(tiles)``: sizes ONNX shape inference
    propagates (torch's own ``expand`` and ``repeat`` add value-dependent nodes that the runtime's
    bounds check must refuse). Used only while exporting, never for gradients.
    """

    @staticmethod
    def forward(ctx: Any, bias: torch.Tensor, tiles: torch.Tensor) -> torch.Tensor:
        return _tile(bias, tiles)

    @staticmethod
    def symbolic(g: Any, bias: Any, tiles: Any) -> Any:
        """The ONNX nodes (TorchScript exporter)."""
        sizes = bias.type().sizes()
        n, q = int(sizes[1]), int(sizes[3])

        def const(v: list[int]) -> Any:
            return g.op("Constant", value_t=torch.tensor(v, dtype=torch.int64))

        shape = g.op("Shape", tiles)
        rows = g.op("Slice", shape, const([2]), const([3]), const([0]))
        cols = g.op("Slice", shape, const([3]), const([4]), const([0]))
        full = g.op("Concat", const([1, n]), rows, const([q]), cols, const([q]), axis_i=0)
        flat = g.op(
            "Concat",
            const([1, n]),
            g.op("Mul", rows, const([q])),
            g.op("Mul", cols, const([q])),
            axis_i=0,
        )
        return g.op("Reshape", g.op("Expand", bias, full), flat)


def _grid_bias(width: int, depth: int, period: int, layers: int) -> GridBias | None:
    """The grid biases of a filter (None: no grid) on its first ``layers`` hidden layers."""
    if not period:
        return None
    if not 1 <= layers <= depth + 1:
        raise ValueError(f"grid_layers must be in 1..{depth + 1}, got {layers}")
    return GridBias(layers, width, period)


def _residual(
    body: nn.Sequential, x: torch.Tensor, center: float, grid: GridBias | None = None
) -> torch.Tensor:
    """``x + body(x)``, or with ``center`` > 0 ``x + body((x - 0.5) * center) / center``;
    with ``grid``, each hidden convolution's output gets its layer's grid biases added."""
    h = (x - 0.5) * center if center > 0 else x
    layer = 0
    for mod in body:
        h = mod(h)
        if grid is not None and isinstance(mod, nn.Conv2d) and layer < grid.layers:
            h = h + grid.tile(layer, h)
            layer += 1
    return x + h * (1.0 / center) if center > 0 else x + h


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
