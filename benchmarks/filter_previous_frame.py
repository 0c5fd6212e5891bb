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
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from filter_headroom import _frames, _psnr
from vmaf_tiny.ffmpeg import resolve_ffmpeg
from vmaf_train.data.frames import PixelCorpus
from vmaf_train.fit.filter import (
    eligible_clips,
    load_filter_weights,
    make_filter,
    patch_batches,
    sample_patches,
)
from vmaf_train.fit.filter_eval import quality_band
from vmaf_train.fit.filter_losses import detail_loss, relative_loss
from vmaf_train.fit.loop import fit_loop
from vmaf_train.fit.vif import vif_loss
from vmaf_train.recipes import PixelConfig, load_recipe

REPO = Path(__file__).resolve().parents[1]
Batch = tuple[torch.Tensor, ...]


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
    train, val = (
        sample_patches(
            eligible_clips(split[part], cfg, max_vmaf=cap)[:n],
            cfg,
            per_frame=int(cfg.data[key]),
            purpose=part,
            cache=None,
            progress=False,
            previous=True,
        )
        for part, key in (("train", "patches_per_frame"), ("val", "val_patches_per_frame"))
    )
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
    fit = fit_loop(
        model,
        lambda e: patch_batches(train, cfg, e, ("x", "p", "y")),
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
