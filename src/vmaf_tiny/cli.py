"""The ``vmaf-tiny`` command: score videos with tiny models, check and benchmark them."""

from __future__ import annotations

import typer

from vmaf_tiny.console import run_app

app = typer.Typer(
    name="vmaf-tiny",
    help="Score videos with tiny VMAF-style models (guarded ONNX Runtime). "
    "Add --debug to any command for tracebacks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """vmaf-tiny runtime."""


def main() -> None:
    """Console-script entry point."""
    run_app(app, prog_name="vmaf-tiny")
