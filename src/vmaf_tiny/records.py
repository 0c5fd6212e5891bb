"""Per-frame records: one row per scored frame, the same fields in CSV, JSON and numpy.

A :class:`FrameRecords` holds ordered columns of equal length: ``frame`` (the frame's index in
the pair, as libvmaf numbers it), ``time_s`` (index over the pair's frame rate), the canonical-6
features, one column per model (named by its id), the teacher's score (named by the teacher,
e.g. ``vmaf_v0.6.1``) with ``--with-svm``, the requested extras (``psnr_y``, ...) and, for
models that report one, ``<model>_uncertainty``. Missing values are NaN (empty in CSV, null in
JSON). The builders are pure functions over arrays; :mod:`vmaf_tiny.cli.score_output` renders.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from vmaf_tiny._lazy import numpy as np  # numpy on first use (start-up)
from vmaf_tiny.errors import BadInputError

if TYPE_CHECKING:
    from vmaf_tiny.features_log import FeatureResult

__all__ = ["FrameRecords", "feature_records", "frame_records", "join_records"]

#: Columns that hold integers.
_INT_COLUMNS = ("frame",)


class FrameRecords(Mapping[str, Any]):
    """Ordered per-frame columns (name -> 1-D numpy array), one row per scored frame.

    A read-only mapping: ``records["adm2"]`` is a numpy array, ``dict(records)`` a dict of
    arrays, :meth:`to_structured` a numpy structured array, :meth:`to_rows` JSON-ready rows and
    :meth:`to_csv` tidy CSV text. As for any mapping, ``len(records)`` counts columns;
    :attr:`n_rows` counts frames.
    """

    def __init__(self, columns: Mapping[str, Any]) -> None:
        cols: dict[str, np.ndarray] = {}
        n = None
        for name, values in columns.items():
            dtype = np.int64 if name in _INT_COLUMNS else np.float64
            arr = np.asarray(values, dtype=dtype).reshape(-1)
            if n is not None and arr.shape[0] != n:
                raise BadInputError(
                    f"per-frame column {name!r} has {arr.shape[0]} rows, the others {n}"
                )
            n = arr.shape[0]
            cols[name] = arr
        self._cols = cols
        self._n = n or 0

    def __getitem__(self, name: str) -> Any:
        return self._cols[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._cols)

    def __len__(self) -> int:
        return len(self._cols)

    @property
    def names(self) -> list[str]:
        """Column names in order."""
        return list(self._cols)

    @property
    def n_rows(self) -> int:
        """Number of frames (rows)."""
        return self._n

    def to_structured(self) -> np.ndarray:
        """The records as a numpy structured array (``frame`` int64, the rest float64)."""
        dtype = [(k, v.dtype) for k, v in self._cols.items()]
        out = np.empty(self._n, dtype=dtype)
        for k, v in self._cols.items():
            out[k] = v
        return out

    def to_rows(self) -> list[dict[str, Any]]:
        """One dict per frame (NaN as None): what JSON output holds."""
        rows: list[dict[str, Any]] = []
        lists = {k: v.tolist() for k, v in self._cols.items()}
        for i in range(self._n):
            row: dict[str, Any] = {}
            for k, col in lists.items():
                v = col[i]
                row[k] = None if isinstance(v, float) and not math.isfinite(v) else v
            rows.append(row)
        return rows

    def to_csv(self) -> str:
        """Tidy CSV: a header, then one row per frame (floats to 6 decimals, NaN empty)."""
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(self.names)
        lists = [(k in _INT_COLUMNS, v.tolist()) for k, v in self._cols.items()]
        for i in range(self._n):
            line = []
            for is_int, col in lists:
                v = col[i]
                if is_int:
                    line.append(str(v))
                else:
                    line.append(f"{v:.6f}" if math.isfinite(v) else "")
            w.writerow(line)
        return buf.getvalue()


def frame_records(
    frame_index: Sequence[int] | np.ndarray,
    fps: float,
    columns: Mapping[str, np.ndarray] | None = None,
) -> FrameRecords:
    """Records of frames known by index: ``frame``, ``time_s`` (index / fps), then ``columns``."""
    idx = np.asarray(frame_index, dtype=np.int64)
    rate = fps if fps > 0 else 25.0
    cols: dict[str, Any] = {"frame": idx, "time_s": idx.astype(np.float64) / rate}
    cols.update(columns or {})
    return FrameRecords(cols)


def feature_records(
    feats: FeatureResult,
    scores: Mapping[str, np.ndarray],
    *,
    with_teacher: bool = False,
    extras: Sequence[str] = (),
) -> FrameRecords:
    """Records of one libvmaf pass: frame, time, canonical-6 (and the NEG-mode features when the
    pass has them), each model's scores, the teacher (with ``with_teacher``) and the extras.

    Args:
        feats: The pass (:func:`vmaf_tiny.features.extract_features`).
        scores: model id -> per-frame scores over the pass's frames.
        with_teacher: Add the teacher's per-frame score, named by the teacher.
        extras: Extra columns of the pass to add (``psnr_y``, ...).
    """
    from vmaf_tiny.features_names import CANONICAL6, NEG_FEATURES

    # the NEG-mode features too when the pass computed them (a NEG student was scored)
    names = dict.fromkeys([*CANONICAL6, *(f for f in NEG_FEATURES if f in feats.columns)])
    cols: dict[str, Any] = {name: feats.columns[name] for name in names}
    cols.update(scores)
    if with_teacher:
        cols[feats.teacher] = feats.teacher_scores
    for e in extras:
        cols[e] = feats.columns[e]
    return frame_records(feats.frames, feats.fps, cols)


def join_records(base: FrameRecords, other: FrameRecords) -> FrameRecords:
    """Add ``other``'s columns to ``base`` by frame index (NaN where ``other`` lacks a frame)."""
    where = {int(f): i for i, f in enumerate(other["frame"].tolist())}
    pick = np.asarray([where.get(int(f), -1) for f in base["frame"].tolist()], dtype=np.int64)
    cols: dict[str, Any] = dict(base)
    for name in other:
        if name in ("frame", "time_s") or name in cols:
            continue
        col = np.full(base.n_rows, np.nan)
        ok = pick >= 0
        col[ok] = other[name][pick[ok]]
        cols[name] = col
    return FrameRecords(cols)
