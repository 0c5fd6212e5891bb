"""Shared option aliases and helpers for the ``vmaf-train`` command groups."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

# The executor and --json aliases are the project's shared ones.
from vmaf_tiny.console import JsonOpt, SchedulerOpt, SerialOpt, WorkersOpt, err_console
from vmaf_tiny.errors import BadInputError

__all__ = [
    "ConfigOpt",
    "FeaturesOpt",
    "JsonOpt",
    "SchedulerOpt",
    "SerialOpt",
    "WorkersOpt",
    "ZooOpt",
    "log",
    "parse_seeds",
    "split_overrides",
]

ConfigOpt = Annotated[
    Path, typer.Option("--config", "-c", help="Model recipe, configs/models/ID.toml.")
]
FeaturesOpt = Annotated[Path, typer.Option("--features", "-f", help="features.parquet")]
ZooOpt = Annotated[
    Path | None,
    typer.Option("--zoo", help="Model zoo directory (default: $VMAF_TINY_ZOO or model/tiny)."),
]
ValFracOpt = Annotated[
    float | None, typer.Option("--val-frac", help="Override the config's validation fraction.")
]
TestFracOpt = Annotated[
    float | None, typer.Option("--test-frac", help="Override the config's test fraction.")
]
SaltOpt = Annotated[str | None, typer.Option("--salt", help="Override the split salt.")]


def log(message: str) -> None:
    """A progress/log line on stderr."""
    err_console.print(message, markup=False, highlight=False)


def parse_seeds(text: str) -> list[int]:
    """``"0,1,2"`` -> ``[0, 1, 2]``.

    Raises:
        BadInputError: not a comma-separated list of integers.
    """
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError as exc:
        raise BadInputError(f"--seeds must be comma-separated integers, got {text!r}") from exc
    if not seeds:
        raise BadInputError("--seeds is empty")
    return seeds


def split_overrides(
    val_frac: float | None, test_frac: float | None, salt: str | None
) -> dict[str, Any]:
    """The ``split`` section overrides given on the command line."""
    return {"val_frac": val_frac, "test_frac": test_frac, "salt": salt}
