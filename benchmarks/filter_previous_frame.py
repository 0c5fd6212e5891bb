"""Does the previous decoded frame help the learned filter? A paired pilot on validation clips.

A research probe for issue 15 (it reads only the recipe's training and validation sources, never
the test ones). Two arms, identical but for one switch, each trained from ``learned_filter_v6``'s
network with ``learned_filter_v7``'s recipe (patches of the corpus's training clips with VMAF < 75
under the square's eight symmetries; relative MSE + 0.3 x detail + 0.5 x VIF loss; AdamW with
cosine decay, batch 32, one thread, the recipe's seed):

* ``prev``: a 3x3 convolution of the previous decoded frame (folded 2x2 like the frame) is added
  to the first hidden layer. It starts at zero, so the arm starts exactly as v6;
* ``ctrl``: no such input (v7's own network).

The previous frame is the one before in display order, at the same place, without motion
compensation (the first frame uses itself). Each arm is scored on the validation clips of the
VMAF < 70 band of ``--eval-corpus`` (first 12 frames, one view, ungated, PSNR-Y gain in dB as
``benchmarks/filter_headroom.py`` computes it). The runtime cannot feed a second frame to a
filter, so nothing here is shippable: the figure says whether that contract is worth building.

    python benchmarks/filter_previous_frame.py --corpus CG --eval-corpus C --arm prev -o prev.json
    python benchmarks/filter_previous_frame.py --corpus CG --eval-corpus C --arm ctrl -o ctrl.json
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from filter_headroom import _frames, _psnr
from vmaf_tiny.ffmpeg import resolve_ffmpeg
from vmaf_train.data.frames import (
    ClipRecord,
    PixelCorpus,
    clip_rng,
    crop_boxes,
    decode,
    sample_indices,
    to_uint8,
)
from vmaf_train.fit.filter import eligible_clips, load_filter_weights, make_filter
from vmaf_train.fit.filter_eval import quality_band
from vmaf_train.fit.filter_losses import detail_loss, relative_loss
from vmaf_train.fit.loop import fit_loop
from vmaf_train.fit.vif import vif_loss
from vmaf_train.recipes import PixelConfig, load_recipe

REPO = Path(__file__).resolve().parents[1]
Batch = tuple[torch.Tensor, ...]


def sample(
    clips: list[ClipRecord], cfg: PixelConfig, per_frame: int, purpose: str
) -> dict[str, np.ndarray]:
    """Aligned (frame, previous frame, reference) uint8 patches, seeded as the filter fit's."""
    seed, k = int(cfg.train["seed"]), int(cfg.data["frames_per_clip"])
    p, align = int(cfg.data["patch"]), int(cfg.data["align"])
    ff = resolve_ffmpeg()
    out: dict[str, list[np.ndarray]] = {"x": [], "p": [], "y": []}
    for c in clips:
        rng = clip_rng(seed, c.key, purpose)
        idx = sample_indices(c.n_frames, k, rng)
        last = int(idx[-1]) + 1
        dist = decode(c.clip, max_frames=last, ffmpeg=ff)
        ref = decode(c.reference, max_frames=last, ffmpeg=ff)
        for i in idx:
            if i >= len(dist) or i >= len(ref):
                continue
            j = max(int(i) - 1, 0)
            for y0, x0 in crop_boxes(c.height, c.width, (p, p), per_frame, rng):
                y0, x0 = y0 - y0 % align, x0 - x0 % align
                box = (slice(y0, y0 + p), slice(x0, x0 + p))
                out["x"].append(dist[i][box])
                out["p"].append(dist[j][box])
                out["y"].append(ref[i][box])
    return {k: to_uint8(np.stack(v)) for k, v in out.items()}


class PreviousFrameFilter(nn.Module):
    """v6's network, plus (``use_prev``) a zero-initialised 3x3 convolution of the folded
    previous frame added to its first hidden layer."""

    def __init__(self, cfg: PixelConfig, use_prev: bool) -> None:
        super().__init__()
        self.base = make_filter(cfg.arch)
        load_filter_weights(self.base, "learned_filter_v6")
        self.use_prev = use_prev
        fold = int(cfg.arch["scale"]) ** 2
        self.prev = nn.Conv2d(fold, int(cfg.arch["width"]), 3, 1, 1, bias=False)
        nn.init.zeros_(self.prev.weight)

    def forward(self, x: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        c = float(self.base.center)
        body = self.base.body
        h = body[1](body[0]((x - 0.5) * c))
        if self.use_prev:
            h = h + self.prev(body[0]((p - 0.5) * c))
        for mod in list(body)[2:]:
            h = mod(h)
        return x + h / c


def batches(data: dict[str, np.ndarray], seed: int, epoch: int, bs: int) -> Iterator[Batch]:
    """Shuffled batches, each patch under a random one of the square's eight symmetries."""
    rng = np.random.default_rng([seed, 2000 + epoch])
    order = rng.permutation(len(data["x"]))
    for i in range(0, len(order), bs):
        sel = order[i : i + bs]
        arrs = [data[k][sel] for k in ("x", "p", "y")]
        flip = rng.random(len(sel)) < 0.5
        arrs = [np.where(flip[:, None, None], a[:, :, ::-1], a) for a in arrs]
        vflip, swap = rng.random((2, len(sel))) < 0.5
        arrs = [np.where(vflip[:, None, None], a[:, ::-1], a) for a in arrs]
        arrs = [np.where(swap[:, None, None], a.transpose(0, 2, 1), a) for a in arrs]
        yield tuple(torch.from_numpy(a.astype(np.float32) / 255.0)[:, None] for a in arrs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, required=True, help="filter_grain corpus (training)")
    ap.add_argument("--eval-corpus", type=Path, required=True, help="filter corpus (scoring)")
    ap.add_argument("--arm", choices=("prev", "ctrl"), required=True)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--max-clips", type=int, default=0, help="first N clips per split (smoke)")
    ap.add_argument("-o", "--out", type=Path, required=True, help="result JSON")
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg = load_recipe(REPO / "configs/models/learned_filter_v7.toml")
    seed, cap = int(cfg.train["seed"]), float(cfg.data["max_vmaf"])
    torch.manual_seed(seed)
    t0 = time.time()
    split = PixelCorpus.open(args.corpus).split(**cfg.split)
    n = args.max_clips or None
    train = sample(eligible_clips(split["train"], cfg, max_vmaf=cap)[:n], cfg, 16, "train")
    val = sample(eligible_clips(split["val"], cfg, max_vmaf=cap)[:n], cfg, 8, "val")
    vt = [torch.from_numpy(val[k].astype(np.float32) / 255.0)[:, None] for k in ("x", "p", "y")]
    eps = float(cfg.train["rel_eps"])
    w_detail, w_vif = float(cfg.train["detail"]), float(cfg.train["vif"])

    def loss_fn(m: nn.Module, b: Batch) -> torch.Tensor:
        x, p, y = b
        out = m(x, p)
        loss = relative_loss(out, x, y, eps) + w_detail * detail_loss(out, x, y, eps)
        return loss + w_vif * vif_loss(out, x, y)

    @torch.no_grad()
    def val_fn(m: nn.Module) -> float:
        tot = sum(
            float(loss_fn(m, tuple(v[i : i + 64] for v in vt))) * len(vt[0][i : i + 64])
            for i in range(0, len(vt[0]), 64)
        )
        return tot / len(vt[0])

    model = PreviousFrameFilter(cfg, args.arm == "prev")
    params = dict(cfg.train) | {"epochs": args.epochs}
    bs = int(cfg.train["batch_size"])
    fit = fit_loop(
        model,
        lambda e: batches(train, seed, e, bs),
        loss_fn,
        val_fn,
        params,
        label=f"previous-frame {args.arm}",
    )
    model.eval()
    ff = resolve_ffmpeg()
    esplit = PixelCorpus.open(args.eval_corpus).split(**cfg.split)
    clips = [
        c
        for c in eligible_clips(esplit["val"], cfg, max_vmaf=90.0)
        if quality_band(float(np.mean(c.vmaf))) == "vmaf<70"
    ][:n]
    rows: list[dict[str, Any]] = []
    with torch.no_grad():
        for c in clips:
            dis, ref = _frames(c, 12, ff)
            prev = np.concatenate([dis[:1], dis[:-1]])
            out = model(torch.from_numpy(dis[:, None]), torch.from_numpy(prev[:, None]))
            gain = _psnr(out[:, 0].numpy(), ref) - _psnr(dis, ref)
            rows.append({"key": c.key, "psnr_y_gain_db": gain})
    res = {
        "arm": args.arm,
        "epochs": args.epochs,
        "val_low_psnr_y_gain_db": float(np.mean([r["psnr_y_gain_db"] for r in rows])),
        "n_clips": len(rows),
        "n_train_patches": len(train["x"]),
        "history": fit.history,
        "best_epoch": fit.best_epoch,
        "prev_weight_abs_mean": float(model.prev.weight.detach().abs().mean()),
        "seconds": time.time() - t0,
        "rows": rows,
    }
    args.out.write_text(json.dumps(res, indent=1))
    print(json.dumps({k: v for k, v in res.items() if k != "rows"}, indent=1))


if __name__ == "__main__":
    main()
