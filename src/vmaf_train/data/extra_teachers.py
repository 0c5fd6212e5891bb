"""More libvmaf teachers in a corpus: extra table columns for students of other VMAF models.

A corpus config with ``teachers = ["vmaf_v0.6.1neg", "vmaf_4k_v0.6.1"]`` scores those libvmaf
models in the same pass as vmaf_v0.6.1 (:func:`vmaf_tiny.features.extract_features`,
``teachers=``) and stores, after the fixed schema and before any ``fast_*`` columns:

* one column of per-frame scores per teacher (``vmaf_neg``, ``vmaf_4k``: names from
  :data:`vmaf_tiny.features.TEACHER_COLUMNS`), and
* for the NEG model, its own inputs, libvmaf's adm and vif with enhancement gain limit 1
  (``adm2_egl_1``, ``vif_scale0_egl_1`` .. ``vif_scale3_egl_1``; motion2 is shared and already
  a column).

The existing columns keep their values (the extra models add extractors, they do not change the
canonical ones), and a config without ``teachers`` gets no extra column: its table and manifest
are byte-for-byte what they were.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from vmaf_tiny.features import NEG_FEATURES, TEACHER_COLUMNS, TEACHER_MODEL

__all__ = [
    "CORPUS_TEACHERS",
    "attach_teacher_columns",
    "describe_teacher_columns",
    "teacher_columns",
    "teacher_features",
]

#: Teachers a corpus may add beside vmaf_v0.6.1.
CORPUS_TEACHERS: tuple[str, ...] = tuple(t for t in TEACHER_COLUMNS if t != TEACHER_MODEL)
#: Features each teacher needs that the canonical-6 do not give.
_TEACHER_FEATURES: dict[str, tuple[str, ...]] = {
    "vmaf_v0.6.1neg": tuple(f for f in NEG_FEATURES if f.endswith("_egl_1")),
}


def teacher_features(teachers: Sequence[str]) -> tuple[str, ...]:
    """The feature columns ``teachers`` add (the NEG model's ``*_egl_1`` inputs)."""
    return tuple(dict.fromkeys(f for t in teachers for f in _TEACHER_FEATURES.get(t, ())))


def teacher_columns(teachers: Sequence[str]) -> tuple[str, ...]:
    """Every column ``teachers`` add, in table order: scores first, then features."""
    ordered = [t for t in CORPUS_TEACHERS if t in teachers]
    return (*(TEACHER_COLUMNS[t] for t in ordered), *teacher_features(ordered))


def describe_teacher_columns() -> list[tuple[str, str, bool, str]]:
    """(name, arrow type, nullable, description) of every possible teacher column, for docs."""
    rows = [
        (
            TEACHER_COLUMNS[t],
            "double",
            False,
            f"teacher score, libvmaf {t} (only with `teachers` naming it)",
        )
        for t in CORPUS_TEACHERS
    ]
    rows += [
        (
            f,
            "double",
            False,
            f"libvmaf integer_{f}, a NEG-mode input (only with `teachers` naming vmaf_v0.6.1neg)",
        )
        for f in teacher_features(CORPUS_TEACHERS)
    ]
    return rows


def attach_teacher_columns(
    table: pa.Table, rows: Sequence[Mapping[str, Any]], teachers: Sequence[str]
) -> pa.Table:
    """Append the teachers' columns (from ``rows``) to ``table``; no teachers: ``table`` as is."""
    for name in teacher_columns(teachers):
        vals = np.asarray([r[name] for r in rows], dtype=np.float64)
        field = pa.field(
            name,
            pa.float64(),
            nullable=False,
            metadata={"description": _description(name)},
        )
        table = table.append_column(field, pa.array(vals, type=pa.float64()))
    return table


def _description(name: str) -> str:
    return next(d for n, _, _, d in describe_teacher_columns() if n == name)
