"""``vmaf-train score-pairs``: ``vmaf-tiny score --pairs`` on the toolkit's executors (Dask)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vmaf_tiny import cli as runtime_cli
from vmaf_tiny.cli.options import (
    AllowDamagedOpt,
    FFmpegOpt,
    JsonOpt,
    ModelsOpt,
    OutFileOpt,
    SchedulerOpt,
    SerialOpt,
    WorkersOpt,
)
from vmaf_tiny.cli.score_output import check_output_flags
from vmaf_tiny.errors import BadInputError
from vmaf_train.parallel import make_executor


def score_pairs(
    pairs: Annotated[
        Path,
        typer.Option(
            "--pairs", help="CSV with reference,distorted[,codec,...] rows.", show_default=False
        ),
    ],
    models: ModelsOpt = None,
    with_svm: Annotated[
        bool, typer.Option("--with-svm", help="Also report libvmaf's vmaf_v0.6.1.")
    ] = False,
    threads: runtime_cli.ThreadsOpt = 1,
    as_json: JsonOpt = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV on stdout.")] = False,
    serial: SerialOpt = False,
    workers: WorkersOpt = None,
    scheduler: SchedulerOpt = None,
    ffmpeg: FFmpegOpt = None,
    allow_damaged: AllowDamagedOpt = False,
    out: OutFileOpt = None,
) -> None:
    """Score many pairs like `vmaf-tiny score --pairs`, on a local Dask cluster (default) or an
    existing scheduler (--scheduler tcp://host:8786)."""
    from vmaf_tiny.ffmpeg import resolve_ffmpeg

    if as_json and as_csv:
        raise BadInputError("choose one of --json and --csv")
    check_output_flags(pools=None, out=out)
    options = {
        "with_svm": with_svm,
        "backend": "cpu",
        "threads": threads,
        "int8": False,
        "truncate": False,
        "codec": None,
        "preset": None,
        "crf": None,
        "width": None,
        "height": None,
        "pix_fmt": None,
        "ffmpeg": resolve_ffmpeg(ffmpeg),
        "allow_damaged": allow_damaged,
    }
    executor = make_executor(serial=serial, workers=workers, scheduler=scheduler)
    runtime_cli.score_pairs_command(
        pairs,
        list(dict.fromkeys(models or ["vmaf_tiny_v2"])),
        options,
        executor,
        as_json=as_json,
        as_csv=as_csv,
        out=out,
    )
