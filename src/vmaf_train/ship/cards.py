"""Generated documentation: model cards, the shipped-score snapshot, the features schema.

Every number comes from the registry row (itself written from measured runs by
``vmaf-train register``). Hand-maintained regions survive regeneration:

* ``docs/models/<id>.md`` keeps whatever lies between ``<!-- runtime-figures:begin -->`` and
  ``<!-- runtime-figures:end -->`` (written by ``vmaf-train bench``).
* ``docs/benchmarks.md``: only the block between ``<!-- model-snapshot:begin -->`` and
  ``<!-- model-snapshot:end -->`` is rewritten.
* ``docs/training.md``: only the block between ``<!-- features-schema:begin -->`` and
  ``<!-- features-schema:end -->`` is rewritten (from ``vmaf_train.data.table.describe_schema``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from vmaf_tiny.fsutil import atomic_write_bytes, replace_block
from vmaf_train.data.extra_teachers import describe_teacher_columns
from vmaf_train.data.table import describe_schema
from vmaf_train.ship.card_parts import (
    RUNTIME_BEGIN,
    RUNTIME_END,
    extract_block,
    fmt,
    is_pixel_model,
)
from vmaf_train.ship.cards_fast import is_fast_model, render_fast_card
from vmaf_train.ship.cards_fr import loso_summary, render_fr_card
from vmaf_train.ship.cards_pixels import render_pixel_card
from vmaf_train.ship.pixel_nr import is_temporal_nr, pixel_nr_snapshot_row, render_pixel_nr_card
from vmaf_train.ship.registry import load_registry
from vmaf_train.ship.stream import is_stream_sidecar, render_stream_card, stream_snapshot_row

__all__ = [
    "SCHEMA_BEGIN",
    "SCHEMA_END",
    "SNAPSHOT_BEGIN",
    "SNAPSHOT_END",
    "render_card",
    "schema_markdown",
    "snapshot_markdown",
    "write_reports",
]

SNAPSHOT_BEGIN = "<!-- model-snapshot:begin -->"
SNAPSHOT_END = "<!-- model-snapshot:end -->"
SCHEMA_BEGIN = "<!-- features-schema:begin -->"
SCHEMA_END = "<!-- features-schema:end -->"


def render_card(
    row: Mapping[str, Any],
    side: Mapping[str, Any],
    *,
    runtime_block: str = "",
    rows: Sequence[Mapping[str, Any]] = (),
) -> str:
    """The full Markdown card of one registry row (with its sidecar), any kind.

    Args:
        row: The registry row.
        side: Its sidecar.
        runtime_block: The kept ``vmaf-train bench`` block.
        rows: Every registry row (FR cards compare against the others for their goals).
    """
    if is_stream_sidecar(side):
        return render_stream_card(row, side, runtime_block=runtime_block)
    if is_temporal_nr(side):
        return render_pixel_nr_card(row, side, runtime_block=runtime_block)
    if is_pixel_model(side):
        return render_pixel_card(row, side, runtime_block=runtime_block)
    if is_fast_model(side):
        return render_fast_card(row, side, runtime_block=runtime_block)
    return render_fr_card(row, side, runtime_block=runtime_block, rows=rows)


def _fr_snapshot_row(row: Mapping[str, Any], side: Mapping[str, Any]) -> str:
    """One line of the docs/benchmarks.md snapshot table for an FR model."""
    tr = row.get("training") or {}
    met = tr.get("metrics", {})
    test, lat = met.get("test", {}), met.get("latency", {})
    target = side.get("output", {}).get("target", "vmaf")
    teacher = (side.get("metadata") or {}).get("teacher_model") or (
        met.get("extra", {}).get("table_metadata", {}) or {}
    ).get("model_version", "vmaf_v0.6.1")
    tgt = f"per-frame {teacher} (teacher)" if target != "mos" else f"per-frame {target}"
    summary = (
        f"test PLCC {fmt(test.get('plcc'))}, RMSE {fmt(test.get('rmse'), 3)} (n={test.get('n')})"
    )
    s = loso_summary(row)
    if s:
        sd = f" ± {fmt(s.get('rmse_std'), 3)}" if s.get("rmse_std") is not None else ""
        summary += (
            f"; LOSO {s.get('n_folds')} folds: PLCC {fmt(s.get('plcc_mean'))}, RMSE "
            f"{fmt(s.get('rmse_mean'), 3)}{sd}"
        )
    note = (
        f"fp32 {row['bytes']:,} B, {fmt(lat.get('fp32_us_per_row_b1024'), 3)} µs/row (b1024), "
        f"{fmt(lat.get('fp32_us_per_row_b1'), 1)} µs (b1)"
    )
    if lat.get("upstream_svm_us_per_row_b1024") is not None:
        note += f"; SVM {fmt(lat.get('upstream_svm_us_per_row_b1024'), 2)} µs/row (b1024)"
    note += "; int8 ships" if row.get("int8") else ""
    smoke = " (smoke)" if row.get("smoke") else ""
    return f"| `{row['id']}`{smoke} | {tgt} | {summary} | {note} |"


def _pixel_snapshot_row(row: Mapping[str, Any], side: Mapping[str, Any]) -> str:
    """One line of the docs/benchmarks.md snapshot table for a pixel model."""
    mid, kind = row["id"], row["kind"]
    tr = row.get("training") or {}
    met = tr.get("metrics", {})
    test, lat = met.get("test", {}), met.get("latency", {})
    if row.get("smoke"):
        io = " + ".join(t["name"] for t in side.get("inputs", []))
        return (
            f"| `{mid}` (smoke) | contract check ({io}) | no quality claim | {row['bytes']:,} B |"
        )
    if kind == "nr":
        target = "per-frame vmaf_v0.6.1 from the distorted frame alone"
        summary = (
            f"held-out sources: PLCC {fmt(test.get('plcc'))}, SROCC {fmt(test.get('srocc'))}, "
            f"RMSE {fmt(test.get('rmse'), 2)} (n={test.get('n')})"
        )
        note = f"{fmt(lat.get('fp32_us_per_row_b1'), 0)} µs/frame (b1)"
    elif kind == "filter":
        target = "reference luma from coded luma"
        summary = (
            f"held-out encodes: PSNR-Y Δ {fmt(test.get('psnr_y_delta'), 3)} dB, VMAF Δ "
            f"{fmt(test.get('vmaf_delta'), 3)} ({test.get('n_clips')} clips)"
        )
        note = f"{fmt(lat.get('fp32_us_per_frame_640x360', 0) / 1000, 1)} ms/frame at 640x360"
    else:
        target = "spectral-residual saliency teacher"
        summary = (
            f"held-out frames: CC {fmt(test.get('cc'), 3)}, IoU top 20 % "
            f"{fmt(test.get('iou_top'), 3)} (n={test.get('n')})"
        )
        note = (
            f"{fmt(lat.get('student_ms_per_frame_b1'), 2)} ms/frame (b1), "
            f"{fmt(lat.get('student_ms_per_frame_b16'), 2)} (b16) vs teacher "
            f"{fmt(lat.get('teacher_ms_per_frame'), 2)} ms"
        )
    note = f"{row['bytes']:,} B, {note}" + ("; int8 ships" if row.get("int8") else "")
    return f"| `{mid}` | {target} | {summary} | {note} |"


def snapshot_markdown(rows: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]]) -> str:
    """The shipped-score snapshot table (one line per registered model)."""
    lines = [
        "Generated by `vmaf-train report` from the zoo registry.json (figures measured by "
        "`vmaf-train fit/loso/quantize-int8/register`; raw scores, no logistic mapping).",
        "",
        "| Model | Target | Validation summary | Runtime note |",
        "|---|---|---|---|",
    ]
    if not rows:
        lines.append("| (no models registered yet) | | | |")
    lines += [
        stream_snapshot_row(r, s)
        if is_stream_sidecar(s)
        else pixel_nr_snapshot_row(r, s)
        if is_temporal_nr(s)
        else _pixel_snapshot_row(r, s)
        if is_pixel_model(s)
        else _fr_snapshot_row(r, s)
        for r, s in rows
    ]
    return "\n".join(lines)


def schema_markdown() -> str:
    """The features.parquet schema table, from ``describe_schema()``."""
    lines = ["| column | arrow type | nullable | description |", "|---|---|---|---|"]
    for name, typ, nullable, desc in [*describe_schema(), *describe_teacher_columns()]:
        cell = desc.replace("|", "\\|")
        lines.append(f"| `{name}` | {typ} | {'yes' if nullable else 'no'} | {cell} |")
    return "\n".join(lines)


def _update_block(path: Path, name: str, content: str, title: str) -> bool:
    """Rewrite one marked block of a doc (shared helper); True if the file changed."""
    old = path.read_text() if path.is_file() else None
    if old is None:
        atomic_write_bytes(path, f"# {title}\n".encode())
    replace_block(path, name, content)
    return path.read_text() != old


def write_reports(
    zoo: str | os.PathLike[str], docs: str | os.PathLike[str]
) -> dict[str, list[str]]:
    """Regenerate every card, the benchmarks snapshot block and the schema block.

    Args:
        zoo: The zoo directory holding ``registry.json`` and the sidecars.
        docs: The docs directory (cards go to ``docs/models/<id>.md``).

    Returns:
        ``{"written": [...], "unchanged": [...]}`` paths.
    """
    zoo, docs = Path(zoo), Path(docs)
    reg = load_registry(zoo)
    rows = list(reg.get("models", []))
    pairs = []
    written, unchanged = [], []
    for row in rows:
        side = json.loads((zoo / row["sidecar"]).read_text())
        pairs.append((row, side))
        card = docs / "models" / f"{row['id']}.md"
        old = card.read_text() if card.is_file() else ""
        runtime = extract_block(old, RUNTIME_BEGIN, RUNTIME_END) or ""
        text = render_card(row, side, runtime_block=runtime, rows=rows)
        if text != old:
            atomic_write_bytes(card, text.encode())
            written.append(str(card))
        else:
            unchanged.append(str(card))
    bench = docs / "benchmarks.md"
    changed = _update_block(bench, "model-snapshot", snapshot_markdown(pairs), "Benchmarks")
    (written if changed else unchanged).append(str(bench))
    training = docs / "training.md"
    changed = _update_block(training, "features-schema", schema_markdown(), "Training")
    (written if changed else unchanged).append(str(training))
    return {"written": written, "unchanged": unchanged}
