"""The command-line options both tools share, defined once (typer ``Annotated`` aliases).

One spelling per concept: a model is ``-m/--model`` (registry id or path), the zoo ``--zoo``,
an output file or directory ``-o/--out``, JSON output ``--json``, progress bars
``--progress/--no-progress``, the executor ``--serial``/``--workers``/``--scheduler``, ONNX
Runtime threads ``--threads`` and the execution provider ``--backend``. A command gives its own
default in its signature (``model: ModelOpt = "vmaf_tiny_v2"``); without one the option is
required. This module imports only typer and the bounds, so that start-up stays small.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vmaf_tiny.bounds import MAX_THREADS, MAX_WORKERS

#: The filter model ``vmaf-tiny filter`` (and ``make demo``) uses when ``--model`` is not given.
DEFAULT_FILTER = "learned_filter_v17"

__all__ = [
    "DEFAULT_FILTER",
    "AllowDamagedOpt",
    "BackendOpt",
    "CsvOpt",
    "ExtrasOpt",
    "FFmpegOpt",
    "FpsOpt",
    "HeightOpt",
    "JsonOpt",
    "MaxFramesOpt",
    "ModelOpt",
    "ModelsOpt",
    "OutFileOpt",
    "OutOpt",
    "PixFmtOpt",
    "PlotOpt",
    "PoolOpt",
    "ProgressOpt",
    "ScaleAlgoOpt",
    "SchedulerOpt",
    "SerialOpt",
    "SubsampleOpt",
    "TeacherOpt",
    "ThreadsOpt",
    "WidthOpt",
    "WorkersOpt",
    "ZooOpt",
]

#: ``-m/--model``: a registry id or a path to an .onnx file.
ModelOpt = Annotated[str, typer.Option("--model", "-m", help="Registry id or path to an .onnx.")]
#: ``-m/--model`` given once or more (several models in one pass).
ModelsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--model",
        "-m",
        help="Registry id or path to an .onnx; repeat for several models in one pass.",
    ),
]
#: ``--zoo``: a model zoo directory (registry.json and its models).
ZooOpt = Annotated[
    Path | None, typer.Option("--zoo", help="Model zoo directory (default: the shipped zoo).")
]
#: ``-o/--out``: where a command writes its output (a file or a directory, per command).
OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Output file or directory.")]
#: ``-o/--out`` for a command whose output file is optional (format from the extension).
OutFileOpt = Annotated[
    Path | None,
    typer.Option("--out", "-o", help="Also write the results to this file (.json or .csv)."),
]
PlotOpt = Annotated[
    Path | None,
    typer.Option("--plot", help="Also draw the per-frame scores over time into this SVG file."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
CsvOpt = Annotated[bool, typer.Option("--csv", help="Write CSV to stdout.")]
ProgressOpt = Annotated[
    bool, typer.Option("--progress/--no-progress", help="Show progress bars on stderr.")
]
# Every command that fans out work takes the same executor flags.
SerialOpt = Annotated[bool, typer.Option("--serial", help="Run items one by one in this process.")]
WorkersOpt = Annotated[
    int | None,
    typer.Option(
        "--workers",
        "-w",
        min=1,
        max=MAX_WORKERS,
        help="Parallel worker processes on this machine (default: all cores).",
    ),
]
SchedulerOpt = Annotated[
    str | None,
    typer.Option("--scheduler", help="Use an existing Dask scheduler, e.g. tcp://host:8786."),
]
ThreadsOpt = Annotated[
    int,
    typer.Option("--threads", min=1, max=MAX_THREADS, help="ONNX Runtime (and libvmaf) threads."),
]
BackendOpt = Annotated[
    str,
    typer.Option("--backend", help="Execution provider: auto, cpu, cuda or openvino."),
]
FFmpegOpt = Annotated[
    str | None,
    typer.Option(
        "--ffmpeg",
        help="ffmpeg binary with libvmaf (default: imageio-ffmpeg's).",
        envvar="VMAF_TINY_FFMPEG",
    ),
]
#: ``--allow-damaged`` (score, filter, saliency): use the clean frames of a damaged input.
AllowDamagedOpt = Annotated[
    bool,
    typer.Option(
        "--allow-damaged",
        help="Use the clean frames of a truncated/corrupt input (and say how many were dropped) "
        "instead of refusing it.",
    ),
]
# Raw yuv input and frame limits (score, filter, saliency).
WidthOpt = Annotated[int | None, typer.Option("--width", min=1, help="Raw yuv input: width.")]
HeightOpt = Annotated[int | None, typer.Option("--height", min=1, help="Raw yuv input: height.")]
PixFmtOpt = Annotated[
    str | None, typer.Option("--pix-fmt", help="Raw yuv input: pixel format (yuv420p).")
]
MaxFramesOpt = Annotated[
    int | None, typer.Option("--max-frames", min=1, help="Stop after this many frames.")
]

# Scoring detail (score): subsampling, pooling, per-frame extras, the teacher, frame rates.
SubsampleOpt = Annotated[
    int,
    typer.Option(
        "--subsample",
        min=1,
        help="Score every N-th frame (libvmaf n_subsample); pooled over those.",
    ),
]
PoolOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--pool",
        help="Pooled values to show (repeat): mean, harmonic_mean, median, stdev, min, p5, max "
        "(default: all; the first is the JSON 'score').",
    ),
]
ExtrasOpt = Annotated[
    str | None,
    typer.Option(
        "--extras",
        help="Extra per-frame libvmaf metrics from the same pass, comma-separated: psnr_y, "
        "float_ssim, float_ms_ssim, cambi.",
    ),
]
TeacherOpt = Annotated[
    str | None,
    typer.Option(
        "--teacher",
        help="libvmaf model for --with-svm: vmaf_v0.6.1, vmaf_v0.6.1neg, vmaf_4k_v0.6.1 or "
        "vmaf_v0.6.1_phone (implies --with-svm).",
    ),
]
FpsOpt = Annotated[
    float | None,
    typer.Option(
        "--fps", min=0.001, max=1000.0, help="Resample both videos to this frame rate first."
    ),
]
ScaleAlgoOpt = Annotated[
    str,
    typer.Option(
        "--scale-algo",
        help="ffmpeg scaler for resizing the distorted video: bicubic, bilinear, lanczos, "
        "spline, neighbor, area, ...",
    ),
]
