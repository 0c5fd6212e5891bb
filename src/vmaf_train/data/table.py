"""The features table: one row per distorted frame, with an explicit pyarrow schema.

This module owns the schema (documented in docs/training.md), writing tables deterministically
and atomically, and reading them back with validation that names the bad column.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from vmaf_tiny.errors import BadInputError
from vmaf_tiny.features import CANONICAL6, EXTRAS
from vmaf_tiny.fsutil import atomic_path

__all__ = [
    "EXTRA_COLUMNS",
    "FEATURE_COLUMNS",
    "SCHEMA",
    "SCHEMA_VERSION",
    "read_features",
    "rows_to_table",
    "write_features",
]

SCHEMA_VERSION = "1"
FEATURE_COLUMNS: tuple[str, ...] = CANONICAL6
EXTRA_COLUMNS: tuple[str, ...] = tuple(EXTRAS)

# (name, type, nullable, description) -- docs/training.md is written from this list.
_FIELDS: list[tuple[str, pa.DataType, bool, str]] = [
    ("key", pa.string(), False, "distorted clip id (unique per clip)"),
    ("source_id", pa.string(), False, "content id: the LOSO group and the split unit"),
    ("source_kind", pa.string(), False, "natural | synthetic | user"),
    ("frame", pa.int32(), False, "0-based frame index within the clip"),
    ("distortion", pa.string(), False, "encode | ladder | scale | user"),
    (
        "codec",
        pa.string(),
        False,
        "encoder (libx264, libx265, libvpx-vp9, libsvtav1, "
        "libaom-av1), 'none' for pure scaling, 'unknown' when it cannot be read",
    ),
    ("preset", pa.string(), False, "encoder preset/speed as given to the encoder, '' if none"),
    ("crf", pa.float32(), True, "CRF, null if not applicable or unknown"),
    ("encode_width", pa.int32(), False, "width the distorted clip was encoded at"),
    ("encode_height", pa.int32(), False, "height the distorted clip was encoded at"),
    ("width", pa.int32(), False, "scoring width (the reference's)"),
    ("height", pa.int32(), False, "scoring height (the reference's)"),
    ("bitrate_kbps", pa.float64(), True, "video bitrate of the distorted clip, null if raw"),
    *[(c, pa.float64(), False, f"libvmaf integer_{c}") for c in CANONICAL6],
    ("vmaf", pa.float64(), False, "teacher score, libvmaf vmaf_v0.6.1"),
    *[(c, pa.float64(), True, f"libvmaf extra {c} (null if not computed)") for c in EXTRAS],
    ("mos", pa.float64(), True, "subjective score for user data, null otherwise"),
]

SCHEMA: pa.Schema = pa.schema(
    [pa.field(n, t, nullable=nl, metadata={"description": d}) for n, t, nl, d in _FIELDS]
)
_REQUIRED_NUMERIC = (*CANONICAL6, "vmaf")


def describe_schema() -> list[tuple[str, str, bool, str]]:
    """(name, arrow type, nullable, description) for every column, for docs."""
    return [(n, str(t), nl, d) for n, t, nl, d in _FIELDS]


def rows_to_table(
    rows: Iterable[Mapping[str, Any]], metadata: Mapping[str, str] | None = None
) -> pa.Table:
    """Build a table with the exact schema from dict rows (missing nullable keys -> null)."""
    rows = list(rows)
    arrays = []
    for f in SCHEMA:
        vals = [r.get(f.name) for r in rows]
        if not f.nullable and any(v is None for v in vals):
            raise BadInputError(f"column {f.name!r} has {sum(v is None for v in vals)} null rows")
        if pa.types.is_floating(f.type):
            vals = [
                None if v is None or (isinstance(v, float) and np.isnan(v)) else v for v in vals
            ]
        arrays.append(pa.array(vals, type=f.type))
    meta = {b"vmaf_tiny.schema_version": SCHEMA_VERSION.encode()}
    for k, v in (metadata or {}).items():
        meta[f"vmaf_tiny.{k}".encode()] = str(v).encode()
    return pa.Table.from_arrays(arrays, schema=SCHEMA.with_metadata(meta))


def write_features(table: pa.Table, path: str | os.PathLike[str]) -> None:
    """Write deterministically (fixed row groups, zstd, no timestamps) and atomically."""
    with atomic_path(path) as tmp:
        pq.write_table(
            table,
            tmp,
            compression="zstd",
            row_group_size=1 << 20,
            use_dictionary=["key", "source_id", "source_kind", "distortion", "codec", "preset"],
            write_statistics=True,
        )


def table_metadata(table: pa.Table) -> dict[str, str]:
    """The ``vmaf_tiny.*`` schema metadata as a plain dict (prefix removed)."""
    meta = table.schema.metadata or {}
    return {
        k.decode()[len("vmaf_tiny.") :]: v.decode()
        for k, v in meta.items()
        if k.startswith(b"vmaf_tiny.")
    }


def read_features(
    path: str | os.PathLike[str],
    *,
    require: Sequence[str] = (),
    finite: Sequence[str] = _REQUIRED_NUMERIC,
) -> pa.Table:
    """Read and validate a features table.

    Args:
        path: The parquet file.
        require: Extra columns that must be present and non-null (e.g. ``("mos",)``).
        finite: Numeric columns that must be finite in every row.

    Raises:
        BadInputError: missing file, not parquet, a missing column, a wrong dtype, or NaN/inf
            values; the message names the column and how many rows.
    """
    p = Path(path)
    if not p.is_file():
        raise BadInputError(f"no such features file: {p}")
    try:
        table = pq.read_table(p)
    except (pa.ArrowInvalid, OSError) as exc:
        raise BadInputError(f"{p.name}: not a readable parquet file ({exc})") from exc
    names = set(table.column_names)
    base = ("key", "source_id", "frame", *_REQUIRED_NUMERIC)
    for col in (*base, *require):
        if col not in names:
            raise BadInputError(f"{p.name}: missing column {col!r} ({table.num_rows} rows)")
    for col in table.column_names:
        if col not in SCHEMA.names:
            continue
        want = SCHEMA.field(col).type
        got = table.schema.field(col).type
        ok = (
            got == want
            or (
                pa.types.is_floating(want)
                and (pa.types.is_floating(got) or pa.types.is_integer(got))
            )
            or (pa.types.is_integer(want) and pa.types.is_integer(got))
            or (
                pa.types.is_string(want)
                and (pa.types.is_string(got) or pa.types.is_large_string(got))
            )
        )
        if not ok:
            raise BadInputError(f"{p.name}: column {col!r} has dtype {got}, expected {want}")
    for col in (*finite, *require):
        if col not in names:
            continue
        arr = table.column(col)
        if pa.types.is_floating(arr.type) or pa.types.is_integer(arr.type):
            vals = arr.to_numpy(zero_copy_only=False).astype(np.float64)
            bad = int((~np.isfinite(vals)).sum())
            if bad:
                raise BadInputError(
                    f"{p.name}: column {col!r} has {bad} of {table.num_rows} rows NaN/inf/null"
                )
        elif arr.null_count:
            raise BadInputError(
                f"{p.name}: column {col!r} has {arr.null_count} of {table.num_rows} rows null"
            )
    if table.num_rows == 0:
        raise BadInputError(f"{p.name}: features table has no rows")
    return table
