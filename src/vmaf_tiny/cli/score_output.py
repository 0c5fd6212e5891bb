"""What ``vmaf-tiny score`` prints and writes: the pooled table, JSON, tidy per-frame CSV, the
``-o`` file and the progress bar of the libvmaf pass.

One model keeps the single-model JSON of earlier versions (same keys, plus ``records``,
``subsample``, ``n_frames_total``); several models give one block per model under ``models``.
CSV (stdout with ``--csv``, or ``-o x.csv``) is the per-frame records, one row per frame.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from vmaf_tiny import console
from vmaf_tiny.console import print_json
from vmaf_tiny.errors import BadInputError
from vmaf_tiny.result import POOLS

__all__ = [
    "OUT_FORMATS",
    "check_output_flags",
    "parse_extras",
    "render",
    "scoring_progress",
    "write_out",
    "write_plot",
]

#: ``-o`` file extension -> format.
OUT_FORMATS = {".json": "json", ".csv": "csv"}


def parse_extras(text: str | None) -> tuple[str, ...]:
    """``psnr_y,float_ssim`` -> ``("psnr_y", "float_ssim")``, checked against the known extras."""
    from vmaf_tiny.features_names import EXTRAS

    if not text:
        return ()
    names = tuple(dict.fromkeys(t.strip() for t in text.split(",") if t.strip()))
    unknown = [n for n in names if n not in EXTRAS]
    if unknown or not names:
        raise BadInputError(
            f"unknown --extras {', '.join(unknown) or repr(text)}; choose from {', '.join(EXTRAS)}"
        )
    return names


def check_output_flags(
    *, pools: Sequence[str] | None, out: Path | None, plot: Path | None = None
) -> list[str]:
    """Check ``--pool``, ``-o`` and ``--plot`` before any work; return the pools to show.

    Raises:
        BadInputError: an unknown pool, an ``-o`` extension other than .json/.csv, a
            ``--plot`` file that is not .svg, or an output path that cannot be written.
    """
    from vmaf_tiny.score_plot import PLOT_FORMATS

    if plot is not None and plot.suffix.lower() not in PLOT_FORMATS:
        raise BadInputError(
            f"--plot {plot.name}: the runtime draws SVG (use a .svg name); for PNG write "
            "-o scores.json and run `vmaf-train plot-scores scores.json -o plot.png`"
        )
    chosen = list(dict.fromkeys(pools or POOLS))
    bad = [p for p in chosen if p not in POOLS]
    if bad:
        raise BadInputError(f"unknown --pool {', '.join(bad)}; choose from {', '.join(POOLS)}")
    if out is not None and out.suffix.lower() not in OUT_FORMATS:
        raise BadInputError(
            f"-o {out.name}: the format comes from the extension; use .json or .csv"
        )
    from vmaf_tiny.fsutil import check_writable

    for path in (out, plot):
        if path is not None:
            check_writable(path)
    return chosen


@contextlib.contextmanager
def scoring_progress(enabled: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar of the libvmaf pass on stderr, or None (not a terminal, ``--no-progress``)."""
    if not (enabled and sys.stderr.isatty()):
        yield None
        return
    bar = console.make_progress(enabled=True)
    task = bar.add_task("libvmaf", total=None)

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    with bar:
        yield update


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.4f}"


def _is_multi(res: Any) -> bool:
    return hasattr(res, "results")


def _results(res: Any) -> list[Any]:
    return list(res.results) if _is_multi(res) else [res]


def to_document(res: Any, pools: Sequence[str]) -> dict[str, Any]:
    """The JSON document: the result's ``to_dict()`` plus the chosen pools and their score."""
    d = res.to_dict()
    blocks = d["models"] if _is_multi(res) else [d]
    for block in blocks:
        block["pool"] = list(pools)
        block["score"] = block["pooled"][pools[0]]
    return d


def render(res: Any, *, as_json: bool, as_csv: bool, pools: Sequence[str]) -> None:
    """Print the result on stdout: JSON, per-frame CSV, or the table of pooled values."""
    if as_json:
        print_json(to_document(res, pools))
        return
    if as_csv:
        sys.stdout.write(res.records.to_csv())
        return
    from rich.table import Table

    results = _results(res)
    first = results[0]
    title = f"{Path(first.distorted).name}: {first.n_frames} frames"
    if res.subsample > 1:
        total = res.n_frames_total or first.n_frames
        title += f" (1 in {res.subsample} of {total})"
    table = Table(title=title)
    table.add_column("pooling")
    for r in results:
        table.add_column(r.model_id, justify="right")
    if res.svm_pooled is not None:
        table.add_column(f"{res.teacher} (libvmaf)", justify="right")
    for key in pools:
        row = [key, *(_fmt(r.pooled[key]) for r in results)]
        if res.svm_pooled is not None:
            row.append(_fmt(res.svm_pooled[key]))
        table.add_row(*row)
    if any(r.kind == "nr" for r in results):
        row = ["uncertainty"]
        for r in results:
            if r.kind != "nr":
                row.append("")
            elif r.uncertainty is not None:
                row.append(f"±{float(r.uncertainty.mean()):.4f}")
            else:
                row.append("n/a")
        if res.svm_pooled is not None:
            row.append("")
        table.add_row(*row)
    console.out_console.print(table)


def write_out(res: Any, path: Path, pools: Sequence[str]) -> None:
    """Write the ``-o`` file: JSON (the ``--json`` document) or the per-frame CSV."""
    from vmaf_tiny.fsutil import atomic_write_bytes, output_error

    fmt = OUT_FORMATS[path.suffix.lower()]
    if fmt == "json":
        data = json.dumps(to_document(res, pools), indent=2) + "\n"
    else:
        data = res.records.to_csv()
    try:
        atomic_write_bytes(path, data.encode("utf-8"))
    except OSError as exc:
        raise output_error(path, exc) from None


def write_plot(res: Any, path: Path, pools: Sequence[str]) -> None:
    """Write the ``--plot`` SVG (per-frame scores over time) atomically."""
    from vmaf_tiny.fsutil import atomic_write_bytes, output_error
    from vmaf_tiny.score_plot import score_svg

    svg = score_svg(to_document(res, pools))
    try:
        atomic_write_bytes(path, svg.encode("utf-8"))
    except OSError as exc:
        raise output_error(path, exc) from None
