"""Codec-block wiring for codec-aware FR models (fr_regressor_v2/v3).

The block itself (slots, one-hot, preset/CRF normalisation) is defined once in
:mod:`vmaf_tiny.codec` and used unchanged by the runtime at scoring time; this module only turns
table columns into that block and names its versions.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from vmaf_tiny.codec import codec_block_spec, codec_columns
from vmaf_tiny.errors import BadInputError

__all__ = ["block_spec", "codec_matrix"]


def block_spec(version: str) -> dict[str, Any] | None:
    """The sidecar ``codec_block`` for a config's ``arch.codec_block`` (None when empty)."""
    return codec_block_spec(version) if version else None


def codec_matrix(table: pa.Table, spec: dict[str, Any]) -> np.ndarray:
    """Build the (rows, width) float32 codec block from a features table's codec fields.

    Raises:
        BadInputError: the table lacks ``codec``, ``preset`` or ``crf``.
    """
    for col in ("codec", "preset", "crf"):
        if col not in table.column_names:
            raise BadInputError(
                f"codec-aware model needs column {col!r}, missing in the features table "
                f"({table.num_rows} rows)"
            )
    codec = [c if c is not None else "unknown" for c in table.column("codec").to_pylist()]
    preset = table.column("preset").to_pylist()
    crf = table.column("crf").to_pylist()
    return codec_columns(spec, codec, preset, crf)
