"""What int8 (or a smaller receptive field) costs a learned filter: held-out quality and speed.

Takes a filter fit run (``vmaf-train fit --config learned_filter_v2 ... -o RUN``) and its
corpus. The run's fp32 ``model.onnx`` is quantised by the toolkit's int8 path
(:func:`vmaf_train.ship.quantize.quantize_qdq`: static QDQ, MinMax calibration, per-channel
7-bit weights) on whole frames of the run's *validation* clips (never the test clips), then
the int8 file is evaluated exactly like the fp32 one in the fit
(:func:`vmaf_train.fit.filter.evaluate_filter`: every held-out test clip filtered through the
runtime path and scored by libvmaf) and both are timed at 640x360 on one thread, alternating.
``--compare NAME=RUN`` adds other fits of the same recipe on the same split (e.g. a smaller
receptive field: ``--set arch.depth=1``) from their own held-out reports, timed alike. The
block also gives the first run's per quality band x codec table.

``--write-docs`` refreshes the ``filter-int8`` block of docs/training.md::

    python benchmarks/filter_int8.py --run RUN --corpus CORPUS --compare depth1=RUN_D1 \
        --write-docs
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from vmaf_tiny.ffmpeg import resolve_ffmpeg
from vmaf_tiny.fsutil import replace_block
from vmaf_train.data.frames import PixelCorpus, decode
from vmaf_train.fit.filter import BANDS, evaluate_filter
from vmaf_train.ship.onnx_io import ort_session
from vmaf_train.ship.quantize import quantize_qdq

REPO = Path(__file__).resolve().parents[1]
LOW_BAND_LABEL = BANDS[0][0]  # vmaf<70


def _fps(paths: dict[str, Path], rounds: int) -> dict[str, float]:
    """Median model fps at 640x360, 1 thread; the models alternate within each round."""
    probe = np.random.default_rng(0).random((1, 1, 360, 640), dtype=np.float32)
    sess = {k: ort_session(p) for k, p in paths.items()}
    names = {k: s.get_inputs()[0].name for k, s in sess.items()}
    times: dict[str, list[float]] = {k: [] for k in paths}
    for r in range(rounds + 1):
        for k, s in sess.items():
            t0 = time.perf_counter()
            s.run(None, {names[k]: probe})
            if r:
                times[k].append(time.perf_counter() - t0)
    return {k: 1.0 / statistics.median(v) for k, v in times.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, required=True, help="A filter fit run directory.")
    ap.add_argument("--corpus", type=Path, required=True, help="The corpus it was fitted on.")
    ap.add_argument("--calib-frames", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--compare", action="append", default=[], help="NAME=RUN (repeatable).")
    ap.add_argument("--write-docs", action="store_true")
    args = ap.parse_args()
    others = {k: Path(v) for k, v in (c.split("=", 1) for c in args.compare)}
    metrics = json.loads((args.run / "metrics.json").read_text())
    report = json.loads((args.run / "report.json").read_text())
    config = json.loads((args.run / "config.json").read_text())
    corpus = PixelCorpus.open(args.corpus)
    by_key = {c.key: c for c in corpus.clips}
    test = [by_key[r["key"]] for r in report["per_clip"]]
    val_sources = set(metrics["splits"]["val"]["sources"])
    ff = resolve_ffmpeg()
    calib: list[dict[str, np.ndarray]] = []
    for c in (c for c in corpus.clips if c.source_id in val_sources):
        if len(calib) >= args.calib_frames:
            break
        for f in decode(c.clip, max_frames=2, ffmpeg=ff):
            calib.append({"frame": np.ascontiguousarray(f, dtype=np.float32)[None, None]})
    calib = calib[: args.calib_frames]
    with tempfile.TemporaryDirectory(prefix="filter-int8-") as tmp:
        q = Path(tmp) / "model.int8.onnx"
        info = quantize_qdq(args.run / "model.onnx", q, calib)
        ev = evaluate_filter(q, test, eval_frames=int(config["data"]["eval_frames"]))
        paths = {"fp32": args.run / "model.onnx", "int8": q}
        paths |= {k: v / "model.onnx" for k, v in others.items()}
        fps = _fps(paths, args.rounds)
    configs = {"fp32": config, "int8": config}
    configs |= {k: json.loads((v / "config.json").read_text()) for k, v in others.items()}
    reports = {"fp32": report, "int8": ev}
    reports |= {k: json.loads((v / "report.json").read_text()) for k, v in others.items()}
    rows: list[dict[str, Any]] = []
    for label, rep in reports.items():
        if [r["key"] for r in rep["per_clip"]] != [r["key"] for r in report["per_clip"]]:
            raise SystemExit(f"{label}: not evaluated on the same held-out clips")
        low = rep["per_band"].get(LOW_BAND_LABEL, {})
        worst = min(rep["per_codec"].items(), key=lambda kv: kv[1]["psnr_y_delta"])
        rows.append(
            {
                "model": label,
                "arch": _arch(configs[label]["arch"]),
                "psnr_y_delta_all": rep["overall"]["psnr_y_delta"],
                "vmaf_delta_all": rep["overall"]["vmaf_delta"],
                "psnr_y_delta_low": low.get("psnr_y_delta"),
                "vmaf_delta_low": low.get("vmaf_delta"),
                "worst_codec": f"{worst[0]} {worst[1]['psnr_y_delta']:+.3f}",
                "model_fps": fps[label],
                "bytes": info["int8_bytes"] if label == "int8" else paths[label].stat().st_size,
            }
        )
    out = {"run": str(args.run), "calib_frames": len(calib), "rows": rows,
           "load_avg_1min_after": round(os.getloadavg()[0], 2)}  # fmt: skip
    print(json.dumps(out, indent=2))
    if args.write_docs:
        lines = [
            "Command: `python benchmarks/filter_int8.py --run RUN --corpus CORPUS"
            + "".join(f" --compare {k}=RUN_{k.upper()}" for k in others)
            + f" --write-docs` (RUN: the `{config['id']}` fit"
            + "".join(f"; RUN_{k.upper()}: the same recipe with this row's arch" for k in others)
            + "; int8 = static QDQ, per-channel 7-bit weights, "
            f"MinMax calibration on {len(calib)} whole frames of the validation sources; every row "
            f"evaluated on the same {report['overall']['n_clips']} held-out clips through the "
            "runtime path; model fps at 640x360, 1 thread, medians of "
            f"{args.rounds} alternating calls, 1-minute load average "
            f"{out['load_avg_1min_after']} after the run).",
            "",
            "| weights | arch (receptive field) | PSNR-Y Δ all (dB) | VMAF Δ all | "
            f"PSNR-Y Δ {LOW_BAND_LABEL} (dB) | VMAF Δ {LOW_BAND_LABEL} | "
            "worst codec PSNR-Y Δ | model fps | bytes |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            lines.append(
                f"| {r['model']} | {r['arch']} | {r['psnr_y_delta_all']:+.3f} | "
                f"{r['vmaf_delta_all']:+.3f} | "
                f"{_f(r['psnr_y_delta_low'])} | {_f(r['vmaf_delta_low'])} | {r['worst_codec']} | "
                f"{r['model_fps']:.1f} | {r['bytes']:,} |"
            )
        bands = list(report["per_band"])
        lines += [
            "",
            f"`{config['id']}` (fp32, the first row) per quality band (unfiltered clip VMAF) and "
            "codec: PSNR-Y Δ dB / VMAF Δ (clips):",
            "",
            "| codec | " + " | ".join(bands) + " | all |",
            "|---|" + "---|" * (len(bands) + 1),
        ]
        for codec, per in report["per_codec_band"].items():
            cells = [
                f"{per[b]['psnr_y_delta']:+.3f} / {per[b]['vmaf_delta']:+.2f} ({per[b]['n_clips']})"
                if b in per
                else "-"
                for b in bands
            ]
            c = report["per_codec"][codec]
            cells.append(f"{c['psnr_y_delta']:+.3f} / {c['vmaf_delta']:+.2f} ({c['n_clips']})")
            lines.append(f"| {codec} | " + " | ".join(cells) + " |")
        worst = sorted(report["per_clip"], key=lambda r: r["psnr_y_filtered"] - r["psnr_y"])[:5]
        lines += [
            "",
            "Its five worst held-out clips (PSNR-Y Δ): "
            + ", ".join(
                f"`{r['key']}` ({r['psnr_y']:.1f} dB unfiltered, "
                f"{r['psnr_y_filtered'] - r['psnr_y']:+.2f} dB, VMAF "
                f"{r['vmaf_filtered'] - r['vmaf']:+.2f})"
                for r in worst
            )
            + f"; mean luma shift over all clips {report['overall']['mean_shift_8bit']:+.3f} "
            "(8-bit code values).",
        ]
        replace_block(REPO / "docs" / "training.md", "filter-int8", "\n".join(lines))


def _arch(a: dict[str, Any]) -> str:
    """``unshuffle 2, 16 ch, depth 3 (22 px)``: the receptive field of its 3x3 convolutions."""
    fold = int(a.get("scale", 2)) if a.get("model") == "unshuffle" else 1
    convs = int(a["depth"]) + 2
    rf = fold * (2 * convs + 1)
    return f"{a.get('model', 'plain')} {fold}, {a['width']} ch, depth {a['depth']} ({rf} px)"


def _f(v: float | None) -> str:
    return "-" if v is None else f"{v:+.3f}"


if __name__ == "__main__":
    main()
