"""The ``vmaf-train`` command: corpus, features, training, evaluation, export and registry.

One Typer app per command group, composed here explicitly.
"""

from __future__ import annotations

import typer

from vmaf_tiny.console import run_app
from vmaf_train.cli import corpus, demo, features, pairs
from vmaf_train.cli import evaluate as _evaluate
from vmaf_train.cli import export as _export
from vmaf_train.cli import registry as _registry
from vmaf_train.cli import train as _train
from vmaf_train.cli import zoo as _zoo

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


# Training, evaluation, export and registry (issue 3).
app.command("fit")(_train.fit)
app.command("loso")(_train.loso)
app.command("baseline-svr")(_train.baseline_svr)
app.command("eval")(_evaluate.evaluate)
app.command("plot-scores")(_evaluate.plot_scores)
app.command("quantize-int8")(_export.quantize)
app.command("int8-ship")(_export.int8_ship)
app.command("register")(_registry.register)
app.command("make-smoke")(_registry.make_smoke)
app.command("report")(_registry.report)
app.command("guard-fixture")(_registry.guard_fixture)
app.command("zoo")(_zoo.zoo)

app.add_typer(corpus.app, name="corpus")
app.command("extract-features")(features.extract_features_cmd)
app.command("bench")(__import__("vmaf_train.cli.bench", fromlist=["bench"]).bench)
app.command("score-pairs")(pairs.score_pairs)
app.command("demo")(demo.demo)


#: Top-level modules of the ``train`` extra (``pip install 'vmaf-tiny[train]'``).
TRAIN_EXTRA_MODULES = frozenset(
    {
        "torch",
        "pyarrow",
        "scipy",
        "sklearn",
        "dask",
        "distributed",
        "matplotlib",
        "skvideo",
        "skimage",
        "yaml",
    }
)


def train_extra_hint(exc: ModuleNotFoundError) -> str | None:
    """The install hint for a missing training dependency (None for any other module)."""
    top = (exc.name or "").split(".")[0]
    if top not in TRAIN_EXTRA_MODULES:
        return None
    return (
        f"vmaf-train needs the training extra (missing module {top!r}): "
        "pip install 'vmaf-tiny[train]'"
    )


def main() -> None:
    """Console-script entry point."""
    run_app(app, prog_name="vmaf-train", missing_module_hint=train_extra_hint)
