"""The benchmark's report: the machine it ran on, the results JSON, and the figures as markdown.

:func:`machine_facts` goes into every result of :func:`vmaf_tiny.bench.run_bench`;
:func:`write_results` writes the JSON atomically; :func:`summary_markdown` renders the figures
for the terminal (``vmaf-tiny bench``), ``docs/benchmarks.md`` and the model cards
(``vmaf-train bench``).
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

from vmaf_tiny.bench_clips import cache_dir
from vmaf_tiny.fsutil import atomic_write_json

__all__ = ["RESULTS_NAME", "machine_facts", "summary_markdown", "write_results"]

#: The results JSON's file name in :func:`~vmaf_tiny.bench_clips.cache_dir` (the default out).
RESULTS_NAME = "netflix_benchmark_results.json"
#: The ISA flags :func:`machine_facts` reports (those the CPU has).
_ISA = (
    "sse4_1",
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "f16c",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "avx512_bf16",
    "avx_vnni",
    "amx_tile",
    "amx_int8",
    "amx_bf16",
    "neon",
    "asimd",
)


def machine_facts() -> dict[str, Any]:
    """CPU model, cores, ISA flags (from /proc/cpuinfo where present), platform, Python."""
    model, flags, cores = platform.processor() or platform.machine(), set(), set()
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        text = ""
    phys = core = ""
    for line in text.splitlines():
        key, _, val = line.partition(":")
        key, val = key.strip(), val.strip()
        if key in ("model name", "Model", "cpu model") and val:
            model = val
        elif key in ("flags", "Features"):
            flags.update(val.split())
        elif key == "physical id":
            phys = val
        elif key == "core id":
            core = val
            cores.add((phys, core))
    return {
        "cpu_model": model,
        "logical_cores": os.cpu_count(),
        "physical_cores": len(cores) or None,
        "isa_flags": [f for f in _ISA if f in flags],
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def write_results(result: dict[str, Any], out: str | os.PathLike[str] | None = None) -> Path:
    """Write the results JSON atomically (default ``netflix_benchmark_results.json`` in
    :func:`cache_dir`)."""
    path = Path(out) if out is not None else cache_dir() / RESULTS_NAME
    atomic_write_json(path, result)
    return path


def summary_markdown(result: dict[str, Any]) -> str:
    """The figures as markdown (for the terminal, docs/benchmarks.md and model cards)."""
    m, mach, v = result["model"], result["machine"], result["versions"]
    lines = [
        f"Model `{m['id']}` ({m['bytes']} bytes, sha256 `{m['sha256'][:12]}`), "
        f"backend {m['backend']} -> {m['provider']}, 1 thread, "
        f"{result['settings']['runs']} runs after 1 warm-up, {result['created']}.",
        "",
        "| clip | tiny end-to-end fps (median / p99) | libvmaf vmaf_v0.6.1 fps (median / p99) "
        "| ratio tiny/SVM | ratio by CPU time | tiny mean | SVM mean |",
        "|---|---|---|---|---|---|---|",
    ]
    for e in result["end_to_end"]:
        lines.append(
            f"| {e['clip']} | {e['tiny']['median_fps']:.1f} / {e['tiny']['p99_fps']:.1f} "
            f"| {e['svm']['median_fps']:.1f} / {e['svm']['p99_fps']:.1f} "
            f"| {e['ratio_median_fps']:.3f} | {e['ratio_median_cpu_fps']:.3f} "
            f"| {e['tiny_pooled_mean']:.2f} "
            f"| {e['svm_pooled_mean']:.2f} |"
        )
    mo = result["model_only"]
    lines += [
        "",
        "| model only | figure |",
        "|---|---|",
        f"| batch 1 latency p50 / p99 (session.run) | {mo['batch1']['p50_us']:.1f} / "
        f"{mo['batch1']['p99_us']:.1f} us |",
        f"| batch 1 latency p50 / p99 (LoadedModel.run, with NaN check) | "
        f"{mo['batch1']['api_p50_us']:.1f} / {mo['batch1']['api_p99_us']:.1f} us |",
        f"| batch {mo['batch_big']['rows']} throughput | "
        f"{mo['batch_big']['rows_per_s'] / 1e6:.2f} M rows/s |",
        "",
    ]
    g = result.get("goals")
    if g:
        verdict = {True: "met", False: "missed"}
        lines += [
            f"Goals: end-to-end ratio tiny/SVM >= {g['ratio_min']} at every size: "
            f"**{verdict[bool(g['ratio_met'])]}**; model-only p50 <= {g['p50_us_max']:g} us: "
            f"**{verdict[bool(g['latency_met'])]}**.",
            "",
        ]
    lines += [
        f"Machine: {mach['cpu_model']}, {mach['logical_cores']} logical cores, ISA "
        f"{' '.join(mach['isa_flags']) or '-'}; {mach['platform']}.",
        f"Versions: onnxruntime {v['onnxruntime']}, onnx {v['onnx']}, libvmaf {v['libvmaf']}, "
        f"{v['ffmpeg']}.",
        f"Command: `{result['command']}`",
    ]
    return "\n".join(lines)
