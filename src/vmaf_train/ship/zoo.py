"""Train the whole shipped zoo from one features table, resumably.

For each model id: ``fit`` -> ``loso`` -> ``quantize-int8`` (if the recipe asks) -> ``register``;
once before them the SVR baseline; after them ``report`` (cards, snapshot table) and the
float-rounding guard fixture. A step whose output already exists is skipped, so a killed run
resumes where it stopped (``force`` redoes everything).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from vmaf_tiny.errors import BadInputError
from vmaf_tiny.fsutil import sha256_file
from vmaf_tiny.parallel import Executor
from vmaf_train.recipes import config_sha256
from vmaf_train.recipes import load_fr_recipe as load_config

__all__ = ["ZOO_IDS", "train_zoo"]

ZOO_IDS: tuple[str, ...] = (
    "fr_regressor_v1",
    "fr_regressor_v2",
    "fr_regressor_v3",
    "vmaf_tiny_v2",
    "vmaf_tiny_v3",
    "vmaf_tiny_v4",
    # students of the other libvmaf teachers (a corpus built with teachers = [...])
    "vmaf_tiny_neg_v1",
    "vmaf_tiny_4k_v1",
)


def _noop(_: str) -> None:
    return None


def _matches(path: Path, want: dict[str, Any], under: tuple[str, ...] = ()) -> bool:
    """True if the JSON at ``path`` exists and (inside ``under``) has all ``want`` values."""
    if not path.is_file():
        return False
    try:
        obj: Any = json.loads(path.read_text())
        for key in under:
            obj = obj[key]
        return all(obj.get(k) == v for k, v in want.items())
    except (ValueError, KeyError, TypeError, AttributeError):
        return False


def train_zoo(
    features: str | os.PathLike[str],
    runs: str | os.PathLike[str],
    zoo: str | os.PathLike[str],
    docs: str | os.PathLike[str],
    *,
    configs: str | os.PathLike[str] = "configs/models",
    ids: Sequence[str] = ZOO_IDS,
    seeds: Sequence[int] = (0,),
    executor: Executor | None = None,
    upstream_model: str | os.PathLike[str] | None = None,
    fixture_dir: str | os.PathLike[str] | None = None,
    loso: bool = True,
    split_overrides: dict[str, Any] | None = None,
    epochs: int | None = None,
    force: bool = False,
    log: Callable[[str], None] = _noop,
) -> dict[str, Any]:
    """Run the zoo pipeline; returns a summary per model id.

    Args:
        features: The training corpus's features.parquet.
        runs: Where run directories go (``runs/<id>/``, ``runs/baseline_svr/``).
        zoo: Zoo to register into (``src/vmaf_tiny/zoo`` for the shipped zoo).
        docs: Docs directory for ``report``.
        configs: Directory of ``<id>.toml`` recipes.
        ids: Model ids to train.
        seeds: LOSO seeds.
        executor: Executor for LOSO folds (serial if None).
        upstream_model: Upstream ``vmaf_v0.6.1.json`` for the SVM latency row (optional).
        fixture_dir: If given, rebuild the eval fixture there from the test split and record the
            expected metrics.
        loso: Run LOSO.
        split_overrides: ``{"val_frac": ..., "test_frac": ..., "salt": ...}`` for every recipe.
        epochs: Override every recipe's epoch budget (quick trials).
        force: Redo steps whose outputs exist.
        log: Progress lines.
    """
    from vmaf_train.evaluate.baseline import svr_baseline_run
    from vmaf_train.evaluate.drift import EXPECTED_NAME, FIXTURE_NAME, build_eval_fixture
    from vmaf_train.evaluate.drift import expected_metrics as record_expected
    from vmaf_train.evaluate.loso import run_cv
    from vmaf_train.fit.fr import fit_run
    from vmaf_train.ship.cards import write_reports
    from vmaf_train.ship.quantize import gate_path, quantize_int8
    from vmaf_train.ship.register import register

    runs, cfg_dir = Path(runs), Path(configs)
    cfgs = {}
    for mid in ids:
        path = cfg_dir / f"{mid}.toml"
        cfg = load_config(path)
        if cfg.id != mid:
            raise BadInputError(f"{path} declares id {cfg.id!r}, expected {mid!r}")
        if split_overrides:
            cfg = cfg.with_overrides(split=split_overrides)
        if epochs:
            cfg = cfg.with_overrides(train={"epochs": epochs})
        cfgs[mid] = cfg
    first = cfgs[ids[0]]
    base_dir = runs / "baseline_svr"
    if force or not (base_dir / "metrics.json").is_file():
        log("baseline-svr: retraining the VMAF SVR recipe on the train split")
        svr_baseline_run(features, base_dir, split=first.split, upstream_model=upstream_model)
    summary: dict[str, Any] = {}
    feat_sha = sha256_file(features)
    for mid, cfg in cfgs.items():
        run = runs / mid
        want = {"config_sha256": config_sha256(cfg), "features_sha256": feat_sha}
        fit_done = _matches(run / "metrics.json", want, ("provenance",))
        if force or not fit_done:
            log(f"{mid}: fit")
            fit_run(cfg, features, run, force=True, log=log)
        else:
            log(f"{mid}: fit already done ({run})")
        seeds_now = sorted(int(s) for s in seeds)
        loso_want = {**want, "seeds": seeds_now}
        if loso and (force or not fit_done or not _matches(run / "loso" / "loso.json", loso_want)):
            log(f"{mid}: loso (seeds {seeds_now})")
            run_cv(cfg, features, run / "loso", seeds=seeds_now, executor=executor)
        int8 = run / "model.int8.onnx"
        gate_ok = _matches(gate_path(int8), {"fp32_sha256": sha256_file(run / "model.onnx")})
        if cfg.int8 and (force or not gate_ok):
            log(f"{mid}: quantize-int8")
            quantize_int8(run / "model.onnx", features, int8)
        log(f"{mid}: register into {zoo}")
        # the SVR baseline learns vmaf_v0.6.1: a comparison only for students of that teacher
        row = register(run, zoo, baseline=base_dir if cfg.output.target == "vmaf" else None)
        metrics = row["training"]["metrics"]
        summary[mid] = {
            "test": metrics["test"],
            "loso": (metrics.get("loso") or {}).get("summary"),
            "quant_mode": row["quant_mode"],
            "bytes": row["bytes"],
            "fit_seconds": json.loads((run / "metrics.json").read_text())["training"]["seconds"],
        }
    log(f"report: cards and snapshot into {docs}")
    write_reports(zoo, docs)
    if fixture_dir is not None:
        fdir = Path(fixture_dir)
        log(f"guard fixture: {fdir / FIXTURE_NAME}")
        build_eval_fixture(features, fdir / FIXTURE_NAME, split=first.split)
        record_expected(zoo, fdir / FIXTURE_NAME, fdir / EXPECTED_NAME)
    return summary
