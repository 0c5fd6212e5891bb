"""Stream-aware NR (``STREAM_NR_MODEL``) fps vs libvmaf full-reference, same clip, same run.

For each clip size a deterministic clip (testsrc2 + grain, x264 veryfast CRF 30, the pair
``vmaf-tiny bench`` uses) and its y4m reference are made once. Two pairs of measurements,
alternating NR and FR run by run, one warm-up each, medians of ``--runs``:

* in-process: ``vmaf_tiny.nr_stream.score_stream`` (probe, one decode pass for stream facts and
  content statistics, ONNX Runtime) vs ``vmaf_tiny.extract_features`` (libvmaf vmaf_v0.6.1
  through ffmpeg, ``n_threads=1``: both videos decoded and scored);
* whole process: ``vmaf-tiny score --no-reference --distorted DIS`` (Python start-up included)
  vs the plain ``ffmpeg -i DIS -i REF -lavfi libvmaf=n_threads=1 -f null -`` command.

``--write-docs`` refreshes the ``nr-stream-fps`` block of docs/benchmarks.md.

    python benchmarks/nr_stream_fps.py --runs 5 --write-docs
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vmaf_tiny.bench_clips import clip_pair
from vmaf_tiny.features import extract_features
from vmaf_tiny.ffmpeg import resolve_ffmpeg
from vmaf_tiny.fsutil import replace_block
from vmaf_tiny.nr_stream import STREAM_NR_MODEL, score_stream

REPO = Path(__file__).resolve().parents[1]
VMAF_TINY = Path(sys.executable).parent / "vmaf-tiny"


def _alternate(a: Callable[[], Any], b: Callable[[], Any], runs: int) -> tuple[list[float], ...]:
    a(), b()  # warm-up
    ta, tb = [], []
    for _ in range(runs):
        for fn, acc in ((a, ta), (b, tb)):
            t0 = time.perf_counter()
            fn()
            acc.append(time.perf_counter() - t0)
    return ta, tb


def measure(width: int, height: int, frames: int, runs: int, tmp: Path) -> dict[str, Any]:
    """One clip size: in-process and whole-process medians and ratios."""
    ff = resolve_ffmpeg()
    ref, dis = clip_pair(width, height, frames, tmp, ff)
    nr = score_stream(dis, backend="cpu", ffmpeg=ff)
    fr = extract_features(ref, dis, n_threads=1, ffmpeg=ff)
    nr_in, fr_in = _alternate(
        lambda: score_stream(dis, backend="cpu", ffmpeg=ff),
        lambda: extract_features(ref, dis, n_threads=1, ffmpeg=ff),
        runs,
    )
    cli = [str(VMAF_TINY), "score", "--no-reference", "--distorted", str(dis), "--json"]
    plain = [*ff.base_args(), "-loglevel", "error", "-i", str(dis), "-i", str(ref)]
    plain += ["-lavfi", "[0:v][1:v]libvmaf=n_threads=1", "-f", "null", "-"]
    nr_wp, fr_wp = _alternate(
        lambda: subprocess.run(cli, capture_output=True, check=True),
        lambda: subprocess.run(plain, capture_output=True, check=True),
        runs,
    )
    n = nr.n_frames
    med = statistics.median
    return {
        "clip": f"testsrc2+grain {width}x{height}, {frames} frames, x264 veryfast CRF 30",
        "frames": n,
        "nr_stream_model": STREAM_NR_MODEL,
        "nr_stream_mean": nr.mean,
        "libvmaf_mean_vmaf": float(fr.columns["vmaf"].mean()),
        "in_process_nr_fps": n / med(nr_in),
        "in_process_fr_fps": fr.n_frames / med(fr_in),
        "in_process_ratio": med(fr_in) / med(nr_in),
        "whole_process_nr_s": med(nr_wp),
        "whole_process_fr_s": med(fr_wp),
        "whole_process_ratio": med(fr_wp) / med(nr_wp),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument(
        "--sizes", default="640x360x300,1920x1080x60", help="WxHxFRAMES, comma-separated"
    )
    ap.add_argument("--write-docs", action="store_true")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="nr-stream-bench-") as tmp:
        for i, spec in enumerate(args.sizes.split(",")):
            w, h, f = (int(v) for v in spec.split("x"))
            d = Path(tmp) / str(i)
            d.mkdir()
            rows.append(measure(w, h, f, args.runs, d))
    out = {
        "rows": rows,
        "runs": args.runs,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "cpus": os.cpu_count(),
        "load_avg_1min_after": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(out, indent=2))
    if args.write_docs:
        lines = [
            f"Command: `python benchmarks/nr_stream_fps.py --runs {args.runs} --sizes "
            f"{args.sizes} --write-docs` (NR and FR runs alternate, medians of {args.runs} after "
            f"a warm-up; a shared {out['cpus']}-core machine, 1-minute load average "
            f"{out['load_avg_1min_after']} after the run: compare ratios, not absolute figures).",
            "",
            f"| clip | {STREAM_NR_MODEL} fps (in-process) | libvmaf FR fps (in-process) | "
            "speed-up | `vmaf-tiny score --no-reference` s | plain ffmpeg libvmaf s | speed-up | "
            "NR mean | libvmaf mean |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            lines.append(
                f"| {r['clip']} | {r['in_process_nr_fps']:.0f} | {r['in_process_fr_fps']:.0f} | "
                f"{r['in_process_ratio']:.2f}x | {r['whole_process_nr_s']:.2f} | "
                f"{r['whole_process_fr_s']:.2f} | {r['whole_process_ratio']:.2f}x | "
                f"{r['nr_stream_mean']:.1f} | {r['libvmaf_mean_vmaf']:.1f} |"
            )
        replace_block(REPO / "docs" / "benchmarks.md", "nr-stream-fps", "\n".join(lines))


if __name__ == "__main__":
    main()
