"""Model cards of fast-path models (``vmaf_tiny_fast_*``): the operating point, LOSO, goals.

A fast model's sidecar has a ``fast`` block; ``vmaf-train report`` renders its card here instead
of the generic FR card (whose "same inputs as the SVM" framing does not apply). The card keeps
the runtime-figures block, which ``benchmarks/fast_estimate.py --write-docs`` fills with the
measured speed table and the speed/accuracy curve.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import yaml

__all__ = ["FAST_GOALS", "goal_lines", "is_fast_model", "render_fast_card"]

RUNTIME_BEGIN = "<!-- runtime-figures:begin -->"
RUNTIME_END = "<!-- runtime-figures:end -->"

TURBO_LEVEL = 2  # the level judged against the turbo goals
# Issue 12's accuracy goals (clip level, LOSO over natural sources, pooled held-out clips).
FAST_GOALS: dict[str, dict[str, float]] = {
    "default": {"clip_plcc_min": 0.995, "clip_rmse_max": 2.0, "speedup_min": 3.0},
    "turbo": {"clip_plcc_min": 0.99, "clip_rmse_max": 4.0, "speedup_min": 9.0},
}


def is_fast_model(side: Mapping[str, Any]) -> bool:
    """True for a sidecar with a ``fast`` block."""
    return isinstance(side.get("fast"), Mapping)


def _f(v: Any, nd: int = 4) -> str:
    return "n/a" if v is None else f"{float(v):.{nd}f}"


def _ordinal(k: int) -> str:
    if k == 1:
        return ""
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(k % 10 if k % 100 not in (11, 12, 13) else 0, "th")
    return f"{k}{suffix} "


def _arch(arch: Mapping[str, Any]) -> str:
    n = arch.get("parameters", "n/a")
    if arch.get("model") == "ridge_residual":
        return (
            "the sample's own vmaf_v0.6.1 plus a ridge correction of the residual (alpha "
            f"{arch.get('alpha')}), folded into one linear layer: {n} parameters"
        )
    hidden = "-".join(str(h) for h in arch.get("hidden", []))
    return f"MLP {hidden}, ReLU, standardisation baked, {n} parameters"


def _loso(row: Mapping[str, Any]) -> dict[str, Any]:
    m = ((row.get("training") or {}).get("metrics") or {}).get("loso") or {}
    return dict(m)


def goal_lines(level: int, summary: Mapping[str, Any]) -> list[str]:
    """Accuracy goals of this level (level 1: default; :data:`TURBO_LEVEL`: turbo), with verdicts.

    Speed goals are measured by ``benchmarks/fast_estimate.py`` (runtime-figures block).
    """
    which = "default" if level == 1 else ("turbo" if level == TURBO_LEVEL else None)
    if which is None:
        return ["* No goal is set for this level; see the speed/accuracy table."]
    g = FAST_GOALS[which]
    plcc, rmse = summary.get("pooled_clip_plcc"), summary.get("pooled_clip_rmse")

    def verdict(ok: bool) -> str:
        return "**met**" if ok else "**not met**"

    return [
        f"* {which} point, clip PLCC >= {g['clip_plcc_min']}: {_f(plcc)} "
        f"({verdict(plcc is not None and plcc >= g['clip_plcc_min'])})",
        f"* {which} point, clip RMSE <= {g['clip_rmse_max']}: {_f(rmse, 3)} "
        f"({verdict(rmse is not None and rmse <= g['clip_rmse_max'])})",
        f"* {which} point, speed-up >= {g['speedup_min']:g}x over plain libvmaf: measured in "
        "the runtime figures below.",
    ]


def _front_matter(row: Mapping[str, Any], summary: Mapping[str, Any]) -> str:
    tr = row.get("training") or {}
    manifest = str(tr.get("corpus_manifest_sha256", "none"))
    metrics = []
    for key, typ, name in (
        ("pooled_clip_plcc", "pearsonr", "PLCC (clip, LOSO pooled)"),
        ("pooled_clip_rmse", "rmse", "RMSE (clip, LOSO pooled)"),
        ("pooled_frame_plcc", "pearsonr", "PLCC (frame, LOSO pooled)"),
        ("pooled_frame_rmse", "rmse", "RMSE (frame, LOSO pooled)"),
    ):
        if summary.get(key) is not None:
            metrics.append({"type": typ, "value": round(float(summary[key]), 6), "name": name})
    fm: dict[str, Any] = {
        "license": "other",
        "license_name": str(row.get("license", "")).lower(),
        "library_name": "onnx",
        "tags": ["video-quality", "vmaf", "onnx", "tiny", f"class-{row.get('class')}", "fast"],
        "model-index": [
            {
                "name": row["id"],
                "results": [
                    {
                        "task": {
                            "type": "video-quality-assessment",
                            "name": "Full-reference vmaf_v0.6.1 estimate from a sampled pass",
                        },
                        "dataset": {
                            "type": "vmaf-tiny-corpus",
                            "name": "vmaf-tiny fast corpus, leave-one-source-out (natural)",
                            "split": "loso",
                            "revision": manifest[:16],
                        },
                        "metrics": metrics,
                    }
                ],
            }
        ],
    }
    return yaml.safe_dump(fm, sort_keys=False, allow_unicode=True, width=100)


def render_fast_card(
    row: Mapping[str, Any], side: Mapping[str, Any], *, runtime_block: str = ""
) -> str:
    """The Markdown card of one fast model (registry row + sidecar)."""
    mid = row["id"]
    fast = side["fast"]
    level = int(fast.get("level", 1))
    tr = row.get("training") or {}
    extra = (tr.get("metrics") or {}).get("extra") or {}
    lo = _loso(row)
    summary = lo.get("summary") or {}
    arch = extra.get("architecture") or {}
    lines = [
        "---",
        _front_matter(row, summary).rstrip("\n"),
        "---",
        "",
        "<!-- Generated by `vmaf-train report` from the zoo registry.json: do not edit by hand, "
        "except the runtime-figures block (written by `benchmarks/fast_estimate.py "
        "--write-docs`). -->",
        "",
        f"# {mid}",
        "",
        str(side.get("description", "")),
        "",
        "| | |",
        "|---|---|",
        f"| kind / class | fast-path FR / {row.get('class')} (<= 100 KiB) |",
        f"| file | `{row['onnx']}`: {row['bytes']:,} bytes, sha256 `{row['sha256'][:16]}...` |",
        f"| fast level | {level} (`vmaf-tiny score --fast-level {level}`"
        + (", the default of `--fast`)" if level == 1 else ")")
        + " |",
        f"| operating point | {fast['bands']} band(s), ~{fast['fraction']:g} of the rows, every "
        f"{_ordinal(int(fast['subsample']))}frame |",
        f"| architecture | {_arch(arch)} |",
        f"| license | {row.get('license')} |",
        "",
        "## Intended use",
        "",
        "* A calibrated, much cheaper estimate of the full-resolution vmaf_v0.6.1 of a "
        "reference/distorted pair, for loops that score many encodes (ladders, per-title and "
        "encoder tuning); `vmaf-tiny score --fast`, `vmaf_tiny.fast.score_fast`.",
        "* How: one ffmpeg process decodes both videos, cuts the sample (the sidecar's `fast` "
        "block) out of both at full resolution and runs libvmaf on it every k-th frame; the "
        "model maps the sample's canonical-6, its vmaf_v0.6.1, its PSNR-Y and the stream's "
        "bits per pixel to the whole frame's vmaf_v0.6.1. Per-frame estimates are for the "
        "scored frames; the clip estimate is their mean.",
        "* Not for: exact per-frame VMAF (use a full pass), other VMAF models, or content whose "
        "quality varies strongly between the sampled rows and the rest of the picture.",
        "",
        "## Inputs and outputs",
        "",
        f"* Feature order: `{', '.join(side.get('feature_order', []))}`.",
        "* `log2_bpp`: log2 of the distorted stream's bits per reference pixel per frame "
        "(12 for raw/y4m inputs).",
        "* Output: `vmaf`, clamped to [0, 100].",
        "",
        "## Training data",
        "",
        f"* Corpus manifest sha256 `{tr.get('corpus_manifest_sha256')}` (`configs/corpus/"
        f'fast.toml`, built with `extras = ["fast"]`); {tr.get("n_rows")} scored frames from '
        f"{tr.get('n_sources')} sources; teacher vmaf_v0.6.1.",
        "* Rows: the frames this operating point scores; target: the teacher's score of the "
        "whole frame.",
        "",
        "## Leave-one-source-out (natural sources)",
        "",
        "Each natural source is held out in turn (synthetic sources always train). Clip = mean "
        "of the estimates over the scored frames, against the teacher's mean over all frames. "
        "Pooled = all held-out clips together.",
        "",
        "| figure | clip | frame |",
        "|---|---|---|",
        f"| PLCC (pooled) | {_f(summary.get('pooled_clip_plcc'))} | "
        f"{_f(summary.get('pooled_frame_plcc'))} |",
        f"| RMSE (pooled) | {_f(summary.get('pooled_clip_rmse'), 3)} | "
        f"{_f(summary.get('pooled_frame_rmse'), 3)} |",
        f"| RMSE (mean ± std over folds) | {_f(summary.get('clip_rmse_mean'), 3)} ± "
        f"{_f(summary.get('clip_rmse_std'), 3)} | {_f(summary.get('rmse_mean'), 3)} ± "
        f"{_f(summary.get('rmse_std'), 3)} |",
        "",
        "| held-out source | frames | frame PLCC | frame RMSE | clip RMSE |",
        "|---|---|---|---|---|",
    ]
    for k in sorted(lo):
        if not k.startswith("fold:"):
            continue
        r = lo[k]
        lines.append(
            f"| {k.split(':')[1]} | {r.get('n_test')} | {_f(r.get('plcc'))} | "
            f"{_f(r.get('rmse'), 3)} | {_f(r.get('clip_rmse'), 3)} |"
        )
    lines += ["", "## Goals (issue 12)", "", *goal_lines(level, summary), ""]
    lines += [
        "## Runtime figures",
        "",
        "Speed against plain libvmaf and the speed/accuracy curve of all levels, from "
        "`benchmarks/fast_estimate.py --write-docs` (kept across regenerations):",
        "",
        RUNTIME_BEGIN,
        runtime_block.strip("\n"),
        RUNTIME_END,
        "",
        "## Limitations",
        "",
        "* The sample is central rows: artefacts confined to the unsampled rows are missed; the "
        "model corrects the average relation, learned on the corpus's content and codecs.",
        "* With every k-th frame the clip estimate can miss short quality drops between scored "
        "frames.",
        "* The teacher is vmaf_v0.6.1: its blind spots are inherited.",
        "",
        "## Provenance",
        "",
        f"* train_commit `{tr.get('train_commit')}`, seed {tr.get('seed')}, config sha256 "
        f"`{tr.get('config_sha256')}`; recipe `configs/models/{mid}.toml`; fit with "
        "`python -m vmaf_train.fit.fast`.",
        f"* Operating point (sidecar `fast`): `{json.dumps(dict(fast), sort_keys=True)}`.",
        "",
    ]
    return "\n".join(line for line in lines if line is not None)
