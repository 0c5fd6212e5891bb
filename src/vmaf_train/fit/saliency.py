"""``saliency_student_v1``: distil the spectral-residual teacher into a tiny encoder-decoder.

Data: luma frames rescaled to the sidecar's ``frame.resize`` (as the runtime prepares them) --
seeded frames of each source's reference plus one seeded frame of each distorted clip -- and the
teacher's map of each (:mod:`vmaf_train.data.teacher`, at 1/4 of the input size). Loss: MSE
plus (1 - CC). Evaluation on the held-out test sources with the exported ONNX model: per-frame
CC and IoU of the top 20 % against the teacher, and the time per frame of teacher vs student.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vmaf_tiny.errors import BadInputError
from vmaf_tiny.ffmpeg import resolve_ffmpeg
from vmaf_train.data.frames import (
    ClipRecord,
    PixelCorpus,
    clip_rng,
    decode,
    gather,
    sample_indices,
    to_uint8,
)
from vmaf_train.data.teacher import (
    TeacherParams,
    centre_prior,
    spectral_residual,
    teacher_maps,
)
from vmaf_train.evaluate.metrics import map_cc, top_iou
from vmaf_train.fit.loop import fit_loop, keeps_torch_state, run_metrics, start_run, write_run
from vmaf_train.models.saliency import LowResSaliencyStudent, SaliencyStudent
from vmaf_train.recipes import PixelConfig
from vmaf_train.ship.export import TensorSpec, export_pixel_onnx
from vmaf_train.ship.onnx_io import ort_session

__all__ = [
    "fit_saliency",
    "saliency_sidecar",
    "teacher_params",
]

INPUT, OUTPUT = "frame", "saliency"


def teacher_params(cfg: PixelConfig) -> TeacherParams:
    """The teacher settings of a recipe."""
    d = cfg.data
    return TeacherParams(
        avg_size=int(d["teacher_avg_size"]),
        sigma=float(d["teacher_sigma"]),
        centre_sigma=float(d["teacher_centre_sigma"]),
        centre_weight=float(d["teacher_centre_weight"]),
    )


def _sizes(cfg: PixelConfig) -> tuple[tuple[int, int], tuple[int, int]]:
    w, h = (int(v) for v in cfg.data["size"])
    return (w, h), (h // 4, w // 4)


def _sample(
    clips: Sequence[ClipRecord],
    cfg: PixelConfig,
    *,
    ref_frames: int,
    clip_frames: int,
    purpose: str,
    cache: Path | None,
    progress: bool,
) -> dict[str, np.ndarray]:
    """Frames (uint8) and teacher maps: ``ref_frames`` per source reference, ``clip_frames``
    per distorted clip."""
    (w, h), msize = _sizes(cfg)
    seed = int(cfg.train["seed"])
    tp = teacher_params(cfg)
    ff = resolve_ffmpeg()
    first: dict[str, str] = {}
    for c in clips:
        first.setdefault(c.source_id, c.key)

    def work(c: ClipRecord) -> dict[str, np.ndarray]:
        picks: list[np.ndarray] = []
        for path, k, tag in ((c.clip, clip_frames, "clip"), (c.reference, ref_frames, "ref")):
            if k == 0 or (tag == "ref" and first[c.source_id] != c.key):
                continue
            idx = sample_indices(c.n_frames, k, clip_rng(seed, c.key, f"{purpose}-{tag}"))
            frames = decode(path, size=(w, h), max_frames=int(idx[-1]) + 1, ffmpeg=ff)
            picks.append(to_uint8(frames[idx[idx < len(frames)]]))
        x = np.concatenate(picks) if picks else np.zeros((0, h, w), np.uint8)
        maps = teacher_maps(x.astype(np.float32) / 255.0, msize, tp) if len(x) else x
        return {"x": x, "t": np.asarray(maps, dtype=np.float32).reshape(len(x), *msize)}

    params = {
        "size": [w, h],
        "seed": seed,
        "ref": ref_frames,
        "clip": clip_frames,
        "teacher": tp.__dict__,
        "purpose": purpose,
    }
    return gather(clips, work, tag=f"sal-{purpose}", params=params, cache=cache, progress=progress)


def _student(cfg: PixelConfig, input_size: tuple[int, int]) -> torch.nn.Module:
    """The recipe's student: ``arch.model`` encdec (v1) or lowres (works at the map size)."""
    name = str(cfg.arch["model"])
    classes = {"encdec": SaliencyStudent, "lowres": LowResSaliencyStudent}
    if name not in classes:
        raise BadInputError(f"{cfg.id}: arch.model must be encdec or lowres, got {name!r}")
    width = int(cfg.arch["width"])
    if name == "lowres":
        return LowResSaliencyStudent(input_size, width, bool(cfg.arch["context_norm"]))
    model: torch.nn.Module = classes[name](input_size=input_size, width=width)
    return model


def _batches(data: Mapping[str, np.ndarray], cfg: PixelConfig, epoch: int) -> Iterator[Any]:
    rng = np.random.default_rng([int(cfg.train["seed"]), 3000 + epoch])
    bs = int(cfg.train["batch_size"])
    order = rng.permutation(len(data["x"]))
    for i in range(0, len(order), bs):
        sel = order[i : i + bs]
        flip = rng.random(len(sel)) < 0.5
        x = np.where(flip[:, None, None], data["x"][sel][:, :, ::-1], data["x"][sel])
        t = np.where(flip[:, None, None], data["t"][sel][:, :, ::-1], data["t"][sel])
        if cfg.data["vflip"]:
            vf = rng.random(len(sel)) < 0.5
            x = np.where(vf[:, None, None], x[:, ::-1, :], x)
            t = np.where(vf[:, None, None], t[:, ::-1, :], t)
        yield (
            torch.from_numpy(x.astype(np.float32) / 255.0)[:, None],
            torch.from_numpy(np.ascontiguousarray(t))[:, None],
        )


def _cc_loss(p: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    pc = p.flatten(1) - p.flatten(1).mean(1, keepdim=True)
    tc = t.flatten(1) - t.flatten(1).mean(1, keepdim=True)
    cc = (pc * tc).sum(1) / torch.sqrt((pc**2).sum(1) * (tc**2).sum(1) + 1e-8)
    return 1.0 - cc.mean()


def _predict(model: torch.nn.Module, x: np.ndarray, batch: int = 32) -> np.ndarray:
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            xt = torch.from_numpy(x[i : i + batch].astype(np.float32) / 255.0)[:, None]
            out.append(model(xt).numpy()[:, 0])
    return np.concatenate(out)


def _map_metrics(pred: np.ndarray, target: np.ndarray, frac: float) -> dict[str, Any]:
    cc = np.array([map_cc(p, t) for p, t in zip(pred, target, strict=True)])
    iou = np.array([top_iou(p, t, frac) for p, t in zip(pred, target, strict=True)])
    ok = np.isfinite(cc)
    return {
        "n": len(pred),
        "cc": float(np.mean(cc[ok])) if ok.any() else float("nan"),
        "cc_median": float(np.median(cc[ok])) if ok.any() else float("nan"),
        "iou_top": float(np.mean(iou)),
        "iou_top_median": float(np.median(iou)),
        "top_frac": frac,
        "n_undefined_cc": int((~ok).sum()),
    }


def saliency_sidecar(cfg: PixelConfig, opset: int, onnx_name: str = "model.onnx") -> dict[str, Any]:
    """Sidecar of a saliency model: fixed input size, map at 1/4 of it."""
    (w, h), (mh, mw) = _sizes(cfg)
    return {
        "schema_version": 1,
        "id": cfg.id,
        "kind": "saliency",
        "class": cfg.model_class,
        "onnx": onnx_name,
        "opset": opset,
        "smoke": False,
        "description": cfg.description,
        "inputs": [TensorSpec(INPUT, ("N", 1, h, w), "frame").sidecar()],
        "outputs": [TensorSpec(OUTPUT, ("N", 1, mh, mw), "map").sidecar()],
        "frame": {
            "channels": "luma",
            "value_range": [0.0, 1.0],
            "crop": None,
            "resize": [w, h],
            "stride": 1,
            "pooling": "none",
        },
        "output": {"target": "saliency", "range": [0.0, 1.0], "clamp": True},
        "int8": None,
    }


def _speed(
    cfg: PixelConfig, onnx_path: Path, frames: np.ndarray, rounds: int = 7
) -> dict[str, float]:
    """Median ms per frame: teacher (numpy) vs student (ONNX Runtime, 1 thread, batch 1 / 16).

    Both start from the same decoded frames at the input size (the teacher's own area downscale
    is timed with it; a student's is inside its graph). The three alternate in every round, so
    a load spike on a shared machine hits all of them; medians over ``rounds``.
    """
    _, msize = _sizes(cfg)
    tp = teacher_params(cfg)
    x = frames[:16].astype(np.float32) / 255.0
    sess = ort_session(onnx_path)
    b16 = {INPUT: x[:, None]}

    def teacher() -> None:
        for f in x:
            spectral_residual(f, msize, tp)

    def student_b1() -> None:
        for i in range(len(x)):
            sess.run(None, {INPUT: x[i : i + 1, None]})

    def student_b16() -> None:
        sess.run(None, b16)

    jobs = {"teacher": teacher, "b1": student_b1, "b16": student_b16}
    for fn in jobs.values():  # warm-up
        fn()
    times: dict[str, list[float]] = {k: [] for k in jobs}
    for _ in range(rounds):
        for k, fn in jobs.items():
            t0 = time.perf_counter()
            fn()
            times[k].append((time.perf_counter() - t0) * 1000.0 / len(x))
    teacher_ms, b1, b16_ms = (float(np.median(times[k])) for k in ("teacher", "b1", "b16"))
    return {
        "teacher_ms_per_frame": teacher_ms,
        "student_ms_per_frame_b1": b1,
        "student_ms_per_frame_b16": b16_ms,
        "speedup_b1": teacher_ms / b1,
        "speedup_b16": teacher_ms / b16_ms,
    }


@keeps_torch_state
def fit_saliency(
    cfg: PixelConfig,
    corpus: PixelCorpus,
    run: Path,
    *,
    cache: Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Distil, export and evaluate a saliency student into a run directory; returns metrics."""
    start = start_run(cfg, corpus, run, cache)
    seed, cache = start.seed, start.cache
    parts, src_split = start.parts, start.src_split
    d = cfg.data
    train = _sample(
        parts["train"],
        cfg,
        ref_frames=int(d["ref_frames_per_source"]),
        clip_frames=int(d["frames_per_clip"]),
        purpose="train",
        cache=cache,
        progress=progress,
    )
    val_clips = parts["val"] or parts["train"]
    val = _sample(
        val_clips,
        cfg,
        ref_frames=int(d["val_ref_frames_per_source"]),
        clip_frames=1,
        purpose="val",
        cache=cache,
        progress=progress,
    )
    (w, h), _ = _sizes(cfg)
    model = _student(cfg, (h, w))
    n_params = sum(p.numel() for p in model.parameters())

    ccw = float(d["cc_loss_weight"])

    def loss_fn(m: torch.nn.Module, b: tuple[torch.Tensor, ...]) -> torch.Tensor:
        p = m(b[0])
        return torch.mean((p - b[1]) ** 2) + ccw * _cc_loss(p, b[1])

    def val_fn(m: torch.nn.Module) -> float:
        p = torch.from_numpy(_predict(m, val["x"]))[:, None]
        t = torch.from_numpy(val["t"])[:, None]
        return float(torch.mean((p - t) ** 2) + ccw * _cc_loss(p, t))

    fit = fit_loop(
        model,
        lambda e: _batches(train, cfg, e),
        loss_fn,
        val_fn,
        cfg.train,
        label=cfg.id,
        progress=progress,
    )
    meta = start.provenance(cfg, corpus)
    run.mkdir(parents=True, exist_ok=True)
    gen = torch.Generator().manual_seed(seed + 7)
    (_, (mh, mw)) = _sizes(cfg)
    exp = export_pixel_onnx(
        model,
        run / "model.onnx",
        inputs=[TensorSpec(INPUT, ("N", 1, h, w), "frame")],
        outputs=[TensorSpec(OUTPUT, ("N", 1, mh, mw), "map")],
        example=lambda b: (torch.rand(b, 1, h, w, generator=gen),),
        metadata=meta,
        opset=cfg.opset,
    )
    test_clips = parts["test"] or val_clips
    test = _sample(
        test_clips,
        cfg,
        ref_frames=int(d["eval_ref_frames_per_source"]),
        clip_frames=1,
        purpose="test",
        cache=cache,
        progress=progress,
    )
    sess = ort_session(exp.path)
    pred = np.concatenate(
        [
            sess.run(None, {INPUT: test["x"][i : i + 16, None].astype(np.float32) / 255.0})[0][:, 0]
            for i in range(0, len(test["x"]), 16)
        ]
    )
    frac = float(d["top_frac"])
    test_m = _map_metrics(pred, test["t"], frac)
    val_m = _map_metrics(_predict(model, val["x"]), val["t"], frac)
    # reference point: the centre prior alone against the same teacher maps
    prior = np.broadcast_to(centre_prior(mh, mw, teacher_params(cfg).centre_sigma), test["t"].shape)
    prior_m = _map_metrics(prior, test["t"], frac)
    speed = _speed(cfg, exp.path, test["x"])
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
            "test": {"frame": test_m, "clip": {"n": len(test_clips)}},
            "val": {"frame": val_m},
            "latency": speed,
        }
    )
    report = {
        "kind": "saliency",
        "test_sources": src_split["test"] if parts["test"] else src_split["val"],
        "test": test_m,
        "centre_prior_only": prior_m,
        "speed": speed,
        "teacher": teacher_params(cfg).__dict__,
        "input_size": [w, h],
        "map_size": [mw, mh],
        "student": str(cfg.arch["model"]),
        "corpus": str(corpus.table_metadata.get("corpus", "")),
        "goals": dict(cfg.goals),
    }
    write_run(
        run,
        config=cfg.resolved(),
        sidecar=saliency_sidecar(cfg, exp.opset),
        metrics=metrics,
        report=report,
    )
    return metrics
