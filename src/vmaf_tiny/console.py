"""Shared CLI plumbing for both command-line tools.

Data goes to stdout, progress and logs to stderr. Known errors (``VmafTinyError``) become one line
on stderr and exit code 2; tracebacks only with ``--debug``.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Annotated, Any, NoReturn

import click
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from vmaf_tiny.errors import VmafTinyError

__all__ = [
    "FFmpegOpt",
    "JsonOpt",
    "ProgressOpt",
    "SchedulerOpt",
    "SerialOpt",
    "WorkersOpt",
    "err_console",
    "fail",
    "make_progress",
    "out_console",
    "print_json",
    "run_app",
]

# Piped or redirected output is not cut to rich's 80-column fallback (tables of figures would be
# truncated); a terminal, or COLUMNS, sets the width as usual.
_PIPE_WIDTH = None if sys.stdout.isatty() or "COLUMNS" in os.environ else 160
out_console = Console(soft_wrap=True, width=_PIPE_WIDTH)
err_console = Console(stderr=True, soft_wrap=True)


class _RateColumn(ProgressColumn):
    """Items per second (or per minute when slow)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if not speed:
            return Text("-/s", style="progress.data.speed")
        if speed < 1:
            return Text(f"{speed * 60:.1f}/min", style="progress.data.speed")
        return Text(f"{speed:.1f}/s", style="progress.data.speed")


def make_progress(*, enabled: bool = True) -> Progress:
    """A rich progress bar on stderr: label, bar, done/total, rate, elapsed and ETA."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=err_console,
        disable=not enabled,
        transient=False,
    )


def print_json(obj: Any) -> None:
    """Write ``obj`` as indented JSON to stdout."""
    sys.stdout.write(json.dumps(obj, indent=2, default=_json_default) + "\n")
    sys.stdout.flush()


def _json_default(o: Any) -> Any:
    try:
        import numpy as np

        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
    except ImportError:  # pragma: no cover
        pass
    if hasattr(o, "__fspath__"):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def fail(message: str) -> NoReturn:
    """Raise the project's bad-input error from a CLI command (one line, exit 2)."""
    from vmaf_tiny.errors import BadInputError

    raise BadInputError(message)


def run_app(
    app: typer.Typer, argv: Sequence[str] | None = None, prog_name: str | None = None
) -> NoReturn:
    """Run a Typer app with the project's error contract and exit.

    ``--debug`` anywhere on the command line keeps tracebacks.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    args = [a for a in args if a != "--debug"]
    try:
        rv = app(args=args, prog_name=prog_name, standalone_mode=False)
    except VmafTinyError as exc:
        if debug:
            traceback.print_exc()
        err_console.print(f"error: {exc}", markup=False, highlight=False)
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2 if isinstance(exc, click.UsageError) else exc.exit_code)
    except (click.Abort, KeyboardInterrupt):
        err_console.print("aborted", markup=False)
        sys.exit(130)
    except Exception as exc:
        if debug:
            raise
        err_console.print(
            f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)",
            markup=False,
            highlight=False,
        )
        sys.exit(1)
    sys.exit(rv if isinstance(rv, int) else 0)


# Shared option aliases: every command that fans out work takes the same executor flags.
SerialOpt = Annotated[bool, typer.Option("--serial", help="Run items one by one in this process.")]
WorkersOpt = Annotated[
    int | None,
    typer.Option("--workers", "-w", min=1, help="Local Dask cluster size (default: all cores)."),
]
SchedulerOpt = Annotated[
    str | None,
    typer.Option("--scheduler", help="Use an existing Dask scheduler, e.g. tcp://host:8786."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]
FFmpegOpt = Annotated[
    str | None,
    typer.Option(
        "--ffmpeg",
        help="ffmpeg binary with libvmaf (default: imageio-ffmpeg's).",
        envvar="VMAF_TINY_FFMPEG",
    ),
]
ProgressOpt = Annotated[
    bool, typer.Option("--progress/--no-progress", help="Show progress bars on stderr.")
]
