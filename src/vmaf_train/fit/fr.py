"""Deterministic training of tiny FR regressors, and the ``fit`` run that exports and evaluates.

Plain torch loop: AdamW with cosine decay, mini-batches shuffled by a seeded generator, early
stopping on the validation RMSE (of the clamped output when the model clamps), best weights
restored. ``torch.use_deterministic_algorithms(True)`` and a fixed thread count make the same
seed on the same data give the same weights.
"""

from __future__ import annotations

import copy
import json
import os
import platform
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vmaf_tiny.errors import BadInputError
from vmaf_tiny.features import libvmaf_needs
from vmaf_tiny.fsutil import atomic_write_json
from vmaf_train.data.dataset import FRData, load_fr_data, read_table_for, split_data
from vmaf_train.data.table import table_metadata
from vmaf_train.evaluate.model import evaluate_split, write_predictions
from vmaf_train.evaluate.predict import (
    load_sidecar,
    normalise_features,
    open_fr_model,
    per_row_latency,
)
from vmaf_train.fit.loop import Determinism, nonfinite_path
from vmaf_train.models.codec import block_spec
from vmaf_train.models.mlp import FRMLP, count_parameters
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


def _safe_std(x: np.ndarray) -> np.ndarray:
    s = np.asarray(x.std(axis=0), dtype=np.float64)
    return np.where(s > 1e-8, s, 1.0)


class FRTrainer:
    """Fits an :class:`~vmaf_train.models.mlp.FRMLP` from a config.

    Args:
        config: The model recipe.
        seed: Overrides ``config.train.seed`` when given.
        log: Called with one line per logged epoch (None: silent).

    Attributes (after ``fit``):
        model_: The trained module (best validation epoch).
        feature_mean_: Standardisation mean (train split).
        feature_std_: Standardisation std (train split).
        history_: Per-epoch ``{"epoch", "train_rmse", "val_rmse", "lr"}``.
        best_epoch_: Epoch whose weights were kept.
        best_val_rmse_: Its validation RMSE.
        seconds_: Training wall time.
    """

    def __init__(
        self,
        config: ModelConfig,
        *,
        seed: int | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.config = config
        self.seed = seed
        self.log = log

    @property
    def seed_(self) -> int:
        return int(self.config.train.seed if self.seed is None else self.seed)

    def _inputs(self, data: FRData) -> tuple[torch.Tensor, ...]:
        x = data.features
        if self.config.arch.normalization == "sidecar":
            x = normalise_features(x, self._sidecar_norm())
        tensors = [torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))]
        if data.codec is not None:
            tensors.append(torch.from_numpy(np.ascontiguousarray(data.codec, dtype=np.float32)))
        return tuple(tensors)

    def _sidecar_norm(self) -> dict[str, Any]:
        return {
            "normalization": {
                "baked": False,
                "feature_mean": [float(v) for v in self.feature_mean_],
                "feature_std": [float(v) for v in self.feature_std_],
            }
        }

    def fit(self, train: FRData, val: FRData) -> FRTrainer:
        """Train on ``train``, early-stop on ``val``; returns self."""
        cfg, tc = self.config, self.config.train
        if train.n < 2 or val.n < 1:
            raise BadInputError(f"too few rows to train: train {train.n}, val {val.n}")
        if (train.codec is None) != (not cfg.arch.codec_block):
            raise BadInputError("codec block presence does not match the config")
        t0 = time.perf_counter()
        # Statistics in float32, the dtype the graph and the runtime use.
        self.feature_mean_ = train.features.mean(axis=0, dtype=np.float64).astype(np.float32)
        self.feature_std_ = _safe_std(train.features.astype(np.float64)).astype(np.float32)
        y_mean = float(train.target.mean())
        y_std = float(train.target.std()) or 1.0
        clamp = tuple(cfg.output.range) if cfg.output.clamp else None
        with Determinism(self.seed_, tc.threads).scoped():
            model = FRMLP(
                n_features=train.features.shape[1],
                codec_width=0 if train.codec is None else train.codec.shape[1],
                hidden=cfg.arch.hidden,
                activation=cfg.arch.activation,
                feature_mean=self.feature_mean_,
                feature_std=self.feature_std_,
                bake_scaler=cfg.arch.normalization == "baked",
                target_mean=y_mean,
                target_std=y_std,
                clamp=clamp,  # type: ignore[arg-type]
            )
            xs_train, xs_val = self._inputs(train), self._inputs(val)
            y_train = torch.from_numpy(train.target.astype(np.float32)).reshape(-1, 1)
            y_val = val.target.astype(np.float64)
            opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=tc.epochs)
            gen = torch.Generator().manual_seed(self.seed_)
            loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = (
                torch.nn.functional.mse_loss
                if tc.loss == "mse"
                else torch.nn.functional.smooth_l1_loss
            )
            history: list[dict[str, float]] = []
            best_rmse, best_epoch = float("inf"), 0
            best_state = copy.deepcopy(model.state_dict())
            n = train.n
            for epoch in range(1, tc.epochs + 1):
                model.train()
                perm = torch.randperm(n, generator=gen)
                sq_sum = 0.0
                for i in range(0, n, tc.batch_size):
                    idx = perm[i : i + tc.batch_size]
                    pred = model.raw(*(x[idx] for x in xs_train))
                    loss = loss_fn(pred / y_std, y_train[idx] / y_std)
                    if not bool(torch.isfinite(loss)):
                        raise BadInputError(
                            f"training diverged at epoch {epoch} (loss={float(loss.detach()):g}); "
                            f"lower train.lr (now {tc.lr:g})"
                        )
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    sq_sum += float(((pred.detach() - y_train[idx]) ** 2).sum())
                sched.step()
                model.eval()
                with torch.no_grad():
                    pv = model(*xs_val).numpy().reshape(-1).astype(np.float64)
                val_rmse = float(np.sqrt(np.mean((pv - y_val) ** 2)))
                if not np.isfinite(val_rmse):
                    raise BadInputError(
                        f"training diverged at epoch {epoch} (validation rmse={val_rmse:g}); "
                        f"lower train.lr (now {tc.lr:g})"
                    )
                history.append(
                    {
                        "epoch": epoch,
                        "train_rmse": float(np.sqrt(sq_sum / n)),
                        "val_rmse": val_rmse,
                        "lr": float(opt.param_groups[0]["lr"]),
                    }
                )
                if val_rmse < best_rmse:
                    best_rmse, best_epoch = val_rmse, epoch
                    best_state = copy.deepcopy(model.state_dict())
                elif epoch - best_epoch >= tc.patience and epoch >= tc.min_epochs:
                    break
                if self.log and (epoch == 1 or epoch % 25 == 0):
                    self.log(
                        f"epoch {epoch}: train rmse {history[-1]['train_rmse']:.4f}, "
                        f"val rmse {val_rmse:.4f}"
                    )
            model.load_state_dict(best_state)
            model.eval()
        self.model_ = model
        self.history_ = history
        self.best_epoch_ = best_epoch
        self.best_val_rmse_ = best_rmse
        self.seconds_ = time.perf_counter() - t0
        return self

    def predict(self, data: FRData) -> np.ndarray:
        """Torch predictions (clamped when the config clamps), float64."""
        with torch.no_grad():
            return self.model_(*self._inputs(data)).numpy().reshape(-1).astype(np.float64)

    def normalization(self) -> dict[str, Any]:
        """The sidecar ``normalization`` block."""
        if self.config.arch.normalization == "baked":
            return {"baked": True}
        return dict(self._sidecar_norm()["normalization"])


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
    if out.exists() and not force:
        raise BadInputError(f"run directory {out} exists (use --force to replace it)")
    if seed is not None:
        config = config.with_overrides(train={"seed": seed})
    table = read_table_for(features, config.output.target)
    meta = table_metadata(table)
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
        "manifest_sha256": manifest_sha256(features, meta),
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
