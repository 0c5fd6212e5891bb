"""Model architectures: the pixel models (NR metric, learned filter, saliency student)."""

from __future__ import annotations

from vmaf_train.models.filter import ResidualFilter
from vmaf_train.models.nr import NRNet, ds_block
from vmaf_train.models.saliency import SaliencyStudent

__all__ = ["NRNet", "ResidualFilter", "SaliencyStudent", "ds_block"]
