"""Stream features of a built corpus: the training table of ``nr_stream_v1``.

A corpus build keeps every encoded clip in its cache and lists it in ``manifest.json``; this
module runs the runtime's own extractor (:func:`vmaf_tiny.stream.extract_stream`, the exact code
that scores a user's file) over each encoded clip and joins the per-frame features to the
corpus's per-frame teacher scores (``vmaf`` in ``features.parquet``) by ``key`` and ``frame``.
Pure-scaling clips (lossless FFV1, no coded stream) are left out. Ladder clips are coded smaller
than the reference; their ``display`` size is the reference's, as a player would show them.

The result, ``stream_features.parquet``, has one row per encoded frame: ``key``, ``frame``,
``source_id``, ``source_kind``, ``codec``, ``distortion``, ``crf``, ``vmaf`` and every column of
:data:`vmaf_tiny.stream.STREAM_FEATURES` (float64), rows sorted by key and frame, so the same
corpus gives the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from vmaf_tiny.errors import BadInputError
from vmaf_tiny.fsutil import atomic_path
from vmaf_tiny.stream import STREAM_FEATURES, extract_stream, feature_dict

__all__ = ["ID_COLUMNS", "ClipJob", "build_stream_table", "clip_stream_rows"]

ID_COLUMNS: tuple[str, ...] = ("key", "source_id", "source_kind", "codec", "distortion")


@dataclass(frozen=True)
class ClipJob:
    """One encoded clip of a corpus and what the table needs to know about it."""

    key: str
    path: str
    display: tuple[int, int]
    meta: dict[str, Any]
    vmaf: tuple[float, ...]


def clip_stream_rows(job: ClipJob) -> dict[str, Any]:
    """Extract one clip's stream features; columns of equal length (one entry per frame)."""
    sf = extract_stream(job.path)
    n = min(sf.n_frames, len(job.vmaf))
    feats = feature_dict(sf, job.display)
    cols: dict[str, Any] = {k: [job.meta[k]] * n for k in ID_COLUMNS}
    cols["crf"] = [job.meta.get("crf")] * n
    cols["frame"] = list(range(n))
    cols["vmaf"] = list(job.vmaf[:n])
    for name in STREAM_FEATURES:
        cols[name] = [float(v) for v in np.asarray(feats[name])[:n]]
    return cols


def _jobs(corpus: Path) -> list[ClipJob]:
    manifest_path = corpus / "manifest.json"
    feats_path = corpus / "features.parquet"
    if not manifest_path.is_file() or not feats_path.is_file():
        raise BadInputError(f"{corpus}: not a built corpus (no manifest.json/features.parquet)")
    manifest = json.loads(manifest_path.read_text())
    table = pq.read_table(
        feats_path,
        columns=[
            "key",
            "frame",
            "vmaf",
            "source_id",
            "source_kind",
            "codec",
            "distortion",
            "crf",
            "width",
            "height",
        ],
    ).to_pydict()
    per_key: dict[str, dict[str, Any]] = {}
    for i, key in enumerate(table["key"]):
        rec = per_key.setdefault(
            key, {c: table[c][i] for c in table if c not in ("frame", "vmaf")} | {"vmaf": {}}
        )
        rec["vmaf"][int(table["frame"][i])] = float(table["vmaf"][i])
    jobs: list[ClipJob] = []
    for clip in manifest["clips"]:
        found = per_key.get(clip["key"])
        if found is None or found["distortion"] == "scale":
            continue
        rec = found
        path = Path(clip["file"])
        path = path if path.is_absolute() else corpus / path
        frames = rec.pop("vmaf")
        vm = tuple(frames[i] for i in sorted(frames))
        jobs.append(ClipJob(clip["key"], str(path), (rec["width"], rec["height"]), rec, vm))
    jobs.sort(key=lambda j: j.key)
    return jobs


def _concat(parts: Iterable[dict[str, Any]]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for part in parts:
        for k, v in part.items():
            out.setdefault(k, []).extend(v)
    return out


def build_stream_table(corpus: Path, out: Path | None = None, *, workers: int = 1) -> pa.Table:
    """Build ``stream_features.parquet`` for a built corpus (``out`` defaults beside it).

    Args:
        corpus: A corpus directory made by ``vmaf-train corpus build`` (cache kept).
        out: Output parquet path (default ``corpus/stream_features.parquet``).
        workers: Worker processes (1 = in this process).

    Returns:
        The table written.

    Raises:
        BadInputError: not a built corpus, or a clip file is missing.
    """
    jobs = _jobs(corpus)
    for j in jobs:
        if not Path(j.path).is_file():
            raise BadInputError(f"{j.path}: clip missing (was the corpus cache deleted?)")
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            parts = list(pool.map(clip_stream_rows, jobs, chunksize=4))
    else:
        parts = [clip_stream_rows(j) for j in jobs]
    cols = _concat(parts)
    fields = [pa.field(k, pa.string()) for k in ID_COLUMNS]
    fields += [
        pa.field("crf", pa.int64()),
        pa.field("frame", pa.int64()),
        pa.field("vmaf", pa.float64()),
    ]
    fields += [pa.field(n, pa.float64()) for n in STREAM_FEATURES]
    schema = pa.schema(
        fields, metadata={"corpus": corpus.name, "features": ",".join(STREAM_FEATURES)}
    )
    table = pa.table({f.name: cols.get(f.name, []) for f in fields}, schema=schema)
    dest = out or corpus / "stream_features.parquet"
    with atomic_path(dest) as tmp:
        pq.write_table(table, tmp, compression="zstd")
    return table
