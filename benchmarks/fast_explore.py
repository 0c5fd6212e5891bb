#!/usr/bin/env python
"""Explore fast-path operating points: speed against plain libvmaf, accuracy against the teacher.

Speed (``--speed``): for every operating point of ``vmaf_train.data.fast_features.CORPUS_POINTS``
the fast pass (one ffmpeg process: decode both, crop/stack bands, libvmaf with n_subsample, PSNR)
is timed against the plain ffmpeg libvmaf vmaf_v0.6.1 command and a decode-only pass of both
videos (the floor), single thread, alternating runs, medians, on the `vmaf-tiny bench` clip pairs
(testsrc2 y4m reference, x264 veryfast CRF 30) at 640x360x300 and 1920x1080x60.

Accuracy (``--features F``, a corpus built with ``extras = ["fast"]``, e.g.
``vmaf-train corpus build --config fast``): leave-one-source-out over the natural sources
(synthetic always train) of (a) libvmaf's SVM on the sample as is, (b) ridge regression and (c)
the tiny MLP over the fast features, (d) the MLP without the bits-per-pixel input; clip level
(mean over the scored frames against the teacher's mean over all frames) and frame level.

Layouts (``--layouts CORPUS_DIR``): libvmaf's own score of the sample, no model, for one, two and
four bands of the same area: stacked bands add seams that bias the sample's score.

    python benchmarks/fast_explore.py --speed --features corpus/fast/features.parquet \
        --layouts corpus/fast --json out.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from vmaf_tiny.fast import (
    FAST_FEATURES,
    OperatingPoint,
    extract_fast_features,
    fast_graph,
    output_args,
)
from vmaf_tiny.ffmpeg import resolve_ffmpeg
from vmaf_tiny.video import probe
from vmaf_train.data.fast_features import CORPUS_POINTS, point_key
from vmaf_train.fit.fast import (
    FastData,
    FastRecipe,
    clip_pairs,
    fast_data,
    fit_mlp,
    fit_ridge_residual,
    metrics,
    predict,
    read_table,
)

SIZES = ((640, 360, 300), (1920, 1080, 60))
VMAF_COL = FAST_FEATURES.index("sample_vmaf")


def _run(args: list[str]) -> float:
    t = time.perf_counter()
    p = subprocess.run(args, capture_output=True, check=False)
    if p.returncode != 0:
        err = p.stderr.decode(errors="replace")[-300:]
        sys.exit(f"error: ffmpeg failed (rc {p.returncode}): {args[-6:]} {err}")
    return time.perf_counter() - t


def speed(reps: int) -> list[dict[str, Any]]:
    """Fast pass, full libvmaf and decode-only, alternating, medians per size."""
    from vmaf_tiny.bench import cache_dir, clip_pair

    ff = resolve_ffmpeg()
    out = []
    for w, h, n in SIZES:
        ref, dis = clip_pair(w, h, n, cache_dir() / "clips", ff)
        ri, di = probe(ref, ff), probe(dis, ff)
        base = [*ff.base_args(), "-loglevel", "error", "-i", str(dis), "-i", str(ref)]
        with tempfile.TemporaryDirectory() as tmp:
            log = f"{tmp}/v.json"
            cmds: dict[str, list[str]] = {
                "full": [*base, "-lavfi", f"[0:v][1:v]libvmaf=n_threads=1:log_fmt=json:"
                         f"log_path={log}", "-f", "null", "-"],
                "decode": [*base, "-map", "0:v", "-map", "1:v", "-f", "null", "-"],
            }  # fmt: skip
            for op in CORPUS_POINTS:
                g = fast_graph(ri, di, op, log_path=log)
                cmds[point_key(op)] = [*base, "-filter_complex", g, *output_args(op, h)]
            times: dict[str, list[float]] = {k: [] for k in cmds}
            for _ in range(reps):
                for k, c in cmds.items():
                    times[k].append(_run(c))
        full = statistics.median(times["full"])
        for k, v in times.items():
            m = statistics.median(v)
            op = next((o for o in CORPUS_POINTS if point_key(o) == k), None)
            out.append(
                {
                    "size": f"{w}x{h}x{n}",
                    "point": k,
                    "seconds": round(m, 4),
                    "ratio": round(full / m, 3),
                    "sampled_fraction": round(op.sampled_fraction(h), 4) if op else 1.0,
                }
            )
    return out


def _ridge(x: np.ndarray, y: np.ndarray, alpha: float = 1e-3) -> tuple[np.ndarray, ...]:
    mu, sd = x.mean(0), np.maximum(x.std(0), 1e-9)
    z = (x - mu) / sd
    a = np.c_[z, np.ones(len(z))]
    w = np.linalg.solve(a.T @ a + alpha * np.eye(a.shape[1]), a.T @ (y - y.mean()))
    return mu, sd, w, np.asarray(y.mean())


def _ridge_pred(m: tuple[np.ndarray, ...], x: np.ndarray) -> np.ndarray:
    mu, sd, w, ym = m
    return np.clip(np.c_[(x - mu) / sd, np.ones(len(x))] @ w + ym, 0, 100)


def loso(data: FastData, method: str, rec: FastRecipe, cols: list[int]) -> dict[str, Any]:
    natural = sorted(
        {str(s) for s, k in zip(data.source, data.kind, strict=True) if k == "natural"}
    )
    ct, ce, ft, fp = [], [], [], []
    for src in natural:
        test = data.source == src
        xtr, xte = data.x[~test][:, cols], data.x[test][:, cols]
        if method == "svm_on_sample":
            pred = np.clip(data.x[test][:, FAST_FEATURES.index("sample_vmaf")], 0, 100)
        elif method == "ridge":
            pred = _ridge_pred(_ridge(xtr, data.y[~test]), xte)
        elif method == "ridge_residual":  # what the shipped levels are (alpha 1000)
            p = fit_ridge_residual(xtr, data.y[~test], base=cols.index(VMAF_COL), alpha=1000.0)
            pred = predict(p, xte)
        else:
            p = fit_mlp(
                xtr, data.y[~test], hidden=rec.hidden, epochs=rec.epochs,
                batch_size=rec.batch_size, lr=rec.lr, weight_decay=0.0, seed=0,
            )  # fmt: skip
            pred = predict(p, xte)
        _, t, e = clip_pairs(data, pred, test)
        ct.append(t)
        ce.append(e)
        ft.append(data.y[test])
        fp.append(pred)
    c = metrics(np.concatenate(ct), np.concatenate(ce))
    f = metrics(np.concatenate(ft), np.concatenate(fp))
    return {
        "clip_plcc": c["plcc"],
        "clip_rmse": c["rmse"],
        "clip_mae": c["mae"],
        "frame_plcc": f["plcc"],
        "frame_rmse": f["rmse"],
        "n_clips": c["n"],
        "n_frames": f["n"],
    }


def accuracy(features: Path, epochs: int, methods: list[str]) -> list[dict[str, Any]]:
    table = read_table(features)
    out = []
    all_cols = list(range(len(FAST_FEATURES)))
    no_bpp = [i for i, f in enumerate(FAST_FEATURES) if f != "log2_bpp"]
    for op in CORPUS_POINTS:
        data = fast_data(table, op, FAST_FEATURES)
        rec = FastRecipe(id="explore", description="", level=0, op=op, epochs=epochs)
        for method in methods:
            cols = no_bpp if method == "mlp_no_bpp" else all_cols
            t0 = time.perf_counter()
            r = loso(data, method, rec, cols)
            out.append(
                {"point": point_key(op), **op.to_dict(), "method": method, **r,
                 "seconds": round(time.perf_counter() - t0, 1)}
            )  # fmt: skip
            print(json.dumps(out[-1]), file=sys.stderr, flush=True)
    return out


LAYOUTS = (
    OperatingPoint(1, 0.25, 1),
    OperatingPoint(2, 0.25, 1),
    OperatingPoint(4, 0.25, 1),
    OperatingPoint(1, 0.5, 1),
    OperatingPoint(2, 0.5, 1),
    OperatingPoint(3, 0.375, 1),
)


def _layout_job(job: tuple[str, str, str]) -> tuple[str, list[float]]:
    key, ref, clip = job
    ff = resolve_ffmpeg()
    return key, [
        float(extract_fast_features(ref, clip, op, ffmpeg=ff).columns["sample_vmaf"].mean())
        for op in LAYOUTS
    ]


def layouts(corpus: Path) -> list[dict[str, Any]]:
    """How the sample is cut: libvmaf's own score of the sample (no model) against the full
    teacher, clip level, on every 2nd natural clip of a built corpus (band seams cost accuracy)."""
    from concurrent.futures import ProcessPoolExecutor

    man = json.loads((corpus / "manifest.json").read_text())
    refs = {r["source_id"]: corpus / r["file"] for r in man["references"] if r["kind"] == "natural"}
    jobs = [
        (c["key"], str(refs[c["source_id"]]), str(corpus / c["file"]))
        for c in man["clips"]
        if c["source_id"] in refs
    ][::2]
    table = read_table(corpus / "features.parquet")
    truth: dict[str, list[float]] = {}
    for k, v in zip(table["key"], table["vmaf"], strict=True):
        truth.setdefault(k, []).append(v)
    with ProcessPoolExecutor(2) as ex:
        res = list(ex.map(_layout_job, jobs))
    t = np.asarray([np.mean(truth[k]) for k, _ in res])
    out = []
    for i, op in enumerate(LAYOUTS):
        e = np.asarray([v[i] for _, v in res])
        m = metrics(t, e)
        out.append(
            {"layout": op.tag, "rows_at_360p": round(op.sampled_fraction(360), 3),
             "clip_plcc": m["plcc"], "clip_rmse": m["rmse"], "bias": float(np.mean(e - t)),
             "n_clips": len(t)}
        )  # fmt: skip
    return out


def temporal(features: Path) -> list[dict[str, Any]]:
    """The floor of temporal subsampling: the teacher's own mean over every k-th frame (from
    frame 0, as libvmaf's n_subsample) against its mean over all frames, natural clips."""
    table = read_table(features)
    clips: dict[str, list[float]] = {}
    for k, kind, v in zip(table["key"], table["source_kind"], table["vmaf"], strict=True):
        if kind == "natural":
            clips.setdefault(k, []).append(v)
    full = np.asarray([np.mean(v) for v in clips.values()])
    out = []
    for step in (2, 3, 4, 5, 6, 7, 8, 9):
        sub = np.asarray([np.mean(v[::step]) for v in clips.values()])
        m = metrics(full, sub)
        out.append({"subsample": step, "clip_plcc": m["plcc"], "clip_rmse": m["rmse"]})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--speed", action="store_true", help="time the points on the bench clips")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--features", type=Path, help="corpus features.parquet with fast columns")
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument(
        "--methods",
        default="svm_on_sample,ridge,ridge_residual,mlp",
        help="comma-separated: svm_on_sample, ridge, ridge_residual, mlp, mlp_no_bpp",
    )
    ap.add_argument("--temporal", action="store_true", help="with --features: teacher floor")
    ap.add_argument("--layouts", type=Path, help="a built corpus directory: compare band layouts")
    ap.add_argument("--json", type=Path, help="write all figures here")
    a = ap.parse_args()
    res: dict[str, Any] = {}
    if a.speed:
        res["speed"] = speed(a.reps)
        print("| size | point | sampled rows | seconds | x libvmaf |\n|---|---|---|---|---|")
        for r in res["speed"]:
            print(
                f"| {r['size']} | {r['point']} | {r['sampled_fraction']:.3f} | "
                f"{r['seconds']:.3f} | {r['ratio']:.2f} |"
            )
    if a.features and a.methods:
        res["accuracy"] = accuracy(a.features, a.epochs, a.methods.split(","))
        print("\n| point | method | clip PLCC | clip RMSE | frame PLCC | frame RMSE |")
        print("|---|---|---|---|---|---|")
        for r in res["accuracy"]:
            print(
                f"| {r['point']} | {r['method']} | {r['clip_plcc']:.4f} | {r['clip_rmse']:.2f} | "
                f"{r['frame_plcc']:.4f} | {r['frame_rmse']:.2f} |"
            )
    if a.features and a.temporal:
        res["temporal"] = temporal(a.features)
        print("\n| every k-th frame | clip PLCC | clip RMSE |\n|---|---|---|")
        for r in res["temporal"]:
            print(f"| {r['subsample']} | {r['clip_plcc']:.5f} | {r['clip_rmse']:.3f} |")
    if a.layouts:
        res["layouts"] = layouts(a.layouts)
        print("\n| layout (bands, fraction, every k-th) | rows sampled at 360p | clip PLCC | "
              "clip RMSE | mean bias |\n|---|---|---|---|---|")  # fmt: skip
        for r in res["layouts"]:
            print(
                f"| {r['layout']} | {r['rows_at_360p']:.3f} | {r['clip_plcc']:.4f} | "
                f"{r['clip_rmse']:.2f} | {r['bias']:+.2f} |"
            )
    if a.json:
        a.json.write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
