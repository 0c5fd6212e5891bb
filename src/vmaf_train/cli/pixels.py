"""``vmaf-train pixels``: train, ship and document the pixel models.

fit-nr / fit-filter / fit-saliency train a recipe on a built corpus into a run directory;
register ships a run into the zoo; make-smoke builds and ships the smoke checkpoints; report
regenerates the pixel models' cards.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from vmaf_tiny.console import JsonOpt, ProgressOpt, err_console, out_console, print_json

app = typer.Typer(
    help="Pixel models: no-reference metric, learned filter, saliency student, smoke checkpoints.",
    no_args_is_help=True,
)

_REPO = Path(__file__).resolve().parents[3]
CorpusOpt = Annotated[
    Path, typer.Option("--corpus", help="A built corpus directory (manifest.json, features).")
]
OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Run directory to write.")]
CacheOpt = Annotated[
    Path | None, typer.Option("--cache", help="Per-clip sample cache (default RUN/cache).")
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a recipe value, e.g. --set train.epochs=2 (repeatable)."),
]
ZooOpt = Annotated[Path, typer.Option("--zoo", help="Zoo directory (registry.json).")]


def _summary(title: str, metrics: dict[str, Any]) -> None:
    t = Table(title=title)
    t.add_column("split / level")
    t.add_column("figures")
    for split in ("test", "val"):
        for level, m in (metrics.get(split) or {}).items():
            figs = ", ".join(
                f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                for k, v in m.items()
                if isinstance(v, int | float)
            )
            t.add_row(f"{split} {level}", figs)
    lat = metrics.get("latency") or {}
    t.add_row("latency", ", ".join(f"{k} {v:.1f}" for k, v in lat.items()))
    tr = metrics.get("training", {})
    t.add_row(
        "training",
        f"{tr.get('parameters')} params, {tr.get('epochs')} epochs, best {tr.get('best_epoch')}, "
        f"{tr.get('seconds', 0):.1f} s",
    )
    out_console.print(t)


def _fit(
    kind: str,
    config: str,
    corpus: Path,
    out: Path,
    cache: Path | None,
    set_: list[str] | None,
    progress: bool,
    json_out: bool,
) -> None:
    from vmaf_train.pixels import filter as pf
    from vmaf_train.pixels import nr as pn
    from vmaf_train.pixels import saliency as ps
    from vmaf_train.pixels.config import parse_overrides
    from vmaf_train.pixels.frames import PixelCorpus

    loader, fitter = {
        "nr": (pn.load_nr_config, pn.fit_nr),
        "filter": (pf.load_filter_config, pf.fit_filter),
        "saliency": (ps.load_saliency_config, ps.fit_saliency),
    }[kind]
    cfg = loader(config, parse_overrides(set_))  # a bad recipe fails before any work
    metrics = fitter(cfg, PixelCorpus.open(corpus), out, cache=cache, progress=progress)
    err_console.print(f"run written to {out}", markup=False)
    if json_out:
        print_json(metrics)
    else:
        _summary(f"{cfg.id} ({kind})", metrics)


@app.command("fit-nr")
def fit_nr_cmd(
    corpus: CorpusOpt,
    out: OutOpt,
    config: Annotated[str, typer.Option("--config", "-c", help="Recipe NAME or .toml.")] = (
        "nr_metric_v1"
    ),
    cache: CacheOpt = None,
    set_: SetOpt = None,
    progress: ProgressOpt = True,
    json_out: JsonOpt = False,
) -> None:
    """Train, export, quantise and evaluate the no-reference metric."""
    _fit("nr", config, corpus, out, cache, set_, progress, json_out)


@app.command("fit-filter")
def fit_filter_cmd(
    corpus: CorpusOpt,
    out: OutOpt,
    config: Annotated[str, typer.Option("--config", "-c", help="Recipe NAME or .toml.")] = (
        "learned_filter_v1"
    ),
    cache: CacheOpt = None,
    set_: SetOpt = None,
    progress: ProgressOpt = True,
    json_out: JsonOpt = False,
) -> None:
    """Train, export and evaluate the learned filter (PSNR-Y / VMAF per codec)."""
    _fit("filter", config, corpus, out, cache, set_, progress, json_out)


@app.command("fit-saliency")
def fit_saliency_cmd(
    corpus: CorpusOpt,
    out: OutOpt,
    config: Annotated[str, typer.Option("--config", "-c", help="Recipe NAME or .toml.")] = (
        "saliency_student_v1"
    ),
    cache: CacheOpt = None,
    set_: SetOpt = None,
    progress: ProgressOpt = True,
    json_out: JsonOpt = False,
) -> None:
    """Distil, export and evaluate the saliency student."""
    _fit("saliency", config, corpus, out, cache, set_, progress, json_out)


def _rows_out(rows: list[dict[str, Any]], json_out: bool) -> None:
    if json_out:
        print_json(rows)
        return
    t = Table(title="registered")
    for c in ("id", "kind", "class", "bytes", "quant_mode", "smoke"):
        t.add_column(c)
    for r in rows:
        t.add_row(
            r["id"],
            r["kind"],
            r["class"],
            f"{r['bytes']:,}",
            r["quant_mode"],
            str(r["smoke"]).lower(),
        )
    out_console.print(t)
