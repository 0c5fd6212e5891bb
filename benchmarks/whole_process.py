"""Whole processes, as a user runs them: ``vmaf-tiny score`` vs the plain ffmpeg libvmaf command.

    python benchmarks/whole_process.py --runs 5 --write-docs

`vmaf-tiny bench` times the scoring inside one warm process; this script times what a user
waits for: a fresh ``vmaf-tiny score`` process (interpreter start, imports, ffmpeg checks,
probes, the model load, one libvmaf pass, the model, JSON out) against one plain ffmpeg command
computing libvmaf's vmaf_v0.6.1 on the same clip pair (``vmaf_tiny.bench.clip_pair``), both on
one thread. One untimed warm-up each, then ``--runs`` rounds in alternating order; figures are
medians of wall time, with the children's CPU time (user + system) beside them, since on a
shared machine CPU time is far less sensitive to other load. The ratio is ffmpeg time / tiny
time (= tiny fps / ffmpeg fps). Start-up alone: ``vmaf-tiny --help`` and ``vmaf-tiny models
list --json``. ``--write-docs`` replaces the ``whole-process`` block of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from vmaf_tiny.bench import cache_dir, clip_pair, parse_sizes
from vmaf_tiny.ffmpeg import resolve_ffmpeg
from vmaf_tiny.fsutil import replace_block

REPO = Path(__file__).resolve().parents[1]
GOALS = {"640x360x300": 0.9, "1920x1080x60": 0.95}


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _timed(argv: list[str]) -> tuple[float, float, subprocess.CompletedProcess[bytes]]:
    """(wall seconds, CPU seconds of the finished child, the process)."""
    c0 = _children_cpu()
    t0 = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
        raise SystemExit(f"{' '.join(argv[:3])} ... failed ({proc.returncode}): {err}")
    return wall, _children_cpu() - c0, proc


def _vmaf_tiny() -> str:
    exe = Path(sys.executable).parent / "vmaf-tiny"
    if not exe.is_file():
        raise SystemExit(f"no vmaf-tiny script beside {sys.executable}: pip install -e .")
    return str(exe)


def _tiny_argv(tiny: str, ref: Path, dis: Path, model: str) -> list[str]:
    return [tiny, "score", "--reference", str(ref), "--distorted", str(dis),
            "--model", model, "--threads", "1", "--json"]  # fmt: skip


def _ffmpeg_argv(ff: str, ref: Path, dis: Path, log: Path) -> list[str]:
    graph = (
        "[0:v]settb=AVTB,setpts=PTS-STARTPTS[d];[1:v]settb=AVTB,setpts=PTS-STARTPTS[r];"
        f"[d][r]libvmaf=model=version=vmaf_v0.6.1:log_fmt=json:log_path={log}:n_threads=1"
    )
    return [ff, "-hide_banner", "-nostdin", "-y", "-loglevel", "error",
            "-i", str(dis), "-i", str(ref), "-lavfi", graph, "-f", "null", "-"]  # fmt: skip


def _stats(wall: list[float], cpu: list[float], frames: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "runs_s": [round(v, 4) for v in wall],
        "median_s": statistics.median(wall),
        "cpu_runs_s": [round(v, 4) for v in cpu],
        "median_cpu_s": statistics.median(cpu),
    }
    if frames:
        out["median_fps"] = frames / out["median_s"]
    return out


def measure_clip(
    size: tuple[int, int, int], runs: int, model: str, clips_dir: Path
) -> dict[str, Any]:
    """Alternating whole-process runs of vmaf-tiny score and plain ffmpeg on one clip pair."""
    w, h, frames = size
    ff = resolve_ffmpeg()
    ref, dis = clip_pair(w, h, frames, clips_dir, ff)
    tiny = _vmaf_tiny()
    times: dict[str, tuple[list[float], list[float]]] = {"tiny": ([], []), "ffmpeg": ([], [])}
    tiny_mean = svm_mean = float("nan")
    with tempfile.TemporaryDirectory(prefix="whole-process-") as tmp:
        log = Path(tmp) / "vmaf.json"
        argv = {
            "tiny": _tiny_argv(tiny, ref, dis, model),
            "ffmpeg": _ffmpeg_argv(ff.path, ref, dis, log),
        }
        for i in range(runs + 1):  # round 0 is the warm-up (page cache, the ffmpeg check cache)
            for which in ("tiny", "ffmpeg") if i % 2 == 0 else ("ffmpeg", "tiny"):
                wall, cpu, proc = _timed(argv[which])
                if which == "tiny":
                    res = json.loads(proc.stdout)
                    if res["n_frames"] != frames:
                        raise SystemExit(f"vmaf-tiny scored {res['n_frames']} of {frames} frames")
                    tiny_mean = float(res["pooled"]["mean"])
                else:
                    data = json.loads(log.read_text())
                    if len(data["frames"]) != frames:
                        raise SystemExit(f"ffmpeg scored {len(data['frames'])} of {frames} frames")
                    svm_mean = float(data["pooled_metrics"]["vmaf"]["mean"])
                if i:
                    times[which][0].append(wall)
                    times[which][1].append(cpu)
    t, f = _stats(*times["tiny"], frames), _stats(*times["ffmpeg"], frames)
    tag = f"{w}x{h}x{frames}"
    return {
        "clip": tag,
        "frames": frames,
        "tiny": t,
        "ffmpeg": f,
        "ratio": f["median_s"] / t["median_s"],
        "ratio_cpu": f["median_cpu_s"] / t["median_cpu_s"],
        "overhead_s": t["median_s"] - f["median_s"],
        "goal": GOALS.get(tag),
        "tiny_mean": tiny_mean,
        "svm_mean": svm_mean,
        "tiny_argv": [Path(a).name if "/" in a else a for a in argv["tiny"]],
    }


def measure_startup(runs: int) -> dict[str, Any]:
    """Medians of ``vmaf-tiny --help`` and ``vmaf-tiny models list --json`` (whole processes)."""
    tiny = _vmaf_tiny()
    out = {}
    for name, argv in (
        ("--help", [tiny, "--help"]),
        ("models list", [tiny, "models", "list", "--json"]),
    ):
        _timed(argv)  # warm-up
        wall, cpu = [], []
        for _ in range(runs):
            w, c, _ = _timed(argv)
            wall.append(w)
            cpu.append(c)
        out[name] = _stats(wall, cpu)
    return out


def markdown(result: dict[str, Any], command: str) -> str:
    """The docs block: both tables, the verdicts and the command that made them."""
    lines = [
        f"Measured by `{command}` on {result['machine']}, {result['date']}; load average "
        f"{result['load_average']:.1f} at the start (a shared machine: compare the columns of "
        "one run, not absolute times across runs).",
        "",
        "| clip | `vmaf-tiny score` median (CPU) | plain ffmpeg libvmaf median (CPU) | "
        "ratio (fps tiny / ffmpeg) | ratio by CPU time | overhead | goal |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for c in result["clips"]:
        goal = c["goal"]
        verdict = (
            "-"
            if goal is None
            else (f">= {goal}: " + ("met" if c["ratio"] >= goal else "**missed**"))
        )
        lines.append(
            f"| {c['clip']} | {c['tiny']['median_s']:.3f} s ({c['tiny']['median_cpu_s']:.3f} s) | "
            f"{c['ffmpeg']['median_s']:.3f} s ({c['ffmpeg']['median_cpu_s']:.3f} s) | "
            f"{c['ratio']:.3f} | {c['ratio_cpu']:.3f} | {c['overhead_s'] * 1000:+.0f} ms | "
            f"{verdict} |"
        )
    lines += ["", "| start-up (whole process) | median | CPU |", "|---|---:|---:|"]
    for name, s in result["startup"].items():
        lines.append(f"| `vmaf-tiny {name}` | {s['median_s']:.3f} s | {s['median_cpu_s']:.3f} s |")
    lines += [
        "",
        f"{result['runs']} runs after one warm-up, alternating order. Commands: "
        f"`{' '.join(result['clips'][0]['tiny_argv'])}` vs `ffmpeg -i DIS -i REF -lavfi "
        "'...libvmaf=model=version=vmaf_v0.6.1:log_fmt=json:log_path=LOG:n_threads=1' -f null -`.",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--sizes", default="640x360x300,1920x1080x60")
    ap.add_argument("--model", default="vmaf_tiny_v2")
    ap.add_argument("--clips-dir", type=Path, default=cache_dir() / "clips")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument("--write-docs", action="store_true", help="refresh docs/benchmarks.md")
    args = ap.parse_args()
    if args.runs < 1:
        ap.error("--runs must be >= 1")
    load0 = os.getloadavg()[0]
    clips = [
        measure_clip(s, args.runs, args.model, args.clips_dir) for s in parse_sizes(args.sizes)
    ]
    result = {
        "runs": args.runs,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "load_average": load0,
        "clips": clips,
        "startup": measure_startup(args.runs),
    }
    cmd = f"python benchmarks/whole_process.py --runs {args.runs}"
    if args.sizes != ap.get_default("sizes"):
        cmd += f" --sizes {args.sizes}"
    if args.model != ap.get_default("model"):
        cmd += f" --model {args.model}"
    text = markdown(result, cmd + " --write-docs")
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(text)
    if args.write_docs:
        replace_block(REPO / "docs" / "benchmarks.md", "whole-process", text)


if __name__ == "__main__":
    main()
