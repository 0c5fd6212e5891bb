"""``nr_metric_v1``: train, export, quantise and evaluate the no-reference VMAF estimator.

Two architectures (``arch.model``): ``cnn`` (:class:`NRNet`, trained on random crops) and
``stats`` (:class:`StatsNRNet`: fixed whole-frame gradient/blockiness statistics into an
ensemble of small MLP heads; the statistics are computed once per training frame and only the
heads are trained, every head on the same batches with its own loss).

Data: distorted clips decoded as the runtime will (luma in [0, 1], bicubic rescale to the
sidecar's ``frame.resize``); a seeded sample of frames per training clip (random crops and
horizontal flips at training time), the per-frame teacher VMAF as target. Validation and early
stopping on whole frames of the validation sources; the final numbers come from the exported
ONNX model on every frame of the held-out test sources (frame level, and clip level = mean over
the clip's frames).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from vmaf_tiny.errors import BadInputError
from vmaf_train.data.frames import (
    PixelCorpus,
)
from vmaf_train.evaluate.metrics import pool_by_key, score_metrics
from vmaf_train.evaluate.model import write_clip_predictions
from vmaf_train.evaluate.predict import predict_clips
from vmaf_train.fit.loop import fit_loop, keeps_torch_state, run_metrics, start_run, write_run
from vmaf_train.fit.nr_data import (
    crop_batches,
    feature_batches,
    frame_size,
    frame_stats,
    sample_frames,
    torch_predict,
)
from vmaf_train.models.nr import GradStats, NRNet, StatsNRNet
from vmaf_train.recipes import PixelConfig
from vmaf_train.ship.export import TensorSpec, export_pixel_onnx
from vmaf_train.ship.onnx_io import ort_session
from vmaf_train.ship.quantize import gate_verdict, int8_checks, latency_us, quantize_qdq, write_gate

__all__ = [
    "build_nr",
    "fit_nr",
    "nr_sidecar",
]

INPUT, OUTPUT, HEADS = "frame", "score", "heads"


class _ScoreAndHeads(torch.nn.Module):
    """The exported graph of an ensemble: the score and, as a second output, every head's
    score (role ``heads``), whose spread is the runtime's per-frame uncertainty."""

    def __init__(self, model: StatsNRNet) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        heads = self.model.head_outputs(self.model.stats(x))
        return heads.mean(dim=1, keepdim=True), heads


def _n_heads(cfg: PixelConfig) -> int:
    """Heads of the recipe's ensemble (0: not an ensemble, no ``heads`` output)."""
    a = cfg.arch
    n = int(a.get("heads", 0)) if a["model"] == "stats" else 0
    return n if n > 1 else 0


def _output_specs(cfg: PixelConfig) -> list[TensorSpec]:
    """The graph's outputs: the score, and an ensemble's per-head scores."""
    specs = [TensorSpec(OUTPUT, ("N", 1), "score")]
    if _n_heads(cfg):
        specs.append(TensorSpec(HEADS, ("N", _n_heads(cfg)), "heads"))
    return specs


def build_nr(
    cfg: PixelConfig,
    target_mean: float = 0.0,
    target_std: float = 1.0,
    feat_mean: torch.Tensor | None = None,
    feat_std: torch.Tensor | None = None,
) -> NRNet | StatsNRNet:
    """The network of a recipe (output affine set from the training targets; for ``stats``
    also the statistics' standardisation)."""
    a = cfg.arch
    if a["model"] == "stats":
        return StatsNRNet(
            scales=a["scales"],
            hidden=int(a["hidden"]),
            heads=int(a["heads"]),
            dropout=float(a["dropout"]),
            clip=float(a["clip"]),
            feat_mean=feat_mean,
            feat_std=feat_std,
            out_mean=target_mean,
            out_std=target_std,
        )
    if a["model"] != "cnn":
        raise BadInputError(f"arch.model must be 'cnn' or 'stats', got {a['model']!r}")
    return NRNet(
        channels=a["channels"],
        strides=a["strides"],
        stem=a["stem"],
        front=a["front"],
        out_mean=target_mean,
        out_std=target_std,
    )


def _level_metrics(pred: Mapping[str, Any], name: str) -> dict[str, dict[str, Any]]:
    frame = score_metrics(pred["target"], pred["pred"][name], n_boot=0, constant_ok=True)
    _, (ct, cp) = pool_by_key(pred["key"], pred["target"], pred["pred"][name])
    clip = score_metrics(ct, cp, n_boot=0, constant_ok=True)
    return {"frame": frame, "clip": clip}


def nr_sidecar(cfg: PixelConfig, opset: int, onnx_name: str = "model.onnx") -> dict[str, Any]:
    """The sidecar of an NR model: input/output contract and frame preparation."""
    w, h = frame_size(cfg)
    out = cfg.output
    return {
        "schema_version": 1,
        "id": cfg.id,
        "kind": "nr",
        "class": cfg.model_class,
        "onnx": onnx_name,
        "opset": opset,
        "smoke": False,
        "description": cfg.description,
        "inputs": [TensorSpec(INPUT, ("N", 1, h, w), "frame").sidecar()],
        "outputs": [spec.sidecar() for spec in _output_specs(cfg)],
        "frame": {
            "channels": "luma",
            "value_range": [0.0, 1.0],
            "crop": None,
            "resize": [w, h],
            "stride": 1,
            "pooling": "mean",
        },
        "output": {
            "target": str(out.get("target", "vmaf")),
            "range": list(out.get("range", [0.0, 100.0])),
            "clamp": bool(out.get("clamp", True)),
        },
        "int8": None,
    }


@keeps_torch_state
def fit_nr(
    cfg: PixelConfig,
    corpus: PixelCorpus,
    run: Path,
    *,
    cache: Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train, export, (optionally) quantise and evaluate an NR model into a run directory.

    Args:
        cfg: The recipe.
        corpus: The corpus (split by source_id with ``cfg.split``).
        run: Output directory (model.onnx, model.json, metrics.json, ...).
        cache: Per-clip sample cache (default ``run/cache``).
        progress: Progress bars and epoch lines on stderr.

    Returns:
        metrics.json's content.
    """
    start = start_run(cfg, corpus, run, cache)
    seed, cache = start.seed, start.cache
    parts, src_split = start.parts, start.src_split
    train = sample_frames(
        parts["train"],
        cfg,
        per_clip=int(cfg.data["frames_per_clip"]),
        purpose="train",
        cache=cache,
        progress=progress,
    )
    val_clips = parts["val"] or parts["train"]
    val = sample_frames(
        val_clips,
        cfg,
        per_clip=int(cfg.data["val_frames_per_clip"]),
        purpose="val",
        cache=cache,
        progress=progress,
    )
    mu, sd = float(train["y"].mean()), float(max(train["y"].std(), 1.0))
    if cfg.arch["model"] == "stats":
        stats = GradStats(cfg.arch["scales"])
        f_train, f_val = frame_stats(stats, train["x"]), frame_stats(stats, val["x"])
        fm, fs = f_train.mean(0), f_train.std(0) + 1e-3
        model = build_nr(cfg, mu, sd, fm, fs)

        def loss_fn(m: torch.nn.Module, b: tuple[torch.Tensor, ...]) -> torch.Tensor:
            return torch.mean(((cast(StatsNRNet, m).head_outputs(b[0]) - b[1]) / sd) ** 2)

        def val_fn(m: torch.nn.Module) -> float:
            out = cast(StatsNRNet, m).head_outputs(f_val)
            p = np.clip(out.mean(dim=1).numpy(), 0.0, 100.0)
            return float(np.sqrt(np.mean((p - val["y"]) ** 2)))

        def batches(e: int) -> Iterator[tuple[torch.Tensor, ...]]:
            return feature_batches(f_train, train["y"], cfg, e)
    else:
        model = build_nr(cfg, mu, sd)

        def loss_fn(m: torch.nn.Module, b: tuple[torch.Tensor, ...]) -> torch.Tensor:
            return torch.mean(((m(b[0]) - b[1]) / sd) ** 2)

        def val_fn(m: torch.nn.Module) -> float:
            p = np.clip(torch_predict(m, val["x"]), 0.0, 100.0)
            return float(np.sqrt(np.mean((p - val["y"]) ** 2)))

        def batches(e: int) -> Iterator[tuple[torch.Tensor, ...]]:
            return crop_batches(train["x"], train["y"], cfg, e)

    n_params = sum(p.numel() for p in model.parameters())
    fit = fit_loop(model, batches, loss_fn, val_fn, cfg.train, label=cfg.id, progress=progress)
    w, h = frame_size(cfg)
    meta = start.provenance(cfg, corpus)
    run.mkdir(parents=True, exist_ok=True)
    gen = torch.Generator().manual_seed(seed + 7)
    exp = export_pixel_onnx(
        _ScoreAndHeads(model) if isinstance(model, StatsNRNet) and _n_heads(cfg) else model,
        run / "model.onnx",
        inputs=[TensorSpec(INPUT, ("N", 1, h, w), "frame")],
        outputs=_output_specs(cfg),
        example=lambda b: (torch.rand(b, 1, h, w, generator=gen),),
        metadata=meta,
        opset=cfg.opset,
    )
    sessions = {"fp32": ort_session(exp.path)}
    int8_report: dict[str, Any] | None = None
    if cfg.int8["enabled"]:
        k = int(cfg.int8["calib_frames"])
        pick = np.sort(np.random.default_rng([seed, 77]).permutation(len(train["x"]))[:k])
        calib = [
            {INPUT: train["x"][pick[i : i + 4], None].astype(np.float32) / 255.0}
            for i in range(0, len(pick), 4)
        ]
        int8_report = quantize_qdq(
            exp.path, run / "model.int8.onnx", calib, op_types=tuple(cfg.int8["op_types"])
        )
        sessions["int8"] = ort_session(run / "model.int8.onnx")
    test_clips = parts["test"] or val_clips
    rng = tuple(float(v) for v in cfg.output.get("range", [0.0, 100.0]))
    pred = predict_clips(
        test_clips,
        sessions,
        size=(w, h),
        max_frames=int(cfg.data["eval_frames"]),
        clamp=(rng[0], rng[1]) if cfg.output.get("clamp", True) else None,
        progress=progress,
    )
    test = _level_metrics(pred, "fp32")
    val_pred = np.clip(torch_predict(model, val["x"]), 0, 100)
    val_m = {"frame": score_metrics(val["y"], val_pred, n_boot=0, constant_ok=True)}
    probe = np.random.default_rng(seed).random((1, 1, h, w), dtype=np.float32)
    latency = {"fp32_us_per_row_b1": latency_us(sessions["fp32"], {INPUT: probe})}
    gate: dict[str, Any] | None = None
    if int8_report is not None:
        q = _level_metrics(pred, "int8")
        latency["int8_us_per_row_b1"] = latency_us(sessions["int8"], {INPUT: probe})
        gate = gate_verdict(
            {
                **int8_report,
                "n_calibration": len(pick),
                "reduce_range": True,
                "plcc_fp32": test["frame"]["plcc"],
                "plcc_int8": q["frame"]["plcc"],
                "rmse_fp32": test["frame"]["rmse"],
                "rmse_int8": q["frame"]["rmse"],
                "clip_plcc_int8": q["clip"]["plcc"],
                "n_test": test["frame"]["n"],
                "fp32_bytes": exp.path.stat().st_size,
                **{f"{k}": v for k, v in latency.items()},
                # The proof holds for any input; the emulation runs on the calibration frames.
                **int8_checks(run / "model.int8.onnx", calib),
            },
            max_plcc_drop=float(cfg.int8["max_plcc_drop"]),
            max_rmse_rise=float(cfg.int8["max_rmse_rise"]),
        )
        write_gate(run / "model.int8.onnx", gate)
    write_clip_predictions(run / "predictions.parquet", pred)
    per_codec = _per_codec(pred)
    metrics = run_metrics(
        start,
        cfg=cfg,
        corpus=corpus,
        parts=parts,
        n_rows=len(train["x"]),
        fit=fit,
        n_params=n_params,
        export=exp,
    )
    metrics.update(
        {
            "test": test,
            "val": val_m,
            "latency": latency,
        }
    )
    metrics["training"].update({"target_mean": mu, "target_std": sd})
    report = {
        "kind": "nr",
        "test_sources": src_split["test"] if parts["test"] else src_split["val"],
        "per_codec": per_codec,
        "int8_gate": gate,
        "frame_size": [w, h],
        "eval_frames_per_clip": int(cfg.data["eval_frames"]) or "all",
    }
    write_run(
        run,
        config=cfg.resolved(),
        sidecar=nr_sidecar(cfg, exp.opset),
        metrics=metrics,
        report=report,
    )
    return metrics


def _per_codec(pred: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for codec in sorted(set(pred["codec"].tolist())):
        m = pred["codec"] == codec
        if m.sum() < 3:
            continue
        met = score_metrics(pred["target"][m], pred["pred"]["fp32"][m], n_boot=0, constant_ok=True)
        out[codec] = {k: met[k] for k in ("n", "plcc", "srocc", "rmse")}
    return out
