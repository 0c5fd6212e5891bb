"""Ship a stream-aware NR model (``nr_stream_v1``/``v2``): registry row from a fit run, its card.

``register_stream_run(RUN, ZOO)`` puts ``RUN/model.onnx`` + sidecar into the zoo through
:func:`vmaf_train.ship.registry.ship`, the one staged, load-time-checked writer; its row
carries the leave-one-source-out figures (pooled clip metrics as ``test``, one entry per held-out
family as ``loso``, per-codec / per-distortion tables under ``extra``). ``render_stream_card``
writes the card from that row alone: no number is typed by hand.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from vmaf_tiny.nr_stream import PIXEL_NR_MODEL
from vmaf_train.ship.card_parts import RUNTIME_BEGIN, RUNTIME_END
from vmaf_train.ship.loso_ship import (
    error_table,
    figure,
    loso_front_matter,
    ship_loso_run,
    write_loso_card,
)

__all__ = [
    "is_stream_sidecar",
    "register_stream_run",
    "render_stream_card",
    "stream_snapshot_row",
    "write_stream_card",
]

GOALS = {"clip_plcc_min": 0.95, "clip_rmse_max": 6.0, "moonshot_clip_plcc": 0.97}


def is_stream_sidecar(side: Mapping[str, Any]) -> bool:
    """True for a model that reads stream features (input role ``stream_features``)."""
    return any(t.get("role") == "stream_features" for t in side.get("inputs", []))


def _stream_extra(m: Mapping[str, Any]) -> dict[str, Any]:
    lo = m["loso"]
    return {
        "protocol": (
            "leave-one-family-out over natural content, clip level (mean of frames)"
            + ("" if m.get("recipe", "v1") == "v1" else "; synthetic sources train every fold")
        ),
        "loso_clip": lo["clip"],
        "loso_frame": lo["frame"],
        "per_codec": lo["per_codec"],
        "per_distortion": lo["per_distortion"],
        "n_families": lo["n_families"],
        "n_clips": lo["n_clips"],
        "n_frames": lo.get("n_frames", int(m["n_rows"])),
        "train_fit_clip": m["train_fit_clip"],
        **{k: m[k] for k in ("alpha", "mlp", "baseline_v1_recipe") if k in m},
        "recipe": m.get("recipe", "v1"),
        "corpus_config": m.get("corpus_config", "nr_stream"),
        "features": m["features"],
        "table_sha256": m["table_sha256"],
        "goals": GOALS,
    }


def register_stream_run(run: str | os.PathLike[str], zoo: str | os.PathLike[str]) -> dict[str, Any]:
    """Register a ``python -m vmaf_train.nr_stream fit`` run into ``zoo``. Returns the row.

    Raises:
        BadInputError: the run directory lacks model.onnx, model.json or metrics.json.
        BadModelError: the model fails a load-time check or the registry schema.
    """
    return ship_loso_run(run, zoo, fitter="nr_stream", extra=_stream_extra)


def _content_note(ex: Mapping[str, Any]) -> str:
    if ex.get("recipe", "v1") == "v1":
        return (
            "Trained and evaluated on natural content only (clips and photographs); synthetic "
            "test patterns (testsrc, fractals, flat grain) are outside what it learnt and can be "
            "far off: `python benchmarks/nr_stream_fps.py` prints its mean beside libvmaf's on a "
            "testsrc2 clip."
        )
    return (
        "Evaluated on natural content only (clips and photographs). Two seeded synthetic "
        "sources (testsrc2 with grain, a mandelbrot zoom) are in its training set, so a "
        "testsrc2 clip is no longer outside what it learnt, but they are in no figure below; "
        "other synthetic patterns can still be far off. `python benchmarks/nr_stream_fps.py` "
        "prints its mean beside libvmaf's on a testsrc2 clip."
    )


def render_stream_card(
    row: Mapping[str, Any], side: Mapping[str, Any], *, runtime_block: str = ""
) -> str:
    """The model card (Hugging Face front matter + body) of a stream NR model, from its row."""
    tr = row.get("training") or {}
    met = tr.get("metrics") or {}
    ex = met.get("extra") or {}
    clip = ex.get("loso_clip") or {}
    frame = ex.get("loso_frame") or {}
    fm = loso_front_matter(row, clip, tag="stream")
    g = ex.get("goals") or GOALS
    recipe, corpus = ex.get("recipe", "v1"), ex.get("corpus_config", "nr_stream")
    plcc, rmse = clip.get("plcc", float("nan")), clip.get("rmse", float("nan"))
    met_plcc = "met" if plcc >= g["clip_plcc_min"] else "missed"
    met_rmse = "met" if rmse <= g["clip_rmse_max"] else "missed"
    body = [
        f"# {row['id']}",
        "",
        str(row.get("description", "")),
        "",
        "## Use",
        "",
        "```sh",
        "vmaf-tiny score --no-reference --distorted delivered.mp4        # picks this model",
        f"vmaf-tiny score --no-reference --model {row['id']} --distorted delivered.mkv",
        "```",
        "",
        "It needs the encoded stream (H.264, HEVC, VP9, AV1 in any container ffmpeg reads). For "
        "raw yuv or y4m input `score --no-reference` says so on stderr and uses the pixel model "
        f"`{PIXEL_NR_MODEL}`. QP is used where the decoder exports it (H.264, VP9); HEVC and AV1 "
        "rely on bits per pixel alone. A rung of a ladder is scored at its coded size unless "
        "the caller passes the display size (`score_stream(..., display=(w, h))`).",
        "",
        _content_note(ex),
        "",
        "## Inputs",
        "",
        f"`{side['inputs'][0]['name']}` [N, {len(side.get('feature_order', []))}] float32, one row "
        "per frame, computed by `vmaf_tiny.stream` in the order of the sidecar's `feature_order`:",
        "",
        ", ".join(f"`{n}`" for n in side.get("feature_order", [])),
        "",
        "## Leave-one-source-out figures (clip level, against libvmaf vmaf_v0.6.1)",
        "",
        f"Protocol: {ex.get('protocol', 'leave-one-family-out')}; {ex.get('n_families')} content "
        f"families, {ex.get('n_clips')} clips, {ex.get('n_frames', tr.get('n_rows'))} frames. "
        "Every figure below is a "
        "prediction for content the model did not see.",
        "",
        f"* clip PLCC **{figure(plcc)}**, SROCC {figure(clip.get('srocc'))}, "
        f"RMSE **{figure(rmse, 2)}** "
        f"(goal PLCC >= {g['clip_plcc_min']}: {met_plcc}; RMSE <= {g['clip_rmse_max']}: "
        f"{met_rmse}; moonshot PLCC >= {g['moonshot_clip_plcc']})",
        f"* frame PLCC {figure(frame.get('plcc'))}, RMSE {figure(frame.get('rmse'), 2)}",
        *(
            [
                f"* nr_stream_v1's recipe (ridge on its 64 inputs) refitted on this corpus under "
                f"the same protocol: clip PLCC {figure(base.get('plcc'))}, RMSE "
                f"{figure(base.get('rmse'), 2)}"
            ]
            if (base := ex.get("baseline_v1_recipe"))
            else []
        ),
        f"* fitted on everything and scored in-sample: clip PLCC "
        f"{figure((ex.get('train_fit_clip') or {}).get('plcc'))} (the model's capacity bound)",
        "",
        "### Per codec",
        "",
        *error_table("codec", ex.get("per_codec") or {}),
        "",
        "### Per distortion",
        "",
        *error_table("distortion", ex.get("per_distortion") or {}),
        "",
        "### Per held-out source family (where not to trust it)",
        "",
        *error_table("family", met.get("loso") or {}),
        "",
        "## Reproduce",
        "",
        "```sh",
        f"vmaf-train corpus build --config {corpus} --out corpus/{corpus}",
        f"python -m vmaf_train.nr_stream table --corpus corpus/{corpus}",
        f"python -m vmaf_train.nr_stream fit --features corpus/{corpus}/stream_features.parquet "
        f"-o runs/{row['id']}" + ("" if recipe == "v1" else f" --recipe {recipe}"),
        f"python -m vmaf_train.nr_stream register -o runs/{row['id']} --zoo src/vmaf_tiny/zoo",
        "```",
        "",
        f"Model file: {row['bytes']:,} bytes (class {row['class']}), sha256 `{row['sha256']}`, "
        f"fp32 only ({row.get('quant_mode')}); "
        + ("a ridge" if recipe == "v1" else "an MLP this small")
        + f" over {len(side.get('feature_order', []))} inputs has nothing to gain from int8.",
        "",
        RUNTIME_BEGIN,
        runtime_block.strip("\n"),
        RUNTIME_END,
        "",
    ]
    front = yaml.safe_dump(fm, sort_keys=False, allow_unicode=True, width=100)
    return "---\n" + front + "---\n\n" + "\n".join(body)


def write_stream_card(
    zoo: str | os.PathLike[str], docs: str | os.PathLike[str], model_id: str
) -> Path:
    """Write ``docs/models/<id>.md`` for one stream model of ``zoo``. Returns the path."""
    return write_loso_card(zoo, docs, model_id, render_stream_card)


def stream_snapshot_row(row: Mapping[str, Any], side: Mapping[str, Any]) -> str:
    """One line of the docs/benchmarks.md snapshot table for a stream NR model."""
    ex = ((row.get("training") or {}).get("metrics") or {}).get("extra") or {}
    c = ex.get("loso_clip") or {}
    return (
        f"| `{row['id']}` | {side.get('output', {}).get('target', 'vmaf')} (no reference, "
        f"encoded stream) | LOSO over {ex.get('n_families')} natural families, clip PLCC "
        f"{figure(c.get('plcc'))}, RMSE {figure(c.get('rmse'), 2)} | {row['bytes']:,} bytes, fp32 |"
    )
