"""The ``vmaf-tiny`` command: score videos with tiny models, check and benchmark them.

One module per command group (:mod:`~vmaf_tiny.cli.score` for ``score`` and ``check``,
:mod:`~vmaf_tiny.cli.models`, :mod:`~vmaf_tiny.cli.bench`, :mod:`~vmaf_tiny.cli.pixels` for
``filter`` and ``saliency``), the options they share defined once in
:mod:`~vmaf_tiny.cli.options`, composed here. Thin shells only: each command parses options,
calls the library and renders the result. Data goes to stdout (a rich table, ``--json`` or
``--csv``), progress and warnings to stderr. Known errors are one line and exit code 2 (see
:func:`vmaf_tiny.console.run_app`).
"""

from __future__ import annotations

import os

import typer

# Only what every command needs is imported here; each command imports its own (rich tables,
# numpy, onnx, onnxruntime, jsonschema) so that start-up stays small.
from vmaf_tiny.cli import bench as _bench
from vmaf_tiny.cli import pixels as _pixels
from vmaf_tiny.cli import score as _score
from vmaf_tiny.cli.models import models_app
from vmaf_tiny.cli.options import BackendOpt, ModelOpt, ThreadsOpt
from vmaf_tiny.cli.score_pairs import score_pairs_command
from vmaf_tiny.console import exit_process, run_app

__all__ = ["BackendOpt", "ModelOpt", "ThreadsOpt", "app", "main", "score_pairs_command"]

app = typer.Typer(
    name="vmaf-tiny",
    help="Score videos with tiny VMAF-style models (guarded ONNX Runtime). "
    "Add --debug to any command for tracebacks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(models_app, name="models")
app.command("filter")(_pixels.filter_cmd)
app.command("saliency")(_pixels.saliency_cmd)
app.command("score")(_score.score)
app.command("check")(_score.check)
app.command("bench")(_bench.bench)


@app.callback()
def _root() -> None:
    """vmaf-tiny runtime."""


def main() -> None:
    """Console-script entry point."""
    # numpy's OpenBLAS starts a spinning thread per core when imported (about 50 ms of CPU per
    # run on a 2-core machine); the runtime's numpy work is small (models run in ONNX Runtime).
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    try:
        run_app(app, prog_name="vmaf-tiny")
    except SystemExit as exc:
        exit_process(exc.code)
