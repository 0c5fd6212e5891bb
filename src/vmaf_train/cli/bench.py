"""``vmaf-train bench``: ``vmaf-tiny bench``, then the figures go into the model card and docs.

The same measuring options as the runtime's command (defined once, in
:mod:`vmaf_tiny.cli.bench`); the results JSON is written and printed the same way; then the
``runtime-figures`` block of ``docs/models/<id>.md`` and the ``bench-<backend>`` block of
``docs/benchmarks.md`` are rewritten (:mod:`vmaf_train.ship.bench_record`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vmaf_tiny.cli import bench as runtime_bench
from vmaf_tiny.cli.options import FFmpegOpt, JsonOpt, ModelOpt, ThreadsOpt
from vmaf_tiny.console import say

__all__ = ["bench"]


def bench(
    backend: runtime_bench.BenchBackendOpt = "cpu",
    model: ModelOpt = runtime_bench.DEFAULT_MODEL,
    runs: runtime_bench.RunsOpt = 7,
    sizes: runtime_bench.SizesOpt = runtime_bench.DEFAULT_SIZES,
    batch1_calls: runtime_bench.BatchOneCallsOpt = 20000,
    big_batch: runtime_bench.BigBatchOpt = 4096,
    clips_dir: runtime_bench.ClipsDirOpt = None,
    out: runtime_bench.ResultsOpt = None,
    docs: Annotated[
        Path | None,
        typer.Option(
            "--docs",
            help="Docs directory: cards in docs/models, figures table in docs/benchmarks.md "
            "(default: the source checkout's docs).",
        ),
    ] = None,
    as_json: JsonOpt = False,
    ffmpeg: FFmpegOpt = None,
    threads: ThreadsOpt = 1,
) -> None:
    """Benchmark a tiny FR model (as `vmaf-tiny bench`) and record the figures in its model
    card and docs/benchmarks.md."""
    from vmaf_tiny import bench as bench_mod
    from vmaf_tiny.cli._shell import quiet_python_warnings
    from vmaf_train.ship.bench_record import record_benchmarks, record_card, record_target

    quiet_python_warnings()
    cards_dir = docs / "models" if docs is not None else None
    record_target(cards_dir)  # fail now, not after minutes of measuring
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
    path = bench_mod.write_results(result, out)
    say(f"wrote {path}")
    card = record_card(result, cards_dir)
    say(f"recorded figures in {card}")
    doc = record_benchmarks(result, cards_dir)
    if doc is not None:
        say(f"recorded figures in {doc}")
    runtime_bench.show_results(result, as_json)
