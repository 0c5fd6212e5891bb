"""The learned filter network (C3): coded luma -> restored luma (residual CNN).

``y = x + r(x)``: a few 3x3 convolutions (ReLU) predict a correction that is added to the input.
The last layer starts at zero, so the untrained filter is the identity. No clamp in the graph:
the runtime clips to [0, 1] and counts how many pixels it had to clip (an audit figure).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ResidualFilter"]


class ResidualFilter(nn.Module):
    """Residual restoration CNN.

    Args:
        width: Channels of the hidden layers.
        depth: Number of hidden 3x3 layers after the first.
    """

    def __init__(self, width: int = 16, depth: int = 3) -> None:
        super().__init__()
        self.width, self.depth = int(width), int(depth)
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
        return x + self.body(x)
