"""``vmaf-train corpus``: build a named corpus and show its summary."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from vmaf_tiny.cli._shell import sigterm_cleans_up
from vmaf_tiny.cli.options import (
    FFmpegOpt,
    JsonOpt,
    ProgressOpt,
    SchedulerOpt,
    SerialOpt,
    WorkersOpt,
)
from vmaf_tiny.console import err_console, out_console, print_json
from vmaf_tiny.ffmpeg import resolve_ffmpeg
from vmaf_train.parallel import make_executor

app = typer.Typer(help="Build corpora of real encodes scored by libvmaf.", no_args_is_help=True)


def render_summary(summary: dict[str, Any], title: str) -> None:
    """Print a corpus summary as rich tables on stdout."""
    t = Table(title=title, show_header=False)
    t.add_row("sources", f"{summary['sources']} {summary.get('sources_by_kind', {})}")
    t.add_row("clips", str(summary["clips"]))
    t.add_row("frames", str(summary["frames"]))
    if not summary["clips"]:  # every item failed: nothing more to show
        out_console.print(t)
        return
    for name in ("clips_by_codec", "clips_by_distortion", "clips_by_size"):
        t.add_row(name.replace("_", " "), ", ".join(f"{k}: {v}" for k, v in summary[name].items()))
    out_console.print(t)
    d = Table(title="frame-level teacher VMAF")
    d.add_column("decile")
    d.add_column("vmaf", justify="right")
    for i, v in enumerate(summary["vmaf_deciles"]):
        d.add_row(f"p{i * 10}", f"{v:.2f}")
    out_console.print(d)
    h = Table(title="VMAF histogram (frames)")
    h.add_column("bin")
    h.add_column("frames", justify="right")
    h.add_column("")
    top = max(summary["vmaf_histogram"].values()) or 1
    for k, v in summary["vmaf_histogram"].items():
        h.add_row(k, str(v), "#" * round(30 * v / top))
    out_console.print(h)


@app.command("build")
@sigterm_cleans_up  # serial builds remove their temp files; workers' are swept on resume
def build(
    config: Annotated[
        str, typer.Option("--config", "-c", help="configs/corpus/NAME.toml or NAME.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")],
    cache: Annotated[
        Path | None, typer.Option(help="Work cache (default OUT/cache); reused on resume.")
    ] = None,
    serial: SerialOpt = False,
    workers: WorkersOpt = None,
    scheduler: SchedulerOpt = None,
    ffmpeg: FFmpegOpt = None,
    progress: ProgressOpt = True,
    json_out: JsonOpt = False,
) -> None:
    """Build (or resume) a corpus: OUT/features.parquet, OUT/manifest.json, failures.json."""
    from vmaf_tiny.fsutil import check_folder
    from vmaf_train.data.corpus import build_corpus, corpus_lock
    from vmaf_train.data.corpus_config import load_corpus_config, resolve_config_path

    cfg = load_corpus_config(resolve_config_path(config))
    check_folder(out, "--out")
    if cache is not None:
        check_folder(cache, "--cache")
    ff = resolve_ffmpeg(ffmpeg)
    executor = make_executor(serial=serial, workers=workers, scheduler=scheduler)  # checks flags
    # The lock first: a second build into OUT says so in one line, before any output or workers.
    with corpus_lock(cfg, out) as lock, executor as ex:
        err_console.print(
            f"corpus {cfg.name}: {len(cfg.sources)} sources x {len(cfg.distortions)} distortions "
            f"on {ex.describe()}"
        )
        res = build_corpus(
            cfg, out, executor=ex, cache=cache, ffmpeg=ff, progress=progress, held_lock=lock
        )
    summary = res.manifest["summary"]
    if json_out:
        print_json(
            {
                "corpus": cfg.name,
                "out": str(out),
                "seconds": round(res.seconds, 2),
                "manifest_sha256": res.manifest["manifest_sha256"],
                "summary": summary,
                "n_failed": len(res.failures),
                "failures": res.failures,
            }
        )
    else:
        render_summary(summary, f"corpus {cfg.name} ({out})")
        out_console.print(
            f"built in {res.seconds:.1f} s; manifest_sha256 {res.manifest['manifest_sha256']}"
        )
    if res.failures:
        err_console.print(
            f"error: {len(res.failures)} of {res.n_items} items failed; "
            f"see {out / 'failures.json'}",
            markup=False,
        )
        raise typer.Exit(1)


@app.command("summary")
def summary(
    corpus: Annotated[Path, typer.Argument(help="A built corpus directory (or its manifest).")],
    json_out: JsonOpt = False,
) -> None:
    """Print the summary of a built corpus from its manifest."""
    from vmaf_train.data.manifest import read_manifest

    man = read_manifest(corpus / "manifest.json" if corpus.is_dir() else corpus)
    if json_out:
        print_json(man["summary"])
    else:
        render_summary(man["summary"], f"corpus {man['corpus']}")
