"""``vmaf-train demo``: the main job on a built-in default, end to end."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vmaf_tiny.console import FFmpegOpt, ProgressOpt, err_console, out_console
from vmaf_tiny.ffmpeg import resolve_ffmpeg
from vmaf_tiny.parallel import make_executor


def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")] = Path("demo-out"),
    serial: Annotated[bool, typer.Option("--serial", help="No Dask cluster.")] = False,
    ffmpeg: FFmpegOpt = None,
    progress: ProgressOpt = True,
) -> None:
    """Build the demo corpus (real encodes scored by libvmaf) and print its summary."""
    from vmaf_train.cli.corpus import render_summary
    from vmaf_train.data.corpus import build_corpus
    from vmaf_train.data.corpus_config import load_corpus_config, resolve_config_path

    ff = resolve_ffmpeg(ffmpeg)
    cfg = load_corpus_config(resolve_config_path("demo"))
    err_console.print(f"[bold]1/1[/] building the demo corpus into {out / 'corpus'}")
    with make_executor(serial=serial) as ex:
        res = build_corpus(cfg, out / "corpus", executor=ex, ffmpeg=ff, progress=progress)
    render_summary(res.manifest["summary"], f"demo corpus ({res.seconds:.1f} s)")
    if res.failures:
        err_console.print(f"error: {len(res.failures)} demo items failed", markup=False)
        raise typer.Exit(1)
    out_console.print(f"features: {out / 'corpus' / 'features.parquet'}")
