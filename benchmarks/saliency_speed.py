"""Saliency students vs their teacher: time per frame and agreement, same frames, same run.

Frames: the reference frames of the held-out test sources of a saliency recipe's split (by
``source_id``, as ``vmaf-train fit`` splits them) in a built corpus, decoded as luma by the
project's ffmpeg at the students' input size (the sidecar's ``frame.resize``, 256x144 -- what
``vmaf-tiny saliency`` and the fit both feed the models and the teacher).

Each run times, single-threaded, starting from those decoded float32 frames:

* teacher: :func:`vmaf_train.data.teacher.spectral_residual` per frame -- its own area
  downscale to the map size included, then FFT, residual, smoothing, centre prior;
* each student: the runtime's guarded session (:func:`vmaf_tiny.saliency.load_saliency`,
  ONNX Runtime, 1 thread), frames stacked into ``[N, 1, 144, 256]`` per call (stacking
  included; a student's downscale is inside its graph), at batch 16 and at batch 1.

Teacher and students alternate within every run; figures are medians over runs of the mean
time per frame. The agreement columns are per-frame CC and IoU of the top 20 % of the student's
map against the teacher's map on the same frames. ``--write-docs`` refreshes the
``saliency-speed`` block of docs/benchmarks.md.

    vmaf-train corpus build -c saliency -o CORPUS
    python benchmarks/saliency_speed.py --corpus CORPUS --runs 7 --write-docs
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from vmaf_tiny.ffmpeg import resolve_ffmpeg  # noqa: E402
from vmaf_tiny.fsutil import replace_block  # noqa: E402
from vmaf_tiny.saliency import load_saliency  # noqa: E402
from vmaf_train.data.frames import PixelCorpus, decode  # noqa: E402
from vmaf_train.data.teacher import spectral_residual  # noqa: E402
from vmaf_train.evaluate.metrics import map_cc, top_iou  # noqa: E402
from vmaf_train.fit.saliency import teacher_params  # noqa: E402
from vmaf_train.recipes import load_recipe  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def held_out_frames(corpus: Path, recipe: Path, max_frames: int) -> tuple[np.ndarray, list[str]]:
    """Reference luma frames of the recipe's test sources, decoded at its input size."""
    cfg = load_recipe(recipe, kind="saliency")
    w, h = (int(v) for v in cfg.data["size"])
    pc = PixelCorpus.open(corpus)
    test = sorted(pc.split_sources(**cfg.split)["test"])
    refs = {c.source_id: c.reference for c in pc.clips if c.source_id in test}
    ff = resolve_ffmpeg()
    per = max(1, -(-max_frames // len(test)))
    frames = [decode(refs[s], size=(w, h), max_frames=per, ffmpeg=ff) for s in test]
    return np.concatenate(frames)[:max_frames].astype(np.float32), test


def time_per_frame(fn: Callable[[], Any], n_frames: int) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) / n_frames * 1000.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, required=True, help="a built saliency corpus")
    ap.add_argument("--recipe", type=Path, default=REPO / "configs/models/saliency_student_v2.toml")
    ap.add_argument("--models", default="saliency_student_v1,saliency_student_v2")
    ap.add_argument("--frames", type=int, default=96)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--write-docs", action="store_true")
    args = ap.parse_args()

    cfg = load_recipe(args.recipe, kind="saliency")
    tp = teacher_params(cfg)
    w, h = (int(v) for v in cfg.data["size"])
    msize = (h // 4, w // 4)
    frames, test = held_out_frames(args.corpus, args.recipe, args.frames)
    n = len(frames)
    teacher = np.stack([spectral_residual(f, msize, tp) for f in frames])

    runners = {m: load_saliency(m, backend="cpu", threads=1)[0] for m in args.models.split(",")}

    def student(run: Callable[[np.ndarray], np.ndarray], batch: int) -> Callable[[], Any]:
        def go() -> list[np.ndarray]:
            return [run(np.stack(list(frames[i : i + batch]))[:, None]) for i in range(0, n, batch)]

        return go

    def teach() -> list[np.ndarray]:
        return [spectral_residual(f, msize, tp) for f in frames]

    jobs: dict[str, Callable[[], Any]] = {"teacher": teach}
    for m, r in runners.items():
        jobs[f"{m} b16"] = student(r, 16)
        jobs[f"{m} b1"] = student(r, 1)
    for fn in jobs.values():  # warm-up
        fn()
    times: dict[str, list[float]] = {k: [] for k in jobs}
    for _ in range(args.runs):
        for k, fn in jobs.items():
            times[k].append(time_per_frame(fn, n))
    med = {k: statistics.median(v) for k, v in times.items()}

    rows = []
    for m, r in runners.items():
        pred = np.concatenate([r(frames[i : i + 16, None]) for i in range(0, n, 16)])[:, 0]
        cc = [map_cc(p, t) for p, t in zip(pred, teacher, strict=True)]
        iou = [top_iou(p, t, 0.2) for p, t in zip(pred, teacher, strict=True)]
        rows.append(
            {
                "model": m,
                "cc": float(np.nanmean(cc)),
                "iou_top20": float(np.mean(iou)),
                "ms_b16": med[f"{m} b16"],
                "ms_b1": med[f"{m} b1"],
                "speedup_b16": med["teacher"] / med[f"{m} b16"],
                "speedup_b1": med["teacher"] / med[f"{m} b1"],
            }
        )
    result = {
        "frames": n,
        "test_sources": test,
        "input": [w, h],
        "map": [msize[1], msize[0]],
        "runs": args.runs,
        "teacher_ms": med["teacher"],
        "students": rows,
        "machine": platform.machine(),
        "load_avg_1min_after": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(result, indent=2))
    if args.write_docs:
        body = "\n".join(
            [
                f"Command: `vmaf-train corpus build -c saliency -o CORPUS`, then `python "
                f"benchmarks/saliency_speed.py --corpus CORPUS --runs {args.runs} --write-docs` "
                f"({n} reference frames of the held-out sources {', '.join(test)} of the "
                f"`saliency_student_v2` split, decoded as luma at {w}x{h}; 1 thread; teacher and "
                "students alternate in every run, medians of the per-frame mean over "
                f"{args.runs} runs after a warm-up; {platform.machine()}, shared 2-core machine, "
                f"1-minute load average {result['load_avg_1min_after']} after the run: compare "
                "the ratios, not absolute figures across runs). Times start from the decoded "
                "frame: the teacher's area downscale and the students' stacking are included. "
                f"Teacher (numpy FFT, map {msize[1]}x{msize[0]}): "
                f"{med['teacher']:.3f} ms/frame.",
                "",
                "| student | CC vs teacher | IoU top 20 % | ms/frame b16 | speed-up b16 | "
                "ms/frame b1 | speed-up b1 |",
                "|---|---|---|---|---|---|---|",
                *(
                    f"| `{r['model']}` | {r['cc']:.4f} | {r['iou_top20']:.4f} | "
                    f"{r['ms_b16']:.3f} | {r['speedup_b16']:.2f}x | {r['ms_b1']:.3f} | "
                    f"{r['speedup_b1']:.2f}x |"
                    for r in rows
                ),
                "",
                "`saliency_student_v1` was fitted on the standard corpus, whose split differs: "
                "its agreement here is on frames it may not have been held out from and on a "
                "different source mix; its card gives its held-out figures.",
            ]
        )
        replace_block(REPO / "docs" / "benchmarks.md", "saliency-speed", body)


if __name__ == "__main__":
    main()
