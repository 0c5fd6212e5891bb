"""Training data of the pixel NR model (``fit_nr``): seeded whole frames per clip, cropped and
flipped mini-batches, the fixed statistics of frames, and batched torch prediction."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

from vmaf_tiny.ffmpeg import resolve_ffmpeg
from vmaf_train.data.frames import (
    ClipRecord,
    clip_rng,
    crop_boxes,
    decode,
    gather,
    sample_indices,
    to_uint8,
)
from vmaf_train.models.nr import GradStats
from vmaf_train.recipes import PixelConfig

__all__ = [
    "crop_batches",
    "feature_batches",
    "frame_size",
    "frame_stats",
    "sample_frames",
    "torch_predict",
]


def frame_size(cfg: PixelConfig) -> tuple[int, int]:
    w, h = (int(v) for v in cfg.data["size"])
    return w, h


def sample_frames(
    clips: Sequence[ClipRecord],
    cfg: PixelConfig,
    *,
    per_clip: int,
    purpose: str,
    cache: Path | None,
    progress: bool,
) -> dict[str, np.ndarray]:
    """Seeded whole frames (uint8) and their teacher VMAF from each clip."""
    size = frame_size(cfg)
    seed = int(cfg.train["seed"])
    ff = resolve_ffmpeg()

    def work(c: ClipRecord) -> dict[str, np.ndarray]:
        idx = sample_indices(c.n_frames, per_clip, clip_rng(seed, c.key, purpose))
        frames = decode(c.clip, size=size, max_frames=int(idx[-1]) + 1, ffmpeg=ff)
        idx = idx[idx < len(frames)]
        return {
            "x": to_uint8(frames[idx]),
            "y": c.vmaf[idx].astype(np.float32),
            "frame": idx.astype(np.int32),
        }

    params = {"size": size, "per_clip": per_clip, "seed": seed, "purpose": purpose}
    return gather(clips, work, tag=f"nr-{purpose}", params=params, cache=cache, progress=progress)


def crop_batches(
    x: np.ndarray, y: np.ndarray, cfg: PixelConfig, epoch: int
) -> Iterator[tuple[torch.Tensor, ...]]:
    rng = np.random.default_rng([int(cfg.train["seed"]), 1000 + epoch])
    bs = int(cfg.train["batch_size"])
    crop = cfg.data["crop"]
    order = rng.permutation(len(x))
    for i in range(0, len(order), bs):
        sel = order[i : i + bs]
        if crop:
            cw, ch = int(crop[0]), int(crop[1])
            boxes = crop_boxes(x.shape[1], x.shape[2], (ch, cw), len(sel), rng)
            xb = np.stack(
                [x[j, y0 : y0 + ch, x0 : x0 + cw] for j, (y0, x0) in zip(sel, boxes, strict=True)]
            )
        else:
            xb = x[sel]
        if cfg.data["flip"]:
            flip = rng.random(len(sel)) < 0.5
            xb = np.where(flip[:, None, None], xb[:, :, ::-1], xb)
        xt = torch.from_numpy(np.ascontiguousarray(xb, dtype=np.float32) / 255.0)[:, None]
        yield xt, torch.from_numpy(y[sel].astype(np.float32))[:, None]


def frame_stats(stats: GradStats, x: np.ndarray, batch: int = 16) -> torch.Tensor:
    """GradStats of uint8 whole frames, [N, n_out]."""
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            out.append(
                stats(torch.from_numpy(x[i : i + batch].astype(np.float32) / 255.0)[:, None])
            )
    return torch.cat(out) if out else torch.zeros(0, stats.n_out)


def feature_batches(
    f: torch.Tensor, y: np.ndarray, cfg: PixelConfig, epoch: int
) -> Iterator[tuple[torch.Tensor, ...]]:
    rng = np.random.default_rng([int(cfg.train["seed"]), 1000 + epoch])
    bs = int(cfg.train["batch_size"])
    order = rng.permutation(len(f))
    yt = torch.from_numpy(y.astype(np.float32))[:, None]
    for i in range(0, len(order), bs):
        sel = torch.from_numpy(order[i : i + bs])
        yield f[sel], yt[sel]


def torch_predict(model: torch.nn.Module, x: np.ndarray, batch: int = 16) -> np.ndarray:
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            xt = torch.from_numpy(x[i : i + batch].astype(np.float32) / 255.0)[:, None]
            out.append(model(xt).numpy().reshape(-1))
    return np.concatenate(out) if out else np.zeros(0)
