"""Training rows from a features table: arrays, source-level splits and row subsets."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pyarrow as pa

from vmaf_tiny.errors import BadInputError
from vmaf_tiny.features import CANONICAL6
from vmaf_train.data.extra_teachers import CORPUS_TEACHERS, teacher_columns
from vmaf_train.data.splits import Splits, split_keys
from vmaf_train.data.table import read_features
from vmaf_train.models.codec import block_spec, codec_matrix
from vmaf_train.recipes import ModelConfig, SplitConfig

__all__ = [
    "SPLITS",
    "FRData",
    "load_fr_data",
    "read_table_for",
    "source_splits",
    "split_data",
]

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class FRData:
    """Row-aligned arrays for FR training and evaluation.

    Attributes:
        features: (n, F) float64 input features as stored (the canonical-6 unless the model
            names others), raw (not standardised); converted to the model's float32 input
            exactly as the runtime converts them.
        codec: (n, K) float32 codec block, or None for canonical-6-only models.
        target: (n,) float64 target (``vmaf`` or ``mos``).
        key: (n,) clip keys.
        source_id: (n,) content ids.
        source_kind: (n,) natural | synthetic | user.
        frame: (n,) frame indices.
        vmaf: (n,) vmaf_v0.6.1 scores (the SVM baseline on the same rows).
    """

    features: np.ndarray
    codec: np.ndarray | None
    target: np.ndarray
    key: np.ndarray
    source_id: np.ndarray
    source_kind: np.ndarray
    frame: np.ndarray
    vmaf: np.ndarray

    @property
    def n(self) -> int:
        return int(self.target.shape[0])

    @property
    def sources(self) -> list[str]:
        return sorted({str(s) for s in self.source_id})

    def subset(self, mask: np.ndarray) -> FRData:
        """Rows where ``mask`` is true (boolean array) or at the given indices."""
        return replace(
            self,
            features=self.features[mask],
            codec=None if self.codec is None else self.codec[mask],
            target=self.target[mask],
            key=self.key[mask],
            source_id=self.source_id[mask],
            source_kind=self.source_kind[mask],
            frame=self.frame[mask],
            vmaf=self.vmaf[mask],
        )

    def of_sources(self, sources: list[str] | set[str]) -> FRData:
        """Rows whose ``source_id`` is in ``sources``."""
        return self.subset(np.isin(self.source_id, list(sources)))


def read_table_for(path: str | os.PathLike[str], target: str) -> pa.Table:
    """Read and validate a features table for a target (present and finite, if not ``vmaf``)."""
    require = (target,) if target != "vmaf" else ()
    return read_features(path, require=require)


def _col(table: pa.Table, name: str) -> np.ndarray:
    return table.column(name).to_numpy(zero_copy_only=False)


def load_fr_data(
    table: pa.Table,
    *,
    target: str = "vmaf",
    codec_block: str | dict[str, Any] = "",
    features: Sequence[str] = CANONICAL6,
) -> FRData:
    """Arrays for a model from a validated table.

    Args:
        table: From :func:`vmaf_train.data.table.read_features`.
        target: The column to learn (``vmaf``, ``vmaf_neg``, ``vmaf_4k``, ``mos``).
        codec_block: ``""``, a block version (``"v2"``/``"v3"``) or a sidecar ``codec_block``.

    Raises:
        BadInputError: a missing column or null targets.
    """
    missing = [
        c
        for c in (*features, target, "key", "source_id", "frame", "vmaf")
        if c not in table.column_names
    ]
    if missing:
        hint = ""
        if missing[0] in teacher_columns(CORPUS_TEACHERS):
            hint = "; build the corpus with teachers = [...] in its config (docs/training.md)"
        raise BadInputError(
            f"features table lacks column {missing[0]!r} ({table.num_rows} rows){hint}"
        )
    y = np.asarray(_col(table, target), dtype=np.float64)
    bad = int((~np.isfinite(y)).sum())
    if bad:
        raise BadInputError(f"column {target!r} has {bad} of {y.size} rows NaN/inf/null")
    spec = block_spec(codec_block) if isinstance(codec_block, str) else codec_block
    kinds = (
        _col(table, "source_kind").astype(str)
        if "source_kind" in table.column_names
        else np.full(table.num_rows, "user")
    )
    return FRData(
        features=np.stack([_col(table, c) for c in features], axis=1).astype(np.float64),
        codec=None if not spec else codec_matrix(table, spec),
        target=y,
        key=_col(table, "key").astype(str),
        source_id=_col(table, "source_id").astype(str),
        source_kind=kinds,
        frame=np.asarray(_col(table, "frame"), dtype=np.int64),
        vmaf=np.asarray(_col(table, "vmaf"), dtype=np.float64),
    )


def source_splits(sources: list[str] | np.ndarray, split: SplitConfig) -> Splits:
    """Train/val/test over unique source ids (``split_keys`` with the config's fractions)."""
    uniq = sorted({str(s) for s in sources})
    return split_keys(uniq, val_frac=split.val_frac, test_frac=split.test_frac, salt=split.salt)


def split_data(data: FRData, cfg: ModelConfig | SplitConfig) -> tuple[dict[str, FRData], Splits]:
    """Rows per split.

    Raises:
        BadInputError: a split gets no source (too few sources for the fractions).
    """
    split = cfg.split if isinstance(cfg, ModelConfig) else cfg
    splits = source_splits(data.source_id, split)
    parts: dict[str, FRData] = {}
    for name in SPLITS:
        srcs = getattr(splits, name)
        if not srcs:
            raise BadInputError(
                f"the {name} split is empty: {len(data.sources)} sources with val_frac "
                f"{split.val_frac} and test_frac {split.test_frac} (salt {split.salt!r}); "
                "use more sources or larger fractions "
                "(--set split.val_frac=F --set split.test_frac=F)"
            )
        parts[name] = data.of_sources(set(srcs))
    return parts, splits
