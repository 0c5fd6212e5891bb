"""The benchmark harness: a tiny FR model end to end against plain libvmaf, and model-only speed.

For each clip size, a deterministic pair is generated once into a cache
(:mod:`vmaf_tiny.bench_clips`). Each timed run scores the pair twice, in alternating
order: (a) the tiny path, :func:`vmaf_tiny.scoring.score` from the model file (guard, session,
probe, one libvmaf feature pass, the model on every frame) and (b) plain libvmaf vmaf_v0.6.1
through the same ffmpeg (one command, score read from its log). Both run single-threaded. One
warm-up run precedes ``runs`` timed runs; figures are medians, and "p99" is the frame rate at the
99th-percentile run time (the slow tail). CPU time (user + system, this process and its ffmpeg
children) is recorded too: on a shared machine it is far less sensitive to other load than wall
time, so the CPU-time ratio cross-checks the wall-time one.

Model-only figures use the session directly: latency per call at batch 1 (p50/p99 in
microseconds, over real feature rows of the first clip) and throughput at a large batch (rows/s).

The results JSON goes to ``-o/--out`` (default: ``netflix_benchmark_results.json`` in the cache);
machine facts, the JSON writer and the markdown summary are :mod:`vmaf_tiny.bench_report`.
Writing the figures into model cards and ``docs/benchmarks.md`` is the toolkit's
(``vmaf-train bench``, :mod:`vmaf_train.ship.bench_record`).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from vmaf_tiny.bench_clips import (
    DIS_CODEC,
    ENV_CACHE,
    STANDARD_SIZES,
    cache_dir,
    clip_pair,
    parse_sizes,
)
from vmaf_tiny.bench_report import RESULTS_NAME as RESULTS_NAME  # the old home's name
from vmaf_tiny.bench_report import machine_facts, summary_markdown, write_results
from vmaf_tiny.errors import BadInputError, BadModelError
from vmaf_tiny.ffmpeg import FFmpeg, last_error_line, resolve_ffmpeg

__all__ = [
    "DIS_CODEC",
    "ENV_CACHE",
    "STANDARD_SIZES",
    "cache_dir",
    "clip_pair",
    "machine_facts",
    "parse_sizes",
    "run_bench",
    "summary_markdown",
    "write_results",
]

RATIO_GOAL = 0.9
LATENCY_GOAL_US = 20.0


def _svm_once(
    ref: Path, dis: Path, ff: FFmpeg, frames: int, threads: int = 1
) -> tuple[float, float]:
    """Plain libvmaf vmaf_v0.6.1 on the pair: (seconds, pooled mean)."""
    import subprocess

    with tempfile.TemporaryDirectory(prefix="vmaf-tiny-bench-") as tmp:
        log = Path(tmp) / "vmaf.json"
        graph = (
            "[0:v]settb=AVTB,setpts=PTS-STARTPTS[d];[1:v]settb=AVTB,setpts=PTS-STARTPTS[r];"
            "[d][r]libvmaf=model=version=vmaf_v0.6.1:log_fmt=json:"
            f"log_path={log}:n_threads={threads}"
        )
        t0 = time.perf_counter()
        proc = subprocess.run(
            [
                *ff.base_args(),
                "-loglevel",
                "error",
                "-i",
                str(dis),
                "-i",
                str(ref),
                "-lavfi",
                graph,
                "-f",
                "null",
                "-",
            ],
            capture_output=True,
            check=False,
        )
        if proc.returncode != 0:
            raise BadInputError(f"libvmaf failed in the benchmark: {last_error_line(proc.stderr)}")
        data = json.loads(log.read_text())
        mean = float(data["pooled_metrics"]["vmaf"]["mean"])
        secs = time.perf_counter() - t0
    if len(data.get("frames", [])) != frames:
        raise BadInputError(f"libvmaf scored {len(data.get('frames', []))} of {frames} frames")
    return secs, mean


def _cpu_seconds() -> float:
    """CPU time (user + system) of this process and its finished children so far."""
    import resource

    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _fps_stats(seconds: list[float], cpu: list[float], frames: int) -> dict[str, Any]:
    s = np.asarray(seconds, dtype=np.float64)
    c = np.asarray(cpu, dtype=np.float64)
    return {
        "runs_s": [round(float(v), 5) for v in s],
        "median_s": float(np.median(s)),
        "median_fps": float(frames / np.median(s)),
        "p99_fps": float(frames / np.percentile(s, 99)),
        "cpu_runs_s": [round(float(v), 5) for v in c],
        "median_cpu_fps": float(frames / np.median(c)),
    }


def _end_to_end(
    model: str,
    backend: str,
    size: tuple[int, int, int],
    runs: int,
    clips_dir: Path,
    ff: FFmpeg,
    threads: int = 1,
) -> tuple[dict[str, Any], Any]:
    from vmaf_tiny.scoring import score

    w, h, frames = size
    ref, dis = clip_pair(w, h, frames, clips_dir, ff)
    tiny_s: list[float] = []
    svm_s: list[float] = []
    tiny_cpu: list[float] = []
    svm_cpu: list[float] = []
    parts: dict[str, list[float]] = {"load": [], "features": [], "model": []}
    last = None
    svm_mean = float("nan")
    kw = {"backend": backend, "threads": threads, "ffmpeg": ff, **DIS_CODEC}
    for i in range(runs + 1):  # run 0 is the warm-up
        order = ("tiny", "svm") if i % 2 == 0 else ("svm", "tiny")
        for which in order:
            c0 = _cpu_seconds()
            if which == "tiny":
                t0 = time.perf_counter()
                last = score(ref, dis, model, **kw)
                dt = time.perf_counter() - t0
                if i:
                    tiny_s.append(dt)
                    tiny_cpu.append(_cpu_seconds() - c0)
                    for k in parts:
                        parts[k].append(last.seconds[k])
            else:
                dt, svm_mean = _svm_once(ref, dis, ff, frames, threads)
                if i:
                    svm_s.append(dt)
                    svm_cpu.append(_cpu_seconds() - c0)
    tiny = _fps_stats(tiny_s, tiny_cpu, frames)
    tiny["breakdown_median_s"] = {k: float(np.median(v)) for k, v in parts.items()}
    svm = _fps_stats(svm_s, svm_cpu, frames)
    entry = {
        "clip": f"{w}x{h}x{frames}",
        "width": w,
        "height": h,
        "frames": frames,
        "reference": str(ref),
        "distorted": str(dis),
        "distorted_encode": dict(DIS_CODEC),
        "tiny": tiny,
        "svm": svm,
        "ratio_median_fps": tiny["median_fps"] / svm["median_fps"],
        "ratio_median_cpu_fps": tiny["median_cpu_fps"] / svm["median_cpu_fps"],
        "tiny_pooled_mean": last.pooled["mean"] if last else None,
        "svm_pooled_mean": svm_mean,
    }
    return entry, last


def _model_only(lm: Any, feeds1: dict[str, np.ndarray], calls: int, big: int) -> dict[str, Any]:
    sess = lm.session
    outs = lm.output_names
    for _ in range(min(500, calls)):
        sess.run(outs, feeds1)
    ns = np.empty(calls, dtype=np.int64)
    clock = time.perf_counter_ns
    for i in range(calls):
        t0 = clock()
        sess.run(outs, feeds1)
        ns[i] = clock() - t0
    api = np.empty(min(calls, 5000), dtype=np.int64)
    for i in range(api.size):
        t0 = clock()
        lm.run(feeds1)
        api[i] = clock() - t0
    reps = max(1, -(-big // next(iter(feeds1.values())).shape[0]))
    feeds_big = {k: np.ascontiguousarray(np.tile(v, (reps, 1))[:big]) for k, v in feeds1.items()}
    for _ in range(5):
        sess.run(outs, feeds_big)
    big_s = []
    for _ in range(30):
        start = time.perf_counter()
        sess.run(outs, feeds_big)
        big_s.append(time.perf_counter() - start)
    med = float(np.median(big_s))
    return {
        "batch1": {
            "calls": calls,
            "p50_us": float(np.percentile(ns, 50) / 1e3),
            "p99_us": float(np.percentile(ns, 99) / 1e3),
            "api_p50_us": float(np.percentile(api, 50) / 1e3),
            "api_p99_us": float(np.percentile(api, 99) / 1e3),
        },
        "batch_big": {"rows": big, "median_s": med, "rows_per_s": float(big / med)},
    }


def _command_line() -> str:
    """The command as the user typed it: ``vmaf-tiny bench ...`` or ``vmaf-train bench ...``."""
    prog = Path(sys.argv[0]).name if sys.argv else ""
    if prog in ("vmaf-tiny", "vmaf-train"):
        return " ".join([prog, *sys.argv[1:]])
    return "vmaf-tiny bench"


def run_bench(
    model: str,
    *,
    backend: str = "cpu",
    runs: int = 7,
    sizes: list[tuple[int, int, int]] | None = None,
    batch1_calls: int = 20000,
    big_batch: int = 4096,
    clips_dir: str | os.PathLike[str] | None = None,
    ffmpeg: str | os.PathLike[str] | None = None,
    threads: int = 1,
) -> dict[str, Any]:
    """Run the benchmark and return the results (see docs/benchmarks.md for the schema).

    Args:
        model: Registry id or .onnx path of an FR model.
        backend: ``cpu`` or ``cuda``.
        runs: Timed runs per clip after one warm-up.
        sizes: (width, height, frames) clips (default :data:`STANDARD_SIZES`).
        batch1_calls: Model-only calls at batch 1.
        big_batch: Rows per call for the throughput figure.
        clips_dir: Clip cache (default ``clips/`` under :func:`cache_dir`).
        ffmpeg: ffmpeg binary with libvmaf (default: imageio-ffmpeg's, or ``$VMAF_TINY_FFMPEG``).
        threads: libvmaf and ONNX Runtime threads of the end-to-end runs, the same on both sides
            (the model-only figures stay single-threaded).
    """
    import onnx
    import onnxruntime

    import vmaf_tiny
    from vmaf_tiny.bounds import check_threads

    check_threads(threads)
    from vmaf_tiny.scoring import fr_inputs
    from vmaf_tiny.session import load_model

    if backend not in ("cpu", "cuda"):
        raise BadInputError(f"--backend must be cpu or cuda for the benchmark, got {backend!r}")
    if runs < 1:
        raise BadInputError("--runs must be >= 1")
    ff = resolve_ffmpeg(ffmpeg)
    lm = load_model(model, backend=backend, threads=1)
    if lm.kind != "fr":
        raise BadModelError(f"the benchmark needs an FR model; {lm.model_id} is {lm.kind!r}")
    cache = Path(clips_dir) if clips_dir is not None else cache_dir() / "clips"
    results = []
    first = None
    for size in sizes or list(STANDARD_SIZES):
        entry, res = _end_to_end(model, backend, size, runs, cache, ff, threads)
        results.append(entry)
        first = first or res
    if first is None:  # pragma: no cover - sizes is never empty
        raise BadInputError("no sizes given")
    w, h, frames = (sizes or list(STANDARD_SIZES))[0]
    ref, dis = clip_pair(w, h, frames, cache, ff)
    from vmaf_tiny.fast import OperatingPoint, extract_fast_features, is_fast
    from vmaf_tiny.features import extract_features, model_features
    from vmaf_tiny.scoring import CodecFields

    if is_fast(lm.sidecar):  # a fast model reads the columns of the fast pass
        op = OperatingPoint.from_sidecar(lm.sidecar)
        columns = extract_fast_features(ref, dis, op, ffmpeg=ff).columns
    else:
        columns = extract_features(ref, dis, ffmpeg=ff, features=model_features(lm.sidecar)).columns
    codec = CodecFields(str(DIS_CODEC["codec"]), str(DIS_CODEC["preset"]), float(DIS_CODEC["crf"]))
    feeds = fr_inputs(lm.sidecar, columns, codec)
    feeds1 = {k: np.ascontiguousarray(v[:1]) for k, v in feeds.items()}
    model_only = _model_only(lm, feeds1, batch1_calls, big_batch)
    ratios = [e["ratio_median_fps"] for e in results]
    return {
        "schema_version": 1,
        "created": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": _command_line(),
        "model": lm.describe(),
        "machine": machine_facts(),
        "versions": {
            "vmaf_tiny": vmaf_tiny.__version__,
            "onnxruntime": onnxruntime.__version__,
            "onnx": onnx.__version__,
            "numpy": np.__version__,
            "ffmpeg": ff.version_line,
            "libvmaf": first.versions.get("libvmaf"),
        },
        "settings": {
            "runs": runs,
            "warmup_runs": 1,
            "threads": threads,
            "batch1_calls": batch1_calls,
            "big_batch": big_batch,
        },
        "end_to_end": results,
        "model_only": model_only,
        "goals": {
            "ratio_min": RATIO_GOAL,
            "p50_us_max": LATENCY_GOAL_US,
            "ratio_met": bool(min(ratios) >= RATIO_GOAL),
            "latency_met": bool(model_only["batch1"]["p50_us"] <= LATENCY_GOAL_US),
        },
    }
