"""Shared CLI plumbing for both command-line tools.

Data goes to stdout, progress and logs to stderr. Known errors (``VmafTinyError``) become one line
on stderr and exit code 2; tracebacks only with ``--debug``.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

import typer

from vmaf_tiny.errors import VmafTinyError

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

    out_console: Console  # data (tables) on stdout
    err_console: Console  # progress and logs on stderr

__all__ = [
    "err_console",
    "exit_process",
    "fail",
    "make_progress",
    "out_console",
    "print_json",
    "run_app",
    "say",
]

# ``out_console`` and ``err_console`` are made on first use (module ``__getattr__``): rich costs
# tens of milliseconds to import, and commands that print only JSON or plain lines never need it.
_consoles: dict[str, Console] = {}


def _make_console(name: str) -> Console:
    from rich.console import Console

    if name == "out_console":
        # Piped or redirected output is not cut to rich's 80-column fallback (tables of figures
        # would be truncated); a terminal, or COLUMNS, sets the width as usual.
        width = None if sys.stdout.isatty() or "COLUMNS" in os.environ else 160
        return Console(soft_wrap=True, width=width)
    return Console(stderr=True, soft_wrap=True)


def _console(name: str) -> Console:
    if name not in _consoles:
        _consoles[name] = _make_console(name)
    return _consoles[name]


def __getattr__(name: str) -> Any:
    if name in ("out_console", "err_console"):
        return _console(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def say(message: str) -> None:
    """One plain line on stderr (no markup, no rich import): progress notes and warnings."""
    sys.stderr.write(f"{message}\n")
    sys.stderr.flush()


def make_progress(*, enabled: bool = True) -> Progress:
    """A rich progress bar on stderr: label, bar, done/total, rate, elapsed and ETA."""
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

    class _RateColumn(ProgressColumn):
        """Items per second (or per minute when slow)."""

        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            if not speed:
                return Text("-/s", style="progress.data.speed")
            if speed < 1:
                return Text(f"{speed * 60:.1f}/min", style="progress.data.speed")
            return Text(f"{speed:.1f}/s", style="progress.data.speed")

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=_console("err_console"),
        disable=not enabled,
        transient=False,
    )


def print_json(obj: Any) -> None:
    """Write ``obj`` as indented JSON to stdout."""
    sys.stdout.write(json.dumps(obj, indent=2, default=_json_default) + "\n")
    sys.stdout.flush()


def _json_default(o: Any) -> Any:
    np = sys.modules.get("numpy")  # numpy values can only exist if numpy is loaded
    if np is not None:
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
    if hasattr(o, "__fspath__"):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def fail(message: str) -> NoReturn:
    """Raise the project's bad-input error from a CLI command (one line, exit 2)."""
    from vmaf_tiny.errors import BadInputError

    raise BadInputError(message)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _usage_line(exc: typer.TyperException, prog_name: str | None) -> str:
    """``error: <what> (try '<command> --help')`` for a command-line usage error."""
    ctx = getattr(exc, "ctx", None)
    command = ctx.command_path if ctx is not None else (prog_name or "the command")
    return f"error: {_one_line(exc.format_message())} (try '{command} --help')"


def run_app(
    app: typer.Typer,
    argv: Sequence[str] | None = None,
    prog_name: str | None = None,
    *,
    missing_module_hint: Callable[[ModuleNotFoundError], str | None] | None = None,
) -> NoReturn:
    """Run a Typer app with the project's error contract and exit.

    The contract: ``--help`` prints help and exits 0; a usage error (unknown option, bad or
    missing value, missing argument or command) is one ``error: ... (try '... --help')`` line on
    stderr and exit code 2; a bare group (``vmaf-tiny``, ``vmaf-tiny models``) prints its help and
    exits 2, since nothing was done; a known error (:class:`VmafTinyError`) is one ``error:`` line
    and its exit code (2); Ctrl-C is ``aborted`` and 130; anything else is a bug: one
    ``internal error:`` line and exit code 1. ``--debug`` anywhere on the command line keeps
    tracebacks.

    Args:
        app: The Typer app.
        argv: Arguments (default ``sys.argv[1:]``).
        prog_name: Name shown in usage and error lines.
        missing_module_hint: For a ``ModuleNotFoundError`` the app raises: a one-line message
            (printed as ``error: <message>``, exit 2) when the module is an optional dependency
            the user can install, else None (an internal error).
    """
    # typer (0.26+) vendors click as typer._click; its exceptions subclass typer.TyperException.
    # The private import is pinned by pyproject's typer range and
    # tests/vmaf_tiny/test_cli_contract.py.
    from typer._click.exceptions import NoArgsIsHelpError, UsageError

    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    args = [a for a in args if a != "--debug"]
    try:
        rv = app(args=args, prog_name=prog_name, standalone_mode=False)
    except VmafTinyError as exc:
        if debug:
            traceback.print_exc()
        say(f"error: {exc}")
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except NoArgsIsHelpError as exc:
        # A bare group: the help on stdout (typer's rich help is printed while the error is
        # made; plain help is the message), one usage line on stderr, exit 2: nothing was done.
        if exc.message.strip():
            sys.stdout.write(exc.message.rstrip() + "\n")
        command = exc.ctx.command_path if exc.ctx is not None else (prog_name or "the command")
        say(f"error: Missing command. (try '{command} --help')")
        sys.exit(2)
    except UsageError as exc:
        if debug:
            traceback.print_exc()
        say(_usage_line(exc, prog_name))
        sys.exit(2)
    except typer.TyperException as exc:  # e.g. a file typer could not open
        if debug:
            traceback.print_exc()
        say(f"error: {_one_line(exc.format_message())}")
        sys.exit(2)
    except (typer.Abort, KeyboardInterrupt):
        say("aborted")
        sys.exit(130)
    except ModuleNotFoundError as exc:
        hint = missing_module_hint(exc) if missing_module_hint is not None else None
        if hint is None or debug:
            if debug:
                raise
            _internal(exc)
        say(f"error: {hint}")
        sys.exit(2)
    except Exception as exc:
        if debug:
            raise
        _internal(exc)
    sys.exit(rv if isinstance(rv, int) else 0)


def exit_process(code: int | str | None) -> NoReturn:
    """End the process as ``sys.exit(code)`` would, minus Python's module teardown.

    Tearing down numpy, onnx and onnxruntime costs about 40 ms on every run of a short command.
    What a normal exit does that matters is done first: other non-daemon threads are joined,
    ``atexit`` handlers run (temporary directories, executors, logging) and stdout/stderr are
    flushed; then :func:`os._exit`. For console-script entry points only (never in-process).
    """
    import atexit
    import threading

    if isinstance(code, str):
        say(code)
        status = 1
    else:
        status = 0 if code is None else int(code)
    for t in threading.enumerate():
        if t is not threading.main_thread() and not t.daemon:
            t.join()
    atexit._run_exitfuncs()  # what the interpreter runs at exit, before its teardown
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe (`| head`) or stream
            stream.flush()
    os._exit(status)


def _internal(exc: BaseException) -> NoReturn:
    say(
        f"internal error: {type(exc).__name__}: {_one_line(str(exc))} "
        "(rerun with --debug for the traceback)"
    )
    sys.exit(1)
