"""Another NR model beside ``nr_metric_v2`` on the same clips (``python -m vmaf_train.nr_pixel
baseline``): the shipped ``nr_metric_v1`` run by the runtime on every natural clip of a corpus,
and its clip metrics next to v2's leave-one-family-out ones, on all clips and on the clips of
families absent from the baseline's own training corpus (its only out-of-sample comparison).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from vmaf_train.nr_stream_loso import clip_metrics, source_family

__all__ = ["compare_baseline", "score_baseline"]


def _family_set(manifest: Path) -> set[str]:
    """Content families of a corpus manifest (``bikes_s3`` and ``bikes_c`` are ``bikes``)."""
    man = json.loads(manifest.read_text())
    return {re.sub(r"_s\d+$", "", source_family(r["source_id"])) for r in man["references"]}


def score_baseline(corpus: Path, model: str, seen_manifest: Path | None = None) -> dict[str, Any]:
    """Another NR model (the shipped ``nr_metric_v1``) on every natural clip of ``corpus``
    through the runtime (:func:`vmaf_tiny.nr.score_nr`): clip means, teacher clip means, and
    which clips belong to content families the model was trained on (``seen_manifest``: the
    manifest of its training corpus)."""
    from vmaf_tiny.nr import score_nr
    from vmaf_train.data.frames import PixelCorpus

    pc = PixelCorpus.open(corpus)
    seen = _family_set(seen_manifest) if seen_manifest else set()
    out: dict[str, Any] = {"model": model, "clips": {}}
    for c in pc.clips:
        if c.source_kind != "natural":
            continue
        res = score_nr(c.clip, model, backend="cpu")
        out["clips"][c.key] = {
            "pred": float(np.mean(res.frames)),
            "teacher": float(c.vmaf.mean()),
            "family": source_family(c.source_id),
            "seen": source_family(c.source_id) in seen,
        }
    return out


def compare_baseline(base: dict[str, Any], report: dict[str, Any]) -> dict[str, Any]:
    """The baseline's clip metrics beside this model's LOSO ones, on all clips and on the clips
    of families the baseline never saw (its only out-of-sample comparison)."""
    clips = base["clips"]
    keys = sorted(clips)
    lo = report["clip_pred"]
    y = np.asarray([clips[k]["teacher"] for k in keys])
    pb = np.asarray([clips[k]["pred"] for k in keys])
    pv = np.asarray([lo[k] for k in keys])
    unseen = np.asarray([not clips[k]["seen"] for k in keys])
    return {
        "model": base["model"],
        "all": {"baseline": clip_metrics(y, pb), "loso": clip_metrics(y, pv)},
        "unseen_families": sorted({clips[k]["family"] for k in keys if not clips[k]["seen"]}),
        "unseen": {
            "baseline": clip_metrics(y[unseen], pb[unseen]),
            "loso": clip_metrics(y[unseen], pv[unseen]),
        },
    }
