"""Model cards of the pixel models, generated from the registry row and the sidecar.

A pixel model is any registry row whose sidecar has a ``frame`` block (NR metric, learned filter,
saliency student, and the two smoke checkpoints). The card has Hugging Face style YAML front
matter (``model-index`` with the measured test results) and a body written only from the row:
no number is typed by hand. The block between ``<!-- runtime-figures:begin -->`` and
``<!-- runtime-figures:end -->`` is kept as it is (``vmaf-train bench`` owns it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from vmaf_train.ship.card_parts import (
    fmt,
    front_matter,
    int8_gate_lines,
    runtime_section,
    summary_table,
)
from vmaf_train.ship.cards_filter import filter_results, gate_reproduce

__all__ = [
    "render_pixel_card",
]


def _report(tr: Mapping[str, Any]) -> dict[str, Any]:
    """The pixel run's report (added to the row by ``vmaf-train register``)."""
    return dict(tr["metrics"].get("extra", {}).get("pixels", {}).get("report", {}))


def _pixel_front_matter(row: Mapping[str, Any], side: Mapping[str, Any]) -> str:
    tr = row.get("training") or {}
    met = tr.get("metrics") or {}
    test = dict(met.get("test") or {})
    clip = (met.get("extra") or {}).get("test_clip") or {}
    test.update({f"clip_{k}": v for k, v in clip.items()})
    kind = row["kind"]
    task = {
        "nr": "no-reference video quality assessment",
        "fr": "full-reference video quality assessment",
        "filter": "video restoration",
        "saliency": "saliency prediction",
    }[kind]
    want = {
        "nr": [
            ("plcc", "frame PLCC vs teacher"),
            ("srocc", "frame SROCC vs teacher"),
            ("rmse", "frame RMSE vs teacher"),
            ("clip_plcc", "clip PLCC vs teacher"),
            ("clip_rmse", "clip RMSE vs teacher"),
        ],
        "filter": [("psnr_y_delta", "PSNR-Y gain (dB)"), ("vmaf_delta", "VMAF gain")],
        "saliency": [("cc", "CC vs teacher"), ("iou_top", "IoU of top 20 % vs teacher")],
        "fr": [],
    }[kind]
    results = []
    if not row.get("smoke") and tr:
        metrics = [
            {"type": k, "name": n, "value": round(float(test[k]), 6)}
            for k, n in want
            if isinstance(test.get(k), int | float)
        ]
        results.append(
            {
                "task": {"type": task},
                "dataset": {
                    "name": f"vmaf-tiny {_report(tr).get('corpus') or 'standard'} corpus "
                    "(held-out sources)",
                    "type": "vmaf-tiny-corpus",
                    "revision": str(tr.get("corpus_manifest_sha256", ""))[:16],
                },
                "metrics": metrics,
            }
        )
    fm = {
        "license": row.get("license"),
        "library_name": "onnx",
        "tags": ["video-quality", "onnx", "tiny", f"kind-{kind}", f"class-{row['class']}"]
        + (["smoke-checkpoint"] if row.get("smoke") else []),
        "model-index": [{"name": row["id"], "results": results}],
    }
    return front_matter(fm)


def _io_table(side: Mapping[str, Any]) -> list[str]:
    lines = ["| tensor | direction | role | dtype | shape |", "|---|---|---|---|---|"]
    for d, ts in (("input", side["inputs"]), ("output", side["outputs"])):
        for t in ts:
            shape = "[" + ", ".join(str(s) for s in t["shape"]) + "]"
            lines.append(f"| `{t['name']}` | {d} | {t.get('role', '')} | {t['dtype']} | {shape} |")
    fr = side.get("frame") or {}
    out = side.get("output") or {}
    resize = fr.get("resize")
    stride = int(fr.get("stride") or 1)
    lines += [
        "",
        "Frame preparation (sidecar `frame` block): luma only, values in "
        f"{fr.get('value_range', [0, 1])}; "
        + (
            f"rescaled to {resize[0]}x{resize[1]} (bicubic, through ffmpeg)"
            if resize
            else "at the video's own size"
        )
        + (f", centre crop {fr['crop'][0]}x{fr['crop'][1]}" if fr.get("crop") else "")
        + ("; every frame" if stride == 1 else f"; every {stride}th frame")
        + f"; pooling `{fr.get('pooling', 'none')}`. Output: `{out.get('target')}` in "
        f"{out.get('range')}"
        + (", clipped to that range by the runtime." if out.get("clamp") else "."),
    ]
    return lines


def _intended(row: Mapping[str, Any]) -> list[str]:
    kind, smoke = row["kind"], row.get("smoke")
    if smoke:
        return [
            "* A **smoke checkpoint**: it exercises a runtime contract (inputs, outputs, guard, "
            "session, scoring) and makes **no quality claim**. Do not use its outputs.",
        ]
    return {
        "nr": [
            "* Estimates the per-frame **vmaf_v0.6.1** score of a distorted video **without its "
            "reference** (live encodes, uploads); the clip score is the mean over frames. "
            "`vmaf-tiny score --no-reference --model nr_metric_v1 --distorted D`.",
            "* It is an estimate of the teacher, trained on the project's corpus: expect errors "
            "of the size reported below on content unlike it. Where a reference exists, a "
            "full-reference model is far more accurate.",
        ],
        "filter": [
            "* Post-filters decoded luma (deblocking / detail restoration); chroma passes "
            f"through. `vmaf-tiny filter --model {row['id']} IN -o OUT` (`--strength S` "
            "scales the correction: 0 = unchanged, 1 = as trained).",
            "* Judge it by the held-out table below: a filter that lowers PSNR-Y or VMAF on a "
            "codec should not be used on that codec.",
        ],
        "saliency": [
            "* Fast approximation of the project's spectral-residual saliency teacher (with "
            "centre bias) for weighting or visualisation. `vmaf-tiny saliency --model "
            f"{row['id']} IN -o OUT_DIR` writes PNG maps.",
            "* The teacher is a classical low-level model, not human fixation data: the "
            "student inherits its limits.",
        ],
    }.get(kind, [])


def _splits(tr: Mapping[str, Any]) -> list[str]:
    extra = tr["metrics"].get("extra", {})
    sp = extra.get("pixels", {}).get("splits", {})
    cfg = extra.get("split", {})
    lines = [
        f"* Corpus manifest sha256 `{tr.get('corpus_manifest_sha256')}`, train commit "
        f"`{tr.get('train_commit')}`, seed {tr.get('seed')}, config sha256 "
        f"`{str(tr.get('config_sha256'))[:16]}...`.",
        f"* Split by `source_id` (hash buckets, salt `{cfg.get('salt')}`, val "
        f"{cfg.get('val_frac')}, test {cfg.get('test_frac')}): no held-out source is trained on.",
        "",
        "| split | sources | clips | frames in clips |",
        "|---|---|---|---|",
    ]
    for name in ("train", "val", "test"):
        s = sp.get(name, {})
        srcs = ", ".join(s.get("sources", []))
        lines.append(
            f"| {name} | {s.get('n_sources')} ({srcs}) | {s.get('n_clips')} | "
            f"{fmt(s.get('n_rows'))} |"
        )
    t = extra.get("training", {})
    lines += [
        "",
        f"Training: {fmt(t.get('parameters'))} parameters, {t.get('epochs')} epochs "
        f"({t.get('steps')} steps, stopped by `{t.get('stopped')}`), best epoch "
        f"{t.get('best_epoch')}, {fmt(t.get('seconds'), 1)} s on {t.get('threads')} CPU thread(s); "
        f"{fmt(tr.get('n_rows'))} training samples.",
    ]
    return lines


def _nr_results(tr: Mapping[str, Any]) -> list[str]:
    m = tr["metrics"]
    test, lat, extra = m["test"], m.get("latency", {}), m.get("extra", {})
    clip = extra.get("test_clip", {})
    px = _report(tr)
    lines = [
        f"Held-out test sources: {', '.join(px.get('test_sources', []))}. The exported ONNX model "
        f"on {px.get('eval_frames_per_clip')} frames of every clip, prepared as the runtime does "
        f"({px.get('frame_size')}); raw scores (no logistic mapping).",
        "",
        "| level | n | PLCC | SROCC | RMSE |",
        "|---|---|---|---|---|",
        f"| frame | {fmt(test.get('n'))} | {fmt(test.get('plcc'))} | {fmt(test.get('srocc'))} | "
        f"{fmt(test.get('rmse'), 3)} |",
        f"| clip (mean of frames) | {fmt(clip.get('n'))} | {fmt(clip.get('plcc'))} | "
        f"{fmt(clip.get('srocc'))} | {fmt(clip.get('rmse'), 3)} |",
    ]
    plcc = test.get("plcc")
    if isinstance(plcc, int | float):
        verdict = (
            "a useful estimate"
            if plcc >= 0.9
            else "a rough estimate"
            if plcc >= 0.7
            else "a weak estimate: it carries little information about the teacher score there"
        )
        lines += ["", f"Verdict (from the frame-level test PLCC, thresholds 0.9 / 0.7): {verdict}."]
    val = extra.get("val", {})
    if val:
        lines += [
            "",
            f"Validation sources (used for early stopping), frame level: PLCC "
            f"{fmt(val.get('plcc'))}, RMSE {fmt(val.get('rmse'), 3)}.",
        ]
    pc = px.get("per_codec") or {}
    if pc:
        lines += [
            "",
            "Per codec (frame level, test sources):",
            "",
            "| codec | frames | PLCC | SROCC | RMSE |",
            "|---|---|---|---|---|",
        ]
        for codec, r in pc.items():
            lines.append(
                f"| {codec} | {fmt(r.get('n'))} | {fmt(r.get('plcc'))} | "
                f"{fmt(r.get('srocc'))} | {fmt(r.get('rmse'), 3)} |"
            )
    gate = extra.get("int8_gate")
    lines += ["", "### int8 (static QDQ)", ""]
    if gate:
        lines += [
            f"Gate: {gate.get('rule')}: PLCC fp32 {fmt(gate.get('plcc_fp32'))}, int8 "
            f"{fmt(gate.get('plcc_int8'))}, drop {fmt(gate.get('plcc_drop'), 5)} -> "
            f"**{'passed, the int8 file ships' if gate.get('passed') else 'failed, fp32 only'}**. "
            f"RMSE fp32 {fmt(gate.get('rmse_fp32'), 3)}, int8 {fmt(gate.get('rmse_int8'), 3)}.",
        ]
        lines += int8_gate_lines(gate)
    else:
        lines.append("Not quantised.")
    if lat:
        lines += [
            "",
            f"Model-only latency (one {'x'.join(str(v) for v in px.get('frame_size', []))} "
            "frame, batch 1, 1 thread, median, microseconds):",
            "",
        ]
        lines += [f"* `{k}`: {fmt(v, 1)}" for k, v in lat.items()]
    return lines


def _saliency_results(tr: Mapping[str, Any]) -> list[str]:
    px = _report(tr)
    t, prior, sp = px.get("test", {}), px.get("centre_prior_only", {}), px.get("speed", {})
    return [
        f"Held-out test sources: {', '.join(px.get('test_sources', []))}; reference frames plus "
        f"one frame per distorted clip, input {px.get('input_size')}, map {px.get('map_size')}. "
        "Agreement with the teacher's map, per frame, then averaged:",
        "",
        "| predictor | frames | CC (mean) | CC (median) | IoU top 20 % (mean) | IoU (median) |",
        "|---|---|---|---|---|---|",
        f"| student (ONNX) | {t.get('n')} | {fmt(t.get('cc'))} | {fmt(t.get('cc_median'))} | "
        f"{fmt(t.get('iou_top'))} | {fmt(t.get('iou_top_median'))} |",
        f"| centre prior alone | {prior.get('n')} | {fmt(prior.get('cc'))} | "
        f"{fmt(prior.get('cc_median'))} | {fmt(prior.get('iou_top'))} | "
        f"{fmt(prior.get('iou_top_median'))} |",
        "",
        f"Speed per frame (1 thread, median, same {px.get('input_size')} input): teacher (numpy "
        f"FFT) {fmt(sp.get('teacher_ms_per_frame'), 3)} ms; student "
        f"{fmt(sp.get('student_ms_per_frame_b1'), 3)} ms at batch 1 "
        f"({fmt(sp.get('speedup_b1'), 2)}x), "
        f"{fmt(sp.get('student_ms_per_frame_b16'), 3)} ms at batch 16 "
        f"({fmt(sp.get('speedup_b16'), 2)}x).",
        "",
        f"Teacher settings: {json.dumps(px.get('teacher', {}), sort_keys=True)}.",
        *_saliency_goals(px),
    ]


def _saliency_goals(px: Mapping[str, Any]) -> list[str]:
    """Goal lines (met / missed) for the recipe's ``[goals]`` a saliency run recorded."""
    goals, t, sp = px.get("goals") or {}, px.get("test", {}), px.get("speed", {})
    checks = [
        ("cc_min", "CC vs teacher", t.get("cc"), 4),
        ("iou_top_min", "IoU top 20 %", t.get("iou_top"), 4),
        ("speedup_min", "speed-up at batch 16", sp.get("speedup_b16"), 2),
    ]
    lines = []
    for key, name, value, digits in checks:
        want = goals.get(key)
        if want is None or not isinstance(value, int | float):
            continue
        verdict = "met" if value >= want else "**missed**"
        lines.append(f"* {name} >= {want}: {fmt(value, digits)}, {verdict}.")
    if not lines:
        return []
    return [
        "",
        "Goals of the recipe (held-out test frames, speed in the same run):",
        "",
        *lines,
        "",
        "Speed against the teacher on held-out frames, teacher and students alternating in one "
        "run: `benchmarks/saliency_speed.py` (docs/benchmarks.md).",
    ]


def render_pixel_card(
    row: Mapping[str, Any], side: Mapping[str, Any], *, runtime_block: str = ""
) -> str:
    """The full Markdown card of one pixel-model registry row."""
    mid, kind = row["id"], row["kind"]
    tr = row.get("training") or None
    quant = "fp32 only"
    if row.get("int8"):
        quant = (
            f"fp32 + int8 static QDQ (`{row['int8']['onnx']}`, {fmt(row['int8']['bytes'])} bytes)"
        )
    lines = ["---", _pixel_front_matter(row, side).rstrip("\n"), "---", ""]
    lines += [
        *summary_table(row, quant=quant, opset_note=" (default ONNX domain only)"),
        "",
        "## Intended use",
        "",
        *_intended(row),
        "",
        "## Inputs and outputs",
        "",
        *_io_table(side),
        "",
    ]
    if tr:
        lines += ["## Data and split protocol", "", *_splits(tr), "", "## Results", ""]
        lines += {"nr": _nr_results, "filter": filter_results, "saliency": _saliency_results}[kind](
            tr
        )
        cfg = mid  # a recipe is configs/models/<id>.toml
        corpus_name = _report(tr).get("corpus") or (
            tr["metrics"].get("extra", {}).get("table_metadata", {}).get("corpus")
        )
        build = (
            f"`vmaf-train corpus build -c {corpus_name} -o CORPUS`, then "
            if corpus_name and corpus_name != "standard"
            else ""
        )
        lines += [
            "",
            "## How these numbers were made",
            "",
            f"{build}`vmaf-train fit --config configs/models/{cfg}.toml "
            "--corpus CORPUS --out RUN`, then `vmaf-train register RUN` and "
            "`vmaf-train report`: every figure above is read from the run's measured "
            "output.",
            *gate_reproduce(_report(tr)),
        ]
    else:
        lines += [
            "## Results",
            "",
            "None: built from a seed by `vmaf-train make-smoke`, never trained.",
        ]
    corpus = _report(tr).get("corpus") if tr else None
    lines += [
        "",
        "## Limitations",
        "",
        f"* Trained and measured on the project's `{corpus}` corpus "
        f"(`configs/corpus/{corpus}.toml`); other content, resolutions and codecs may behave "
        "differently."
        if corpus
        else "* Trained and measured on the project's synthetic + natural 360p-720p corpus of five "
        "encoders; other content, resolutions and codecs may behave differently."
        if tr
        else "* Placeholder weights: outputs are meaningless.",
        "* Luma only: colour artefacts are invisible to it.",
        "",
        *runtime_section(runtime_block, placeholder="(not measured yet: `vmaf-train bench`)"),
        "",
    ]
    return "\n".join(lines)
