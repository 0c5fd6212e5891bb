"""Held-out evaluation of a learned filter through the runtime path (``learned_filter_v1/_v2``).

Every eligible test clip is filtered by :func:`vmaf_tiny.filtering.filter_video` (the exported
ONNX model, chroma passed through, lossless y4m), then scored against its reference by libvmaf
(:func:`vmaf_tiny.extract_features`, VMAF and PSNR-Y), next to the unfiltered clip's scores from
the corpus -- per codec, per quality band, with the audit figures (mean shift, clip fraction).
A recipe with a ``[gate]`` is measured with the runtime's no-reference quality gate
(:mod:`vmaf_tiny.filter_gate`) and without it.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vmaf_tiny.console import make_progress
from vmaf_tiny.features import extract_features
from vmaf_tiny.ffmpeg import resolve_ffmpeg
from vmaf_tiny.filter_gate import Gate, GatedRunner, plan_gate
from vmaf_tiny.filtering import filter_video
from vmaf_tiny.fsutil import sha256_file
from vmaf_train.data.frames import ClipRecord
from vmaf_train.recipes import PixelConfig
from vmaf_train.ship.onnx_io import ort_session

__all__ = [
    "BANDS",
    "check_gate_model",
    "evaluate_filter",
    "gate_of",
    "gate_provenance",
    "quality_band",
]


def gate_of(cfg: PixelConfig, *, evaluation: bool = False) -> Gate:
    """The recipe's quality gate; with ``evaluation`` the NR model the held-out evaluation
    scores with (``gate.eval_model``, default the shipped ``gate.model``)."""
    g = cfg.gate
    model = (g.get("eval_model") or g["model"]) if evaluation else g["model"]
    return Gate(str(model), float(g["full_below"]), float(g["off_above"]))


def check_gate_model(gate: Gate) -> None:
    """Load the gate's NR model now (before hours of training), or raise.

    Raises:
        BadInputError: it is not a stream NR model.
        BadModelError: it cannot be loaded (missing, fails a load-time check).
    """
    from vmaf_tiny.errors import BadInputError
    from vmaf_tiny.nr_stream import is_stream_model
    from vmaf_tiny.session import load_model

    lm = load_model(gate.model, backend="cpu")
    if lm.kind != "nr" or not is_stream_model(lm):
        raise BadInputError(f"gate model {gate.model}: not a stream NR model")


def gate_provenance(cfg: PixelConfig) -> dict[str, Any]:
    """What the report says about the evaluation's gate model: id or path, sha256 of a path."""
    g = gate_of(cfg, evaluation=True)
    p = Path(g.model)
    info: dict[str, Any] = g.to_dict() | {"shipped_model": cfg.gate["model"]}
    if p.suffix == ".onnx" and p.is_file():
        info["model_sha256"] = sha256_file(p)
        side = p.with_suffix(".json")
        if side.is_file():
            meta = json.loads(side.read_text()).get("metadata") or {}
            info["model_held_out"] = meta.get("held_out_families", "")
    return info


def evaluate_filter(
    onnx_path: Path,
    clips: Sequence[ClipRecord],
    *,
    eval_frames: int,
    progress: bool = True,
    gate: Gate | None = None,
) -> dict[str, Any]:
    """Filter each clip through the runtime path and score filtered vs unfiltered with libvmaf.

    With a ``gate`` (:mod:`vmaf_tiny.filter_gate`) each clip is filtered twice: as the runtime
    does by default for an encoded stream (each frame's correction scaled by the gate's NR
    score; the headline figures) and with the gate off (``--no-gate``, or raw input: the
    ``ungated`` figures).

    Returns:
        ``per_clip`` rows and ``per_codec`` / ``per_band`` / ``per_codec_band`` / ``overall``
        aggregates (PSNR-Y and VMAF of the unfiltered and filtered clips against the reference,
        their deltas, audit figures); with a gate also ``ungated`` (the same aggregates).
    """
    ff = resolve_ffmpeg()
    sess = ort_session(onnx_path)
    name = sess.get_inputs()[0].name

    def runner(x: np.ndarray) -> np.ndarray:
        return np.asarray(sess.run(None, {name: x})[0])

    rows: list[dict[str, Any]] = []
    with (
        tempfile.TemporaryDirectory(prefix="vmaf-train-filter-eval-") as tmp,
        make_progress(enabled=progress) as bar,
    ):
        task = bar.add_task("filter eval", total=len(clips))
        for c in clips:
            row = _filter_and_score(c, runner, Path(tmp), eval_frames, ff)
            if gate is not None:
                plan = plan_gate(c.clip, gate, ffmpeg=ff)
                scale = plan.scale if plan.scale is not None else np.ones(1)
                ungated = {k: row[k] for k in _FILTERED}
                if np.all(scale == 0):  # the gate leaves every frame as it is
                    gated = {
                        "psnr_y_filtered": row["psnr_y"],
                        "vmaf_filtered": row["vmaf"],
                    } | dict.fromkeys(_AUDIT, 0.0)
                elif np.all(scale == 1):
                    gated = ungated
                else:
                    g = _filter_and_score(c, GatedRunner(runner, scale), Path(tmp), eval_frames, ff)
                    gated = {k: g[k] for k in _FILTERED}
                row |= gated | {
                    "ungated": ungated,
                    "gate_nr_score": float(np.mean(plan.scores))
                    if plan.scores is not None
                    else None,
                    "gate_strength": float(np.mean(scale)),
                }
            rows.append(row)
            bar.advance(task)
    for r in rows:
        r["band"] = quality_band(r["vmaf"])
    out = _summaries(rows)
    if gate is not None:
        out["ungated"] = _summaries([r | r["ungated"] for r in rows])
        out["gate"] = gate.to_dict()
    return {"per_clip": rows, **out}


#: Per-clip fields of the filtered clip (the rest describe the unfiltered clip).
_AUDIT = ("mean_shift_8bit", "mean_abs_change_8bit", "clip_fraction")
_FILTERED = ("psnr_y_filtered", "vmaf_filtered", *_AUDIT)


def _filter_and_score(
    c: ClipRecord, runner: Any, tmp: Path, eval_frames: int, ff: Any
) -> dict[str, Any]:
    """Filter one clip into a temporary y4m, score it and the unfiltered clip vs the reference."""
    out = tmp / f"{c.key}.y4m"
    res = filter_video(c.clip, out, runner, max_frames=eval_frames or None, ffmpeg=ff)
    filt = extract_features(c.reference, out, extras=("psnr_y",), truncate=True, ffmpeg=ff)
    n = filt.n_frames
    if c.psnr_y is not None:
        base_psnr, base_vmaf = c.psnr_y[:n], c.vmaf[:n]
    else:
        base = extract_features(c.reference, c.clip, extras=("psnr_y",), truncate=True, ffmpeg=ff)
        base_psnr, base_vmaf = base.columns["psnr_y"][:n], base.vmaf[:n]
    out.unlink(missing_ok=True)
    return {
        "key": c.key,
        "source_id": c.source_id,
        "codec": c.codec,
        "crf": c.crf,
        "frames": int(n),
        "psnr_y": float(np.mean(base_psnr)),
        "psnr_y_filtered": float(np.mean(filt.columns["psnr_y"][:n])),
        "vmaf": float(np.mean(base_vmaf)),
        "vmaf_filtered": float(np.mean(filt.vmaf[:n])),
        "mean_shift_8bit": res.mean_shift,
        "mean_abs_change_8bit": res.mean_abs_change,
        "clip_fraction": res.clip_fraction,
        "model_seconds_per_frame": res.seconds["model"] / max(1, res.n_frames),
    }


def _summaries(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Per codec, per band, per codec x band and overall aggregates of per-clip rows."""
    return {
        "per_codec": _aggregate(rows, "codec"),
        "per_band": _aggregate(rows, "band"),
        "per_codec_band": {
            codec: _aggregate([r for r in rows if r["codec"] == codec], "band")
            for codec in sorted({str(r["codec"]) for r in rows})
        },
        "overall": _agg(rows),
    }


#: Quality bands of the evaluation, by the unfiltered clip's mean VMAF: (label, low, high).
BANDS: tuple[tuple[str, float, float], ...] = (
    ("vmaf<70", -1.0, 70.0),
    ("70<=vmaf<85", 70.0, 85.0),
    ("vmaf>=85", 85.0, 1000.0),
)


def quality_band(vmaf: float) -> str:
    """The :data:`BANDS` label of an unfiltered clip's mean VMAF."""
    return next(label for label, lo, hi in BANDS if lo <= vmaf < hi)


def _agg(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    if not rows:
        return {"n_clips": 0}

    def m(k: str) -> float:
        return float(np.mean([r[k] for r in rows]))

    d_psnr = [r["psnr_y_filtered"] - r["psnr_y"] for r in rows]
    d_vmaf = [r["vmaf_filtered"] - r["vmaf"] for r in rows]
    return {
        "n_clips": len(rows),
        "n_frames": int(sum(r["frames"] for r in rows)),
        "psnr_y": m("psnr_y"),
        "psnr_y_filtered": m("psnr_y_filtered"),
        "psnr_y_delta": float(np.mean(d_psnr)),
        "psnr_y_improved_frac": float(np.mean(np.asarray(d_psnr) > 0)),
        "vmaf": m("vmaf"),
        "vmaf_filtered": m("vmaf_filtered"),
        "vmaf_delta": float(np.mean(d_vmaf)),
        "vmaf_improved_frac": float(np.mean(np.asarray(d_vmaf) > 0)),
        "mean_shift_8bit": m("mean_shift_8bit"),
        "mean_abs_change_8bit": m("mean_abs_change_8bit"),
        "clip_fraction": m("clip_fraction"),
    }


def _aggregate(rows: Sequence[Mapping[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for r in rows:
        groups.setdefault(str(r[key]), []).append(r)
    return {k: _agg(v) for k, v in sorted(groups.items())}
