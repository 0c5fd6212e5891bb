"""Evaluate an exported model on a features table: split selection, levels, SVM baseline.

``vmaf-train eval`` and every ``fit`` run report through here. The model runs through
:class:`vmaf_train.evaluate.predict.FRModel` (ONNX Runtime, sidecar-driven). The SVM baseline
is the upstream vmaf_v0.6.1 SVM as libvmaf ran it when the table was built: the table's ``vmaf``
column, on the same rows.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from vmaf_tiny.errors import BadInputError
from vmaf_tiny.features import CANONICAL6
from vmaf_tiny.fsutil import atomic_path
from vmaf_train.data.dataset import SPLITS, FRData, load_fr_data, read_table_for, source_splits
from vmaf_train.data.table import table_metadata
from vmaf_train.evaluate.metrics import pool_by_key, score_metrics
from vmaf_train.evaluate.predict import open_fr_model
from vmaf_train.recipes import SplitConfig
from vmaf_train.recipes.fr import TARGETS

__all__ = [
    "evaluate_model",
    "evaluate_split",
    "model_split",
    "write_clip_predictions",
    "write_predictions",
]


def model_split(sidecar: dict[str, Any], **overrides: Any) -> SplitConfig:
    """The split a model was trained with (sidecar metadata), with explicit overrides."""
    meta = sidecar.get("metadata") or {}
    d = SplitConfig()
    values: dict[str, Any] = {
        "val_frac": float(meta.get("val_frac", d.val_frac)),
        "test_frac": float(meta.get("test_frac", d.test_frac)),
        "salt": str(meta.get("split_salt", d.salt)),
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    return SplitConfig(**values)


def evaluate_model(
    model: str | os.PathLike[str],
    features: str | os.PathLike[str],
    *,
    split: str = "test",
    target: str | None = None,
    level: str = "frame",
    baseline: bool = False,
    zoo: str | os.PathLike[str] | None = None,
    int8: bool = False,
    n_boot: int = 1000,
    seed: int = 0,
    val_frac: float | None = None,
    test_frac: float | None = None,
    salt: str | None = None,
) -> dict[str, Any]:
    """n, PLCC, SROCC, RMSE (raw, with seeded bootstrap 95 % intervals) of a model on a split.

    Args:
        model: ``.onnx`` path or registered id.
        features: Features table.
        split: ``train``, ``val``, ``test`` (by ``source_id``, the model's split) or ``all``.
        target: ``vmaf`` or ``mos`` (default: what the model predicts).
        level: ``frame`` or ``clip`` (mean pooling per ``key``).
        baseline: Also score the upstream SVM (the table's ``vmaf`` column) on the same rows.
        zoo: Zoo directory for ids.
        int8: Use the model's shipped int8 file.
        n_boot: Bootstrap resamples (frame level resamples clips).
        seed: Bootstrap seed.
        val_frac: Override the model's split fraction.
        test_frac: Override the model's split fraction.
        salt: Override the model's split salt.

    Raises:
        BadInputError: unknown split/level/target, an empty split, or bad features.
    """
    if split not in (*SPLITS, "all"):
        raise BadInputError(f"--split must be one of {(*SPLITS, 'all')}, got {split!r}")
    if level not in ("frame", "clip"):
        raise BadInputError(f"--level must be frame or clip, got {level!r}")
    fr = open_fr_model(model, zoo=zoo, int8=int8)
    tgt = target or fr.target
    if tgt not in TARGETS:
        raise BadInputError(f"--target must be one of {', '.join(TARGETS)}, got {tgt!r}")
    table = read_table_for(features, tgt)
    meta = table_metadata(table)
    block = fr.sidecar.get("codec_block") or ""
    order = tuple(fr.sidecar.get("feature_order") or CANONICAL6)
    data = load_fr_data(table, target=tgt, codec_block=block, features=order)
    sp = model_split(fr.sidecar, val_frac=val_frac, test_frac=test_frac, salt=salt)
    if split != "all":
        srcs = getattr(source_splits(data.source_id, sp), split)
        if not srcs:
            raise BadInputError(
                f"the {split} split of {features} is empty ({len(data.sources)} sources, "
                f"val_frac {sp.val_frac}, test_frac {sp.test_frac}); try --split all"
            )
        data = data.of_sources(set(srcs))
    pred = fr.run(fr.inputs_from_arrays(data.features, data.codec))
    t, p, b = data.target, pred, data.vmaf
    groups: np.ndarray | None = data.key
    if level == "clip":
        _, (t, p, b) = pool_by_key(data.key, t, p, b)
        groups = None
    res: dict[str, Any] = {
        "model": fr.id,
        "model_file": str(fr.onnx_path),
        "split": split,
        "level": level,
        "target": tgt,
        "n_sources": len(data.sources),
        "note": "raw scores, no logistic mapping; 95% CI by percentile bootstrap "
        f"({n_boot} resamples of {'clips' if groups is not None else 'rows'}, seed {seed})",
        "metrics": score_metrics(t, p, groups=groups, n_boot=n_boot, seed=seed),
    }
    if baseline:
        res["baseline"] = {
            "name": f"upstream {meta.get('model_version', 'vmaf_v0.6.1')} SVM (libvmaf "
            f"{meta.get('libvmaf_version', 'unknown')}, the table's vmaf column)",
            "libvmaf_version": meta.get("libvmaf_version", "unknown"),
            "model_version": meta.get("model_version", "vmaf_v0.6.1"),
            "metrics": score_metrics(t, b, groups=groups, n_boot=n_boot, seed=seed),
        }
        if tgt == "vmaf":
            res["baseline"]["note"] = (
                "with --target vmaf the baseline is the teacher itself (identical by "
                "construction); use --target mos on MOS data for the real comparison"
            )
    res["mean_prediction"] = float(np.mean(p))
    return res


def write_predictions(path: Path, data: FRData, pred: np.ndarray) -> None:
    """``predictions.parquet`` of a run: key, source_id, frame, target, prediction."""
    table = pa.table(
        {
            "key": pa.array(data.key.tolist(), pa.string()),
            "source_id": pa.array(data.source_id.tolist(), pa.string()),
            "frame": pa.array(data.frame, pa.int32()),
            "target": pa.array(data.target, pa.float64()),
            "prediction": pa.array(pred, pa.float64()),
        }
    )
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")


def evaluate_split(
    data: FRData, pred: np.ndarray, *, n_boot: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """Frame-level (bootstrap over clips) and clip-level (mean pooling per key) metrics."""
    frame = score_metrics(data.target, pred, groups=data.key, n_boot=n_boot, seed=seed)
    keys, (ct, cp) = pool_by_key(data.key, data.target, pred)
    clip = (
        score_metrics(ct, cp, n_boot=n_boot, seed=seed) if keys.size >= 3 else {"n": int(keys.size)}
    )
    return {"frame": frame, "clip": clip}


def write_clip_predictions(path: Path, pred: Mapping[str, Any]) -> None:
    """``predictions.parquet`` of a pixel run from the output of
    :func:`~vmaf_train.evaluate.predict.predict_clips`: key, source_id, codec, frame, target and
    one prediction column per session."""
    cols: dict[str, Any] = {
        "key": pa.array(pred["key"].tolist(), pa.string()),
        "source_id": pa.array(pred["source_id"].tolist(), pa.string()),
        "codec": pa.array(pred["codec"].tolist(), pa.string()),
        "frame": pa.array(pred["frame"].astype(np.int32)),
        "target": pa.array(pred["target"].astype(np.float64)),
    }
    for name, v in pred["pred"].items():
        cols["prediction" if name == "fp32" else f"prediction_{name}"] = pa.array(
            v.astype(np.float64)
        )
    with atomic_path(path) as tmp:
        pq.write_table(pa.table(cols), tmp, compression="zstd")
