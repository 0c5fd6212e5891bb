"""What every ``vmaf-tiny`` command shares around the library call: warnings and SIGTERM."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from vmaf_tiny.console import say

_F = TypeVar("_F", bound=Callable[..., Any])


def sigterm_cleans_up(command: _F) -> _F:
    """Run a command with SIGTERM unwinding like Ctrl-C: temp directories go, then exit 143."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from vmaf_tiny.fsutil import sigterm_cleans_up as _cleanup

        with _cleanup():
            return command(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def warn(message: str) -> None:
    """One ``warning:`` line on stderr."""
    say(f"warning: {message}")


def warn_lines(lines: list[str]) -> None:
    """One ``warning:`` line on stderr per line (printed as is, no markup)."""
    from vmaf_tiny.console import err_console

    for line in lines:
        err_console.print(f"warning: {line}", markup=False, highlight=False)


def quiet_python_warnings() -> None:
    """Print the Python warnings a command raises as one ``warning:`` line each.

    The size-class warning is not printed: the library also returns it (once, in the result).
    """
    from vmaf_tiny.guard import SizeClassWarning

    warnings.simplefilter("ignore", SizeClassWarning)

    def _one_line(message: Warning | str, *_: object, **__: object) -> None:
        warn(str(message))

    warnings.showwarning = _one_line  # e.g. AmbiguousModelWarning: one "warning:" line
