"""The results section of a learned filter's model card (held-out tables, goal verdicts).

Every figure is read from the registry row (the run's measured report); nothing typed by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vmaf_train.ship.card_parts import fmt

__all__ = ["band_tables", "filter_goals", "filter_results", "gate_reproduce"]

LOW_BAND = "vmaf<70"


def _report(tr: Mapping[str, Any]) -> dict[str, Any]:
    """The pixel run's report (added to the row by ``vmaf-train register``)."""
    return dict(tr["metrics"].get("extra", {}).get("pixels", {}).get("report", {}))


def filter_results(tr: Mapping[str, Any]) -> list[str]:
    m = tr["metrics"]
    px = _report(tr)
    gate = px.get("gate")
    lines = [
        f"Held-out test sources: {', '.join(px.get('test_sources', []))}; every `encode` clip, "
        f"{_frames(px.get('eval_frames_per_clip'))}, filtered through the runtime path "
        "(`vmaf_tiny.filtering`, lossless y4m) and scored against the reference by libvmaf "
        "(vmaf_v0.6.1 and PSNR-Y), next to the same frames unfiltered. Means over clips.",
    ]
    if gate:
        lines += [
            "",
            *_gate_lines(gate),
            "",
            "With the quality gate (the default for encoded input):",
        ]
    lines += ["", *_codec_table(px)]
    lines += band_tables(px)
    lines += filter_goals(tr)
    if gate and px.get("ungated"):
        ung = dict(px["ungated"])
        lines += [
            "",
            "Without the gate (`--no-gate`, or raw / y4m / lossless input, which carries no "
            "stream facts):",
            "",
            *_codec_table(ung),
            *band_tables(ung),
            *filter_goals(tr, ung, label="without the gate", skip=("fps_min",)),
        ]
    ov = px.get("overall", {})
    val = m.get("extra", {}).get("val", {})
    init = str((m.get("extra", {}).get("train_config") or {}).get("init") or "")
    if val:
        if init and "init_patch_psnr" not in val:
            # rows fitted before init_patch_psnr: their identity figure was the start's
            before = f"{fmt(val.get('identity_patch_psnr'), 3)} dB for the starting filter `{init}`"
        else:
            before = f"{fmt(val.get('identity_patch_psnr'), 3)} dB unfiltered" + (
                f", {fmt(val['init_patch_psnr'], 3)} dB for the starting filter `{init}`"
                if init
                else ""
            )
        lines += [
            "",
            f"Validation patches (model selection): PSNR-Y {fmt(val.get('patch_psnr'), 3)} dB "
            f"filtered vs {before}"
            + (
                f"; mean per-patch gain {fmt(val['patch_gain_db'], 3)} dB."
                if isinstance(val.get("patch_gain_db"), int | float)
                else "."
            ),
        ]
    lines += [
        "",
        f"PSNR-Y improved on {fmt(100 * (ov.get('psnr_y_improved_frac') or 0), 1)} % of clips, "
        f"VMAF on {fmt(100 * (ov.get('vmaf_improved_frac') or 0), 1)} %.",
    ]
    lat = m.get("latency", {})
    if lat:
        lines += [
            "",
            "Model-only latency (1 thread, median): "
            + ", ".join(f"`{k}` {fmt(v, 0)}" for k, v in lat.items()),
        ]
    return lines


def _frames(n: Any) -> str:
    return "all frames" if n in (None, "all", 0) else f"first {n} frames"


def _codec_table(px: Mapping[str, Any]) -> list[str]:
    lines = [
        "| codec | clips | PSNR-Y | filtered | delta dB | VMAF | filtered | delta | "
        "mean shift (8-bit) | clip fraction |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    rows = dict(px.get("per_codec", {}))
    rows["all"] = px.get("overall", {})
    for codec, r in rows.items():
        lines.append(
            f"| {codec} | {r.get('n_clips')} | {fmt(r.get('psnr_y'), 3)} | "
            f"{fmt(r.get('psnr_y_filtered'), 3)} | {fmt(r.get('psnr_y_delta'), 3)} | "
            f"{fmt(r.get('vmaf'), 3)} | {fmt(r.get('vmaf_filtered'), 3)} | "
            f"{fmt(r.get('vmaf_delta'), 3)} | {fmt(r.get('mean_shift_8bit'), 3)} | "
            f"{fmt(r.get('clip_fraction'), 6)} |"
        )
    return lines


def _gate_lines(gate: Mapping[str, Any]) -> list[str]:
    """What the quality gate is and which NR model the evaluation scored with."""
    shipped = gate.get("shipped_model", gate.get("model"))
    held = gate.get("model_held_out")
    lines = [
        f"**Quality gate.** For an encoded input, `vmaf-tiny filter` first scores every frame "
        f"without the reference with `{shipped}` and scales that frame's correction by 1 at a "
        f"score of {fmt(gate.get('full_below'), 1)} or below, 0 at {fmt(gate.get('off_above'), 1)} "
        "or above, linearly in between. Raw, y4m and lossless input carry no stream facts: "
        "`vmaf-tiny filter` refuses it unless `--no-gate` is given, and then every frame is "
        "filtered in full (the figures without the gate, below).",
    ]
    if gate.get("model") != shipped:
        lines.append(
            f"The evaluation below gated with an NR model of the same recipe fitted without the "
            f"families {held or '(not recorded)'}"
            + (f" (sha256 `{gate['model_sha256'][:12]}…`)" if gate.get("model_sha256") else "")
            + f", so the gate's scores on the test sources are unseen-content scores; the shipped "
            f"`{shipped}` saw them in training."
        )
    return lines


def band_tables(px: Mapping[str, Any]) -> list[str]:
    """Per quality band (unfiltered clip VMAF) and per codec x band, when the report has them."""
    bands, cb = px.get("per_band") or {}, px.get("per_codec_band") or {}
    if not bands:
        return []
    lines = [
        "",
        "By quality band (the unfiltered clip's mean VMAF):",
        "",
        "| band | clips | PSNR-Y | delta dB | VMAF | delta | PSNR-Y improved |",
        "|---|---|---|---|---|---|---|",
    ]
    for band, r in bands.items():
        lines.append(
            f"| {band} | {r.get('n_clips')} | {fmt(r.get('psnr_y'), 3)} | "
            f"{fmt(r.get('psnr_y_delta'), 3)} | {fmt(r.get('vmaf'), 3)} | "
            f"{fmt(r.get('vmaf_delta'), 3)} | "
            f"{fmt(100 * (r.get('psnr_y_improved_frac') or 0), 1)} % |"
        )
    names = list(bands)
    lines += [
        "",
        "Per codec and band: PSNR-Y delta dB / VMAF delta (clips):",
        "",
        "| codec | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for codec, per in cb.items():
        cells = [
            f"{fmt(per[b].get('psnr_y_delta'), 3)} / {fmt(per[b].get('vmaf_delta'), 3)} "
            f"({per[b].get('n_clips')})"
            if b in per
            else "-"
            for b in names
        ]
        lines.append(f"| {codec} | " + " | ".join(cells) + " |")
    return lines


def filter_goals(
    tr: Mapping[str, Any],
    px: Mapping[str, Any] | None = None,
    *,
    label: str = "",
    skip: tuple[str, ...] = (),
) -> list[str]:
    """Goal lines (met / missed, with the measured figure) for the recipe's ``[goals]``.

    Keys: ``psnr_y_delta_min`` (all held-out clips), ``codec_psnr_y_delta_min`` (every codec's
    mean), ``low_band_psnr_y_delta_min`` / ``low_band_psnr_y_delta_moonshot`` /
    ``low_band_vmaf_delta_min`` (clips with unfiltered VMAF < 70) and ``fps_min`` (model-only,
    fp32, 640x360, 1 thread, from the run's latency probe). ``px``: the aggregates to judge
    (default: the report's headline ones); ``label`` names them in the heading; ``skip``: goal
    keys left out (the speed goal does not depend on the gate).
    """
    m = tr["metrics"]
    goals = m.get("extra", {}).get("goals") or {}
    px = _report(tr) if px is None else px
    low = (px.get("per_band") or {}).get(LOW_BAND, {})
    codecs = px.get("per_codec") or {}
    worst = min(codecs.items(), key=lambda kv: kv[1].get("psnr_y_delta", 0.0), default=None)
    lat = (m.get("latency") or {}).get("fp32_us_per_frame_640x360")
    checks: list[tuple[str, str, Any, int, str]] = [
        ("psnr_y_delta_min", "mean PSNR-Y gain, all held-out clips (dB)",
         (px.get("overall") or {}).get("psnr_y_delta"), 3, ""),
        ("codec_psnr_y_delta_min", "worst codec's mean PSNR-Y gain (dB)",
         worst[1].get("psnr_y_delta") if worst else None, 3, f" ({worst[0]})" if worst else ""),
        ("low_band_psnr_y_delta_min", f"mean PSNR-Y gain, {LOW_BAND} clips (dB)",
         low.get("psnr_y_delta"), 3, f" ({low.get('n_clips')} clips)" if low else ""),
        ("low_band_psnr_y_delta_moonshot", f"moonshot: mean PSNR-Y gain, {LOW_BAND} clips (dB)",
         low.get("psnr_y_delta"), 3, ""),
        ("low_band_vmaf_delta_min", f"mean VMAF gain, {LOW_BAND} clips",
         low.get("vmaf_delta"), 3, ""),
        ("fps_min", "model-only fps at 640x360, fp32, 1 thread",
         1e6 / lat if isinstance(lat, int | float) and lat > 0 else None, 1, ""),
    ]  # fmt: skip
    lines = []
    for key, name, value, digits, note in checks:
        want = goals.get(key)
        if want is None or key in skip:
            continue
        if not isinstance(value, int | float):
            lines.append(f"* {name} >= {want}: not measured, **missed**.")
            continue
        verdict = "met" if value >= want else "**missed**"
        lines.append(f"* {name} >= {want}: measured {fmt(value, digits)}{note}, {verdict}.")
    if not lines:
        return []
    what = f", {label}" if label else ""
    return [
        "",
        f"Goals of the recipe (held-out test sources, this run's figures{what}):",
        "",
        *lines,
    ]


def gate_reproduce(px: Mapping[str, Any]) -> list[str]:
    """How the held-out gate model of the evaluation is made (nothing without one)."""
    gate = px.get("gate") or {}
    held = gate.get("model_held_out")
    if not held:
        return []
    return [
        "",
        "The evaluation's gate model: `vmaf-train corpus build -c nr_stream_v2 -o NRC`, "
        "`python -m vmaf_train.nr_stream table --corpus NRC`, `python -m vmaf_train.nr_stream "
        f"fit --features NRC/stream_features.parquet -o GATE --recipe v2 --hold-out {held}`; "
        "the filter's fit then takes `--set gate.eval_model=GATE/model.onnx`.",
    ]
