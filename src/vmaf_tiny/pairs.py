"""Scoring many pairs from a CSV through the executor interface (serial, local Dask, cluster).

:func:`score_pair` is a module-level function so Dask workers can run it; each worker process
loads the model once and reuses it. A failing pair comes back as an error for that pair only.
"""

from __future__ import annotations

import csv
import multiprocessing
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vmaf_tiny.errors import BadInputError, VmafTinyError
from vmaf_tiny.fsutil import sigterm_cleans_up
from vmaf_tiny.scoring import score
from vmaf_tiny.session import LoadedModel, load_model

__all__ = ["WARNINGS_KEY", "PairJob", "read_pairs", "score_pair"]

#: Key of a scored row holding the result's warnings (the CLI prints them on stderr instead of
#: rendering them as a column).
WARNINGS_KEY = "warnings"


@dataclass(frozen=True)
class PairJob:
    """One row of a pairs file, with the options that apply to every row (picklable).

    Attributes:
        index: Row number (0-based, data rows).
        reference: Reference path.
        distorted: Distorted path.
        model: Registry id or .onnx path (the first model).
        options: Keyword arguments for :func:`score` (row values override).
        more_models: Further models scored in the same libvmaf pass
            (:func:`vmaf_tiny.multi.score_models`); the pair then gives one row per model.
    """

    index: int
    reference: str
    distorted: str
    model: str
    options: tuple[tuple[str, Any], ...] = ()
    more_models: tuple[str, ...] = ()


_PAIR_COLUMNS = ("codec", "preset", "crf", "width", "height", "pix_fmt")
_MODEL_CACHE: dict[tuple[Any, ...], LoadedModel] = {}


def read_pairs(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read a pairs CSV: header with ``reference,distorted`` (optional ``codec, preset, crf,
    width, height, pix_fmt``); relative paths are relative to the CSV's directory.

    Raises:
        BadInputError: missing file/columns, empty file, bad numbers.
    """
    p = Path(path)
    if not p.is_file():
        raise BadInputError(f"no such pairs file: {p}")
    with p.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        header = [h.strip() for h in (reader.fieldnames or [])]
        need = {"reference", "distorted"}
        if not need.issubset(header):
            raise BadInputError(
                f"{p.name}: header must have columns reference,distorted (got {header})"
            )
        rows = []
        for i, raw in enumerate(reader):
            row = {k.strip(): (v or "").strip() for k, v in raw.items() if k}
            if not row.get("reference") and not row.get("distorted"):
                continue
            out: dict[str, Any] = {}
            for key in ("reference", "distorted"):
                if not row.get(key):
                    raise BadInputError(f"{p.name}: row {i + 2} has no {key}")
                q = Path(row[key])
                out[key] = str(q if q.is_absolute() else p.parent / q)
            for key in _PAIR_COLUMNS:
                val = row.get(key) or None
                if val is not None and key in ("crf",):
                    val = _number(val, float, p.name, i, key)
                elif val is not None and key in ("width", "height"):
                    val = _number(val, int, p.name, i, key)
                if val is not None:
                    out[key] = val
            rows.append(out)
    if not rows:
        raise BadInputError(f"{p.name}: no pairs")
    return rows


def _number(val: str, kind: type, name: str, i: int, key: str) -> Any:
    try:
        return kind(val)
    except ValueError as exc:
        raise BadInputError(f"{name}: row {i + 2}: {key} {val!r} is not a number") from exc


def _cached_model(model: str, backend: str, threads: int, int8: bool) -> LoadedModel:
    key = (model, backend, threads, int8, os.environ.get("VMAF_TINY_ZOO"))
    lm = _MODEL_CACHE.get(key)
    if lm is None:
        lm = load_model(model, backend=backend, threads=threads, int8=int8)
        _MODEL_CACHE[key] = lm
    return lm


def score_pair(job: PairJob) -> list[dict[str, Any]]:
    """Score one pair (a module-level function, so Dask workers can run it).

    The model is loaded once per worker process and reused. In a pool worker process, SIGTERM
    mid-pair unwinds the pair (its temporary directory is removed) and fails that pair; in the
    main process the caller decides (the CLI exits 143 after the same cleanup).

    Returns:
        One flat row per model: model, reference, distorted, n_frames, pooled values, the
        teacher's mean if asked, provider, and ``warnings`` (the result's notes, a list).
    """
    if multiprocessing.parent_process() is None:
        return _score_pair(job)
    try:
        with sigterm_cleans_up():
            return _score_pair(job)
    except SystemExit:
        raise VmafTinyError("worker terminated (SIGTERM)") from None


def _score_pair(job: PairJob) -> list[dict[str, Any]]:
    opts = dict(job.options)
    backend = opts.pop("backend", "auto")
    int8 = bool(opts.pop("int8", False))
    if job.more_models:
        from vmaf_tiny.multi import score_models

        threads = int(opts.get("threads", 1))
        loaded = [_cached_model(m, backend, threads, int8) for m in (job.model, *job.more_models)]
        multi = score_models(
            job.reference,
            job.distorted,
            loaded,
            backend=backend,
            int8=int8,
            **opts,
        )
        return [_row(job, r, multi.svm_pooled, multi.teacher) for r in multi.results]
    lm = _cached_model(job.model, backend, int(opts.get("threads", 1)), int8)
    return [_row(job, score(job.reference, job.distorted, lm, **opts))]


def _row(
    job: PairJob, res: Any, svm: dict[str, float] | None = None, teacher: str = ""
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "model": res.model_id,
        "reference": job.reference,
        "distorted": job.distorted,
        "n_frames": res.n_frames,
        **res.pooled,
        "provider": res.provider,
    }
    svm = res.svm_pooled if res.svm_pooled is not None else svm
    if svm is not None:
        row["svm_mean"] = svm["mean"]
        row["svm_harmonic_mean"] = svm["harmonic_mean"]
        row["svm_model"] = res.teacher if res.svm_pooled is not None else teacher
    if res.damaged_frames_dropped:
        row["damaged_frames_dropped"] = res.damaged_frames_dropped
    if res.codec is not None:
        row["codec"] = res.codec.codec
        row["crf"] = res.codec.crf
    row[WARNINGS_KEY] = list(res.warnings)
    return row
