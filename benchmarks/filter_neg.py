"""Is a filter's VMAF gain enhancement? VMAF, VMAF NEG and PSNR-Y deltas on held-out clips.

VMAF v0.6.1 rewards contrast and sharpness added beyond the reference ("enhancement gain");
libvmaf's ``vmaf_v0.6.1neg`` caps that gain. A filter whose VMAF gain survives in VMAF NEG
restores information rather than boosting it. For each filter model and each held-out clip of
the recipe's test sources in a quality band (the unfiltered clip's mean VMAF), the clip is
filtered through the runtime path with the filter's quality gate (scored by ``--gate-model``,
e.g. an ``nr_stream_v2`` refit that never saw the test families) and scored against its
reference by libvmaf (vmaf_v0.6.1 and vmaf_v0.6.1neg in one pass, PSNR-Y), beside the unfiltered
clip. Means over clips, and per source (``per_source`` in the printed JSON: which content a
filter helps or harms); ``--write-docs`` refreshes the ``filter-neg`` block of
docs/benchmarks.md.

    python benchmarks/filter_neg.py --corpus C --gate-model GATE/model.onnx \\
        -m learned_filter_v2 -m learned_filter_v3 --write-docs

``--split all`` takes every clip of a corpus that no filter trained on instead (the synthetic
held-out graphs of ``configs/corpus/filter_synthetic.toml``, gated by the shipped
``nr_stream_v2`` as users run it); ``--block filter-synthetic`` writes that table:

    python benchmarks/filter_neg.py --corpus S --split all --gate-model nr_stream_v2 \\
        -m learned_filter_v3 -m learned_filter_v9 --block filter-synthetic --write-docs
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from vmaf_tiny.features import extract_features
from vmaf_tiny.ffmpeg import resolve_ffmpeg
from vmaf_tiny.filter_gate import filter_with_model
from vmaf_tiny.fsutil import replace_block
from vmaf_train.data.frames import PixelCorpus
from vmaf_train.fit.filter import eligible_clips
from vmaf_train.fit.filter_eval import quality_band
from vmaf_train.recipes import load_recipe

REPO = Path(__file__).resolve().parents[1]
NEG = "vmaf_v0.6.1neg"
DELTAS = ("d_psnr_y", "d_vmaf", "d_vmaf_neg")


def _scores(ref: Path, dis: Path, ff: Any) -> dict[str, float]:
    r = extract_features(ref, dis, extras=("psnr_y",), teachers=(NEG,), truncate=True, ffmpeg=ff)
    return {
        "vmaf": float(np.mean(r.vmaf)),
        "vmaf_neg": float(np.mean(r.columns["vmaf_neg"])),
        "psnr_y": float(np.mean(r.columns["psnr_y"])),
    }


def _means(
    rows: dict[str, list[dict[str, Any]]],
    bands: list[str],
    keep: Callable[[dict[str, Any], str], bool],
) -> list[dict[str, Any]]:
    """Per model and band, the mean deltas over the clips ``keep(row, band)`` selects."""
    table = []
    for m, rs in rows.items():
        for band in bands:
            sel = [r for r in rs if keep(r, band)]
            if sel:
                table.append(
                    {"model": m, "band": band, "clips": len(sel)}
                    | {
                        k: statistics.fmean(r[k] for r in sel)
                        for k in ("d_psnr_y", "d_vmaf", "d_vmaf_neg")
                    }
                )
    return table


def _in_band_of(source: str) -> Callable[[dict[str, Any], str], bool]:
    """A ``keep`` for :func:`_means`: the clips of one source in the band."""
    return lambda r, band: r["band"] == band and r["source"] == source


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, required=True, help="the built filter corpus")
    ap.add_argument("--gate-model", required=True, help="NR model the gate scores with")
    ap.add_argument("-m", "--model", action="append", required=True, help="filter id or path")
    ap.add_argument("--recipe", default="configs/models/learned_filter_v2.toml")
    ap.add_argument("--bands", default="vmaf<70,70<=vmaf<85")
    ap.add_argument("--split", choices=("test", "all"), default="test")
    ap.add_argument("--block", default="filter-neg", help="docs/benchmarks.md block to write")
    ap.add_argument("--write-docs", action="store_true")
    args = ap.parse_args()
    ff = resolve_ffmpeg()
    cfg = load_recipe(REPO / args.recipe, kind="filter")
    corpus = PixelCorpus.open(args.corpus)
    bands = args.bands.split(",")
    clips = [
        c
        for c in eligible_clips(
            corpus.clips if args.split == "all" else corpus.split(**cfg.split)["test"], cfg
        )
        if quality_band(float(np.mean(c.vmaf))) in bands
    ]
    rows: dict[str, list[dict[str, Any]]] = {m: [] for m in args.model}
    with tempfile.TemporaryDirectory(prefix="filter-neg-") as tmp:
        for c in clips:
            base = _scores(c.reference, c.clip, ff)
            for m in args.model:
                out = Path(tmp) / "f.y4m"
                filter_with_model(
                    c.clip, out, m, gate_model=args.gate_model, backend="cpu", ffmpeg=ff
                )
                f = _scores(c.reference, out, ff)
                out.unlink()
                band = quality_band(base["vmaf"])
                rows[m].append(
                    {"key": c.key, "source": c.source_id, "band": band}
                    | {f"d_{k}": f[k] - base[k] for k in base}
                )
    table = _means(rows, bands, lambda r, band: r["band"] == band)
    source_ids = sorted({c.source_id for c in clips})
    per_source = [  # the same means per source: which content a filter helps or harms
        t | {"source": s} for s in source_ids for t in _means(rows, bands, _in_band_of(s))
    ]
    print(json.dumps({"rows": table, "per_source": per_source, "sources": source_ids}, indent=2))
    if args.write_docs:
        sources = ", ".join(source_ids)
        if args.split == "all":
            cmd = f"--corpus S --split all --gate-model {args.gate_model}"
            what = f"every clip of sources no filter trained on: {sources}; gate as shipped"
            cmd += f" --block {args.block}" if args.block != "filter-neg" else ""
        else:
            cmd = "--corpus C --gate-model GATE/model.onnx"
            what = f"held-out test sources {sources}; gate scored by an NR model fitted without"
            what += " them"
        lines = [
            f"Command: `python benchmarks/filter_neg.py {cmd} "
            f"{' '.join('-m ' + m for m in args.model)} --write-docs` ({what}; means over "
            "clips).",
            "",
            "| model | band | clips | PSNR-Y delta dB | VMAF delta | VMAF NEG delta |",
            "|---|---|---|---|---|---|",
        ]
        for r in table:
            lines.append(
                f"| {r['model']} | {r['band']} | {r['clips']} | {r['d_psnr_y']:+.3f} | "
                f"{r['d_vmaf']:+.3f} | {r['d_vmaf_neg']:+.3f} |"
            )
        replace_block(REPO / "docs" / "benchmarks.md", args.block, "\n".join(lines))


if __name__ == "__main__":
    main()
