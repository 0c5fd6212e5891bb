"""``vmaf-tiny filter`` and ``vmaf-tiny saliency``: the pixel-model commands (plain functions).

The runtime's app (:mod:`vmaf_tiny.cli`) registers them::

    app.command("filter")(pixels.filter_cmd)
    app.command("saliency")(pixels.saliency_cmd)

Data (the result table or ``--json``) goes to stdout, logs to stderr; known errors are one line
and exit code 2 (the app's ``run_app`` contract).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vmaf_tiny.cli._shell import warn_lines
from vmaf_tiny.cli.options import (
    DEFAULT_FILTER,
    AllowDamagedOpt,
    BackendOpt,
    FFmpegOpt,
    HeightOpt,
    JsonOpt,
    MaxFramesOpt,
    ModelOpt,
    PixFmtOpt,
    ThreadsOpt,
    WidthOpt,
)
from vmaf_tiny.console import print_json

__all__ = ["filter_cmd", "saliency_cmd"]


def filter_cmd(
    input: Annotated[Path, typer.Argument(help="Input video.", show_default=False)],
    output: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            help="Output: .y4m / .yuv (lossless) or any container with --codec.",
            show_default=False,
        ),
    ],
    model: ModelOpt = DEFAULT_FILTER,
    codec: Annotated[
        str | None,
        typer.Option(
            "--codec", help="Encode the output with this ffmpeg encoder (libx264, ffv1...)."
        ),
    ] = None,
    crf: Annotated[float | None, typer.Option("--crf", help="Encoder CRF.")] = None,
    preset: Annotated[str | None, typer.Option("--preset", help="Encoder preset.")] = None,
    strength: Annotated[
        float,
        typer.Option(
            "--strength",
            help="Scale of the model's correction: 0 = input unchanged, 1 = as trained, up to 2.",
        ),
    ] = 1.0,
    gate: Annotated[
        bool,
        typer.Option(
            "--gate/--no-gate",
            help="Scale each frame's correction by the model's no-reference quality gate "
            "(models with a gate, encoded input): clean frames are left unchanged.",
        ),
    ] = True,
    gate_model: Annotated[
        str | None,
        typer.Option(
            "--gate-scorer",
            help="Score the quality gate with this stream NR model (id or .onnx path) instead "
            "of the one the filter names; the gate's thresholds stay the filter's.",
        ),
    ] = None,
    max_frames: MaxFramesOpt = None,
    backend: BackendOpt = "auto",
    threads: ThreadsOpt = 1,
    width: WidthOpt = None,
    height: HeightOpt = None,
    pix_fmt: PixFmtOpt = None,
    ffmpeg: FFmpegOpt = None,
    json_out: JsonOpt = False,
    allow_damaged: AllowDamagedOpt = False,
) -> None:
    """Filter a video's luma with a learned filter (C3); chroma is passed through."""
    from rich.table import Table

    from vmaf_tiny.console import out_console
    from vmaf_tiny.ffmpeg import resolve_ffmpeg
    from vmaf_tiny.filter_gate import filter_with_model
    from vmaf_tiny.video import as_spec
    from vmaf_tiny.video_spec import check_raw_flags

    check_raw_flags([input], width=width, height=height, pix_fmt=pix_fmt)
    res = filter_with_model(
        as_spec(input, width=width, height=height, pix_fmt=pix_fmt),
        output,
        model,
        strength=strength,
        gate=gate,
        gate_model=gate_model,
        codec=codec,
        crf=crf,
        preset=preset,
        max_frames=max_frames,
        backend=backend,
        threads=threads,
        ffmpeg=resolve_ffmpeg(ffmpeg),
        allow_damaged=allow_damaged,
    )
    warn_lines(res.warnings)
    if json_out:
        print_json(res.to_dict())
        return
    t = Table(title=f"{res.model_id} -> {res.output}", show_header=False)
    t.add_row("frames", f"{res.n_frames} ({res.width}x{res.height} {res.pix_fmt})")
    t.add_row("mean luma shift", f"{res.mean_shift:+.4f} (8-bit code values)")
    t.add_row("mean |change|", f"{res.mean_abs_change:.4f} (8-bit code values)")
    t.add_row("clipped samples", f"{100 * res.clip_fraction:.4f} %")
    t.add_row("strength", f"{strength:g}")
    g = res.gate
    if g is not None and "strength_mean" in g:
        t.add_row(
            "quality gate",
            f"{g['model']}: mean NR score {g['nr_score_mean']:.1f}, mean strength "
            f"{g['strength_mean']:.3f}, {g['frames_unchanged']}/{res.n_frames} frames unchanged",
        )
    t.add_row("provider", str(res.provider))
    t.add_row("seconds", f"{res.seconds['total']:.3f} (model {res.seconds['model']:.3f})")
    out_console.print(t)


def saliency_cmd(
    input: Annotated[Path, typer.Argument(help="Input video.", show_default=False)],
    out_dir: Annotated[
        Path,
        typer.Option(
            "--out", "-o", help="Directory for frame_NNNNNN.png maps.", show_default=False
        ),
    ],
    model: ModelOpt = "saliency_student_v1",
    map_size: Annotated[
        str, typer.Option("--map-size", help="frame: upsample to the video's size; model: as is.")
    ] = "frame",
    max_frames: MaxFramesOpt = None,
    backend: BackendOpt = "auto",
    threads: ThreadsOpt = 1,
    width: WidthOpt = None,
    height: HeightOpt = None,
    pix_fmt: PixFmtOpt = None,
    ffmpeg: FFmpegOpt = None,
    json_out: JsonOpt = False,
    allow_damaged: AllowDamagedOpt = False,
) -> None:
    """Write one PNG saliency map per frame with a saliency model."""
    from rich.table import Table

    from vmaf_tiny.console import out_console
    from vmaf_tiny.ffmpeg import resolve_ffmpeg
    from vmaf_tiny.saliency import load_saliency, saliency_maps
    from vmaf_tiny.video import as_spec
    from vmaf_tiny.video_spec import check_raw_flags

    check_raw_flags([input], width=width, height=height, pix_fmt=pix_fmt)
    runner, lm = load_saliency(model, backend=backend, threads=threads)
    res = saliency_maps(
        as_spec(input, width=width, height=height, pix_fmt=pix_fmt),
        out_dir,
        runner,
        frame=lm.sidecar.get("frame") or {},
        map_size=map_size,
        max_frames=max_frames,
        ffmpeg=resolve_ffmpeg(ffmpeg),
        allow_damaged=allow_damaged,
    )
    res.model_id, res.provider = lm.model_id, lm.provider
    warn_lines(res.warnings)
    if json_out:
        print_json(res.to_dict())
        return
    t = Table(title=f"{lm.model_id} -> {res.out_dir}", show_header=False)
    t.add_row("maps", f"{res.n_frames} PNG ({res.map_size[0]}x{res.map_size[1]})")
    t.add_row("files", f"{res.files[0]} .. {res.files[-1]}")
    t.add_row("mean saliency", f"{res.mean_saliency:.4f}")
    t.add_row("provider", str(res.provider))
    t.add_row("seconds", f"{res.seconds['total']:.3f} (model {res.seconds['model']:.3f})")
    out_console.print(t)
