"""A corpus build's work items: one per source (render the reference) and one per distorted
clip (encode, score with libvmaf, cache its per-frame rows), with the cache names that make
them idempotent. The orchestration is :mod:`vmaf_train.data.corpus`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vmaf_tiny.features import extract_features
from vmaf_tiny.ffmpeg import resolve_ffmpeg
from vmaf_tiny.fsutil import atomic_write_json, canonical_json_sha256
from vmaf_tiny.video import probe
from vmaf_train.data.corpus_config import CorpusConfig
from vmaf_train.data.distortions import Distortion, make_distorted
from vmaf_train.data.extra_teachers import teacher_features
from vmaf_train.data.fast_features import FAST_EXTRA, clip_fast_columns, fast_points_spec
from vmaf_train.data.sources import Source, render_reference

__all__ = [
    "ClipTask",
    "SourceTask",
    "build_clip_task",
    "cache_names",
    "clip_rows",
    "render_source_task",
    "rows_name",
]


def _spec_hash(*parts: object) -> str:
    """Short content hash of specs: a changed config never reuses a stale cache file."""
    return canonical_json_sha256(parts, default=str)[:10]


def cache_names(cfg: CorpusConfig, src: Source, dist: Distortion | None = None) -> str:
    """Cache file stem: ``<source>-<hash>`` for a reference, ``<key>-<hash>`` for a clip."""
    sh = _spec_hash(asdict(src), cfg.frames, cfg.fps)
    if dist is None:
        return f"{src.id}-{sh}"
    return f"{src.id}__{dist.tag()}-{_spec_hash(sh, asdict(dist))}"


def rows_name(cfg: CorpusConfig, clip_stem: str) -> str:
    """Cached rows depend on the clip and on which extras (and extra teachers) were computed."""
    parts: list[object] = [clip_stem, cfg.extras]
    if FAST_EXTRA in cfg.extras:  # the fast columns depend on the operating-point grid too
        parts.append(fast_points_spec())
    if cfg.teachers:  # absent otherwise: older caches keep their names
        parts.append({"teachers": list(cfg.teachers)})
    return f"{clip_stem}.{_spec_hash(*parts)[:6]}"


@dataclass(frozen=True)
class SourceTask:
    """Render one reference."""

    source: Source
    ref: str
    frames: int
    fps: int
    ffmpeg: str


@dataclass(frozen=True)
class ClipTask:
    """Make and score one distorted clip."""

    source: Source
    dist: Distortion
    key: str
    ref: str
    clip: str
    rows: str
    extras: tuple[str, ...]
    ffmpeg: str
    teachers: tuple[str, ...] = ()


def render_source_task(task: SourceTask) -> str:
    """Worker: render a reference unless it is already there. Returns its path."""
    out = Path(task.ref)
    if not out.is_file():
        render_reference(
            task.source, out, frames=task.frames, fps=task.fps, ffmpeg=resolve_ffmpeg(task.ffmpeg)
        )
    return str(out)


def _cached_rows_ok(path: Path, key: str) -> bool:
    """A cached rows file that can be used: it reads as JSON and is this clip's (a damaged or
    foreign one is recomputed and atomically replaced)."""
    if not path.is_file():
        return False
    try:
        cached = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(cached, dict) and cached.get("key") == key and "columns" in cached


def build_clip_task(task: ClipTask) -> str:
    """Worker: encode and score one clip unless its rows are already cached. Returns the key."""
    rows = Path(task.rows)
    if _cached_rows_ok(rows, task.key):
        return task.key
    ff = resolve_ffmpeg(task.ffmpeg)
    ref = Path(task.ref)
    src = task.source
    clip = Path(task.clip)
    if not clip.is_file():
        make_distorted(ref, task.dist, clip, width=src.width, height=src.height, ffmpeg=ff)
    dinfo = probe(clip, ff)
    lib_extras = tuple(e for e in task.extras if e != FAST_EXTRA)
    res = extract_features(
        ref,
        clip,
        extras=lib_extras,
        ffmpeg=ff,
        distorted_info=dinfo,
        teachers=task.teachers,
        features=teacher_features(task.teachers),
    )
    fast = {}
    if FAST_EXTRA in task.extras:
        fast = {"fast": clip_fast_columns(ref, clip, ffmpeg=ff, distorted_info=dinfo)}
    d = task.dist
    atomic_write_json(
        rows,
        {
            "key": task.key,
            "source_id": src.id,
            "source_kind": src.kind,
            "distortion": d.kind,
            "codec": d.codec,
            "preset": d.preset,
            "crf": d.crf,
            "encode_width": dinfo.width,
            "encode_height": dinfo.height,
            "width": src.width,
            "height": src.height,
            "bitrate_kbps": None if d.kind == "scale" else dinfo.bitrate_kbps,
            "n_frames": res.n_frames,
            "ffmpeg_version": res.ffmpeg_version,
            "libvmaf_version": res.libvmaf_version,
            "model_version": res.model_version,
            "columns": {
                k: [None if np.isnan(v) else float(v) for v in arr]
                for k, arr in res.columns.items()
            },
            **fast,
        },
    )
    return task.key


def clip_rows(cached: dict[str, Any]) -> list[dict[str, Any]]:
    """Expand one cached clip record into per-frame table rows."""
    cols = cached["columns"]
    fast = cached.get("fast", {})
    fixed = {
        k: cached[k]
        for k in (
            "key",
            "source_id",
            "source_kind",
            "distortion",
            "codec",
            "preset",
            "crf",
            "encode_width",
            "encode_height",
            "width",
            "height",
            "bitrate_kbps",
        )
    }
    if cached.get("mos") is not None:
        fixed["mos"] = cached["mos"]
    return [
        {**fixed, "frame": i, **{k: v[i] for k, v in (*cols.items(), *fast.items())}}
        for i in range(int(cached["n_frames"]))
    ]
