"""``--pairs``: score every pair of a CSV and render one row per pair and model.

Shared by ``vmaf-tiny score --pairs`` and ``vmaf-train score-pairs``.
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path
from typing import Any

from vmaf_tiny import console
from vmaf_tiny.cli._shell import warn
from vmaf_tiny.console import print_json, say
from vmaf_tiny.errors import VmafTinyError

__all__ = ["score_pairs_command"]


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.4f}"


def _render_rows(rows: list[dict[str, Any]], as_json: bool, as_csv: bool) -> None:
    if as_json:
        print_json(rows)
        return
    if as_csv:
        sys.stdout.write(_rows_csv(rows))
        return
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    from rich.table import Table

    table = Table()
    shown = [k for k in keys if k not in ("reference", "provider")]
    for k in shown:
        table.add_column(k, justify="right" if k not in ("distorted", "error") else "left")
    for r in rows:
        cells: list[str] = []
        for k in shown:
            v = r.get(k)
            if k == "distorted":
                v = Path(str(v)).name
            cells.append(_fmt(v) if isinstance(v, float) else ("" if v is None else str(v)))
        table.add_row(*cells)
    console.out_console.print(table)


def score_pairs_command(
    pairs: Path,
    model: str | list[str],
    options: dict[str, Any],
    executor: Any,
    *,
    as_json: bool,
    as_csv: bool,
    out: Path | None = None,
) -> None:
    """Score every pair of a pairs CSV on ``executor`` and render the rows (one per pair and
    model; several models share one libvmaf pass per pair).

    Shared by ``vmaf-tiny score --pairs`` (serial or the process pool) and ``vmaf-train
    score-pairs`` (the same, or Dask). A failing pair gets an ``error`` and does not stop the
    others; any failure ends in a :class:`VmafTinyError` (exit 2) after the rows are printed
    (and written to ``out``, .json or .csv).
    """
    from vmaf_tiny.pairs import WARNINGS_KEY, PairJob, read_pairs, score_pair
    from vmaf_tiny.session import load_model
    from vmaf_tiny.video_spec import check_raw_flags

    models = [model] if isinstance(model, str) else list(model)
    rows = read_pairs(pairs)
    check_raw_flags(  # a row's own width/height/pix_fmt columns are its own business
        [r[k] for r in rows for k in ("reference", "distorted")],
        width=options.get("width"),
        height=options.get("height"),
        pix_fmt=options.get("pix_fmt"),
        what=f"the videos of {pairs.name}",
    )
    # Load once here so a bad model (or a bad mix) is one clear error, not one per pair.
    loaded = [load_model(m, backend=options["backend"], threads=options["threads"]) for m in models]
    if len(loaded) > 1:
        from vmaf_tiny.multi import check_together

        check_together(loaded)
    jobs = []
    for i, r in enumerate(rows):
        opts = dict(options)
        opts.update({k: v for k, v in r.items() if k not in ("reference", "distorted")})
        jobs.append(
            PairJob(
                i, r["reference"], r["distorted"], models[0], tuple(sorted(opts.items())),
                more_models=tuple(models[1:]),
            )
        )  # fmt: skip
    with executor as ex:
        say(f"scoring {len(jobs)} pair(s) on {ex.describe()}")
        outcomes = ex.map(score_pair, jobs, label="pairs")
    out_rows: list[dict[str, Any]] = []
    failed = 0
    for o in outcomes:
        if o.ok and o.value is not None:
            said: list[str] = []
            for v in o.value:
                said += [w for w in v.pop(WARNINGS_KEY, []) if w not in said]
            for w in said:
                warn(f"pair {o.index} ({Path(o.item.distorted).name}): {w}")
            out_rows += [{"pair": o.index, **v, "error": None} for v in o.value]
        else:
            failed += 1
            out_rows.append(
                {
                    "pair": o.index,
                    "reference": o.item.reference,
                    "distorted": o.item.distorted,
                    "error": o.error,
                }
            )
            warn(f"pair {o.index} ({Path(o.item.distorted).name}) failed: {o.error}")
    _render_rows(out_rows, as_json, as_csv)
    if out is not None:
        _write_rows(out_rows, out)
        say(f"wrote {out}")
    if failed:
        raise VmafTinyError(f"{failed} of {len(jobs)} pair(s) failed (see the error column)")


def _rows_csv(rows: list[dict[str, Any]]) -> str:
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in keys})
    return buf.getvalue()


def _write_rows(rows: list[dict[str, Any]], path: Path) -> None:
    """The ``-o`` file of ``--pairs``: the rows as a JSON list or CSV, written atomically."""
    import json

    from vmaf_tiny.fsutil import atomic_write_bytes, output_error

    text = json.dumps(rows, indent=2) + "\n" if path.suffix.lower() == ".json" else _rows_csv(rows)
    try:
        atomic_write_bytes(path, text.encode("utf-8"))
    except OSError as exc:
        raise output_error(path, exc) from None
