"""``vmaf-tiny score`` and ``vmaf-tiny check``: score videos with a model, check a model.

Data goes to stdout (a rich table, ``--json`` or ``--csv``), progress and warnings to stderr.
:func:`~vmaf_tiny.cli.score_pairs.score_pairs_command` (``--pairs``) is shared with
``vmaf-train score-pairs``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from vmaf_tiny import console
from vmaf_tiny.cli._shell import quiet_python_warnings, sigterm_cleans_up, warn
from vmaf_tiny.cli.options import (
    AllowDamagedOpt,
    BackendOpt,
    CsvOpt,
    ExtrasOpt,
    FFmpegOpt,
    FpsOpt,
    HeightOpt,
    JsonOpt,
    ModelOpt,
    ModelsOpt,
    OutFileOpt,
    PixFmtOpt,
    PlotOpt,
    PoolOpt,
    ProgressOpt,
    ScaleAlgoOpt,
    SerialOpt,
    SubsampleOpt,
    TeacherOpt,
    ThreadsOpt,
    WidthOpt,
    WorkersOpt,
)
from vmaf_tiny.cli.score_pairs import score_pairs_command
from vmaf_tiny.console import print_json, say
from vmaf_tiny.errors import BadInputError, VmafTinyError

#: ``score``'s model when none is given (with ``--no-reference`` the NR model is chosen instead).
DEFAULT_FR_MODEL = "vmaf_tiny_v2"

__all__ = ["check", "score", "score_pairs_command"]


# ---------------------------------------------------------------------------- score


@sigterm_cleans_up
def score(
    model_ids: ModelsOpt = None,
    reference: Annotated[
        Path | None, typer.Option("--reference", "-r", help="Reference video.")
    ] = None,
    distorted: Annotated[
        Path | None, typer.Option("--distorted", "-d", help="Distorted video.")
    ] = None,
    no_reference: Annotated[
        bool, typer.Option("--no-reference", help="Score --distorted alone with an NR model.")
    ] = False,
    pairs: Annotated[
        Path | None,
        typer.Option("--pairs", help="CSV with reference,distorted[,codec,preset,crf,...] rows."),
    ] = None,
    with_svm: Annotated[
        bool, typer.Option("--with-svm", help="Also report libvmaf's vmaf_v0.6.1 (same pass).")
    ] = False,
    as_json: JsonOpt = False,
    as_csv: CsvOpt = False,
    width: WidthOpt = None,
    height: HeightOpt = None,
    pix_fmt: PixFmtOpt = None,
    backend: BackendOpt = "auto",
    threads: ThreadsOpt = 1,
    int8: Annotated[bool, typer.Option("--int8", help="Registry ids: use the int8 file.")] = False,
    codec: Annotated[
        str | None, typer.Option("--codec", help="Codec-aware models: encoder (e.g. libx264).")
    ] = None,
    preset: Annotated[str | None, typer.Option("--preset", help="Encoder preset.")] = None,
    crf: Annotated[float | None, typer.Option("--crf", help="Encoder CRF.")] = None,
    truncate: Annotated[
        bool, typer.Option("--truncate", help="Score the common frames if counts differ.")
    ] = False,
    serial: SerialOpt = False,
    workers: WorkersOpt = None,
    ffmpeg: FFmpegOpt = None,
    allow_damaged: AllowDamagedOpt = False,
    out: OutFileOpt = None,
    plot: PlotOpt = None,
    subsample: SubsampleOpt = 1,
    pool: PoolOpt = None,
    extras: ExtrasOpt = None,
    teacher: TeacherOpt = None,
    fps: FpsOpt = None,
    scale_algo: ScaleAlgoOpt = "bicubic",
    progress: ProgressOpt = True,
    fast: Annotated[
        bool, typer.Option("--fast", help="Fast VMAF estimate (default fast operating point).")
    ] = False,
    fast_level: Annotated[
        int | None, typer.Option("--fast-level", help="Fast estimate at operating point N.")
    ] = None,
) -> None:
    """Score a distorted video (against its reference) with one or more tiny models."""
    from vmaf_tiny.cli import score_output as so
    from vmaf_tiny.ffmpeg import resolve_ffmpeg

    quiet_python_warnings()
    ff = resolve_ffmpeg(ffmpeg)
    if as_json and as_csv:
        raise BadInputError("choose one of --json and --csv")
    models = list(dict.fromkeys(model_ids or [DEFAULT_FR_MODEL]))
    pools = so.check_output_flags(pools=pool, out=out, plot=plot)
    extra_names = so.parse_extras(extras)
    if with_svm and teacher is None and not (fast or fast_level is not None):
        teacher = _students_teacher(models, int8=int8)
    with_svm = with_svm or teacher is not None
    teacher = teacher or "vmaf_v0.6.1"
    detail: dict[str, Any] = {
        "subsample": subsample,
        "teacher": teacher,
        "fps": fps,
        "scale_algo": scale_algo,
    }
    if pairs is None:  # a pairs CSV's rows may be raw yuv: the flags are theirs
        from vmaf_tiny.video_spec import check_raw_flags

        check_raw_flags([reference, distorted], width=width, height=height, pix_fmt=pix_fmt)
    _refuse_ignored_codec_flags(  # the same models score every pair of a --pairs CSV
        models, codec=codec, preset=preset, crf=crf, int8=int8,
        nr=no_reference, fast=fast or fast_level is not None,
    )  # fmt: skip
    if fast or fast_level is not None:
        from vmaf_tiny.fast import fast_cli_model, score_fast

        model = fast_cli_model(models[0], fast_level, pairs=pairs is not None, nr=no_reference)
        if len(models) > 1 or extra_names or subsample != 1 or int8 or allow_damaged:
            raise BadInputError(
                "--fast takes one model and no --extras/--subsample/--int8/--allow-damaged (an "
                "operating point fixes its own sampling: pick another with --fast-level)"
            )
        if teacher != "vmaf_v0.6.1" or fps is not None:
            raise BadInputError("--fast compares with vmaf_v0.6.1 only (no --teacher, no --fps)")
        if reference is None or distorted is None:
            raise BadInputError("--fast needs --reference and --distorted")
        res_fast = score_fast(
            reference, distorted, model, with_svm=with_svm, backend=backend, threads=threads,
            truncate=truncate, width=width, height=height, pix_fmt=pix_fmt, ffmpeg=ff,
        )  # fmt: skip
        for w in res_fast.warnings:
            warn(w)
        say(f"{res_fast.model_id}: fast estimate from {res_fast.n_frames} frames in "
            f"{res_fast.seconds['total']:.2f} s")  # fmt: skip
        _finish(res_fast, as_json, as_csv, pools, out, plot)
        return
    if pairs is not None:
        if reference or distorted or no_reference:
            raise BadInputError(
                "--pairs cannot be combined with --reference/--distorted/--no-reference"
            )
        if extra_names or plot:
            raise BadInputError("--pairs takes no --plot/--extras (one row per pair and model)")
        options = {
            "with_svm": with_svm,
            "backend": backend,
            "threads": threads,
            "int8": int8,
            "truncate": truncate,
            "codec": codec,
            "preset": preset,
            "crf": crf,
            "width": width,
            "height": height,
            "pix_fmt": pix_fmt,
            "ffmpeg": ff,
            "allow_damaged": allow_damaged,
            **detail,
        }
        from vmaf_tiny.parallel import make_executor

        executor = make_executor(serial=serial, workers=workers)
        score_pairs_command(
            pairs, models, options, executor, as_json=as_json, as_csv=as_csv, out=out
        )
        return
    if distorted is None:
        raise BadInputError("pass --distorted (and --reference, or --no-reference)")
    if len(models) > 1:
        from vmaf_tiny.multi import score_models

        if no_reference and reference is not None:
            raise BadInputError("--no-reference and --reference cannot be combined")
        with so.scoring_progress(progress) as bar:
            multi = score_models(
                reference, distorted, models, with_svm=with_svm, extras=extra_names,
                backend=backend, threads=threads, int8=int8, codec=codec, preset=preset,
                crf=crf, truncate=truncate, width=width, height=height, pix_fmt=pix_fmt,
                ffmpeg=ff, allow_damaged=allow_damaged, progress=bar, **detail,
            )  # fmt: skip
        for w in multi.warnings:
            warn(w)
        say(
            f"{len(models)} models, {multi.libvmaf_passes} libvmaf pass(es): "
            f"{multi.records.n_rows} frames in {multi.seconds['total']:.2f} s"
        )
        _finish(multi, as_json, as_csv, pools, out, plot)
        return
    model = models[0]
    if no_reference:
        if reference is not None:
            raise BadInputError("--no-reference and --reference cannot be combined")
        if with_svm or extra_names or fps is not None:
            raise BadInputError("--with-svm, --teacher, --extras and --fps need a reference")
        nr_args: dict[str, Any] = {
            "backend": backend, "threads": threads, "int8": int8, "width": width,
            "height": height, "pix_fmt": pix_fmt, "ffmpeg": ff, "allow_damaged": allow_damaged,
        }  # fmt: skip
        if model_ids:
            from vmaf_tiny.nr import score_nr

            res = score_nr(distorted, model, **nr_args)
        else:  # not chosen: the NR model that fits the input
            from vmaf_tiny.nr_stream import score_default_nr

            res, model = score_default_nr(distorted, **nr_args)
        from vmaf_tiny.multi import index_result, model_stride
        from vmaf_tiny.video import as_spec, probe

        info = probe(as_spec(distorted, width=width, height=height, pix_fmt=pix_fmt), ff)
        stride = model_stride(model, int8=int8)
        res = index_result(
            res, stride=stride, fps=info.fps, subsample=subsample, n_frames_total=info.n_frames
        )
    else:
        if reference is None:
            raise BadInputError("pass --reference (or --no-reference for an NR model)")
        from vmaf_tiny.scoring import score as score_fr

        with so.scoring_progress(progress) as bar:
            res = score_fr(
                reference,
                distorted,
                model,
                with_svm=with_svm,
                backend=backend,
                threads=threads,
                int8=int8,
                codec=codec,
                preset=preset,
                crf=crf,
                truncate=truncate,
                width=width,
                height=height,
                pix_fmt=pix_fmt,
                ffmpeg=ff,
                allow_damaged=allow_damaged,
                extras=extra_names,
                **detail,
                progress=bar,
            )
    for w in res.warnings:
        warn(w)
    say(f"{res.model_id} on {res.provider}: {res.n_frames} frames in {res.seconds['total']:.2f} s")
    _finish(res, as_json, as_csv, pools, out, plot)


def _sidecars(models: list[str], *, int8: bool) -> list[dict[str, Any]] | None:
    """The models' sidecars, read without loading them; None when one cannot be read (left to
    the scoring path's own error)."""
    from vmaf_tiny.guard_sidecar import read_sidecar
    from vmaf_tiny.registry import resolve_model

    try:
        return [
            read_sidecar((ref := resolve_model(m, int8=int8)).onnx, sidecar=ref.sidecar)
            for m in models
        ]
    except VmafTinyError:
        return None


def _students_teacher(models: list[str], *, int8: bool) -> str | None:
    """``--with-svm`` without ``--teacher``: the teacher the models were trained to imitate
    (sidecar ``metadata.teacher_model``) when they share one that is not vmaf_v0.6.1, else None.
    A model that cannot be read is left to the scoring path's own error."""
    from vmaf_tiny.features_names import TEACHERS

    sides = _sidecars(models, int8=int8)
    if sides is None:
        return None
    found = {str((s.get("metadata") or {}).get("teacher_model") or "vmaf_v0.6.1") for s in sides}
    if len(found) == 1 and (t := found.pop()) in TEACHERS and t != "vmaf_v0.6.1":
        say(f"--with-svm: comparing with {t}, the teacher of {', '.join(models)} "
            "(--teacher picks another)")  # fmt: skip
        return t
    if len(found) > 1:
        warn(f"--with-svm: the models imitate different teachers ({', '.join(sorted(found))}); "
             "comparing with vmaf_v0.6.1 (--teacher picks another)")  # fmt: skip
    return None


def _refuse_ignored_codec_flags(
    models: list[str],
    *,
    codec: str | None,
    preset: str | None,
    crf: float | None,
    int8: bool,
    nr: bool,
    fast: bool,
) -> None:
    """``--codec``/``--preset``/``--crf`` describe the encode to codec-aware FR models only:
    refuse them (one line) when no model given would read them, instead of ignoring them."""
    given = [
        f for f, v in (("--codec", codec), ("--preset", preset), ("--crf", crf)) if v is not None
    ]
    if not given:
        return
    what = ", ".join(given)
    them = "them" if len(given) > 1 else "it"
    if nr or fast:
        why = "the no-reference path reads the stream itself" if nr else "--fast models do not"
        raise BadInputError(f"{what}: only codec-aware FR models take {them}; {why}")
    sides = _sidecars(models, int8=int8)
    if sides is None or any(s.get("codec_block") is not None for s in sides):
        return
    raise BadInputError(
        f"{what}: {', '.join(models)} {'is' if len(models) == 1 else 'are'} not codec-aware and "
        f"would ignore {them} (codec-aware models, e.g. fr_regressor_v3, take {them})"
    )


def _finish(
    res: Any, as_json: bool, as_csv: bool, pools: list[str], out: Path | None, plot: Path | None
) -> None:
    """Render on stdout, then write the -o file and the --plot SVG (score_output does it)."""
    from vmaf_tiny.cli import score_output as so

    if res.subsample > 1:
        n = res.records.n_rows
        say(f"1 frame in {res.subsample} scored: pooled over the {n} scored frames")
    so.render(res, as_json=as_json, as_csv=as_csv, pools=pools)
    if out is not None:
        so.write_out(res, out, pools)
        say(f"wrote {out}")
    if plot is not None:
        so.write_plot(res, plot, pools)
        say(f"wrote {plot}")


# ---------------------------------------------------------------------------- check


def check(
    model: ModelOpt,
    sidecar: Annotated[
        Path | None, typer.Option("--sidecar", help="Sidecar JSON (default: beside the model).")
    ] = None,
    sha256: Annotated[
        str | None, typer.Option("--sha256", help="Expected sha256 of the .onnx file.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run every load-time check on a model and print what passes and what fails.

    A registry id is checked against its registry row (sidecar and sha256), as ``score -m``
    loads it.
    """
    from vmaf_tiny.guard import Check, check_model, guard_model
    from vmaf_tiny.registry import resolve_model
    from vmaf_tiny.session import make_session

    quiet_python_warnings()
    ref = resolve_model(model)
    onnx_path = ref.onnx
    sidecar = sidecar or ref.sidecar
    sha256 = sha256 or ref.sha256
    report = check_model(onnx_path, sidecar=sidecar, expected_sha256=sha256)
    if report.ok:
        try:
            guarded = guard_model(onnx_path, sidecar=sidecar, expected_sha256=sha256)
            _, provider = make_session(guarded.model_bytes, backend="cpu")
            report.checks.append(Check("onnxruntime", "pass", f"session opens on {provider}"))
        except VmafTinyError as exc:
            report.checks.append(Check("onnxruntime", "fail", str(exc)))
    if as_json:
        print_json(report.to_dict())
    else:
        from rich.markup import escape
        from rich.table import Table

        table = Table(title=f"{onnx_path.name}: {'OK' if report.ok else 'REFUSED'}")
        table.add_column("check")
        table.add_column("status")
        table.add_column("detail", overflow="fold")
        style = {"pass": "green", "fail": "bold red", "warn": "yellow", "skip": "dim"}
        for c in report.checks:
            table.add_row(c.name, f"[{style[c.status]}]{c.status}[/]", escape(c.detail))
        console.out_console.print(table)
    if not report.ok:
        first = report.failures[0]
        raise VmafTinyError(f"{onnx_path.name}: {first.name}: {first.detail}")
