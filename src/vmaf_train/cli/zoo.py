"""``vmaf-train zoo``: train, evaluate, cross-validate, quantise, register, report the FR zoo."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vmaf_tiny.console import out_console, print_json
from vmaf_tiny.registry import shipped_zoo
from vmaf_train.cli._common import (
    FeaturesOpt,
    JsonOpt,
    SaltOpt,
    SchedulerOpt,
    SerialOpt,
    TestFracOpt,
    ValFracOpt,
    WorkersOpt,
    log,
    parse_seeds,
    split_overrides,
)
from vmaf_train.parallel import make_executor

__all__ = ["zoo"]


def zoo(
    features: FeaturesOpt,
    runs: Annotated[Path, typer.Option("--runs", help="Directory for run dirs.")] = Path("runs"),
    zoo_dir: Annotated[Path, typer.Option("--zoo", help="Zoo to register into.")] = shipped_zoo(),
    docs: Annotated[Path, typer.Option("--docs", help="Docs directory.")] = Path("docs"),
    configs: Annotated[Path, typer.Option("--configs", help="Recipe directory.")] = Path(
        "configs/models"
    ),
    ids: Annotated[
        str | None, typer.Option("--ids", help="Comma-separated ids (default: every FR model).")
    ] = None,
    seeds: Annotated[str, typer.Option("--seeds", help="LOSO seeds.")] = "0",
    no_loso: Annotated[bool, typer.Option("--no-loso", help="Skip LOSO.")] = False,
    upstream_model: Annotated[
        Path | None,
        typer.Option("--upstream-svm", help="Upstream vmaf_v0.6.1.json (SVM latency row)."),
    ] = None,
    fixture_dir: Annotated[
        Path | None,
        typer.Option("--fixture-dir", help="Rebuild the rounding-guard fixture here."),
    ] = None,
    epochs: Annotated[int | None, typer.Option("--epochs", min=1, help="Override.")] = None,
    val_frac: ValFracOpt = None,
    test_frac: TestFracOpt = None,
    salt: SaltOpt = None,
    serial: SerialOpt = False,
    workers: WorkersOpt = None,
    scheduler: SchedulerOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Redo finished steps.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """The whole zoo from one features table (resumable: finished steps are skipped)."""
    from vmaf_train.ship.zoo import ZOO_IDS, train_zoo

    id_list = tuple(i.strip() for i in ids.split(",") if i.strip()) if ids else ZOO_IDS
    over = {k: v for k, v in split_overrides(val_frac, test_frac, salt).items() if v is not None}
    with make_executor(serial=serial, workers=workers, scheduler=scheduler) as ex:
        log(f"zoo: {len(id_list)} models, LOSO on {ex.describe()}")
        summary = train_zoo(
            features, runs, zoo_dir, docs, configs=configs, ids=id_list,
            seeds=parse_seeds(seeds), executor=ex, upstream_model=upstream_model,
            fixture_dir=fixture_dir, loso=not no_loso, split_overrides=over or None,
            epochs=epochs, force=force, log=log,
        )  # fmt: skip
    if as_json:
        print_json(summary)
        return
    out_console.print("zoo (raw scores, no logistic mapping; LOSO mean ± std over folds)")
    for mid, s in summary.items():
        lo = s["loso"] or {}
        f = lambda v, nd=4: "-" if v is None else f"{v:.{nd}f}"  # noqa: E731
        sd = f" ± {lo['rmse_std']:.3f}" if lo.get("rmse_std") is not None else ""
        out_console.print(
            f"{mid}: test PLCC {f(s['test'].get('plcc'))} RMSE {f(s['test'].get('rmse'), 3)} | "
            f"LOSO PLCC {f(lo.get('plcc_mean'))} RMSE {f(lo.get('rmse_mean'), 3)}{sd} | "
            f"{s['bytes']} B {s['quant_mode']} | fit {f(s['fit_seconds'], 1)} s",
            highlight=False,
        )
