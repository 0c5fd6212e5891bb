"""Shared option aliases and helpers for the ``vmaf-train`` command groups."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

# The executor and --json aliases are the project's shared ones.
from rich.table import Table

from vmaf_tiny.cli.options import JsonOpt, SchedulerOpt, SerialOpt, WorkersOpt
from vmaf_tiny.console import err_console
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
    "metric_cell",
    "metrics_table",
    "parse_seeds",
    "split_overrides",
]

ConfigOpt = Annotated[
    Path, typer.Option("--config", "-c", help="Model recipe, configs/models/ID.toml.")
]
FeaturesOpt = Annotated[Path, typer.Option("--features", "-f", help="features.parquet")]
ZooOpt = Annotated[
    Path | None,
    typer.Option("--zoo", help="Model zoo directory (default: $VMAF_TINY_ZOO or the shipped zoo)."),
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


def metric_cell(m: dict[str, Any], k: str, nd: int) -> str:
    """A metric and, on a second line, its 95 % interval ("-" when absent)."""
    v = m.get(k)
    if v is None:
        return "-"
    ci = m.get(f"{k}_ci")
    return f"{v:.{nd}f}" + (f"\n[{ci[0]:.{nd}f}, {ci[1]:.{nd}f}]" if ci else "")


def metrics_table(title: str, first: str, rows: list[tuple[str, dict[str, Any]]]) -> Table:
    """Rows of (name, metrics) as a table that fits 80 columns (names wrap first)."""
    t = Table(title=title)
    t.add_column(first, overflow="fold", min_width=12)
    t.add_column("n", no_wrap=True, justify="right")
    for col in ("PLCC", "SROCC", "RMSE"):
        t.add_column(f"{col}\n[95% CI]", no_wrap=True)
    for name, m in rows:
        t.add_row(name, str(m.get("n")), metric_cell(m, "plcc", 4), metric_cell(m, "srocc", 4),
                  metric_cell(m, "rmse", 3))  # fmt: skip
    return t
