"""Train fast-path models (``vmaf_tiny_fast_*``): fast features -> full-frame vmaf_v0.6.1.

A fast model reads the features of the fast pass (:mod:`vmaf_tiny.fast`: libvmaf on a
full-resolution sample of the picture, every ``subsample``-th frame, plus the stream's bits per
pixel) and predicts the teacher's per-frame score of the *whole* frame. Training data are the
``fast_<point>_*`` columns of a corpus built with ``extras = ["fast"]``
(:mod:`vmaf_train.data.fast_features`), so nothing is re-encoded or re-scored.

The model is a tiny MLP (standardisation baked into the graph), trained in torch with explicit
seeds and deterministic kernels on one thread, and written to ONNX directly from its weights
with ``onnx.helper`` (fixed node names, no exporter in between): the same recipe, corpus and
commit give the same bytes. The run directory has the layout ``vmaf-train register`` reads.

Clip figures: the clip estimate is the mean of the model over the scored frames; the truth is
the teacher's mean over *all* frames of the clip (what a full libvmaf run reports).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from vmaf_tiny.errors import BadInputError
from vmaf_tiny.fast import OperatingPoint
from vmaf_tiny.fsutil import atomic_write_bytes, atomic_write_json, sha256_file
from vmaf_train.data.fast_features import point_columns
from vmaf_train.fit.fast_model import (
    MLPParams,
    build_onnx,
    fit_mlp,
    fit_ridge_residual,
    predict,
)
from vmaf_train.fit.fast_recipe import (
    FastRecipe,
    is_fast_recipe,
    load_fast_recipe,
)
from vmaf_train.fit.run_dir import check_run_dir

__all__ = [
    "FastData",
    "FastRecipe",
    "build_onnx",
    "fast_data",
    "fit_fast",
    "fit_mlp",
    "fit_ridge_residual",
    "fold_metrics",
    "is_fast_recipe",
    "load_fast_recipe",
    "loso_fast",
    "metrics",
    "predict",
    "read_table",
]

# ---------------------------------------------------------------------------- data


@dataclass(frozen=True)
class FastData:
    """Rows of one operating point: only the frames it scores.

    Attributes:
        x: (n, F) inputs in the recipe's feature order.
        y: (n,) teacher vmaf of the (whole) frame.
        key: (n,) clip of each row.
        source: (n,) source id of each row.
        kind: (n,) source kind of each row.
        clip_truth: clip -> teacher mean over all of its frames.
    """

    x: np.ndarray
    y: np.ndarray
    key: np.ndarray
    source: np.ndarray
    kind: np.ndarray
    clip_truth: dict[str, float]


def fast_data(
    table: Mapping[str, Sequence[Any]], op: OperatingPoint, features: Sequence[str]
) -> FastData:
    """Select the rows ``op`` scores and its feature columns from a corpus table (as a dict).

    Raises:
        BadInputError: the table lacks the point's columns (built without ``extras = ["fast"]``
            or with another grid).
    """
    cols = point_columns(op)
    missing = [cols[f] for f in features if cols[f] not in table]
    if missing:
        raise BadInputError(
            f"features table lacks {missing[:3]}... (build the corpus with extras = ['fast'])"
        )
    keys = np.asarray(table["key"], dtype=object)
    vmaf = np.asarray(table["vmaf"], dtype=np.float64)
    truth: dict[str, list[float]] = {}
    for k, v in zip(keys, vmaf, strict=True):
        truth.setdefault(str(k), []).append(float(v))
    first = np.asarray([v is not None for v in table[cols[features[0]]]])
    x = np.stack(
        [
            np.asarray([np.nan if v is None else v for v in table[cols[f]]], dtype=np.float64)
            for f in features
        ],
        axis=1,
    )[first]
    if not np.isfinite(x).all():
        raise BadInputError("fast columns hold nulls or non-finite values on scored frames")
    return FastData(
        x=x,
        y=vmaf[first],
        key=keys[first],
        source=np.asarray(table["source_id"], dtype=object)[first],
        kind=np.asarray(table["source_kind"], dtype=object)[first],
        clip_truth={k: float(np.mean(v)) for k, v in truth.items()},
    )


def read_table(path: str | os.PathLike[str]) -> dict[str, list[Any]]:
    """A corpus features table as a column dict.

    Raises:
        BadInputError: missing or unreadable file.
    """
    p = Path(path)
    if not p.is_file():
        raise BadInputError(f"no such features file: {p}")
    return pq.read_table(p).to_pydict()


# ---------------------------------------------------------------------------- metrics


def _ranks(a: np.ndarray) -> np.ndarray:
    order = np.argsort(a, kind="mergesort")
    r = np.empty(len(a), dtype=np.float64)
    r[order] = np.arange(len(a), dtype=np.float64)
    # average ties
    _, inv, counts = np.unique(a, return_inverse=True, return_counts=True)
    sums = np.bincount(inv, weights=r)
    return (sums / counts)[inv]


def metrics(target: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """n, PLCC, SROCC, RMSE, MAE (raw scores, no mapping)."""
    t, p = np.asarray(target, np.float64), np.asarray(pred, np.float64)
    if len(t) < 2 or t.std() == 0 or p.std() == 0:
        return {"n": len(t), "plcc": float("nan"), "srocc": float("nan"), "rmse": float("nan")}
    return {
        "n": len(t),
        "plcc": float(np.corrcoef(t, p)[0, 1]),
        "srocc": float(np.corrcoef(_ranks(t), _ranks(p))[0, 1]),
        "rmse": float(np.sqrt(np.mean((t - p) ** 2))),
        "mae": float(np.mean(np.abs(t - p))),
    }


def clip_pairs(
    data: FastData, pred: np.ndarray, mask: np.ndarray
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(keys, truth, estimate) per clip among the rows in ``mask``."""
    keys = data.key[mask]
    est: dict[str, list[float]] = {}
    for k, v in zip(keys, pred, strict=True):
        est.setdefault(str(k), []).append(float(v))
    names = sorted(est)
    return (
        names,
        np.asarray([data.clip_truth[k] for k in names]),
        np.asarray([np.mean(est[k]) for k in names]),
    )


def fold_metrics(data: FastData, pred: np.ndarray, mask: np.ndarray) -> dict[str, Any]:
    """Frame and clip metrics of ``pred`` (the rows in ``mask``)."""
    _, ct, ce = clip_pairs(data, pred, mask)
    return {"frame": metrics(data.y[mask], pred), "clip": metrics(ct, ce)}


def _train(rec: FastRecipe, x: np.ndarray, y: np.ndarray) -> MLPParams:
    if rec.model == "ridge_residual":
        return fit_ridge_residual(x, y, base=rec.features.index("sample_vmaf"), alpha=rec.alpha)
    return fit_mlp(
        x, y, hidden=rec.hidden, epochs=rec.epochs, batch_size=rec.batch_size, lr=rec.lr,
        weight_decay=rec.weight_decay, seed=rec.seed, threads=rec.threads,
    )  # fmt: skip


def loso_fast(rec: FastRecipe, data: FastData) -> dict[str, Any]:
    """Leave-one-source-out over the natural sources (synthetic ones always train).

    Returns:
        ``rows`` (per fold: frame and clip PLCC/SROCC/RMSE), ``pooled`` (all held-out clips
        together: the clip figures the goals are judged on) and ``summary`` (mean/std of folds).
    """
    t0 = time.perf_counter()
    natural = sorted(
        {str(s) for s, k in zip(data.source, data.kind, strict=True) if k == "natural"}
    )
    rows: list[dict[str, Any]] = []
    all_t: list[np.ndarray] = []
    all_p: list[np.ndarray] = []
    frame_t: list[np.ndarray] = []
    frame_p: list[np.ndarray] = []
    for src in natural:
        test = data.source == src
        params = _train(rec, data.x[~test], data.y[~test])
        pred = predict(params, data.x[test])
        m = fold_metrics(data, pred, test)
        _, ct, ce = clip_pairs(data, pred, test)
        all_t.append(ct)
        all_p.append(ce)
        frame_t.append(data.y[test])
        frame_p.append(pred)
        rows.append(
            {
                "fold": src,
                "seed": rec.seed,
                "n_test": int(test.sum()),
                "n_train": int((~test).sum()),
                "plcc": m["frame"]["plcc"],
                "srocc": m["frame"]["srocc"],
                "rmse": m["frame"]["rmse"],
                "clip_rmse": m["clip"]["rmse"],
                "clip_plcc": m["clip"]["plcc"],
            }
        )
    pooled = {
        "clip": metrics(np.concatenate(all_t), np.concatenate(all_p)),
        "frame": metrics(np.concatenate(frame_t), np.concatenate(frame_p)),
    }

    def ms(name: str) -> tuple[float, float]:
        v = np.asarray([r[name] for r in rows if np.isfinite(r[name])])
        return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0

    summary: dict[str, Any] = {"seeds": [rec.seed], "n_folds": len(rows)}
    for name in ("plcc", "srocc", "rmse", "clip_rmse"):
        summary[f"{name}_mean"], summary[f"{name}_std"] = ms(name)
    summary["pooled_clip_plcc"] = pooled["clip"]["plcc"]
    summary["pooled_clip_rmse"] = pooled["clip"]["rmse"]
    summary["pooled_frame_plcc"] = pooled["frame"]["plcc"]
    summary["pooled_frame_rmse"] = pooled["frame"]["rmse"]
    return {
        "protocol": "leave-one-source-out over natural sources; synthetic always in training",
        "rows": rows,
        "pooled": pooled,
        "summary": summary,
        "failures": 0,
        "executor": "serial",
        "wall_seconds": round(time.perf_counter() - t0, 2),
    }


# ---------------------------------------------------------------------------- the run


def sidecar_for(rec: FastRecipe, params: MLPParams, metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The sidecar of a fast model; its ``fast`` block is the operating point."""
    return {
        "schema_version": 1,
        "id": rec.id,
        "kind": "fr",
        "class": "C1",
        "onnx": "model.onnx",
        "opset": 17,
        "smoke": False,
        "description": rec.description,
        "inputs": [
            {
                "name": "features",
                "dtype": "float32",
                "shape": ["N", len(rec.features)],
                "role": "features",
            }
        ],
        "outputs": [{"name": "score", "dtype": "float32", "shape": ["N", 1], "role": "score"}],
        "feature_order": list(rec.features),
        "normalization": {"baked": True},
        "output": {"target": "vmaf", "range": [0.0, 100.0], "clamp": True},
        "fast": {**rec.op.to_dict(), "level": rec.level},
        "int8": None,
        "metadata": dict(metadata),
    }


def fit_fast(
    recipe: str | os.PathLike[str] | FastRecipe,
    features: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    loso: bool = True,
    force: bool = False,
) -> dict[str, Any]:
    """Fit a fast model on all sources, run LOSO, write a run directory ``out``.

    ``out`` gets ``config.json``, ``model.onnx``, ``model.json`` (sidecar with the ``fast``
    block), ``loso/loso.json`` and, last, ``metrics.json`` (the layout ``vmaf-train register``
    reads). The shipped model trains on every source; its held-out figures are the LOSO ones
    (also reported as ``test``). Built in a hidden sibling and renamed into place.

    Raises:
        BadInputError: bad recipe or table, or ``out`` exists without ``force``.
    """
    from vmaf_train.provenance import git_commit

    rec = recipe if isinstance(recipe, FastRecipe) else load_fast_recipe(recipe)
    out = Path(out)
    check_run_dir(out, force=force, inputs={"--features": features})
    t0 = time.perf_counter()
    table = read_table(features)
    data = fast_data(table, rec.op, rec.features)
    lo = loso_fast(rec, data) if loso else None
    params = _train(rec, data.x, data.y)
    fpath = Path(features)
    man = fpath.parent / "manifest.json"
    manifest_sha = json.loads(man.read_text()).get("manifest_sha256", "") if man.is_file() else ""
    prov = {
        "manifest_sha256": manifest_sha,
        "features_sha256": sha256_file(fpath),
        "config_sha256": rec.sha256(),
        "train_commit": git_commit(),
    }
    meta = {"model_id": rec.id, "seed": str(rec.seed), **prov}
    onnx_bytes = build_onnx(params, metadata=meta)
    train_fit = fold_metrics(data, predict(params, data.x), np.ones(len(data.y), dtype=bool))
    held = lo["pooled"] if lo else train_fit
    n_sources = len(set(data.source.tolist()))
    result = {
        "model_id": rec.id,
        "seed": rec.seed,
        "n_rows": len(data.y),
        "n_sources": n_sources,
        "operating_point": rec.op.to_dict(),
        "test": {"frame": held["frame"], "clip": held["clip"], "protocol": "loso pooled"},
        "train_fit": train_fit,
        "splits": {"train": {"n_rows": len(data.y), "n_sources": n_sources}},
        "training": {
            "parameters": params.n_parameters,
            "epochs": rec.epochs,
            "seconds": round(time.perf_counter() - t0, 3),
        },
        "provenance": prov,
        "latency": {},
    }
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    arch_cfg: dict[str, Any] = {"model": rec.model, "features": list(rec.features)}
    arch_cfg.update(
        {"alpha": rec.alpha} if rec.model == "ridge_residual" else {"hidden": list(rec.hidden)}
    )
    cfg = {**rec.raw, "arch": arch_cfg}
    atomic_write_json(tmp / "config.json", cfg)
    atomic_write_bytes(tmp / "model.onnx", onnx_bytes)
    meta_side: dict[str, Any] = {**meta, "teacher_model": "vmaf_v0.6.1"}
    atomic_write_json(tmp / "model.json", sidecar_for(rec, params, meta_side))
    if lo:
        (tmp / "loso").mkdir()
        atomic_write_json(tmp / "loso" / "loso.json", lo)
    atomic_write_json(tmp / "metrics.json", result)
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
    return result


def fit_fast_command(
    config: Path,
    features: Path | None,
    out: Path,
    *,
    force: bool = False,
    log: Any = None,
    as_json: bool = False,
    overrides: Sequence[str] | None = None,
) -> dict[str, Any]:
    """``vmaf-train fit --config <fast recipe> --features F --out RUN`` (the CLI's fast branch).

    Raises:
        BadInputError: no ``--features``, ``--set`` given (fast recipes take none), or a bad
            recipe/table.
    """
    if features is None:
        raise BadInputError("a fast recipe trains on --features (a corpus with fast columns)")
    if overrides:
        raise BadInputError("--set is not supported for fast recipes; edit the recipe")
    rec = load_fast_recipe(config)
    check_run_dir(out, force=force, inputs={"--features": features})  # before the banner
    if log is not None:
        log(f"fit {rec.id} (fast, {rec.op.tag}): {features} -> {out}")
    res = fit_fast(rec, features, out, force=force)
    summary = {"model": res["model_id"], "test": res["test"], "run": str(out)}
    if as_json:
        print(json.dumps(summary, indent=1))
    else:
        c = res["test"]["clip"]
        print(
            f"{rec.id}: LOSO clip PLCC {c['plcc']:.4f}, RMSE {c['rmse']:.3f} "
            f"({c['n']} held-out clips); run {out}"
        )
    return res


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m vmaf_train.fit.fast --config R --features F --out RUN [--register ZOO]``."""
    import argparse

    from vmaf_tiny.errors import VmafTinyError

    ap = argparse.ArgumentParser(
        prog="python -m vmaf_train.fit.fast", description="Fit a fast model."
    )
    ap.add_argument("--config", required=True, type=Path, help="fast recipe (kind = 'fast')")
    ap.add_argument("--features", required=True, type=Path, help="corpus with fast columns")
    ap.add_argument("-o", "--out", required=True, type=Path, help="run directory")
    ap.add_argument("--no-loso", action="store_true", help="skip leave-one-source-out")
    ap.add_argument("--force", action="store_true", help="replace an existing run")
    ap.add_argument("--register", type=Path, help="then register the run into this zoo")
    a = ap.parse_args(argv)
    try:
        res = fit_fast(a.config, a.features, a.out, loso=not a.no_loso, force=a.force)
        print(json.dumps({"model": res["model_id"], "test": res["test"]}, indent=1))
        if a.register:
            from vmaf_train.ship.register import register

            row = register(a.out, a.register)
            print(f"registered {row['id']} ({row['bytes']} bytes) in {a.register}")
    except VmafTinyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
