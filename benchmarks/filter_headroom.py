"""How much PSNR-Y could a post-decode filter still gain, and from what? Validation ceilings.

A research probe for issue 15 (it reads only the recipe's validation sources, never the test
ones). For each validation clip in a quality band (the unfiltered clip's mean VMAF), on its first
``--frames`` frames (luma, decoded at the reference size as the filter corpus is):

* ``model``: the filter model at strength 1 (plain ONNX Runtime session, no gate), and the same
  with the PSNR-optimal strength chosen per clip and per frame *with the reference* (an oracle:
  what conditioning the model's strength on any scalar, such as the NR score or the codec, could
  buy at most);
* ``linear``: least-squares linear filters of the coding error on a (2R+1)^2 window of the
  decoded frame (``spatial``) and of the decoded frame plus the previous decoded frame
  (``+previous``), fitted three ways: per clip with the reference (fitted on half of the sampled
  pixels, scored on the other half: an adaptive-loop-filter-like oracle), once on the training
  clips of the band (``global``), and per codec on them (``per codec``).

PSNR-Y here is computed in numpy on 8-bit-rounded luma (the model rows) or on the sampled
pixels' residual energy (the linear rows), so it is a relative figure, not libvmaf's. Means over
clips; ``--write-docs`` refreshes the ``filter-headroom`` block of docs/benchmarks.md.

    python benchmarks/filter_headroom.py --corpus C -m learned_filter_v3 --write-docs
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from vmaf_tiny.ffmpeg import resolve_ffmpeg
from vmaf_tiny.fsutil import replace_block
from vmaf_tiny.registry import resolve_model
from vmaf_tiny.session import make_session
from vmaf_train.data.frames import ClipRecord, PixelCorpus, decode
from vmaf_train.fit.filter import eligible_clips
from vmaf_train.fit.filter_eval import quality_band
from vmaf_train.recipes import load_recipe

REPO = Path(__file__).resolve().parents[1]


def _psnr(a: np.ndarray, ref: np.ndarray) -> float:
    """Mean over frames of 8-bit PSNR-Y of ``a`` (rounded to code values) against ``ref``."""
    q = np.rint(np.clip(a, 0.0, 1.0) * 255.0) / 255.0
    mse = np.mean((q - ref) ** 2, axis=(1, 2))
    return float(np.mean(10.0 * np.log10(1.0 / np.maximum(mse, 1e-10))))


def _frames(c: ClipRecord, n: int, ff: Any) -> tuple[np.ndarray, np.ndarray]:
    ref = decode(c.reference, max_frames=n, ffmpeg=ff)
    dis = decode(c.clip, size=(c.width, c.height), max_frames=len(ref), ffmpeg=ff)
    return dis, ref[: len(dis)]


def model_rows(
    dis: np.ndarray, ref: np.ndarray, run: Callable[[np.ndarray], np.ndarray]
) -> dict[str, float]:
    """PSNR-Y gains of the model at strength 1 and at the oracle strengths (per clip, per frame)."""
    out = np.concatenate([run(dis[i : i + 1, None])[:, 0] for i in range(len(dis))])
    corr, err = out - dis, ref - dis
    s_clip = float(np.sum(corr * err) / max(float(np.sum(corr * corr)), 1e-12))
    s_frame = np.sum(corr * err, axis=(1, 2)) / np.maximum(np.sum(corr * corr, axis=(1, 2)), 1e-12)
    base = _psnr(dis, ref)
    return {
        "model": _psnr(out, ref) - base,
        "model_clip_strength": _psnr(dis + s_clip * corr, ref) - base,
        "model_frame_strength": _psnr(dis + s_frame[:, None, None] * corr, ref) - base,
        "oracle_clip_strength": s_clip,
    }


def windows(
    dis: np.ndarray, ref: np.ndarray, radius: int, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random pixels (frames 1..): their (2R+1)^2 windows of the frame and of the previous
    frame side by side, and their coding error (reference - decoded)."""
    t, h, w = dis.shape
    ts = rng.integers(1, t, n)
    ys = rng.integers(radius, h - radius, n)
    xs = rng.integers(radius, w - radius, n)
    offs = [(dy, dx) for dy in range(-radius, radius + 1) for dx in range(-radius, radius + 1)]
    cur = np.stack([dis[ts, ys + dy, xs + dx] for dy, dx in offs], 1)
    prev = np.stack([dis[ts - 1, ys + dy, xs + dx] for dy, dx in offs], 1)
    err = ref[ts, ys, xs] - dis[ts, ys, xs]
    return np.concatenate([cur, prev], 1).astype(np.float64), err.astype(np.float64)


def _lstsq(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    a = np.c_[x, np.ones(len(x))]
    return np.linalg.solve(a.T @ a + 1e-6 * np.eye(a.shape[1]), a.T @ y)


def _gain(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    res = y - np.c_[x, np.ones(len(x))] @ w
    return float(10.0 * np.log10(np.mean(y**2) / max(float(np.mean(res**2)), 1e-20)))


def _linear_label(key: str) -> str:
    scope, cols = key.rsplit(" ", 1)
    how = {
        "clip_oracle": "fitted per clip with its reference (oracle)",
        "global": "fitted once on the training clips",
        "per codec": "fitted per codec on the training clips",
    }[scope]
    window = "frame window" if cols == "spatial" else "frame and previous-frame windows"
    return f"linear, {window}, {how}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, required=True, help="the built filter corpus")
    ap.add_argument("-m", "--model", default="learned_filter_v3", help="filter id or path")
    ap.add_argument("--recipe", default="configs/models/learned_filter_v3.toml")
    ap.add_argument("--band", default="vmaf<70")
    ap.add_argument("--frames", type=int, default=12, help="frames per clip")
    ap.add_argument("--radius", type=int, default=3, help="linear window radius R")
    ap.add_argument("--pixels", type=int, default=40000, help="sampled pixels per training clip")
    ap.add_argument("--write-docs", action="store_true")
    args = ap.parse_args()
    ff = resolve_ffmpeg()
    cfg = load_recipe(REPO / args.recipe)
    split = PixelCorpus.open(args.corpus).split(**cfg.split)

    def in_band(clips: list[ClipRecord]) -> list[ClipRecord]:
        return [
            c
            for c in eligible_clips(clips, cfg, max_vmaf=90.0)
            if quality_band(float(np.mean(c.vmaf))) == args.band
        ]

    train, val = in_band(split["train"]), in_band(split["val"])
    if not val:
        raise SystemExit(f"no validation clips in band {args.band}")
    sess, _provider = make_session(resolve_model(args.model).onnx.read_bytes(), backend="cpu")
    name = sess.get_inputs()[0].name

    def run(x: np.ndarray) -> np.ndarray:
        return np.asarray(sess.run(None, {name: x.astype(np.float32)})[0])

    rng = np.random.default_rng(0)
    k = (2 * args.radius + 1) ** 2
    spatial, both = slice(0, k), slice(0, 2 * k)
    fits: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    for c in train:
        fits.setdefault(c.codec, []).append(
            windows(*_frames(c, args.frames, ff), args.radius, args.pixels, rng)
        )
    pooled = [xy for rows in fits.values() for xy in rows]

    def fitted(rows: list[tuple[np.ndarray, np.ndarray]], cols: slice) -> np.ndarray:
        x = np.concatenate([x[:, cols] for x, _ in rows])
        return _lstsq(x, np.concatenate([y for _, y in rows]))

    weights = {
        (scope, cols_name): fitted(rows, cols)
        for cols_name, cols in (("spatial", spatial), ("+previous", both))
        for scope, rows in [("global", pooled)] + [(f"codec:{k}", r) for k, r in fits.items()]
    }
    rows: list[dict[str, Any]] = []
    for c in val:
        dis, ref = _frames(c, args.frames, ff)
        x, y = windows(dis, ref, args.radius, 2 * args.pixels, rng)
        half = len(y) // 2
        row: dict[str, Any] = {"key": c.key, "codec": c.codec} | model_rows(dis, ref, run)
        for cols_name, cols in (("spatial", spatial), ("+previous", both)):
            w = _lstsq(x[:half, cols], y[:half])
            row[f"clip_oracle {cols_name}"] = _gain(x[half:, cols], y[half:], w)
            row[f"global {cols_name}"] = _gain(x[:, cols], y, weights[("global", cols_name)])
            wc = weights.get((f"codec:{c.codec}", cols_name), weights[("global", cols_name)])
            row[f"per codec {cols_name}"] = _gain(x[:, cols], y, wc)
        rows.append(row)
    cols_out = [k for k in rows[0] if k not in ("key", "codec", "oracle_clip_strength")]
    means = {k: statistics.fmean(r[k] for r in rows) for k in cols_out}
    report = {"band": args.band, "clips": len(rows), "means": means, "rows": rows}
    print(json.dumps(report, indent=2))
    if args.write_docs:
        label = {
            "model": f"`{args.model}`, strength 1, ungated",
            "model_clip_strength": "the same, oracle strength per clip",
            "model_frame_strength": "the same, oracle strength per frame",
        }
        lines = [
            f"Command: `python benchmarks/filter_headroom.py --corpus C -m {args.model} "
            f"--write-docs` ({len(rows)} validation clips with {args.band}, first {args.frames} "
            f"frames; linear filters on {2 * args.radius + 1}x{2 * args.radius + 1} windows, "
            f"trained on {len(train)} training clips of the band; PSNR-Y gain in dB, mean over "
            "clips).",
            "",
            "| filter | PSNR-Y gain dB |",
            "|---|---|",
        ]
        for key, v in means.items():
            lines.append(f"| {label.get(key) or _linear_label(key)} | {v:+.3f} |")
        replace_block(REPO / "docs" / "benchmarks.md", "filter-headroom", "\n".join(lines))


if __name__ == "__main__":
    main()
