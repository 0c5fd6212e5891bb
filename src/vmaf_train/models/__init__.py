"""Model architectures and input wiring for the trainable FR models."""

from __future__ import annotations

from vmaf_train.models.codec import block_spec, codec_matrix
from vmaf_train.models.mlp import FRMLP, Standardize, count_parameters, make_activation

__all__ = [
    "FRMLP",
    "Standardize",
    "block_spec",
    "codec_matrix",
    "count_parameters",
    "make_activation",
]
