"""Fast-path features of corpus clips: extra table columns for training fast models.

A corpus config with ``extras = ["fast"]`` gets, for every clip and every operating point of
:data:`CORPUS_POINTS`, the fast pass's per-frame columns (:data:`vmaf_tiny.fast.FAST_FEATURES`)
as extra nullable columns ``fast_<point>_<feature>`` of ``features.parquet``: filled on the
frames the point scores (every ``subsample``-th), null elsewhere. They are computed by the
runtime's own :func:`vmaf_tiny.fast.extract_fast_features`, so a fast model is trained on exactly
what it is fed at scoring time, and training never re-encodes or re-scores anything. A config
without the extra gets no such columns (the table is byte-for-byte what it was).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from vmaf_tiny.fast import FAST_FEATURES, OperatingPoint, extract_fast_features
from vmaf_tiny.ffmpeg import FFmpeg
from vmaf_tiny.video import VideoInfo

__all__ = [
    "CORPUS_POINTS",
    "FAST_EXTRA",
    "attach_fast_columns",
    "clip_fast_columns",
    "column_name",
    "fast_points_spec",
    "point_columns",
    "point_key",
]

FAST_EXTRA = "fast"
# The operating points a corpus computes: the research grid, which includes the shipped levels.
# Bands are never stacked (seams bias libvmaf's score of the sample): each gets its own libvmaf;
# odd frame steps (every 2nd or 4th frame aliases with the alternating frame types of x264/x265
# GOPs: on the 30-frame clips of the `fast` corpus the teacher's own mean over every 2nd frame is
# 1.6 VMAF RMSE off the clip mean, over every 3rd 0.6; `benchmarks/fast_explore.py --temporal`).
CORPUS_POINTS: tuple[OperatingPoint, ...] = (
    OperatingPoint(bands=1, fraction=0.5, subsample=1),
    OperatingPoint(bands=1, fraction=0.375, subsample=3),
    OperatingPoint(bands=3, fraction=0.375, subsample=3),
    OperatingPoint(bands=1, fraction=0.25, subsample=3),
    OperatingPoint(bands=2, fraction=0.25, subsample=3),
    OperatingPoint(bands=1, fraction=0.125, subsample=7),
    OperatingPoint(bands=2, fraction=0.125, subsample=7),
    OperatingPoint(bands=1, fraction=0.0625, subsample=9),
)


def fast_points_spec() -> list[dict[str, Any]]:
    """The grid as data (it names cached corpus rows: a changed grid is recomputed)."""
    return [op.to_dict() for op in CORPUS_POINTS]


def point_key(op: OperatingPoint) -> str:
    """Column-safe name of an operating point, e.g. ``b4f0250k2``."""
    return f"b{op.bands}f{round(op.fraction * 1000):04d}k{op.subsample}"


def column_name(op: OperatingPoint, feature: str) -> str:
    """The table column of ``feature`` at operating point ``op``."""
    return f"fast_{point_key(op)}_{feature}"


def point_columns(op: OperatingPoint) -> dict[str, str]:
    """feature name -> table column, for every fast feature at ``op``."""
    return {f: column_name(op, f) for f in FAST_FEATURES}


def clip_fast_columns(
    reference: Path,
    clip: Path,
    *,
    ffmpeg: FFmpeg,
    distorted_info: VideoInfo | None = None,
    points: Sequence[OperatingPoint] = CORPUS_POINTS,
) -> dict[str, list[float | None]]:
    """Per-frame fast columns of one clip (None on frames a point does not score).

    Args:
        reference: The clip's reference (y4m).
        clip: The distorted clip.
        ffmpeg: The ffmpeg binary.
        distorted_info: A probe of the clip, if the caller has one.
        points: Operating points to compute.

    Returns:
        column name -> one value per frame of the clip.
    """
    out: dict[str, list[float | None]] = {}
    for op in points:
        feats = extract_fast_features(
            reference, clip, op, ffmpeg=ffmpeg, distorted_info=distorted_info
        )
        for name, col in point_columns(op).items():
            vals: list[float | None] = [None] * feats.n_frames
            for i, v in zip(feats.frame_index, feats.columns[name], strict=True):
                vals[int(i)] = float(v)
            out[col] = vals
    return out


def attach_fast_columns(table: pa.Table, rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    """Append the ``fast_*`` columns found in ``rows`` (in name order) to ``table``.

    Rows without fast columns leave the table unchanged (the same object).
    """
    names = sorted({k for r in rows[:1] for k in r if k.startswith("fast_")})
    if not names:
        return table
    for name in names:
        vals = [r.get(name) for r in rows]
        arr = pa.array(
            [None if v is None or np.isnan(v) else float(v) for v in vals], type=pa.float64()
        )
        field = pa.field(
            name, pa.float64(), nullable=True, metadata={"description": "fast-path feature"}
        )
        table = table.append_column(field, arr)
    return table
