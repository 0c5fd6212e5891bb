"""``vmaf-tiny bench``: a tiny FR model end to end against plain libvmaf, and model-only speed.

It measures and prints (a markdown summary, or ``--json``) and writes the results JSON
(``-o/--out``); writing the figures into model cards and docs is ``vmaf-train bench``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vmaf_tiny import console
from vmaf_tiny.cli._shell import quiet_python_warnings, sigterm_cleans_up
from vmaf_tiny.cli.options import FFmpegOpt, JsonOpt, ModelOpt, ThreadsOpt
from vmaf_tiny.console import print_json, say

__all__ = [
    "BatchOneCallsOpt",
    "BenchBackendOpt",
    "BigBatchOpt",
    "ClipsDirOpt",
    "ResultsOpt",
    "RunsOpt",
    "SizesOpt",
    "bench",
]

# The measuring options, shared with ``vmaf-train bench`` (which also records the figures).
BenchBackendOpt = Annotated[
    str, typer.Option("--backend", help="cpu or cuda (cuda needs onnxruntime-gpu).")
]
RunsOpt = Annotated[int, typer.Option("--runs", min=1, help="Timed runs after warm-up.")]
SizesOpt = Annotated[
    str,
    typer.Option("--sizes", help="Comma-separated WxH[xFRAMES] clips (default: the two standard)."),
]
BatchOneCallsOpt = Annotated[
    int, typer.Option("--batch1-calls", min=10, help="Model-only calls at batch 1.")
]
BigBatchOpt = Annotated[
    int, typer.Option("--big-batch", min=1, help="Rows for the throughput figure.")
]
ClipsDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--clips-dir",
        help="Cache for generated clips (default: clips/ in $VMAF_TINY_CACHE, else "
        "$XDG_CACHE_HOME/vmaf-tiny or ~/.cache/vmaf-tiny).",
    ),
]
ResultsOpt = Annotated[
    Path | None,
    typer.Option(
        "--out",
        "-o",
        help="Results JSON (default: netflix_benchmark_results.json in that cache).",
    ),
]
#: The model ``bench`` measures by default.
DEFAULT_MODEL = "vmaf_tiny_v2"
DEFAULT_SIZES = "640x360x300,1920x1080x60"


@sigterm_cleans_up
def bench(
    backend: BenchBackendOpt = "cpu",
    model: ModelOpt = DEFAULT_MODEL,
    runs: RunsOpt = 7,
    sizes: SizesOpt = DEFAULT_SIZES,
    batch1_calls: BatchOneCallsOpt = 20000,
    big_batch: BigBatchOpt = 4096,
    clips_dir: ClipsDirOpt = None,
    out: ResultsOpt = None,
    as_json: JsonOpt = False,
    ffmpeg: FFmpegOpt = None,
    threads: ThreadsOpt = 1,
) -> None:
    """Benchmark a tiny FR model end to end against plain libvmaf vmaf_v0.6.1."""
    from vmaf_tiny import bench as bench_mod
    from vmaf_tiny.bench_report import write_results
    from vmaf_tiny.errors import BadInputError
    from vmaf_tiny.fsutil import check_writable

    quiet_python_warnings()
    if out is not None:  # before minutes of measuring
        check_writable(out)
    if clips_dir is not None:
        for p in (clips_dir, *clips_dir.parents):
            if p.exists():
                if not p.is_dir():
                    raise BadInputError(f"--clips-dir {clips_dir}: {p} is not a directory")
                break
    result = bench_mod.run_bench(
        model,
        backend=backend,
        runs=runs,
        sizes=bench_mod.parse_sizes(sizes),
        batch1_calls=batch1_calls,
        big_batch=big_batch,
        clips_dir=clips_dir,
        ffmpeg=ffmpeg,
        threads=threads,
    )
    path = write_results(result, out)
    say(f"wrote {path}")
    show_results(result, as_json)


def show_results(result: dict[str, object], as_json: bool) -> None:
    """Print the results: JSON on stdout, or the markdown summary."""
    from vmaf_tiny.bench_report import summary_markdown

    if as_json:
        print_json(result)
    else:
        console.out_console.print(summary_markdown(result), markup=False, highlight=False)
