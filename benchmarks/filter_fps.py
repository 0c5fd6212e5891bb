"""Learned-filter speed through the runtime: frames per second at 640x360, one thread.

A deterministic 640x360 clip (testsrc2, x264 veryfast CRF 30; the pair ``vmaf-tiny bench``
uses) is filtered by each model through what ``vmaf-tiny filter`` runs:
``vmaf_tiny.filtering.load_filter`` (guarded load, ONNX Runtime CPU, 1 thread) and
``filter_video`` (ffmpeg decode, luma through the model, chroma passed through, lossless y4m
written). The models' runs alternate (one warm-up each, then ``--runs`` rounds), so load on a
shared machine hits every model alike; medians are reported, and the ratio to the first model.

* model fps: frames / seconds inside the model calls (``FilterResult.seconds["model"]``);
* end-to-end fps: frames / wall seconds of the whole ``filter_video`` call.

``--write-docs`` refreshes the ``filter-fps`` block of docs/benchmarks.md::

    python benchmarks/filter_fps.py --runs 7 --write-docs
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from pathlib import Path
from typing import Any

from vmaf_tiny.bench_clips import clip_pair
from vmaf_tiny.bench_report import machine_facts
from vmaf_tiny.ffmpeg import resolve_ffmpeg
from vmaf_tiny.filtering import filter_video, load_filter
from vmaf_tiny.fsutil import replace_block

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--models",
        default="learned_filter_v1,learned_filter_v2,learned_filter_v3,learned_filter_v6,learned_filter_v9,learned_filter_v11,learned_filter_v13,learned_filter_v17",
        help="comma-separated zoo ids or .onnx paths (e.g. a fit run's model.onnx)",
    )
    ap.add_argument("--frames", type=int, default=50)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--write-docs", action="store_true")
    args = ap.parse_args()
    ff = resolve_ffmpeg()
    models = [m for m in args.models.split(",") if m]
    runners = {m: load_filter(m, backend="cpu", threads=1)[0] for m in models}
    model_s: dict[str, list[float]] = {m: [] for m in models}
    total_s: dict[str, list[float]] = {m: [] for m in models}
    n_frames = 0
    with tempfile.TemporaryDirectory(prefix="filter-bench-") as tmp:
        _, dis = clip_pair(640, 360, args.frames, Path(tmp), ff)
        out = Path(tmp) / "out.y4m"
        for r in range(args.runs + 1):
            for m in models:
                res = filter_video(dis, out, runners[m], ffmpeg=ff)
                n_frames = res.n_frames
                if r:  # round 0 is the warm-up
                    model_s[m].append(res.seconds["model"])
                    total_s[m].append(res.seconds["total"])
    rows: list[dict[str, Any]] = []
    for m in models:
        rows.append(
            {
                "model": m,
                "model_fps": n_frames / statistics.median(model_s[m]),
                "end_to_end_fps": n_frames / statistics.median(total_s[m]),
                "model_ms_per_frame": 1e3 * statistics.median(model_s[m]) / n_frames,
            }
        )
    for row in rows:
        row["model_speedup_vs_first"] = row["model_fps"] / rows[0]["model_fps"]
    facts = machine_facts()
    info: dict[str, Any] = {
        "clip": f"testsrc2 640x360, {n_frames} frames, x264 veryfast CRF 30",
        "runs": args.runs,
        "machine": facts,
        "cpus": os.cpu_count(),
        "load_avg_1min_after": round(os.getloadavg()[0], 2),
        "rows": rows,
    }
    print(json.dumps(info, indent=2))
    if args.write_docs:
        isa = ", ".join(facts["isa_flags"]) or "no ISA flags read"
        cpu = f"{facts['cpu_model']} ({isa})"
        lines = [
            f"Command: `python benchmarks/filter_fps.py --runs {args.runs} --write-docs` "
            f"({info['clip']}; `load_filter` + `filter_video`, ONNX Runtime CPU, 1 thread; "
            f"models alternate, medians of {args.runs} rounds after a warm-up; a shared "
            f"{info['cpus']}-core {cpu}, 1-minute load average {info['load_avg_1min_after']} "
            "after the run: compare ratios, not absolute figures across runs). Goal of issue "
            "15 for a filter after `learned_filter_v1`: >= 25 model fps.",
            "",
            "| model | model fps | ms/frame (model) | end-to-end fps | model speed vs first |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| `{r['model']}` | {r['model_fps']:.1f} | {r['model_ms_per_frame']:.1f} | "
            f"{r['end_to_end_fps']:.1f} | {r['model_speedup_vs_first']:.2f}x |"
            for r in rows
        ]
        replace_block(REPO / "docs" / "benchmarks.md", "filter-fps", "\n".join(lines))


if __name__ == "__main__":
    main()
