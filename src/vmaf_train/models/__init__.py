"""Model architectures: the FR MLPs (with their input wiring) and the pixel models."""

from __future__ import annotations

from vmaf_train.models.codec import block_spec, codec_matrix
from vmaf_train.models.filter import ResidualFilter, UnshuffleFilter
from vmaf_train.models.mlp import FRMLP, Standardize, count_parameters, make_activation
from vmaf_train.models.nr import MSCN, GradStats, NRNet, StatsNRNet, ds_block
from vmaf_train.models.saliency import LowResSaliencyStudent, SaliencyStudent

__all__ = [
    "FRMLP",
    "MSCN",
    "GradStats",
    "LowResSaliencyStudent",
    "NRNet",
    "ResidualFilter",
    "SaliencyStudent",
    "Standardize",
    "StatsNRNet",
    "UnshuffleFilter",
    "block_spec",
    "codec_matrix",
    "count_parameters",
    "ds_block",
    "make_activation",
]
