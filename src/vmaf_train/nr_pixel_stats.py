"""The fixed statistics of ``nr_metric_v2``: a (frame, previous frame) pair -> one row per frame.

:class:`TemporalStats` computes, with default-domain ONNX operators only (it is exported into
the model graph):

* the ``nr_metric_v1`` sharpness statistics (:class:`~vmaf_train.models.nr.GradStats`) at four
  scales (1, 2, 4, 8) and the 8-pixel grid blockiness ratios (26);
* flat-block fractions: the share of 4x4 blocks whose mean absolute neighbour difference is below
  0.5, 1, 2, 4 (of 255) at full scale and 0.5, 1, 2 at half scale (7; in the table and the
  ablation only: the shipped model leaves them out, they lowered the LOSO figures);
* temporal statistics: the share of 4x4 blocks whose mean absolute frame difference is below
  0.1, 0.5, 2 (of 255; skipped / copied blocks), and the log mean absolute frame difference at
  scales 1, 2, 4, 8 (7; motion, which masks distortion in vmaf_v0.6.1, and coding flicker);
* :class:`MSCNStats` at half scale (15): the distribution of mean-subtracted contrast-normalised
  coefficients, in the spirit of BRISQUE/NIQE, which is close to content-independent on
  pristine natural images and bent by blur, ringing and blocking.
"""

from __future__ import annotations

import torch
from torch import nn

from vmaf_train.models.nr import GradStats

__all__ = ["FEATURE_NAMES", "MODEL_STATISTICS", "MSCN_NAMES", "MSCNStats", "TemporalStats"]

_SCALES = (1, 2, 4, 8)
_FLAT = (0.5, 1.0, 2.0, 4.0)
_FLAT_HALF = (0.5, 1.0, 2.0)
_STATIC = (0.1, 0.5, 2.0)
_EPS = 1e-6
_DIRS = ("h", "v", "d1", "d2")
#: :class:`MSCNStats`'s outputs, in order.
MSCN_NAMES: tuple[str, ...] = (
    "mscn_s2_logvar",
    "mscn_s2_shape",
    "mscn_s2_kurt",
    *(f"mscn_s2_{d}_{q}" for d in _DIRS for q in ("mean", "lpos", "lneg")),
)
FEATURE_NAMES: tuple[str, ...] = (
    *(f"s{s}_{st}_{d}" for s in _SCALES for st in ("abs", "sq") for d in ("dx", "dy", "lap")),
    "grid8_cols",
    "grid8_rows",
    *(f"flat_lt{t:g}" for t in _FLAT),
    *(f"flat2_lt{t:g}" for t in _FLAT_HALF),
    *(f"static_lt{t:g}" for t in _STATIC),
    *(f"tdiff_s{s}" for s in _SCALES),
    *MSCN_NAMES,
)
#: The shipped model's inputs: the table's statistics without the flat-block fractions, which
#: lowered the leave-one-family-out figures (the fit's ``ablations`` report both).
MODEL_STATISTICS: tuple[str, ...] = tuple(n for n in FEATURE_NAMES if not n.startswith("flat"))


def _mean(t: torch.Tensor) -> torch.Tensor:
    return t.mean(dim=(1, 2, 3))


def _log(t: torch.Tensor) -> torch.Tensor:
    return torch.log(t + _EPS)


class MSCNStats(nn.Module):
    """MSCN coefficient statistics of one luma frame at half scale: [N, 1, H, W] -> [N, 15].

    The frame is average-pooled 2x2; each pixel's coefficient is ``(y - mu) / (sigma + 1/255)``
    with ``mu`` and ``sigma`` the mean and standard deviation of its 3x3 neighbourhood (valid
    positions only). Statistics (names in :data:`MSCN_NAMES`): the log mean square, a shape
    ratio ``log(E|m|^2 / E[m^2])`` (generalised-Gaussian shape) and the log kurtosis; for the
    products of horizontal, vertical and both diagonal neighbours, the mean (correlation) and
    the log mean square of the positive and of the negative part (an asymmetric Gaussian's two
    variances). Full scale measured 2.5x the cost of all other statistics together on ONNX
    Runtime, so it is left out (the fps goal).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[N, 1, H, W] luma in [0, 1] -> [N, 15]."""
        f = nn.functional
        y = f.avg_pool2d(x, 2, 2)
        mu = f.avg_pool2d(y, 3, 1)
        var = (f.avg_pool2d(y * y, 3, 1) - mu * mu).clamp(min=0.0)
        centre = y[:, :, 1 : y.shape[2] - 1, 1 : y.shape[3] - 1]
        m = (centre - mu) / (torch.sqrt(var) + 1.0 / 255.0)
        m2 = _mean(m * m)
        ma = _mean(m.abs())
        m4 = _mean(m * m * m * m)
        out = [_log(m2), _log(ma * ma) - _log(m2), _log(m4) - 2 * _log(m2)]
        for p in (
            m[:, :, :, :-1] * m[:, :, :, 1:],
            m[:, :, :-1, :] * m[:, :, 1:, :],
            m[:, :, :-1, :-1] * m[:, :, 1:, 1:],
            m[:, :, :-1, 1:] * m[:, :, 1:, :-1],
        ):
            pos, neg = torch.relu(p), torch.relu(-p)
            out += [_mean(p), _log(_mean(pos * pos)), _log(_mean(neg * neg))]
        return torch.stack(out, dim=1)


class TemporalStats(nn.Module):
    """Fixed statistics of a (frame, previous frame) pair: [N, 2, H, W] -> [N, S].

    See the module docstring for the list; the order is :data:`FEATURE_NAMES` (``flat=True``,
    the table's 55) or :data:`MODEL_STATISTICS` (``flat=False``, the shipped model's 48).

    Args:
        flat: Include the 7 flat-block fractions.
    """

    def __init__(self, flat: bool = True) -> None:
        super().__init__()
        self.grad = GradStats(_SCALES)
        self.mscn = MSCNStats()
        self.flat = bool(flat)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[N, 2, H, W] luma in [0, 1] (channel 1: the previous frame) -> [N, S]."""
        f = nn.functional
        cur, prev = x[:, 0:1], x[:, 1:2]
        out: list[torch.Tensor] = [self.grad(cur)]
        fracs: list[torch.Tensor] = []
        if self.flat:
            bank = self.grad.bank[:24]  # the neighbour differences of the 4x4 bank
            e1 = f.conv2d(cur, bank, stride=4).abs().mean(dim=1)
            e2 = f.conv2d(f.avg_pool2d(cur, 2, 2), bank, stride=4).abs().mean(dim=1)
            fracs += [(e1 < v / 255.0).float().mean(dim=(1, 2)) for v in _FLAT]
            fracs += [(e2 < v / 255.0).float().mean(dim=(1, 2)) for v in _FLAT_HALF]
        t = cur - prev
        tb = f.avg_pool2d(t.abs(), 4, 4)[:, 0]
        fracs += [(tb < v / 255.0).float().mean(dim=(1, 2)) for v in _STATIC]
        y = t
        for i, _ in enumerate(_SCALES):
            if i:
                y = f.avg_pool2d(y, 2, 2)
            fracs.append(torch.log(y.abs().mean(dim=(1, 2, 3)) + 1e-6))
        out += [torch.stack(fracs, dim=1), self.mscn(cur)]
        return torch.cat(out, dim=1)
