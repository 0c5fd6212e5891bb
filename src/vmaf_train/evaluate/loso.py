"""Leave-one-source-out and grouped K-fold cross-validation, with seed sweeps.

Each (fold, seed) is an independent work item run through :func:`vmaf_train.parallel.make_executor`
(serial, a local Dask cluster, or an existing scheduler). An item carries the features path and
the config, reads the table where it runs, trains on the fold's training sources (a validation
part of them, chosen by the same hash buckets as the main split, drives early stopping) and
scores the held-out source(s). Synthetic sources are never held out in LOSO: they stay in training.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vmaf_tiny.errors import BadInputError, VmafTinyError
from vmaf_tiny.fsutil import atomic_write_bytes, atomic_write_json, sha256_file
from vmaf_train.data.dataset import FRData, load_fr_data, read_table_for
from vmaf_train.data.splits import Fold, bucket, kfold_groups, loso_folds
from vmaf_train.evaluate.metrics import plcc, pool_by_key, rmse, srocc
from vmaf_train.parallel import Executor, make_executor
from vmaf_train.recipes import ModelConfig, config_from_dict, config_sha256

__all__ = [
    "FoldTask",
    "make_folds",
    "run_cv",
    "run_fold",
    "summarize_folds",
]

METRIC_NAMES = ("plcc", "srocc", "rmse")


@dataclass(frozen=True)
class FoldTask:
    """One work item: train on ``fold.train`` sources with ``seed``, test on ``fold.test``."""

    config: dict[str, Any]
    features: str
    features_sha256: str
    fold: Fold
    seed: int


@functools.lru_cache(maxsize=2)
def _load(
    features: str, sha: str, target: str, codec_block: str, columns: tuple[str, ...]
) -> FRData:
    table = read_table_for(features, target)
    return load_fr_data(table, target=target, codec_block=codec_block, features=columns)


def _val_sources(train_sources: Sequence[str], cfg: ModelConfig) -> list[str]:
    """Validation sources inside a fold: the main split's val bucket, at least one source."""
    s = cfg.split
    val = [x for x in train_sources if s.test_frac <= bucket(x, s.salt) < s.test_frac + s.val_frac]
    if not val and len(train_sources) >= 2:
        val = [min(train_sources, key=lambda x: abs(bucket(x, s.salt) - s.test_frac))]
    return sorted(val)


def _safe(fn: Any, t: np.ndarray, p: np.ndarray) -> float | None:
    try:
        return float(fn(t, p))
    except VmafTinyError:
        return None


def run_fold(task: FoldTask) -> dict[str, Any]:
    """Train and score one fold (module-level so executors can ship it)."""
    from vmaf_train.fit.fr import FRTrainer

    cfg = config_from_dict(task.config)
    data = _load(
        task.features,
        task.features_sha256,
        cfg.output.target,
        cfg.arch.codec_block,
        cfg.arch.features,
    )
    val_src = _val_sources(task.fold.train, cfg)
    fit_src = [s for s in task.fold.train if s not in val_src]
    train, val, test = (
        data.of_sources(set(fit_src)),
        data.of_sources(set(val_src)),
        data.of_sources(set(task.fold.test)),
    )
    if test.n == 0:
        raise BadInputError(f"fold {task.fold.name}: no rows for held-out {task.fold.test}")
    trainer = FRTrainer(cfg, seed=task.seed).fit(train, val)
    pred = trainer.predict(test)
    row: dict[str, Any] = {
        "fold": task.fold.name,
        "seed": task.seed,
        "test_sources": list(task.fold.test),
        "n_train": train.n,
        "n_val": val.n,
        "n_test": test.n,
        "best_epoch": trainer.best_epoch_,
        "train_seconds": round(trainer.seconds_, 3),
    }
    for name, fn in (("plcc", plcc), ("srocc", srocc), ("rmse", rmse)):
        row[name] = _safe(fn, test.target, pred)
    keys, (ct, cp) = pool_by_key(test.key, test.target, pred)
    row["n_clips"] = int(keys.size)
    row["clip_rmse"] = _safe(rmse, ct, cp)
    row["clip_plcc"] = _safe(plcc, ct, cp) if keys.size >= 3 else None
    return row


def make_folds(data: FRData, *, kfold: int | None = None) -> tuple[str, list[Fold]]:
    """LOSO over natural sources (synthetic stay in training), or K folds grouped by source.

    Raises:
        BadInputError: no natural sources for LOSO, or an impossible K.
    """
    sources = data.sources
    if kfold:
        try:
            return f"{kfold}-fold grouped by source", kfold_groups(sources, kfold)
        except ValueError as exc:
            raise BadInputError(str(exc)) from exc
    natural = sorted(
        {str(s) for s, k in zip(data.source_id, data.source_kind, strict=True) if k == "natural"}
    )
    if not natural:
        raise BadInputError(
            f"no natural-content sources among {len(sources)} (source_kind); "
            "LOSO holds out natural content only: use --kfold K instead"
        )
    if len(sources) < 3:
        raise BadInputError(f"LOSO needs at least 3 sources, got {len(sources)}")
    return "leave-one-source-out (natural sources)", loso_folds(sources, held_out=natural)


def _mean_std(vals: list[float]) -> tuple[float | None, float | None]:
    if not vals:
        return None, None
    arr = np.asarray(vals, dtype=np.float64)
    return float(arr.mean()), (float(arr.std(ddof=1)) if arr.size > 1 else None)


def summarize_folds(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Mean and std (ddof=1) over folds of each metric (each fold first averaged over seeds).

    Also reports the mean over folds of the seed-to-seed std (ddof=1) when several seeds ran.
    """
    folds = sorted({r["fold"] for r in rows})
    seeds = sorted({int(r["seed"]) for r in rows})
    out: dict[str, Any] = {"n_folds": len(folds), "seeds": seeds}
    for m in (*METRIC_NAMES, "clip_rmse"):
        per_fold, seed_sd = [], []
        for f in folds:
            vals = [float(r[m]) for r in rows if r["fold"] == f and r.get(m) is not None]
            if vals:
                per_fold.append(float(np.mean(vals)))
                if len(vals) > 1:
                    seed_sd.append(float(np.std(vals, ddof=1)))
        mean, std = _mean_std(per_fold)
        out[f"{m}_mean"] = mean
        out[f"{m}_std"] = std
        out[f"{m}_n"] = len(per_fold)
        if seed_sd:
            out[f"{m}_seed_std"] = float(np.mean(seed_sd))
    return out


def _fold_table_tsv(rows: Sequence[dict[str, Any]]) -> str:
    cols = [
        "fold",
        "seed",
        "n_train",
        "n_test",
        "plcc",
        "srocc",
        "rmse",
        "clip_rmse",
        "best_epoch",
        "train_seconds",
        "error",
    ]
    lines = ["\t".join(cols)]
    for r in rows:
        lines.append("\t".join("" if r.get(c) is None else str(r.get(c)) for c in cols))
    return "\n".join(lines) + "\n"


def run_cv(
    config: ModelConfig,
    features: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    seeds: Sequence[int] = (0,),
    kfold: int | None = None,
    executor: Executor | None = None,
    plots: bool = True,
    progress: bool = True,
) -> dict[str, Any]:
    """Run LOSO (or grouped K-fold) over every seed; write ``loso.json``, ``folds.tsv`` and
    ``loso_folds.png`` into ``out``.

    Returns:
        ``{"protocol", "config_id", "rows": [...], "summary": {...}, "failures": n}``.
    """
    features = str(Path(features).resolve())
    sha = sha256_file(features)
    table_data = _load(
        features, sha, config.output.target, config.arch.codec_block, config.arch.features
    )
    protocol, folds = make_folds(table_data, kfold=kfold)
    tasks = [FoldTask(config.to_dict(), features, sha, f, int(s)) for s in seeds for f in folds]
    own = executor is None
    ex = executor or make_executor(serial=True)
    t0 = time.perf_counter()
    try:
        outcomes = ex.map(run_fold, tasks, label=f"{config.id} folds", progress=progress)
    finally:
        if own:
            ex.close()
    rows: list[dict[str, Any]] = []
    for o in outcomes:
        if o.ok and o.value is not None:
            rows.append(o.value)
        else:
            rows.append({"fold": o.item.fold.name, "seed": o.item.seed, "error": o.error})
    ok_rows = [r for r in rows if "error" not in r]
    result: dict[str, Any] = {
        "protocol": protocol,
        "config_id": config.id,
        "target": config.output.target,
        "features_sha256": sha,
        "config_sha256": config_sha256(config),
        "seeds": sorted(int(s) for s in seeds),
        "rows": rows,
        "summary": summarize_folds(ok_rows),
        "failures": len(rows) - len(ok_rows),
        "executor": ex.describe(),
        "wall_seconds": round(time.perf_counter() - t0, 1),
    }
    dest = Path(out)
    dest.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(dest / "folds.tsv", _fold_table_tsv(rows).encode())
    if plots and ok_rows:
        from vmaf_train.plots import plot_folds

        s = result["summary"]
        sd = f" ± {s['rmse_std']:.3f}" if s.get("rmse_std") is not None else ""
        plot_folds(
            ok_rows,
            dest / "loso_folds.png",
            title=f"{config.id} {protocol}: PLCC {s['plcc_mean']:.4f}, "
            f"RMSE {s['rmse_mean']:.3f}{sd} ({s['n_folds']} folds, seeds {s['seeds']})",
        )
    atomic_write_json(dest / "loso.json", result)
    return result
