"""Evaluate an exported model on a features table: split selection, levels, SVM baseline.

``vmaf-train eval`` and every ``fit`` run report through here. The model runs through
:class:`vmaf_train.evaluate.predict.FRModel` (ONNX Runtime, sidecar-driven). The SVM baseline
is the upstream vmaf_v0.6.1 SVM as libvmaf ran it when the table was built: the table's ``vmaf``
column, on the same rows.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
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
from vmaf_train.evaluate.mapping import FittedMap, fit_mapping, mapping_kind
from vmaf_train.evaluate.metrics import pool_by_key, score_metrics
from vmaf_train.evaluate.predict import open_fr_model
from vmaf_train.evaluate.targets import join_targets, read_targets
from vmaf_train.recipes import SplitConfig
from vmaf_train.recipes.fr import TARGETS

__all__ = [
    "evaluate_model",
    "evaluate_split",
    "mapping_note",
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


def _resolve_target(target: str | None, model_target: str, targets: object) -> str:
    tgt = target or ("mos" if targets is not None else model_target)
    if tgt not in TARGETS:
        raise BadInputError(f"--target must be one of {', '.join(TARGETS)}, got {tgt!r}")
    if targets is not None and tgt != "mos":
        raise BadInputError("--targets gives subjective scores: use it with --target mos")
    return tgt


def _load_rows(
    features: str | os.PathLike[str],
    tgt: str,
    block: str,
    targets: str | os.PathLike[str] | None,
    order: tuple[str, ...] = CANONICAL6,
) -> tuple[FRData, dict[str, Any], dict[str, Any]]:
    """Rows of the table with their target: the table's column, or ``--targets`` joined on key
    (``order``: the model's input features)."""
    if targets is None:
        table = read_table_for(features, tgt)
        data = load_fr_data(table, target=tgt, codec_block=block, features=order)
        return data, table_metadata(table), {}
    table = read_table_for(features, "vmaf")
    data = load_fr_data(table, target="vmaf", codec_block=block, features=order)
    scores = read_targets(targets)
    mask, y = join_targets(data.key, scores)
    n_clips = int(np.unique(data.key).size)
    info = {
        "file": str(targets),
        "n_scores": len(scores),
        "n_clips_in_table": n_clips,
        "n_clips_without_score": n_clips - len(scores),
    }
    return replace(data, target=y).subset(mask), table_metadata(table), info


def _mapped(
    t: np.ndarray, p: np.ndarray, kind: str, *, groups: np.ndarray | None, n_boot: int, seed: int
) -> tuple[FittedMap, dict[str, Any]]:
    """A map fitted from predictions to targets and the metrics after it."""
    fm = fit_mapping(p, t, kind)
    block = fm.to_dict()
    block["monotonic"] = fm.monotonic
    block["metrics"] = score_metrics(t, fm(p), groups=groups, n_boot=n_boot, seed=seed)
    return fm, block


def evaluate_model(
    model: str | os.PathLike[str],
    features: str | os.PathLike[str],
    *,
    split: str = "test",
    target: str | None = None,
    level: str | None = None,
    baseline: bool = False,
    zoo: str | os.PathLike[str] | None = None,
    int8: bool = False,
    n_boot: int = 1000,
    seed: int = 0,
    val_frac: float | None = None,
    test_frac: float | None = None,
    salt: str | None = None,
    mapping: str = "none",
    targets: str | os.PathLike[str] | None = None,
    plot: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """n, PLCC, SROCC, RMSE (with seeded bootstrap 95 % intervals) of a model on a split, raw
    and, with ``mapping``, after a map fitted from prediction to target.

    Args:
        model: ``.onnx`` path or registered id.
        features: Features table.
        split: ``train``, ``val``, ``test`` (by ``source_id``, the model's split) or ``all``.
        target: ``vmaf`` or ``mos`` (default: ``mos`` with ``targets``, else what the model
            predicts).
        level: ``frame`` or ``clip`` (mean pooling per ``key``); default ``clip`` for ``mos``
            (one subjective score per clip), ``frame`` for ``vmaf``.
        baseline: Also score the upstream SVM (the table's ``vmaf`` column) on the same rows
            (with ``mapping``, through its own fitted map).
        zoo: Zoo directory for ids.
        int8: Use the model's shipped int8 file.
        n_boot: Bootstrap resamples (frame level resamples clips).
        seed: Bootstrap seed.
        val_frac: Override the model's split fraction.
        test_frac: Override the model's split fraction.
        salt: Override the model's split salt.
        mapping: ``none``, ``linear``, ``logistic4`` (or ``logistic``) or ``logistic5``
            (:mod:`vmaf_train.evaluate.mapping`), fitted on the evaluated points.
        targets: CSV ``key,mos`` joined on the clip key instead of the table's ``mos`` column
            (:mod:`vmaf_train.evaluate.targets`); clips without a score are left out.
        plot: Also draw prediction vs target (and the fitted map) to this image file.

    Raises:
        BadInputError: unknown split/level/target/mapping, an empty split, bad features or
            targets, a mapping that does not converge, or an unwritable plot path.
    """
    if split not in (*SPLITS, "all"):
        raise BadInputError(f"--split must be one of {(*SPLITS, 'all')}, got {split!r}")
    if level not in (None, "frame", "clip"):
        raise BadInputError(f"--level must be frame or clip, got {level!r}")
    kind = mapping_kind(mapping)
    if plot is not None:
        from vmaf_train.plots import check_image_path

        check_image_path(plot, "--plot")
    fr = open_fr_model(model, zoo=zoo, int8=int8)
    tgt = _resolve_target(target, fr.target, targets)
    lvl = level or ("clip" if tgt == "mos" else "frame")
    block = fr.sidecar.get("codec_block") or ""
    order = tuple(fr.sidecar.get("feature_order") or CANONICAL6)
    data, meta, targets_info = _load_rows(features, tgt, block, targets, order)
    sp = model_split(fr.sidecar, val_frac=val_frac, test_frac=test_frac, salt=salt)
    if split != "all":
        srcs = getattr(source_splits(data.source_id, sp), split)
        if not srcs and targets is not None:
            raise BadInputError(
                f"no clip of the {split} split of {features} has a score in --targets "
                f"{targets} (the scored clips come from {len(data.sources)} sources, all in "
                "other splits); try --split all"
            )
        if not srcs:
            raise BadInputError(
                f"the {split} split of {features} is empty ({len(data.sources)} sources, "
                f"val_frac {sp.val_frac}, test_frac {sp.test_frac}); try --split all"
            )
        data = data.of_sources(set(srcs))
    pred = fr.run(fr.inputs_from_arrays(data.features, data.codec))
    t, p, b = data.target, pred, data.vmaf
    groups: np.ndarray | None = data.key
    if lvl == "clip":
        _, (t, p, b) = pool_by_key(data.key, t, p, b)
        groups = None
    unit = "clips"  # frame level resamples whole clips; clip level's rows are clips
    res: dict[str, Any] = {
        "model": fr.id,
        "model_file": str(fr.onnx_path),
        "split": split,
        "level": lvl,
        "target": tgt,
        "n_sources": len(data.sources),
        "note": "raw scores, no logistic mapping; "
        + (
            f"95% CI by percentile bootstrap ({n_boot} resamples of {unit}, seed {seed})"
            if n_boot
            else "no confidence intervals (--n-boot 0)"
        ),
        "metrics": score_metrics(t, p, groups=groups, n_boot=n_boot, seed=seed),
    }
    if targets_info:
        res["targets"] = targets_info
    fm = None
    if kind != "none":
        fm, res["mapping"] = _mapped(t, p, kind, groups=groups, n_boot=n_boot, seed=seed)
        res["note"] = mapping_note(kind, int(t.size), lvl, tgt, fm.monotonic, n_boot, unit, seed)
    if baseline:
        res["baseline"] = {
            "name": f"upstream {meta.get('model_version', 'vmaf_v0.6.1')} SVM (libvmaf "
            f"{meta.get('libvmaf_version', 'unknown')}, the table's vmaf column)",
            "libvmaf_version": meta.get("libvmaf_version", "unknown"),
            "model_version": meta.get("model_version", "vmaf_v0.6.1"),
            "metrics": score_metrics(t, b, groups=groups, n_boot=n_boot, seed=seed),
        }
        if kind != "none":
            _, res["baseline"]["mapping"] = _mapped(
                t, b, kind, groups=groups, n_boot=n_boot, seed=seed
            )
        if tgt == "vmaf":
            res["baseline"]["note"] = (
                "with --target vmaf the baseline is the teacher itself (identical by "
                "construction); use --target mos on MOS data for the real comparison"
            )
    res["mean_prediction"] = float(np.mean(p))
    if plot is not None:
        from vmaf_train.plots import plot_eval

        plot_eval(
            res,
            frame_target=data.target,
            frame_pred=pred,
            clip_target=t if lvl == "clip" else None,
            clip_pred=p if lvl == "clip" else None,
            mapping=fm,
            path=plot,
        )
        res["plot"] = str(plot)
    return res


def mapping_note(
    kind: str, n: int, level: str, target: str, monotonic: bool, n_boot: int, unit: str, seed: int
) -> str:
    """The one-line explanation of mapped figures."""
    points = "clips" if level == "clip" else "frames"
    srocc = (
        "SROCC is unchanged by this monotonic map (up to sign if it decreases; saturated "
        "ties aside)"
        if monotonic
        else "the fitted logistic5 is not monotonic, so SROCC may change too"
    )
    return (
        f"raw scores and, beside them, PLCC/SROCC/RMSE after a {kind} map from prediction to "
        f"{target} fitted on these {n} {points} (least squares); {srocc}; "
        + (
            f"95% CI by percentile bootstrap ({n_boot} resamples of {unit}, seed {seed}; the "
            "map held fixed)"
            if n_boot
            else "no confidence intervals (--n-boot 0)"
        )
    )


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
