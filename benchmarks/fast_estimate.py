#!/usr/bin/env python
"""The fast VMAF estimate against plain libvmaf: speed (whole process and in-process) + accuracy.

For each shipped fast level (``vmaf_tiny.fast.FAST_LEVELS``), on the `vmaf-tiny bench` clip pairs
(testsrc2 y4m reference, x264 veryfast CRF 30 distorted; 640x360x300 and 1920x1080x60), single
thread:

* whole process: ``vmaf-tiny score --fast-level N -r REF -d DIS --json`` against the plain ffmpeg
  libvmaf vmaf_v0.6.1 command on the same pair, alternating runs, medians, ratio;
* in-process: ``vmaf_tiny.fast.score_fast`` against the same libvmaf command run from Python;
* where the time goes: decoding both videos (the physical floor of any estimate that looks at
  the pixels), decode + sampling without libvmaf, the fast pass, the model, interpreter start-up;
* accuracy: the LOSO figures of each level's registry row (clip and frame PLCC/RMSE against the
  full teacher, natural sources held out one at a time).

``--write-docs`` writes the block between ``<!-- fast-estimate:begin -->`` and
``<!-- fast-estimate:end -->`` of docs/benchmarks.md and the curve PNG (fps ratio against clip
RMSE and clip PLCC) to docs/models/vmaf_tiny_fast_curve.png.

    python benchmarks/fast_estimate.py --reps 5 --write-docs
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from vmaf_tiny.bench import cache_dir, clip_pair
from vmaf_tiny.fast import FAST_LEVELS, OperatingPoint, fast_graph, output_args, score_fast
from vmaf_tiny.ffmpeg import resolve_ffmpeg
from vmaf_tiny.registry import load_registry
from vmaf_tiny.video import probe

ROOT = Path(__file__).resolve().parents[1]
VMAF_TINY = Path(sys.executable).parent / "vmaf-tiny"
SIZES = ((640, 360, 300), (1920, 1080, 60))
BEGIN, END = "<!-- fast-estimate:begin -->", "<!-- fast-estimate:end -->"
PNG = ROOT / "docs" / "models" / "vmaf_tiny_fast_curve.png"


def _timed(args: list[str]) -> float:
    t = time.perf_counter()
    p = subprocess.run(args, capture_output=True, check=False)
    if p.returncode != 0:
        sys.exit(f"error: {args[0]} failed: {p.stderr.decode(errors='replace')[-300:]}")
    return time.perf_counter() - t


def _med(v: list[float]) -> float:
    return float(statistics.median(v))


def levels() -> list[tuple[int, str, dict[str, Any]]]:
    """(level, id, registry row) of every shipped fast level."""
    reg = load_registry()
    out = []
    for lv, mid in sorted(FAST_LEVELS.items()):
        if mid in reg.ids:
            out.append((lv, mid, reg.get(mid)))
    return out


def measure(reps: int) -> dict[str, Any]:
    ff = resolve_ffmpeg()
    lv = levels()
    res: dict[str, Any] = {"sizes": []}
    for w, h, n in SIZES:
        ref, dis = clip_pair(w, h, n, cache_dir() / "clips", ff)
        ri, di = probe(ref, ff), probe(dis, ff)
        with tempfile.TemporaryDirectory() as tmp:
            log = f"{tmp}/v.json"
            base = [*ff.base_args(), "-loglevel", "error", "-i", str(dis), "-i", str(ref)]
            plain = [
                *base, "-lavfi",
                "[0:v]settb=AVTB,setpts=PTS-STARTPTS[d];[1:v]settb=AVTB,setpts=PTS-STARTPTS[r];"
                f"[d][r]libvmaf=model=version=vmaf_v0.6.1:log_fmt=json:log_path={log}:n_threads=1",
                "-f", "null", "-",
            ]  # fmt: skip
            decode = [*base, "-map", "0:v", "-map", "1:v", "-f", "null", "-"]
            whole: dict[str, list[float]] = {"libvmaf": [], "decode": [], "startup": []}
            inproc: dict[str, list[float]] = {}
            parts: dict[str, dict[str, list[float]]] = {}
            for _ in range(reps):
                whole["libvmaf"].append(_timed(plain))
                whole["decode"].append(_timed(decode))
                whole["startup"].append(_timed([str(VMAF_TINY), "--help"]))
                for level, mid, _row in lv:
                    cmd = [str(VMAF_TINY), "score", "--fast-level", str(level), "-r", str(ref),
                           "-d", str(dis), "--json"]  # fmt: skip
                    whole.setdefault(mid, []).append(_timed(cmd))
                    t = time.perf_counter()
                    r = score_fast(ref, dis, mid, ffmpeg=ff)
                    inproc.setdefault(mid, []).append(time.perf_counter() - t)
                    p = parts.setdefault(mid, {})
                    for k in ("features", "model", "load"):
                        p.setdefault(k, []).append(r.seconds[k])
                    side = r.fast or {}
                    op = OperatingPoint(side["bands"], side["fraction"], side["subsample"])
                    g = fast_graph(ri, di, op, log_path=log)
                    p.setdefault("decode_sample", []).append(
                        _timed([*base, "-filter_complex", _sample_graph(g), *output_args(op, h)])
                    )
                    p.setdefault("mean", []).append(r.mean)
        lib = _med(whole["libvmaf"])
        size = {
            "size": f"{w}x{h}x{n}",
            "libvmaf_s": round(lib, 4),
            "decode_s": round(_med(whole["decode"]), 4),
            "floor_ratio": round(lib / _med(whole["decode"]), 2),
            "startup_s": round(_med(whole["startup"]), 4),
            "levels": [],
        }
        for level, mid, _row in lv:
            wm, im = _med(whole[mid]), _med(inproc[mid])
            p = parts[mid]
            size["levels"].append(
                {
                    "level": level,
                    "id": mid,
                    "whole_s": round(wm, 4),
                    "whole_ratio": round(lib / wm, 2),
                    "inproc_s": round(im, 4),
                    "inproc_ratio": round(lib / im, 2),
                    "pass_s": round(_med(p["features"]), 4),
                    "decode_sample_s": round(_med(p["decode_sample"]), 4),
                    "model_s": round(_med(p["model"]), 5),
                    "load_s": round(_med(p["load"]), 4),
                    "estimate": round(_med(p["mean"]), 3),
                }
            )
        res["sizes"].append(size)
    res["accuracy"] = [accuracy(level, mid, row) for level, mid, row in lv]
    res["machine"] = f"{platform.machine()} {platform.processor() or ''}".strip()
    res["reps"] = reps
    return res


def _sample_graph(graph: str) -> str:
    """The fast pass's graph without libvmaf: decode, scale and cut both, pass the bands on."""
    parts = []
    for part in graph.split(";"):
        if "libvmaf=" in part:
            i = part.split("[o")[-1].rstrip("]")
            parts += [f"[rs{i}]nullsink", f"[ds{i}]null[o{i}]"]
        else:
            parts.append(part)
    return ";".join(parts)


def accuracy(level: int, mid: str, row: dict[str, Any]) -> dict[str, Any]:
    side = json.loads((load_registry().zoo / row["sidecar"]).read_text())
    loso = (row.get("training") or {}).get("metrics", {}).get("loso", {}).get("summary", {})
    return {
        "level": level,
        "id": mid,
        **{k: side["fast"][k] for k in ("bands", "fraction", "subsample")},
        "clip_plcc": loso.get("pooled_clip_plcc"),
        "clip_rmse": loso.get("pooled_clip_rmse"),
        "frame_plcc": loso.get("pooled_frame_plcc"),
        "frame_rmse": loso.get("pooled_frame_rmse"),
        "fold_clip_rmse_mean": loso.get("clip_rmse_mean"),
    }


def markdown(res: dict[str, Any]) -> str:
    cmd = f"python benchmarks/fast_estimate.py --reps {res['reps']} --write-docs"
    out = [
        f"Written by `{cmd}` ({res['machine']}, single thread, medians of {res['reps']} "
        "alternating runs; testsrc2 y4m reference, x264 veryfast CRF 30 distorted).",
        "",
        "| size | level | model | whole process | x libvmaf | in-process | x libvmaf | "
        "ffmpeg pass | decode+sample | model | estimate |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in res["sizes"]:
        for lv in s["levels"]:
            out.append(
                f"| {s['size']} | {lv['level']} | `{lv['id']}` | {lv['whole_s']:.3f} s | "
                f"**{lv['whole_ratio']:.2f}x** | {lv['inproc_s']:.3f} s | "
                f"{lv['inproc_ratio']:.2f}x | "
                f"{lv['pass_s']:.3f} s | {lv['decode_sample_s']:.3f} s | "
                f"{lv['model_s'] * 1000:.2f} ms | {lv['estimate']:.2f} |"
            )
    out += [
        "",
        "| size | plain libvmaf (whole process) | decode both videos (floor) | floor ratio | "
        "`vmaf-tiny --help` (start-up) |",
        "|---|---|---|---|---|",
    ]
    for s in res["sizes"]:
        out.append(
            f"| {s['size']} | {s['libvmaf_s']:.3f} s | {s['decode_s']:.3f} s | "
            f"{s['floor_ratio']:.2f}x | {s['startup_s']:.3f} s |"
        )
    out += [
        "",
        "Accuracy against the full teacher (vmaf_v0.6.1 on every pixel of every frame), "
        "leave-one-source-out over the natural sources of the `fast` corpus (held-out clips "
        "pooled; clip = mean over the clip's frames):",
        "",
        "| level | model | bands | fraction | every k-th frame | clip PLCC | clip RMSE | "
        "frame PLCC | frame RMSE |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for a in res["accuracy"]:
        out.append(
            f"| {a['level']} | `{a['id']}` | {a['bands']} | {a['fraction']:g} | {a['subsample']} | "
            f"{a['clip_plcc']:.4f} | {a['clip_rmse']:.2f} | {a['frame_plcc']:.4f} | "
            f"{a['frame_rmse']:.2f} |"
        )
    out += ["", f"![speed/accuracy curve](models/{PNG.name})", "", *breakdown(res), "", *goals(res)]
    return "\n".join(out)


def _level(res: dict[str, Any], size: str, level: int) -> dict[str, Any] | None:
    for s in res["sizes"]:
        if s["size"] == size:
            return next((lv for lv in s["levels"] if lv["level"] == level), None)
    return None


def breakdown(res: dict[str, Any]) -> list[str]:
    """Where the time of the default level goes, per size (from the medians above)."""
    out = ["Where the time goes (default level, medians):", ""]
    for s in res["sizes"]:
        lv = _level(res, s["size"], 1)
        if lv is None:
            continue
        vmaf = max(lv["pass_s"] - lv["decode_sample_s"], 0.0)
        rest = max(lv["whole_s"] - lv["pass_s"] - lv["model_s"], 0.0)
        out.append(
            f"* {s['size']}: whole process {lv['whole_s']:.3f} s = ffmpeg pass "
            f"{lv['pass_s']:.3f} s (decoding both videos, scaling and cutting the bands "
            f"{lv['decode_sample_s']:.3f} s, of which decoding alone {s['decode_s']:.3f} s; "
            f"libvmaf on the samples {vmaf:.3f} s) + model {lv['model_s'] * 1000:.2f} ms + "
            f"interpreter start-up, imports, probes and the model load beside the pass "
            f"{rest:.3f} s. Plain libvmaf: {s['libvmaf_s']:.3f} s. The physical floor of any "
            f"estimate that looks at the pixels is decoding both videos: at most "
            f"{s['floor_ratio']:.1f}x here, before any start-up."
        )
    return out


def goals(res: dict[str, Any]) -> list[str]:
    """Issue 12's goals against the measured figures."""
    acc = {a["level"]: a for a in res["accuracy"]}

    def v(ok: bool) -> str:
        return "**met**" if ok else "**not met**"

    out = ["Goals (issue 12):", ""]
    d = acc.get(1)
    if d:
        for s in res["sizes"]:
            lv = _level(res, s["size"], 1)
            if lv:
                out.append(
                    f"* default, {s['size']}: >= 3x as whole processes: {lv['whole_ratio']:.2f}x "
                    f"{v(lv['whole_ratio'] >= 3)}; in-process {lv['inproc_ratio']:.2f}x "
                    f"{v(lv['inproc_ratio'] >= 3)}"
                )
        out.append(
            f"* default, clip PLCC >= 0.995: {d['clip_plcc']:.4f} {v(d['clip_plcc'] >= 0.995)}; "
            f"clip RMSE <= 2.0: {d['clip_rmse']:.2f} {v(d['clip_rmse'] <= 2.0)} (frame: PLCC "
            f"{d['frame_plcc']:.4f}, RMSE {d['frame_rmse']:.2f})"
        )
    t = acc.get(2)
    lv = _level(res, "1920x1080x60", 2)
    if t and lv:
        out.append(
            f"* turbo (level 2), 1920x1080: >= 9x: whole process {lv['whole_ratio']:.2f}x "
            f"{v(lv['whole_ratio'] >= 9)}, in-process {lv['inproc_ratio']:.2f}x "
            f"{v(lv['inproc_ratio'] >= 9)}; clip PLCC >= 0.99: {t['clip_plcc']:.4f} "
            f"{v(t['clip_plcc'] >= 0.99)}; clip RMSE <= 4: {t['clip_rmse']:.2f} "
            f"{v(t['clip_rmse'] <= 4)}"
        )
    return out


def plot(res: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    acc = {a["id"]: a for a in res["accuracy"]}
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for s in res["sizes"]:
        xs = [lv["whole_ratio"] for lv in s["levels"]]
        xi = [lv["inproc_ratio"] for lv in s["levels"]]
        for ax, key in zip(axes, ("clip_rmse", "clip_plcc"), strict=True):
            ys = [acc[lv["id"]][key] for lv in s["levels"]]
            ax.plot(xs, ys, "o-", label=f"{s['size']} whole process")
            ax.plot(xi, ys, "s--", label=f"{s['size']} in-process")
    axes[0].set_ylabel("clip RMSE (LOSO, VMAF points)")
    axes[1].set_ylabel("clip PLCC (LOSO)")
    for ax in axes:
        ax.set_xlabel("speed-up over plain libvmaf (x)")
        ax.grid(alpha=0.3)
    axes[0].axhline(2.0, color="grey", lw=0.8, ls=":")
    axes[1].axhline(0.995, color="grey", lw=0.8, ls=":")
    axes[1].legend(fontsize=7)
    fig.suptitle("vmaf_tiny_fast: speed against accuracy (one point per level)", fontsize=10)
    fig.tight_layout()
    fig.savefig(PNG, dpi=90, metadata={"Software": None})
    plt.close(fig)


def card_block(res: dict[str, Any], mid: str) -> str:
    """The runtime-figures block of one fast card: its speed rows, all levels' curve."""
    cmd = f"python benchmarks/fast_estimate.py --reps {res['reps']} --write-docs"
    lines = [
        f"Measured by `{cmd}` (single thread, medians of {res['reps']} alternating runs; "
        "testsrc2 y4m reference, x264 veryfast CRF 30):",
        "",
        "| clip | whole process | x plain libvmaf | in-process | x libvmaf | decode floor |",
        "|---|---|---|---|---|---|",
    ]
    for s in res["sizes"]:
        for lv in s["levels"]:
            if lv["id"] == mid:
                lines.append(
                    f"| {s['size']} | {lv['whole_s']:.3f} s | {lv['whole_ratio']:.2f}x | "
                    f"{lv['inproc_s']:.3f} s | {lv['inproc_ratio']:.2f}x | "
                    f"{s['floor_ratio']:.2f}x |"
                )
    lines += ["", f"![speed against accuracy, all fast levels]({PNG.name})"]
    return "\n".join(lines)


def write_cards(res: dict[str, Any]) -> None:
    begin, end = "<!-- runtime-figures:begin -->", "<!-- runtime-figures:end -->"
    for a in res["accuracy"]:
        card = ROOT / "docs" / "models" / f"{a['id']}.md"
        if not card.is_file():
            continue
        text = card.read_text()
        if begin not in text or end not in text:
            continue
        head, rest = text.split(begin, 1)
        tail = rest.split(end, 1)[1]
        card.write_text(f"{head}{begin}\n{card_block(res, a['id'])}\n{end}{tail}")


def write_docs(res: dict[str, Any]) -> None:
    doc = ROOT / "docs" / "benchmarks.md"
    text = doc.read_text()
    block = f"{BEGIN}\n{markdown(res)}\n{END}"
    if BEGIN in text:
        text = text.split(BEGIN)[0] + block + text.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n## Fast VMAF estimate (`vmaf-tiny score --fast`)\n\n"
        text += block + "\n"
    doc.write_text(text)
    plot(res)
    write_cards(res)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--write-docs", action="store_true")
    ap.add_argument("--json", type=Path, help="also write the figures as JSON")
    a = ap.parse_args()
    res = measure(a.reps)
    print(markdown(res))
    if a.json:
        a.json.write_text(json.dumps(res, indent=1))
    if a.write_docs:
        write_docs(res)


if __name__ == "__main__":
    main()
