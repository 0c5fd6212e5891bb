"""``vmaf-train fit`` (every recipe kind), ``loso`` and ``baseline-svr``: training and
cross-validation commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from vmaf_tiny.cli.options import ProgressOpt
from vmaf_tiny.console import err_console, out_console, print_json
from vmaf_train.cli._common import (
    ConfigOpt,
    FeaturesOpt,
    JsonOpt,
    SaltOpt,
    SchedulerOpt,
    SerialOpt,
    TestFracOpt,
    ValFracOpt,
    WorkersOpt,
    log,
    metrics_table,
    parse_seeds,
    split_overrides,
)
from vmaf_train.parallel import make_executor
from vmaf_train.recipes import (
    ModelConfig,
    SplitConfig,
    load_fr_recipe,
    load_recipe,
    parse_overrides,
    resolve_model_config,
)

__all__ = ["baseline_svr", "fit", "loso"]

SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="Override a recipe value, e.g. --set train.epochs=2 (repeatable; TOML values).",
    ),
]


def _pixel_summary(title: str, metrics: dict[str, Any]) -> None:
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


def _fr_summary(cfg: ModelConfig, m: dict[str, Any], out: Path, as_json: bool) -> None:
    if as_json:
        print_json(
            {k: v for k, v in m.items() if k != "training"}
            | {"training": {k: v for k, v in m["training"].items() if k != "history"}}
        )
        return
    out_console.print(metrics_table(
        f"{cfg.id} ({m['target']}; raw scores, no logistic mapping; CI = bootstrap over clips)",
        "split/level",
        [("test/frame", m["test"]["frame"]), ("test/clip", m["test"]["clip"]),
         ("val/frame", m["val"]["frame"])]))  # fmt: skip
    tr, ox = m["training"], m["onnx"]
    out_console.print(
        f"epochs {tr['epochs_run']} (best {tr['best_epoch']}), {tr['seconds']:.1f} s, "
        f"{tr['parameters']} parameters; model.onnx {ox['bytes']} bytes, opset "
        f"{ox['opset']}, ORT vs torch max |diff| {ox['ort_vs_torch_max_abs_diff']:.2g}"
    )
    out_console.print(f"run: {out}")


def fit(
    config: Annotated[
        str, typer.Option("--config", "-c", help="Model recipe: configs/models/ID.toml or ID.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run directory to create.")],
    features: Annotated[
        Path | None, typer.Option("--features", "-f", help="features.parquet (FR recipes).")
    ] = None,
    corpus: Annotated[
        Path | None, typer.Option("--corpus", help="A built corpus directory (pixel recipes).")
    ] = None,
    set_: SetOpt = None,
    cache: Annotated[
        Path | None,
        typer.Option("--cache", help="Per-clip sample cache of pixel recipes (default RUN/cache)."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing run dir.")] = False,
    no_plots: Annotated[bool, typer.Option("--no-plots", help="Skip the PNG plots.")] = False,
    progress: ProgressOpt = True,
    as_json: JsonOpt = False,
) -> None:
    """Train any recipe (dispatch on its kind); export, verify and evaluate it into RUN.

    FR recipes (kind fr) train on --features; pixel recipes (nr, filter, saliency) on --corpus.
    """
    from vmaf_train.fit import fit_recipe
    from vmaf_train.fit.fast import fit_fast_command, is_fast_recipe
    from vmaf_train.fit.tasks import check_fit

    if is_fast_recipe(resolve_model_config(config)):  # kind fast: vmaf_train.fit.fast
        fit_fast_command(resolve_model_config(config), features, out, force=force, log=log,
                         as_json=as_json, overrides=set_)  # fmt: skip
        return
    cfg = load_recipe(config, parse_overrides(set_))  # a bad recipe fails before any work
    check_fit(cfg, out, features=features, corpus=corpus, force=force)  # so does a bad -o
    log(f"fit {cfg.id} ({cfg.kind}): {features or corpus} -> {out}")
    metrics = fit_recipe(cfg, out, features=features, corpus=corpus, force=force,
                         plots=not no_plots, log=log, cache=cache, progress=progress)  # fmt: skip
    if isinstance(cfg, ModelConfig):
        _fr_summary(cfg, metrics, out, as_json)
        return
    err_console.print(f"run written to {out}", markup=False)
    if as_json:
        print_json(metrics)
    else:
        _pixel_summary(f"{cfg.id} ({cfg.kind})", metrics)


def loso(
    config: ConfigOpt,
    features: FeaturesOpt,
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for loso.json etc.")],
    seeds: Annotated[str, typer.Option("--seeds", help="Comma-separated seeds.")] = "0",
    kfold: Annotated[
        int | None, typer.Option("--kfold", min=2, help="K folds grouped by source instead.")
    ] = None,
    set_: SetOpt = None,
    serial: SerialOpt = False,
    workers: WorkersOpt = None,
    scheduler: SchedulerOpt = None,
    no_plots: Annotated[bool, typer.Option("--no-plots", help="Skip the PNG plot.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Leave-one-source-out over natural sources (or --kfold K), per-fold table, mean ± std."""
    from vmaf_tiny.errors import BadInputError
    from vmaf_tiny.fsutil import check_folder
    from vmaf_train.evaluate.loso import run_cv

    cfg = load_fr_recipe(config, parse_overrides(set_))
    seed_list = parse_seeds(seeds)
    check_folder(out, "--out")  # before the folds train, not after
    if not Path(features).is_file():
        raise BadInputError(f"--features {features}: no such file")
    with make_executor(serial=serial, workers=workers, scheduler=scheduler) as ex:
        log(f"loso {cfg.id}: seeds {seed_list} on {ex.describe()}")
        res = run_cv(cfg, features, out, seeds=seed_list, kfold=kfold, executor=ex,
                     plots=not no_plots)  # fmt: skip
    if as_json:
        print_json(res)
        return
    t = Table(title=f"{cfg.id}: {res['protocol']}")
    for col in ("fold", "seed", "n_test", "PLCC", "SROCC", "RMSE", "clip RMSE"):
        t.add_column(col, no_wrap=True)
    f = lambda v, nd=4: "-" if v is None else f"{v:.{nd}f}"  # noqa: E731
    for r in res["rows"]:
        if "error" in r:
            t.add_row(r["fold"], str(r["seed"]), "-", f"error: {r['error']}", "", "", "")
            continue
        t.add_row(r["fold"], str(r["seed"]), str(r["n_test"]), f(r["plcc"]), f(r["srocc"]),
                  f(r["rmse"], 3), f(r["clip_rmse"], 3))  # fmt: skip
    out_console.print(t)
    s = res["summary"]
    sd = lambda k, nd=4: "" if s.get(f"{k}_std") is None else f" ± {s[f'{k}_std']:.{nd}f}"  # noqa: E731
    out_console.print(
        f"mean over {s['n_folds']} folds: PLCC {f(s['plcc_mean'])}{sd('plcc')}, SROCC "
        f"{f(s['srocc_mean'])}{sd('srocc')}, RMSE {f(s['rmse_mean'], 3)}{sd('rmse', 3)} "
        f"(std ddof=1; {res['failures']} failed)"
    )
    if res["failures"]:
        raise typer.Exit(1)


def baseline_svr(
    features: FeaturesOpt,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")],
    max_rows: Annotated[
        int, typer.Option("--max-rows", min=10, help="Train on at most this many rows.")
    ] = 4000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the row sample.")] = 0,
    upstream_model: Annotated[
        Path | None,
        typer.Option("--upstream-svm", help="Upstream vmaf_v0.6.1.json: also time that SVM."),
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Take the split from this recipe.")
    ] = None,
    val_frac: ValFracOpt = None,
    test_frac: TestFracOpt = None,
    salt: SaltOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Retrain VMAF's own SVR recipe (NuSVR nu=0.9, C=4, gamma=0.04) on the same train split."""
    from vmaf_train.evaluate.baseline import svr_baseline_run

    split = load_fr_recipe(config).split if config else SplitConfig()
    over = {k: v for k, v in split_overrides(val_frac, test_frac, salt).items() if v is not None}
    split = SplitConfig(**{**split.__dict__, **over})
    m = svr_baseline_run(features, out, split=split, max_rows=max_rows, seed=seed,
                         upstream_model=upstream_model)  # fmt: skip
    if as_json:
        print_json(m)
        return
    out_console.print(metrics_table(
        f"SVR baseline, {m['n_support']} SVs from {m['n_train']} train rows (raw scores)",
        "split/level",
        [("test/frame", m["test"]["frame"]), ("test/clip", m["test"]["clip"])]))  # fmt: skip
    lat = m["latency"]
    line = (f"SVR latency {lat['us_per_row_b1']:.1f} µs/row (batch 1), "
            f"{lat['us_per_row_b1024']:.2f} µs/row (batch 1024)")  # fmt: skip
    if "upstream_svm" in m:
        u = m["upstream_svm"]
        line += (f"; upstream SVM {u['latency']['us_per_row_b1024']:.2f} µs/row (batch 1024), "
                 f"max |upstream - teacher column| {u['max_abs_diff_vs_teacher']:.2g}")  # fmt: skip
    out_console.print(line)
