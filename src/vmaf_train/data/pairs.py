"""Features for a user's own reference/distorted pairs (``vmaf-train extract-features``).

Same schema as the corpus: ``source_id`` defaults to the reference's file stem, ``key`` to the
distorted's; codec fields come from the distorted stream where they can be read (encoder tag,
x264/x265 CRF), else ``unknown``. An optional clip-level ``mos`` is copied onto every frame row.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from vmaf_tiny.errors import BadInputError
from vmaf_tiny.features import extract_features
from vmaf_tiny.ffmpeg import resolve_ffmpeg
from vmaf_tiny.parallel import Executor
from vmaf_tiny.video import VideoSpec, probe
from vmaf_train.data.corpus import clip_rows
from vmaf_train.data.table import rows_to_table

__all__ = ["PairTask", "extract_pair_task", "extract_pairs", "read_pairs_csv"]


@dataclass(frozen=True)
class PairTask:
    """One user pair to score."""

    reference: VideoSpec
    distorted: VideoSpec
    key: str
    source_id: str
    mos: float | None
    extras: tuple[str, ...]
    truncate: bool
    ffmpeg: str


def extract_pair_task(task: PairTask) -> dict[str, Any]:
    """Worker: score one pair; return a clip record (see ``corpus.clip_rows``)."""
    ff = resolve_ffmpeg(task.ffmpeg)
    dinfo = probe(task.distorted, ff)
    res = extract_features(
        task.reference,
        task.distorted,
        extras=task.extras,
        truncate=task.truncate,
        ffmpeg=ff,
        distorted_info=dinfo,
    )
    return {
        "key": task.key,
        "source_id": task.source_id,
        "source_kind": "user",
        "distortion": "user",
        "codec": dinfo.encoder or "unknown",
        "preset": "",
        "crf": dinfo.crf,
        "encode_width": dinfo.width,
        "encode_height": dinfo.height,
        "width": res.reference.width,
        "height": res.reference.height,
        "bitrate_kbps": dinfo.bitrate_kbps,
        "mos": task.mos,
        "n_frames": res.n_frames,
        "ffmpeg_version": res.ffmpeg_version,
        "libvmaf_version": res.libvmaf_version,
        "model_version": res.model_version,
        "columns": {
            k: [None if math.isnan(v) else float(v) for v in arr] for k, arr in res.columns.items()
        },
    }


def _opt_int(row: dict[str, str], col: str, where: str) -> int | None:
    v = (row.get(col) or "").strip()
    if not v:
        return None
    try:
        return int(v)
    except ValueError:
        raise BadInputError(f"{where}: column {col!r} must be an integer, got {v!r}") from None


def read_pairs_csv(
    path: str | Path, *, extras: tuple[str, ...] = (), truncate: bool = False, ffmpeg: str
) -> list[PairTask]:
    """Read ``reference, distorted[, mos, source_id, key, width, height, pix_fmt]`` rows.

    Relative paths are resolved against the CSV's directory.

    Raises:
        BadInputError: missing file or columns, an unparsable MOS, duplicate keys.
    """
    p = Path(path)
    if not p.is_file():
        raise BadInputError(f"no such pairs file: {p}")
    with p.open(newline="") as fh:
        reader = csv.DictReader(fh)
        cols = set(reader.fieldnames or [])
        missing = [c for c in ("reference", "distorted") if c not in cols]
        if missing:
            raise BadInputError(f"{p.name}: missing column(s) {missing}")
        rows = list(reader)
    if not rows:
        raise BadInputError(f"{p.name}: no pairs")
    tasks = []
    for i, r in enumerate(rows, start=2):
        where = f"{p.name} line {i}"
        ref = (p.parent / r["reference"].strip()).resolve()
        dis = (p.parent / r["distorted"].strip()).resolve()
        geo = {k: _opt_int(r, k, where) for k in ("width", "height")}
        pix = (r.get("pix_fmt") or "").strip() or None
        mos_text = (r.get("mos") or "").strip()
        try:
            mos = float(mos_text) if mos_text else None
        except ValueError:
            raise BadInputError(f"{where}: mos {mos_text!r} is not a number") from None
        if mos is not None and not math.isfinite(mos):
            raise BadInputError(f"{where}: mos must be finite")
        tasks.append(
            PairTask(
                reference=VideoSpec(ref, geo["width"], geo["height"], pix),
                distorted=VideoSpec(dis, geo["width"], geo["height"], pix),
                key=(r.get("key") or "").strip() or dis.stem,
                source_id=(r.get("source_id") or "").strip() or ref.stem,
                mos=mos,
                extras=extras,
                truncate=truncate,
                ffmpeg=ffmpeg,
            )
        )
    keys = [t.key for t in tasks]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup:
        raise BadInputError(f"{p.name}: duplicate keys {dup[:5]} (add a 'key' column)")
    return tasks


def extract_pairs(
    tasks: list[PairTask], *, executor: Executor, progress: bool = True
) -> tuple[pa.Table | None, list[dict[str, str]]]:
    """Score every pair; return (table of the pairs that worked or None, failures)."""
    records: list[dict[str, Any]] = []
    failures: list[dict[str, str]] = []
    for o in executor.imap(extract_pair_task, tasks, label="pairs", progress=progress):
        if o.ok and o.value is not None:
            records.append(o.value)
        else:
            failures.append({"item": o.item.key, "error": str(o.error)})
    failures.sort(key=lambda f: f["item"])
    if not records:
        return None, failures
    records.sort(key=lambda r: (r["source_id"], r["key"]))
    versions = {(r["ffmpeg_version"], r["libvmaf_version"], r["model_version"]) for r in records}
    ffv, vmv, mv = sorted(versions)[0]
    rows = [row for rec in records for row in clip_rows(rec)]
    meta = {"ffmpeg_version": ffv, "libvmaf_version": vmv, "model_version": mv}
    return rows_to_table(rows, meta), failures
