"""The model card of an FR model (plain or codec-aware MLP over libvmaf features: the
canonical-6, or the NEG-mode features of a vmaf_v0.6.1neg student)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from vmaf_train.ship.card_parts import (
    fmt,
    int8_gate_lines,
    runtime_section,
    summary_table,
)
from vmaf_train.ship.cards_fr_results import (
    fr_front_matter,
    goal_status,
    inputs_name,
    is_neg,
    loso_summary,
)

__all__ = ["goal_status", "loso_summary", "render_fr_card"]


def _ci(m: Mapping[str, Any], key: str, nd: int = 4) -> str:
    lo, hi = m.get(f"{key}_ci_low"), m.get(f"{key}_ci_high")
    if lo is None or hi is None:
        return fmt(m.get(key), nd)
    return f"{fmt(m.get(key), nd)} [{fmt(lo, nd)}, {fmt(hi, nd)}]"


def _ci_list(m: Mapping[str, Any], key: str, nd: int = 4) -> str:
    ci = m.get(f"{key}_ci")
    if not ci:
        return fmt(m.get(key), nd)
    return f"{fmt(m.get(key), nd)} [{fmt(ci[0], nd)}, {fmt(ci[1], nd)}]"


def _teacher(side: Mapping[str, Any], extra: Mapping[str, Any]) -> str:
    """The libvmaf model the FR model imitates (sidecar metadata, else the table's)."""
    meta = side.get("metadata", {})
    tm = extra.get("table_metadata", {}) or {}
    return str(meta.get("teacher_model") or tm.get("model_version") or "vmaf_v0.6.1")


def render_fr_card(
    row: Mapping[str, Any],
    side: Mapping[str, Any],
    *,
    runtime_block: str = "",
    rows: Sequence[Mapping[str, Any]] = (),
) -> str:
    """The full Markdown card for one registry row (with its sidecar)."""
    mid = row["id"]
    tr = row.get("training") or {}
    met = tr.get("metrics", {})
    test, extra, lat = met.get("test", {}), met.get("extra", {}), met.get("latency", {})
    out_spec = side.get("output", {})
    target = out_spec.get("target", "vmaf")
    meta = side.get("metadata", {})
    arch = extra.get("architecture", {})
    lines: list[str] = ["---", fr_front_matter(row, side).rstrip("\n"), "---", ""]
    lines += summary_table(row, quant=_quant_line(row))
    if arch:
        hidden = "-".join(str(h) for h in arch.get("hidden", []))
        lines.append(
            f"| architecture | MLP {hidden}, {arch.get('activation')}, "
            f"scaler {arch.get('normalization')}, codec block "
            f"{arch.get('codec_block') or 'none'}, {arch.get('parameters')} parameters |"
        )
    lines += ["", "## Intended use", ""]
    teacher = _teacher(side, extra)
    names = {"vmaf_v0.6.1": "", "vmaf_4k_v0.6.1": "4K", "vmaf_v0.6.1neg": "NEG"}
    others = ", ".join(n for t, n in names.items() if n and t != teacher)
    if is_neg(side):
        feats = (
            "libvmaf's NEG-mode features (`adm2_egl_1, motion2, vif_scale0..3_egl_1`: adm and "
            "vif with enhancement gain limit 1, integer extractors; libvmaf computes them when "
            "its vmaf_v0.6.1neg model runs, and the runtime adds that model to its one pass)"
        )
    else:
        feats = (
            "libvmaf's canonical-6 features (`adm2, motion2, vif_scale0..3`, integer extractors)"
        )
    what = f"**{target}** score"
    if teacher != "vmaf_v0.6.1":
        others = f"the default vmaf_v0.6.1, {others}"
        what += f" (libvmaf {teacher})"
    lines += [
        f"* Estimates the per-frame {what} from {feats} of a reference/distorted "
        f"pair, in place of the {teacher} SVM: same inputs, a few hundred multiply-adds per "
        "frame, any ONNX Runtime.",
        "* It still needs the six features from libvmaf: the saving is in the regressor, not in "
        "feature extraction.",
        "* Not for: features from other extractors (the `float_*` variants), other VMAF models "
        f"({others}, phone), or subjective-score prediction without retraining on MOS "
        "(`--target mos`).",
    ]
    if _by_role(side.get("inputs", []), "codec"):
        lines.append(
            "* Codec-aware: also needs the encoder name, preset and CRF of the distorted clip "
            "(an unknown encoder maps to the vocabulary's `other` slot)."
        )
    lines += [
        "",
        "## Inputs and outputs",
        "",
        "| tensor | role | dtype | shape |",
        "|---|---|---|---|",
    ]
    for t in [*side.get("inputs", []), *side.get("outputs", [])]:
        lines.append(f"| `{t['name']}` | {t.get('role', '')} | {t['dtype']} | {t['shape']} |")
    norm = side.get("normalization", {})
    lines += [
        "",
        f"* Feature order: `{', '.join(side.get('feature_order', []))}`.",
        "* Standardisation: "
        + (
            "baked into the graph (Sub/Div): feed raw features."
            if norm.get("baked", True)
            else "in the sidecar (`feature_mean`, `feature_std`): the runtime applies "
            "`(x - mean) / std` to the features input before the graph."
        ),
        f"* Output: `{target}`, range {out_spec.get('range')}, "
        + (
            "clamped to the range (in the graph and by the runtime)."
            if out_spec.get("clamp")
            else "not clamped."
        ),
    ]
    block = side.get("codec_block")
    if block:
        lines.append(
            f"* Codec block ({block['width']} columns): one-hot over vocabulary "
            f"`{block['vocabulary']}` ({len(block['slots'])} slots: "
            f"{', '.join(block['slots'])}; unknown encoders -> `{block['other_slot']}`), then "
            "preset_norm (0 slowest .. 1 fastest) and crf_norm (CRF / encoder max)."
        )
    splits = extra.get("splits", {})
    tm = extra.get("table_metadata", {})
    lines += [
        "",
        "## Training data",
        "",
        f"* Corpus manifest sha256: `{tr.get('corpus_manifest_sha256')}`; features sha256 "
        f"`{meta.get('features_sha256', 'n/a')}`.",
        f"* {tr.get('n_rows')} frames from {tr.get('n_sources')} sources; teacher "
        f"{teacher} (libvmaf {tm.get('libvmaf_version', 'n/a')}).",
    ]
    if splits:
        parts = ", ".join(
            f"{k} {splits[k]['n_sources']} sources / {splits[k]['n_rows']} frames"
            for k in ("train", "val", "test")
            if k in splits
        )
        lines.append(f"* Splits: {parts}.")
    sp = extra.get("split", {})
    tc = extra.get("train_config", {})
    lines += [
        "",
        "## Split protocol",
        "",
        "* Split unit: `source_id` (the content). A source's split is the first 8 bytes of "
        f"sha256(`{sp.get('salt', meta.get('split_salt'))}:<source_id>`) / 2^64: below "
        f"{sp.get('test_frac', meta.get('test_frac'))} -> test, below test + "
        f"{sp.get('val_frac', meta.get('val_frac'))} -> val, else train. No content is in two "
        "splits.",
        "* Training: plain torch loop, AdamW + cosine decay, "
        f"lr {tc.get('lr')}, batch {tc.get('batch_size')}, at most {tc.get('epochs')} epochs, "
        f"early stop on val RMSE (patience {tc.get('patience')}), seed {tr.get('seed')}, "
        f"deterministic kernels, {tc.get('threads')} thread(s).",
        "* LOSO: each natural-content source held out in turn (synthetic sources always stay in "
        "training); within a fold the val bucket of the training sources drives early stopping.",
    ]
    lines += ["", "## Accuracy on the test split", ""]
    lines += [
        "Raw scores against the target, no logistic mapping. 95 % intervals: percentile "
        "bootstrap, 1000 resamples of whole clips, seed 0.",
        "",
        "| model | level | n | PLCC | SROCC | RMSE |",
        "|---|---|---|---|---|---|",
        f"| {mid} | frame | {test.get('n')} | {_ci(test, 'plcc')} | {_ci(test, 'srocc')} | "
        f"{_ci(test, 'rmse', 3)} |",
    ]
    clip = extra.get("test_clip") or {}
    if clip.get("plcc") is not None:
        lines.append(
            f"| {mid} | clip (mean per key) | {clip.get('n')} | {_ci_list(clip, 'plcc')} | "
            f"{_ci_list(clip, 'srocc')} | {_ci_list(clip, 'rmse', 3)} |"
        )
    base = extra.get("baseline_svr")
    if base and base.get("test"):
        b = base["test"]
        lines.append(
            f"| SVR baseline (VMAF recipe, NuSVR, {base.get('n_support')} SVs, retrained on "
            f"{base.get('n_train')} train rows) | frame | {b.get('n')} | {_ci_list(b, 'plcc')} | "
            f"{_ci_list(b, 'srocc')} | {_ci_list(b, 'rmse', 3)} |"
        )
    lines += ["", "## Leave-one-source-out", ""]
    loso = met.get("loso")
    if not loso:
        lines.append("Not run for this registration.")
    else:
        s = loso.get("summary", {})

        def sd(k: str, nd: int) -> str:
            std = s.get(k + "_std")
            return f" ± {fmt(std, nd)}" if std is not None else ""

        lines += [
            f"{s.get('protocol', 'LOSO')}: {s.get('n_folds')} folds, seeds {s.get('seeds')}, "
            f"{s.get('failures', 0)} failed. Mean ± std (ddof=1) over folds (each fold first "
            "averaged over seeds):",
            "",
            f"* PLCC {fmt(s.get('plcc_mean'))}{sd('plcc', 4)}, SROCC {fmt(s.get('srocc_mean'))}"
            f"{sd('srocc', 4)}, RMSE {fmt(s.get('rmse_mean'), 3)}{sd('rmse', 3)} (frame level); "
            f"clip-level RMSE {fmt(s.get('clip_rmse_mean'), 3)}{sd('clip_rmse', 3)}.",
            "",
            "| fold (held-out source) | seed | n_test | PLCC | SROCC | RMSE |",
            "|---|---|---|---|---|---|",
        ]
        for k in sorted(x for x in loso if x.startswith("fold:")):
            r = loso[k]
            _, fold, seed = k.split(":", 2)
            if "error" in r:
                lines.append(
                    f"| {fold} | {seed.removeprefix('seed')} | - | error: {r['error']} | | |"
                )
                continue
            lines.append(
                f"| {fold} | {seed.removeprefix('seed')} | {r.get('n_test')} | "
                f"{fmt(r.get('plcc'))} | {fmt(r.get('srocc'))} | {fmt(r.get('rmse'), 3)} |"
            )
    goals = goal_status(row, rows)
    if goals:
        lines += ["", "### Goals", ""] + [f"* {g}" for g in goals]
    lines += ["", "## int8", ""]
    gate = extra.get("int8_gate")
    if not gate:
        lines.append("No int8 quantisation was attempted for this model: fp32 only.")
    else:
        verdict = "passed: the int8 file ships" if gate.get("passed") else "failed: fp32 only"
        lines += [
            f"Static QDQ int8 (ONNX Runtime quantiser, MinMax calibration on "
            f"{gate.get('n_calibration')} train rows). Gate `{gate.get('rule')}`: **{verdict}**.",
            "",
            "| | PLCC | RMSE | bytes | µs/row (batch 1) | µs/row (batch 1024) |",
            "|---|---|---|---|---|---|",
            f"| fp32 | {fmt(gate.get('plcc_fp32'))} | {fmt(gate.get('rmse_fp32'), 3)} | "
            f"{gate.get('fp32_bytes')} | {fmt(gate.get('fp32_us_per_row_b1'), 2)} | "
            f"{fmt(gate.get('fp32_us_per_row_b1024'), 3)} |",
            f"| int8 | {fmt(gate.get('plcc_int8'))} | {fmt(gate.get('rmse_int8'), 3)} | "
            f"{gate.get('int8_bytes')} | {fmt(gate.get('int8_us_per_row_b1'), 2)} | "
            f"{fmt(gate.get('int8_us_per_row_b1024'), 3)} |",
            "",
            f"PLCC drop {fmt(gate.get('plcc_drop'), 5)}, RMSE change "
            f"{fmt(gate.get('rmse_change'), 4)}, largest per-frame |fp32 - int8| "
            f"{fmt(gate.get('max_abs_diff_fp32_int8'), 3)} on {gate.get('n_test')} test frames.",
        ]
        lines += int8_gate_lines(gate)
    lines += [
        "",
        "## Latency (per row, measured at training time)",
        "",
        "Median `session.run` time divided by the batch size; ONNX Runtime CPU execution "
        "provider, 1 thread."
        + (
            f" The SVM rows score the same {inputs_name(side)} rows."
            if lat.get("upstream_svm_us_per_row_b1") is not None
            or lat.get("svr_us_per_row_b1") is not None
            else ""
        ),
        "",
        "| model | µs/row (batch 1) | µs/row (batch 1024) |",
        "|---|---|---|",
        f"| {mid} fp32 | {fmt(lat.get('fp32_us_per_row_b1'), 2)} | "
        f"{fmt(lat.get('fp32_us_per_row_b1024'), 3)} |",
    ]
    if row.get("int8"):
        lines.append(
            f"| {mid} int8 | {fmt(lat.get('int8_us_per_row_b1'), 2)} | "
            f"{fmt(lat.get('int8_us_per_row_b1024'), 3)} |"
        )
    if lat.get("upstream_svm_us_per_row_b1") is not None:
        lines.append(
            "| upstream vmaf_v0.6.1 SVM (numpy RBF, 211 SVs) | "
            f"{fmt(lat.get('upstream_svm_us_per_row_b1'), 2)} | "
            f"{fmt(lat.get('upstream_svm_us_per_row_b1024'), 3)} |"
        )
    if lat.get("svr_us_per_row_b1") is not None:
        lines.append(
            f"| SVR baseline (scikit-learn NuSVR, {(base or {}).get('n_support')} SVs) | "
            f"{fmt(lat.get('svr_us_per_row_b1'), 2)} | {fmt(lat.get('svr_us_per_row_b1024'), 3)} |"
        )
    lines += [
        "",
        *runtime_section(
            runtime_block,
            intro="End-to-end figures from `vmaf-train bench` (kept across regenerations):",
        ),
        "",
        "## Limitations",
        "",
        f"* The teacher is {teacher}: the model inherits its "
        "blind spots and is only as good as the corpus's coverage of content and codecs.",
        "* Frame-level scores; clip scores are the mean over frames (as libvmaf pools).",
        "* Accuracy on content unlike any training source is what LOSO estimates; test-split "
        "figures on a few sources have wide intervals.",
        "",
        "## Provenance",
        "",
        f"* train_commit `{tr.get('train_commit')}`, seed {tr.get('seed')}, config sha256 "
        f"`{tr.get('config_sha256')}`, torch {meta.get('torch_version', 'n/a')}.",
        f"* Training time: fit {fmt(extra.get('training', {}).get('seconds'), 1)} s "
        f"({extra.get('training', {}).get('epochs_run')} epochs, best "
        f"{extra.get('training', {}).get('best_epoch')}, "
        f"{extra.get('training', {}).get('threads')} thread)"
        + (
            f"; LOSO {fmt((loso or {}).get('summary', {}).get('wall_seconds'), 0)} s wall on "
            f"{(loso or {}).get('summary', {}).get('executor')}."
            if loso
            else "."
        ),
        f"* Reproduce: `vmaf-train fit --config configs/models/{mid}.toml --features "
        "FEATURES.parquet --out RUN`, then `vmaf-train loso`, `quantize-int8`, `register` "
        "(see docs/training.md).",
        "",
    ]
    return "\n".join(lines)


def _by_role(tensors: Sequence[Mapping[str, Any]], role: str) -> Mapping[str, Any] | None:
    return next((t for t in tensors if t.get("role") == role), None)


def _quant_line(row: Mapping[str, Any]) -> str:
    if row.get("int8"):
        i8 = row["int8"]
        return f"fp32 + int8 QDQ (`{i8['onnx']}`, {i8['bytes']:,} bytes; gate passed)"
    gate = ((row.get("training") or {}).get("metrics", {}).get("extra", {})).get("int8_gate")
    if gate:
        return "fp32 only (int8 gate failed)"
    return "fp32 only"
