"""What int8 costs a learned filter: quality on the held-out clips and model speed, fp32 vs int8.

Takes a filter fit run (``vmaf-train fit --config learned_filter_v2 ... -o RUN``) and its
corpus. The run's fp32 ``model.onnx`` is quantised by the toolkit's int8 path
(:func:`vmaf_train.ship.quantize.quantize_qdq`: static QDQ, MinMax calibration, per-channel
7-bit weights) on whole frames of the run's *validation* clips (never the test clips), then
the int8 file is evaluated exactly like the fp32 one in the fit
(:func:`vmaf_train.fit.filter.evaluate_filter`: every held-out test clip filtered through the
runtime path and scored by libvmaf) and both are timed at 640x360 on one thread, alternating.

``--write-docs`` refreshes the ``filter-int8`` block of docs/training.md::

    python benchmarks/filter_int8.py --run RUN --corpus CORPUS --write-docs
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
    ap.add_argument("--write-docs", action="store_true")
    args = ap.parse_args()
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
        fps = _fps({"fp32": args.run / "model.onnx", "int8": q}, args.rounds)
    rows: list[dict[str, Any]] = []
    for label, rep in (("fp32", report), ("int8", ev)):
        low = rep["per_band"].get(LOW_BAND_LABEL, {})
        worst = min(rep["per_codec"].items(), key=lambda kv: kv[1]["psnr_y_delta"])
        rows.append(
            {
                "model": label,
                "psnr_y_delta_all": rep["overall"]["psnr_y_delta"],
                "vmaf_delta_all": rep["overall"]["vmaf_delta"],
                "psnr_y_delta_low": low.get("psnr_y_delta"),
                "vmaf_delta_low": low.get("vmaf_delta"),
                "worst_codec": f"{worst[0]} {worst[1]['psnr_y_delta']:+.3f}",
                "model_fps": fps[label],
                "bytes": (args.run / "model.onnx").stat().st_size
                if label == "fp32"
                else info["int8_bytes"],
            }
        )
    out = {"run": str(args.run), "calib_frames": len(calib), "rows": rows,
           "load_avg_1min_after": round(os.getloadavg()[0], 2)}  # fmt: skip
    print(json.dumps(out, indent=2))
    if args.write_docs:
        lines = [
            f"Command: `python benchmarks/filter_int8.py --run RUN --corpus CORPUS --write-docs` "
            f"(RUN: the `{config['id']}` fit; int8 = static QDQ, per-channel 7-bit weights, "
            f"MinMax calibration on {len(calib)} whole frames of the validation sources; both "
            f"evaluated on the same {report['overall']['n_clips']} held-out clips through the "
            "runtime path; model fps at 640x360, 1 thread, medians of "
            f"{args.rounds} alternating calls, 1-minute load average "
            f"{out['load_avg_1min_after']} after the run).",
            "",
            f"| weights | PSNR-Y Δ all (dB) | VMAF Δ all | PSNR-Y Δ {LOW_BAND_LABEL} (dB) | "
            f"VMAF Δ {LOW_BAND_LABEL} | worst codec PSNR-Y Δ | model fps | bytes |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            lines.append(
                f"| {r['model']} | {r['psnr_y_delta_all']:+.3f} | {r['vmaf_delta_all']:+.3f} | "
                f"{_f(r['psnr_y_delta_low'])} | {_f(r['vmaf_delta_low'])} | {r['worst_codec']} | "
                f"{r['model_fps']:.1f} | {r['bytes']:,} |"
            )
        replace_block(REPO / "docs" / "training.md", "filter-int8", "\n".join(lines))


def _f(v: float | None) -> str:
    return "-" if v is None else f"{v:+.3f}"


if __name__ == "__main__":
    main()
