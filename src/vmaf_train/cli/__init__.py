"""The ``vmaf-train`` command: corpus, features, training, evaluation, export and registry.

One Typer app per command group, composed here explicitly.
"""

from __future__ import annotations

import typer

from vmaf_tiny.console import run_app
from vmaf_train.cli import corpus, demo, features
from vmaf_train.cli import pixels as _pixels

app = typer.Typer(
    name="vmaf-train",
    help="Build corpora scored by the real libvmaf teacher and train tiny models. "
    "Add --debug to any command for tracebacks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """vmaf-train toolkit."""


app.add_typer(corpus.app, name="corpus")
app.command("extract-features")(features.extract_features_cmd)
app.command("demo")(demo.demo)
app.add_typer(_pixels.app, name="pixels")  # pixel models (issue 5)


def main() -> None:
    """Console-script entry point."""
    run_app(app, prog_name="vmaf-train")
