"""The ``fit`` run of tiny FR regressors: load the split, train (:mod:`vmaf_train.fit.fr_trainer`,
re-exported here), export ONNX with its sidecar, evaluate and record provenance."""

from __future__ import annotations

import json
import os
import platform
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vmaf_tiny.errors import BadInputError
from vmaf_tiny.features import libvmaf_needs
from vmaf_tiny.fsutil import atomic_write_json
from vmaf_train.data.dataset import load_fr_data, read_table_for, split_data
from vmaf_train.data.table import table_metadata
from vmaf_train.evaluate.model import evaluate_split, write_predictions
from vmaf_train.evaluate.predict import (
    load_sidecar,
    open_fr_model,
    per_row_latency,
)
from vmaf_train.fit.fr_trainer import FRTrainer
from vmaf_train.fit.loop import nonfinite_path
from vmaf_train.fit.run_dir import check_run_dir
from vmaf_train.models.codec import block_spec
from vmaf_train.models.mlp import count_parameters
from vmaf_train.provenance import features_sha256, git_commit, manifest_sha256
from vmaf_train.recipes import ModelConfig, config_sha256
from vmaf_train.recipes.fr import TARGET_TEACHERS
from vmaf_train.ship.export import export_fr_onnx, io_contract

__all__ = [
    "FRTrainer",
    "RunResult",
    "build_sidecar",
    "fit_run",
]


def build_sidecar(
    config: ModelConfig,
    trainer: FRTrainer,
    *,
    onnx_name: str,
    opset: int,
    metadata: dict[str, Any],
    target_range: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """The sidecar JSON for a trained model (valid against ``sidecar.schema.json``).

    ``target_range`` replaces the config's output range (e.g. the observed MOS range of an
    unclamped ``--target mos`` model).
    """
    spec = block_spec(config.arch.codec_block)
    inputs, outputs = io_contract(len(config.arch.features), int(spec["width"]) if spec else 0)
    side: dict[str, Any] = {
        "schema_version": 1,
        "id": config.id,
        "kind": config.kind,
        "class": config.model_class,
        "onnx": onnx_name,
        "opset": opset,
        "smoke": False,
        "description": config.description,
        "inputs": inputs,
        "outputs": outputs,
        "feature_order": list(config.arch.features),
        "normalization": trainer.normalization(),
        "output": {
            "target": config.output.target,
            "range": [float(v) for v in (target_range or config.output.range)],
            "clamp": bool(config.output.clamp),
        },
        "int8": None,
        "metadata": metadata,
    }
    if spec:
        side["codec_block"] = spec
    return side


@dataclass(frozen=True)
class RunResult:
    """A finished fit run: where it is and its metrics."""

    out: Path
    metrics: dict[str, Any]


def fit_run(
    config: ModelConfig,
    features: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    seed: int | None = None,
    force: bool = False,
    plots: bool = True,
    n_boot: int = 1000,
    log: Callable[[str], None] | None = None,
) -> RunResult:
    """Train, export, verify and evaluate one model; write the run directory.

    ``RUN/`` gets ``config.json``, ``model.onnx``, ``model.json`` (sidecar),
    ``predictions.parquet`` (test rows), ``training_curve.png``, ``scatter_test.png`` and, last,
    ``metrics.json`` (its presence marks a complete run). The run is built in a hidden sibling
    directory and renamed into place, so a killed run leaves no half-written ``RUN/``.

    Raises:
        BadInputError: bad features table, empty split, or ``out`` exists without ``force``.
    """
    out = Path(out)
    check_run_dir(out, force=force, inputs={"--features": features})
    if seed is not None:
        config = config.with_overrides(train={"seed": seed})
    table = read_table_for(features, config.output.target)
    meta = table_metadata(table)
    corpus_sha = manifest_sha256(features, meta)  # a foreign manifest fails before training
    data = load_fr_data(
        table,
        target=config.output.target,
        codec_block=config.arch.codec_block,
        features=config.arch.features,
    )
    parts, splits = split_data(data, config)
    trainer = FRTrainer(config, log=log).fit(parts["train"], parts["val"])
    provenance = {
        "model_id": config.id,
        "seed": str(trainer.seed_),
        "train_commit": git_commit(),
        "manifest_sha256": corpus_sha,
        "features_sha256": features_sha256(features),
        "config_sha256": config_sha256(config),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir()
    try:
        info = export_fr_onnx(
            trainer.model_, stage / "model.onnx", opset=config.opset, metadata=provenance
        )
        side_meta: dict[str, Any] = {
            **provenance,
            "seed": trainer.seed_,
            "split_salt": config.split.salt,
            "val_frac": config.split.val_frac,
            "test_frac": config.split.test_frac,
            "libvmaf_version": meta.get("libvmaf_version", "unknown"),
            "teacher_model": TARGET_TEACHERS.get(
                config.output.target, meta.get("model_version", "vmaf_v0.6.1")
            ),
            **libvmaf_needs(config.arch.features),
            "torch_version": torch.__version__,
        }
        observed = None
        if config.output.target != "vmaf" and not config.output.clamp:
            observed = (float(parts["train"].target.min()), float(parts["train"].target.max()))
        sidecar = build_sidecar(
            config,
            trainer,
            onnx_name="model.onnx",
            opset=info.opset,
            metadata=side_meta,
            target_range=observed,
        )
        atomic_write_json(stage / "model.json", sidecar)
        load_sidecar(stage / "model.json")  # schema check of what we wrote
        atomic_write_json(stage / "config.json", config.to_dict())
        model = open_fr_model(stage / "model.onnx")
        test = parts["test"]
        pred = model.run(model.inputs_from_arrays(test.features, test.codec))
        torch_diff = float(np.max(np.abs(pred - trainer.predict(test))))
        latency = {
            f"fp32_{k}": v
            for k, v in per_row_latency(
                model, model.inputs_from_arrays(test.features, test.codec)
            ).items()
        }
        write_predictions(stage / "predictions.parquet", test, pred)
        val_pred = model.run(model.inputs_from_arrays(parts["val"].features, parts["val"].codec))
        metrics: dict[str, Any] = {
            "id": config.id,
            "target": config.output.target,
            "seed": trainer.seed_,
            "provenance": provenance,
            "features": str(Path(features).resolve()),
            "table_metadata": meta,
            "splits": {
                name: {
                    "n_rows": parts[name].n,
                    "n_sources": len(getattr(splits, name)),
                    "sources": getattr(splits, name),
                }
                for name in ("train", "val", "test")
            },
            "n_sources": len(data.sources),
            "n_rows": data.n,
            "test": evaluate_split(test, pred, n_boot=n_boot, seed=0),
            "val": evaluate_split(parts["val"], val_pred, n_boot=0),
            "training": {
                "epochs_run": len(trainer.history_),
                "best_epoch": trainer.best_epoch_,
                "best_val_rmse": trainer.best_val_rmse_,
                "seconds": round(trainer.seconds_, 3),
                "parameters": count_parameters(trainer.model_),
                "threads": config.train.threads,
                "history": trainer.history_,
            },
            "onnx": {
                "bytes": info.bytes,
                "sha256": info.sha256,
                "opset": info.opset,
                "ops": list(info.ops),
                "ort_vs_torch_max_abs_diff": info.max_abs_diff,
                "test_ort_vs_torch_max_abs_diff": torch_diff,
            },
            "latency": latency,
            "environment": {
                "python": platform.python_version(),
                "torch": torch.__version__,
                "machine": platform.machine(),
            },
        }
        if plots:
            from vmaf_train.plots import plot_scatter, plot_training_curve

            plot_training_curve(
                trainer.history_, stage / "training_curve.png", title=f"{config.id}: training curve"
            )
            fm = metrics["test"]["frame"]
            plot_scatter(
                test.target,
                pred,
                test.source_id,
                stage / "scatter_test.png",
                title=f"{config.id} test: PLCC {fm['plcc']:.4f} SROCC {fm['srocc']:.4f} "
                f"RMSE {fm['rmse']:.3f} (n={fm['n']})",
                xlabel=f"teacher {config.output.target}",
                ylabel="prediction",
            )
        bad = nonfinite_path(metrics)
        if bad is not None:
            raise BadInputError(
                f"training produced a non-finite metric ({bad}); the model did not learn "
                f"(lower train.lr, now {config.train.lr:g}, or check the features); "
                "no model written"
            )
        atomic_write_json(stage / "metrics.json", metrics, strict=True)
        if out.exists():
            shutil.rmtree(out)
        os.replace(stage, out)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    return RunResult(out=out, metrics=json.loads((out / "metrics.json").read_text()))
