"""``vmaf-train demo``: the main job on a built-in default, end to end.

1. build the demo corpus (real encodes by all five codecs, scored by libvmaf);
2. evaluate the shipped ``vmaf_tiny_v2`` and the upstream SVM on it (none of its content is in
   the models' training data, so every row is held out);
3. score one demo pair end to end (``vmaf-tiny score --with-svm``): tiny and SVM side by side;
4. score the same distorted clip without its reference (``nr_metric_v2`` from pixels,
   ``nr_stream_v2`` from the encoded stream);
5. filter it with the default learned filter (``vmaf-tiny filter``, gated by its NR model) and
   score the filtered clip against the reference (PSNR-Y and VMAF before and after).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from vmaf_tiny.cli.options import DEFAULT_FILTER, FFmpegOpt, ProgressOpt
from vmaf_tiny.console import err_console, out_console
from vmaf_tiny.ffmpeg import resolve_ffmpeg
from vmaf_train.parallel import make_executor

DEMO_MODEL = "vmaf_tiny_v2"
DEMO_NR_MODEL = "nr_metric_v2"
DEMO_STREAM_MODEL = "nr_stream_v2"
DEMO_PAIR = "demo_bikes_fence__x264-veryfast-crf38"
STEPS = 5


def _step(i: int, text: str) -> None:
    err_console.print(f"[bold]{i}/{STEPS}[/] {text}")


def _pair(corpus: Path, manifest: dict[str, Any], key: str) -> tuple[Path, Path]:
    clip = next(c for c in manifest["clips"] if c["key"] == key)
    ref = next(r for r in manifest["references"] if r["source_id"] == clip["source_id"])
    return corpus / ref["file"], corpus / clip["file"]


def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")] = Path("demo-out"),
    serial: Annotated[bool, typer.Option("--serial", help="No Dask cluster.")] = False,
    ffmpeg: FFmpegOpt = None,
    progress: ProgressOpt = True,
) -> None:
    """Build the demo corpus, evaluate the shipped tiny model against the SVM, score a pair."""
    import vmaf_tiny
    from vmaf_train.cli.corpus import render_summary
    from vmaf_train.cli.evaluate import render_eval
    from vmaf_train.data.corpus import build_corpus
    from vmaf_train.data.corpus_config import load_corpus_config, resolve_config_path
    from vmaf_train.evaluate.model import evaluate_model

    ff = resolve_ffmpeg(ffmpeg)
    cfg = load_corpus_config(resolve_config_path("demo"))
    corpus = out / "corpus"
    _step(1, f"building the demo corpus into {corpus}")
    with make_executor(serial=serial) as ex:
        res = build_corpus(cfg, corpus, executor=ex, ffmpeg=ff, progress=progress)
    render_summary(res.manifest["summary"], f"demo corpus ({res.seconds:.1f} s)")
    if res.failures:
        err_console.print(f"error: {len(res.failures)} demo items failed", markup=False)
        raise typer.Exit(1)

    _step(2, f"evaluating {DEMO_MODEL} and the vmaf_v0.6.1 SVM on every demo frame")
    ev = evaluate_model(DEMO_MODEL, corpus / "features.parquet", split="all", baseline=True)
    render_eval(ev)

    ref, dis = _pair(corpus, res.manifest, DEMO_PAIR)
    _step(3, f"vmaf-tiny score --reference {ref} --distorted {dis} --model {DEMO_MODEL} "
          "--with-svm")  # fmt: skip
    fr = vmaf_tiny.score(ref, dis, model=DEMO_MODEL, with_svm=True, ffmpeg=ff)
    _step(4, f"vmaf-tiny score --no-reference --distorted {dis} --model {DEMO_NR_MODEL} "
          f"(and {DEMO_STREAM_MODEL})")  # fmt: skip
    nr = vmaf_tiny.score_nr(dis, DEMO_NR_MODEL, ffmpeg=ff)
    nrs = vmaf_tiny.score_nr(dis, DEMO_STREAM_MODEL, ffmpeg=ff)

    t = Table(title=f"{DEMO_PAIR}: {fr.n_frames} frames, pooled scores")
    for col in ("scorer", "kind", "mean", "harmonic mean", "min", "p5"):
        t.add_column(col, justify="right" if col not in ("scorer", "kind") else "left")
    rows = [
        (f"{DEMO_MODEL} (tiny, {fr.provider})", "full reference", fr.pooled),
        ("vmaf_v0.6.1 (libvmaf SVM, same pass)", "full reference", fr.svm_pooled or {}),
        (f"{DEMO_NR_MODEL} (tiny, no reference)", "no reference", nr.pooled),
        (f"{DEMO_STREAM_MODEL} (tiny, encoded stream)", "no reference", nrs.pooled),
    ]
    for name, kind, p in rows:
        t.add_row(name, kind, *(f"{p[k]:.2f}" for k in ("mean", "harmonic_mean", "min", "p5")))
    out_console.print(t)
    _filter_step(ref, dis, out, ff)
    out_console.print(f"features: {corpus / 'features.parquet'}")


def _filter_step(ref: Path, dis: Path, out: Path, ff: Any) -> None:
    """Step 5: the default filter on the demo clip, PSNR-Y and VMAF before and after."""
    import numpy as np

    from vmaf_tiny.features import extract_features
    from vmaf_tiny.filter_gate import filter_with_model

    filtered = out / "filtered.y4m"
    _step(5, f"vmaf-tiny filter {dis} -o {filtered} (model {DEFAULT_FILTER}), then libvmaf "
          "against the reference")  # fmt: skip
    res = filter_with_model(dis, filtered, DEFAULT_FILTER, ffmpeg=ff)
    before = extract_features(ref, dis, extras=("psnr_y",), truncate=True, ffmpeg=ff)
    after = extract_features(ref, filtered, extras=("psnr_y",), truncate=True, ffmpeg=ff)
    g = res.gate or {}
    gate = (
        f"gate {g['model']}: mean NR score {g['nr_score_mean']:.1f}, mean strength "
        f"{g['strength_mean']:.2f}"
        if "strength_mean" in g
        else "no gate"
    )
    t = Table(title=f"{DEMO_PAIR}: {DEFAULT_FILTER} ({gate})")
    for col in ("clip", "PSNR-Y (dB)", "VMAF"):
        t.add_column(col, justify="left" if col == "clip" else "right")
    for name, f in (("as decoded", before), ("filtered", after)):
        t.add_row(
            name, f"{float(np.mean(f.columns['psnr_y'])):.3f}", f"{float(np.mean(f.vmaf)):.2f}"
        )
    out_console.print(t)
