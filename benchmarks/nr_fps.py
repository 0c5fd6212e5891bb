"""No-reference end-to-end fps vs the libvmaf full-reference path, same clip, same run.

A deterministic 640x360 clip (testsrc2, 300 frames, x264 CRF 30) and its y4m reference are made
once. Each run times, single-threaded:

* NR: the runtime's ``vmaf_tiny.score_nr`` -- what ``vmaf-tiny score --no-reference`` runs
  (guarded load, ffmpeg decode of the distorted clip, frame preparation from the sidecar, ONNX
  Runtime with 1 thread, pooling);
* FR: libvmaf vmaf_v0.6.1 through ffmpeg (``vmaf_tiny.extract_features``, ``n_threads=1``):
  both videos decoded and scored.

One warm-up run, then ``--runs`` timed runs; medians (and the slowest run) are printed, plus
the ratio NR/FR. ``--write-docs`` refreshes the ``nr-fps`` block of docs/benchmarks.md.

    python benchmarks/nr_fps.py --runs 5 --write-docs     # nr_metric_v2 and nr_metric_v1

``--model`` may be given several times (default: the two pixel NR models of the zoo); the FR
path is timed once and every model gets a row.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from vmaf_tiny import score_nr
from vmaf_tiny.bench import clip_pair
from vmaf_tiny.features import extract_features
from vmaf_tiny.ffmpeg import FFmpeg, resolve_ffmpeg
from vmaf_tiny.fsutil import replace_block

REPO = Path(__file__).resolve().parents[1]


def nr_runtime(model: str, dis: Path, ff: FFmpeg) -> tuple[int, float]:
    res = score_nr(dis, model, backend="cpu", threads=1, ffmpeg=ff)
    return res.n_frames, res.mean


def fr_libvmaf(ref: Path, dis: Path, ff: FFmpeg) -> tuple[int, float]:
    res = extract_features(ref, dis, n_threads=1, ffmpeg=ff)
    return res.n_frames, float(np.mean(res.vmaf))


def timed(fn: Any, *args: Any, runs: int) -> tuple[list[float], int, float]:
    n, score = fn(*args)  # warm-up
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t0)
    return times, n, score


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="append", help="NR model (.onnx or id); repeatable")
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--write-docs", action="store_true")
    args = ap.parse_args()
    ff = resolve_ffmpeg()
    models = args.model or [
        str(REPO / "src" / "vmaf_tiny" / "zoo" / f"{m}.onnx")
        for m in ("nr_metric_v2", "nr_metric_v1")
    ]
    nr_path = "vmaf_tiny.score_nr (vmaf-tiny score --no-reference)"
    nr: list[tuple[str, list[float], int, float]] = []
    with tempfile.TemporaryDirectory(prefix="nr-bench-") as tmp:
        ref, dis = clip_pair(640, 360, args.frames, Path(tmp), ff)  # what vmaf-tiny bench uses
        for m in models:
            nr.append((m, *timed(nr_runtime, m, dis, ff, runs=args.runs)))
        fr_t, n_fr, fr_score = timed(fr_libvmaf, ref, dis, ff, runs=args.runs)
    fr_fps = n_fr / statistics.median(fr_t)
    out: dict[str, Any] = {
        "clip": f"testsrc2 640x360, {args.frames} frames, x264 veryfast CRF 30",
        "nr_path": nr_path,
        "models": [
            {
                "model": Path(m).name,
                "nr_fps_median": n / statistics.median(t),
                "nr_fps_slowest": n / max(t),
                "ratio_nr_over_fr": n / statistics.median(t) / fr_fps,
                "nr_mean_score": score,
            }
            for m, t, n, score in nr
        ],
        "fr_libvmaf_fps_median": fr_fps,
        "fr_libvmaf_fps_slowest": n_fr / max(fr_t),
        "libvmaf_mean_vmaf": fr_score,
        "runs": args.runs,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "cpus": os.cpu_count(),
        "load_avg_1min_after": round(os.getloadavg()[0], 2),
        "ffmpeg": ff.version,
    }
    print(json.dumps(out, indent=2))
    if args.write_docs:
        body = "\n".join(
            [
                "Command: `python benchmarks/nr_fps.py --runs "
                f"{args.runs} --write-docs` (single thread, medians of {args.runs} runs after a "
                "warm-up; both paths decode the clip through the same ffmpeg; measured on a shared "
                f"{out['cpus']}-core machine, 1-minute load average {out['load_avg_1min_after']} "
                "after the run, so compare the two columns, not absolute figures across runs).",
                "",
                "| clip | NR path | NR fps | libvmaf FR fps | NR / FR |",
                "|---|---|---|---|---|",
                *(
                    f"| {out['clip']} | {nr_path} ({r['model']}) | {r['nr_fps_median']:.1f} | "
                    f"{fr_fps:.1f} | {r['ratio_nr_over_fr']:.2f} |"
                    for r in out["models"]
                ),
            ]
        )
        replace_block(REPO / "docs" / "benchmarks.md", "nr-fps", body)


if __name__ == "__main__":
    main()
