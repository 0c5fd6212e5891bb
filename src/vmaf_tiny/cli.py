"""The ``vmaf-tiny`` command: score videos with tiny models, check and benchmark them.

Thin shells only: each command parses options, calls the library and renders the result. Data
goes to stdout (a rich table, ``--json`` or ``--csv``), progress and warnings to stderr. Known
errors are one line and exit code 2 (see :func:`vmaf_tiny.console.run_app`).
"""

from __future__ import annotations

import csv
import functools
import io
import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from vmaf_tiny import cli_pixels, console
from vmaf_tiny.bounds import MAX_THREADS
from vmaf_tiny.console import (
    FFmpegOpt,
    JsonOpt,
    SerialOpt,
    WorkersOpt,
    print_json,
    run_app,
    say,
)
from vmaf_tiny.errors import BadInputError, VmafTinyError

# Only what every command needs is imported here; each command imports its own (rich tables,
# numpy, onnx, onnxruntime, jsonschema) so that start-up stays small.

app = typer.Typer(
    name="vmaf-tiny",
    help="Score videos with tiny VMAF-style models (guarded ONNX Runtime). "
    "Add --debug to any command for tracebacks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
models_app = typer.Typer(
    name="models",
    help="List, show and verify the shipped model zoo (registry.json).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(models_app, name="models")
app.command("filter")(cli_pixels.filter_cmd)
app.command("saliency")(cli_pixels.saliency_cmd)

# Runtime option aliases (the executor/JSON/ffmpeg ones come from vmaf_tiny.console).
BackendOpt = Annotated[
    str,
    typer.Option("--backend", help="Execution provider: auto, cpu, cuda or openvino."),
]
ThreadsOpt = Annotated[
    int,
    typer.Option("--threads", min=1, max=MAX_THREADS, help="ONNX Runtime (and libvmaf) threads."),
]
ModelOpt = Annotated[str, typer.Option("--model", "-m", help="Registry id or path to an .onnx.")]


_F = TypeVar("_F", bound=Callable[..., Any])


def _sigterm_cleans_up(command: _F) -> _F:
    """Run a command with SIGTERM unwinding like Ctrl-C: temp directories go, then exit 143."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from vmaf_tiny.fsutil import sigterm_cleans_up

        with sigterm_cleans_up():
            return command(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


@app.callback()
def _root() -> None:
    """vmaf-tiny runtime."""


def _warn(message: str) -> None:
    say(f"warning: {message}")


def _quiet_python_warnings() -> None:
    # Warnings the library also returns (size class) are printed once, as one line.
    from vmaf_tiny.guard import SizeClassWarning

    warnings.simplefilter("ignore", SizeClassWarning)

    def _one_line(message: Warning | str, *_: object, **__: object) -> None:
        _warn(str(message))

    warnings.showwarning = _one_line  # e.g. AmbiguousModelWarning: one "warning:" line


# ---------------------------------------------------------------------------- score


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.4f}"


def _render_single(res: Any, as_json: bool, as_csv: bool) -> None:
    if as_json:
        print_json(res.to_dict())
        return
    if as_csv:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        header = ["frame", res.model_id]
        if res.svm_frames is not None:
            header.append("vmaf_v0.6.1")
        w.writerow(header)
        index = getattr(res, "frame_index", range(len(res.frames)))  # fast: scored frames
        for j, (i, v) in enumerate(zip(index, res.frames, strict=True)):
            line = [str(i), f"{v:.6f}"]
            if res.svm_frames is not None:
                line.append(f"{res.svm_frames[j]:.6f}")
            w.writerow(line)
        sys.stdout.write(buf.getvalue())
        return
    from rich.table import Table

    table = Table(title=f"{Path(res.distorted).name}: {res.n_frames} frames")
    table.add_column("pooling")
    table.add_column(res.model_id, justify="right")
    if res.svm_pooled is not None:
        table.add_column("vmaf_v0.6.1 (libvmaf)", justify="right")
    for key in ("mean", "harmonic_mean", "min", "p5", "max"):
        row: list[str] = [key, _fmt(res.pooled[key])]
        if res.svm_pooled is not None:
            row.append(_fmt(res.svm_pooled[key]))
        table.add_row(*row)
    console.out_console.print(table)


def _render_rows(rows: list[dict[str, Any]], as_json: bool, as_csv: bool) -> None:
    if as_json:
        print_json(rows)
        return
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    if as_csv:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in keys})
        sys.stdout.write(buf.getvalue())
        return
    from rich.table import Table

    table = Table()
    shown = [k for k in keys if k not in ("reference", "provider")]
    for k in shown:
        table.add_column(k, justify="right" if k not in ("distorted", "error") else "left")
    for r in rows:
        cells: list[str] = []
        for k in shown:
            v = r.get(k)
            if k == "distorted":
                v = Path(str(v)).name
            cells.append(_fmt(v) if isinstance(v, float) else ("" if v is None else str(v)))
        table.add_row(*cells)
    console.out_console.print(table)


def score_pairs_command(
    pairs: Path,
    model: str,
    options: dict[str, Any],
    executor: Any,
    *,
    as_json: bool,
    as_csv: bool,
) -> None:
    """Score every pair of a pairs CSV on ``executor`` and render the rows (one per pair).

    Shared by ``vmaf-tiny score --pairs`` (serial or the process pool) and ``vmaf-train
    score-pairs`` (the same, or Dask). A failing pair gets an ``error`` and does not stop the
    others; any failure ends in a :class:`VmafTinyError` (exit 2) after the rows are printed.
    """
    from vmaf_tiny.pairs import PairJob, read_pairs, score_pair
    from vmaf_tiny.session import load_model

    rows = read_pairs(pairs)
    # Load once here so a bad model is one clear error, not one per pair.
    load_model(model, backend=options["backend"], threads=options["threads"])
    jobs = []
    for i, r in enumerate(rows):
        opts = dict(options)
        opts.update({k: v for k, v in r.items() if k not in ("reference", "distorted")})
        jobs.append(PairJob(i, r["reference"], r["distorted"], model, tuple(sorted(opts.items()))))
    with executor as ex:
        say(f"scoring {len(jobs)} pair(s) on {ex.describe()}")
        outcomes = ex.map(score_pair, jobs, label="pairs")
    out_rows: list[dict[str, Any]] = []
    failed = 0
    for o in outcomes:
        if o.ok and o.value is not None:
            out_rows.append({"pair": o.index, **o.value, "error": None})
        else:
            failed += 1
            out_rows.append(
                {
                    "pair": o.index,
                    "reference": o.item.reference,
                    "distorted": o.item.distorted,
                    "error": o.error,
                }
            )
            _warn(f"pair {o.index} ({Path(o.item.distorted).name}) failed: {o.error}")
    _render_rows(out_rows, as_json, as_csv)
    if failed:
        raise VmafTinyError(f"{failed} of {len(jobs)} pair(s) failed (see the error column)")


@app.command()
@_sigterm_cleans_up
def score(
    model: ModelOpt = "vmaf_tiny_v2",
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
    as_csv: Annotated[bool, typer.Option("--csv", help="Write CSV to stdout.")] = False,
    width: Annotated[int | None, typer.Option("--width", help="Raw yuv: width.")] = None,
    height: Annotated[int | None, typer.Option("--height", help="Raw yuv: height.")] = None,
    pix_fmt: Annotated[str | None, typer.Option("--pix-fmt", help="Raw yuv: format.")] = None,
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
    allow_damaged: cli_pixels.AllowDamagedOpt = False,
    fast: Annotated[
        bool, typer.Option("--fast", help="Fast VMAF estimate (default fast operating point).")
    ] = False,
    fast_level: Annotated[
        int | None, typer.Option("--fast-level", help="Fast estimate at operating point N.")
    ] = None,
) -> None:
    """Score a distorted video (against its reference) with a tiny model."""
    from vmaf_tiny.ffmpeg import resolve_ffmpeg

    _quiet_python_warnings()
    ff = resolve_ffmpeg(ffmpeg)
    if as_json and as_csv:
        raise BadInputError("choose one of --json and --csv")
    if fast or fast_level is not None:
        from vmaf_tiny.fast import fast_cli_model, score_fast

        model = fast_cli_model(model, fast_level, pairs=pairs is not None, nr=no_reference)
        if reference is None or distorted is None:
            raise BadInputError("--fast needs --reference and --distorted")
        res_fast = score_fast(
            reference, distorted, model, with_svm=with_svm, backend=backend, threads=threads,
            truncate=truncate, width=width, height=height, pix_fmt=pix_fmt, ffmpeg=ff,
        )  # fmt: skip
        for w in res_fast.warnings:
            _warn(w)
        say(f"{res_fast.model_id}: fast estimate from {res_fast.n_frames} frames in "
            f"{res_fast.seconds['total']:.2f} s")  # fmt: skip
        _render_single(res_fast, as_json, as_csv)
        return
    if pairs is not None:
        if reference or distorted or no_reference:
            raise BadInputError("--pairs cannot be combined with --reference/--distorted")
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
        }
        from vmaf_tiny.parallel import make_executor

        executor = make_executor(serial=serial, workers=workers)
        score_pairs_command(pairs, model, options, executor, as_json=as_json, as_csv=as_csv)
        return
    if distorted is None:
        raise BadInputError("pass --distorted (and --reference, or --no-reference)")
    if no_reference:
        if reference is not None:
            raise BadInputError("--no-reference and --reference cannot be combined")
        if with_svm:
            raise BadInputError("--with-svm needs a reference")
        from vmaf_tiny.nr import score_nr

        res = score_nr(
            distorted,
            model,
            backend=backend,
            threads=threads,
            int8=int8,
            width=width,
            height=height,
            pix_fmt=pix_fmt,
            ffmpeg=ff,
            allow_damaged=allow_damaged,
        )
    else:
        if reference is None:
            raise BadInputError("pass --reference (or --no-reference for an NR model)")
        from vmaf_tiny.scoring import score as score_fr

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
        )
    for w in res.warnings:
        _warn(w)
    say(f"{res.model_id} on {res.provider}: {res.n_frames} frames in {res.seconds['total']:.2f} s")
    _render_single(res, as_json, as_csv)


# ---------------------------------------------------------------------------- check


@app.command()
def check(
    model: Annotated[
        str, typer.Argument(help="Registry id or path to an .onnx.", show_default=False)
    ],
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

    _quiet_python_warnings()
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


# ---------------------------------------------------------------------------- models


@models_app.command("list")
def models_list(as_json: JsonOpt = False) -> None:
    """List the registered models."""
    from vmaf_tiny.registry import load_registry

    reg = load_registry()
    if as_json:
        print_json(reg.rows)
        return
    from rich.table import Table

    table = Table(title=f"{reg.path} ({len(reg.rows)} models)")
    for col in ("id", "kind", "class", "bytes", "quant", "smoke", "description"):
        table.add_column(col, overflow="fold")
    for r in reg.rows:
        table.add_row(
            r["id"],
            r["kind"],
            r["class"],
            str(r["bytes"]),
            r["quant_mode"],
            "yes" if r["smoke"] else "no",
            r["description"][:80],
        )
    console.out_console.print(table)


@models_app.command("show")
def models_show(
    model_id: Annotated[str, typer.Argument(help="Registry id.")], as_json: JsonOpt = False
) -> None:
    """Show one registered model: its registry row and sidecar."""
    import json

    from vmaf_tiny.registry import load_registry

    reg = load_registry()
    row = reg.get(model_id)
    sidecar_path = reg.zoo / row["sidecar"]
    try:
        sidecar = json.loads(sidecar_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BadInputError(f"{model_id}: cannot read sidecar {sidecar_path.name}: {exc}") from exc
    if as_json:
        print_json({"registry": row, "sidecar": sidecar})
        return
    from rich.table import Table

    table = Table(title=model_id, show_header=False)
    table.add_column("key")
    table.add_column("value", overflow="fold")
    for key in (
        "kind",
        "class",
        "onnx",
        "bytes",
        "sha256",
        "opset",
        "quant_mode",
        "license",
        "description",
    ):
        table.add_row(key, str(row[key]))
    table.add_row("inputs", ", ".join(f"{t['name']}{t['shape']}" for t in row["inputs"]))
    table.add_row("outputs", ", ".join(f"{t['name']}{t['shape']}" for t in row["outputs"]))
    if sidecar.get("feature_order"):
        table.add_row("features", ", ".join(sidecar["feature_order"]))
    console.out_console.print(table)


@models_app.command("verify")
def models_verify(as_json: JsonOpt = False) -> None:
    """Verify every registered model (hashes, schemas, size classes, load-time checks)."""
    from vmaf_tiny.registry import verify_registry

    rep = verify_registry()
    if as_json:
        print_json(rep.to_dict())
    for line in rep.failures:
        say(f"FAIL {line}")
    if not rep.ok:
        raise typer.Exit(2)
    if not as_json:
        say(f"ok: {len(rep.checked)} model(s) verified in {rep.zoo}")


# ---------------------------------------------------------------------------- bench


@app.command()
def bench(
    backend: Annotated[
        str, typer.Option("--backend", help="cpu or cuda (cuda needs onnxruntime-gpu).")
    ] = "cpu",
    tiny_model: Annotated[
        str, typer.Option("--tiny-model", help="Registry id or .onnx path of an FR model.")
    ] = "vmaf_tiny_v2",
    runs: Annotated[int, typer.Option("--runs", min=1, help="Timed runs after warm-up.")] = 7,
    sizes: Annotated[
        str,
        typer.Option(
            "--sizes", help="Comma-separated WxH[xFRAMES] clips (default: the two standard)."
        ),
    ] = "640x360x300,1920x1080x60",
    batch1_calls: Annotated[
        int, typer.Option("--batch1-calls", min=10, help="Model-only calls at batch 1.")
    ] = 20000,
    big_batch: Annotated[
        int, typer.Option("--big-batch", min=1, help="Rows for the throughput figure.")
    ] = 4096,
    clips_dir: Annotated[
        Path | None,
        typer.Option(
            "--clips-dir",
            help="Cache for generated clips (default: clips/ in $VMAF_TINY_CACHE, else "
            "$XDG_CACHE_HOME/vmaf-tiny or ~/.cache/vmaf-tiny).",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Results JSON (default: netflix_benchmark_results.json in that cache)."
        ),
    ] = None,
    record: Annotated[
        bool,
        typer.Option(
            "--record",
            help="Write the figures into docs/models/<id>.md and docs/benchmarks.md of the "
            "source checkout (or --cards-dir).",
        ),
    ] = False,
    cards_dir: Annotated[
        Path | None, typer.Option("--cards-dir", help="Model cards directory for --record.")
    ] = None,
    as_json: JsonOpt = False,
    ffmpeg: FFmpegOpt = None,
) -> None:
    """Benchmark a tiny FR model end to end against plain libvmaf vmaf_v0.6.1."""
    from vmaf_tiny import bench as bench_mod

    _quiet_python_warnings()
    if record:
        bench_mod.record_target(cards_dir)  # fail now, not after minutes of measuring
    result = bench_mod.run_bench(
        tiny_model,
        backend=backend,
        runs=runs,
        sizes=bench_mod.parse_sizes(sizes),
        batch1_calls=batch1_calls,
        big_batch=big_batch,
        clips_dir=clips_dir,
        ffmpeg=ffmpeg,
    )
    path = bench_mod.write_results(result, out)
    say(f"wrote {path}")
    if record:
        card = bench_mod.record_card(result, cards_dir)
        say(f"recorded figures in {card}")
        doc = bench_mod.record_benchmarks(result, cards_dir)
        if doc is not None:
            say(f"recorded figures in {doc}")
    if as_json:
        print_json(result)
    else:
        console.out_console.print(bench_mod.summary_markdown(result), markup=False, highlight=False)


def main() -> None:
    """Console-script entry point."""
    # numpy's OpenBLAS starts a spinning thread per core when imported (about 50 ms of CPU per
    # run on a 2-core machine); the runtime's numpy work is small (models run in ONNX Runtime).
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        run_app(app, prog_name="vmaf-tiny")
    except SystemExit as exc:
        console.exit_process(exc.code)
