"""``vmaf-train register``, ``make-smoke``, ``report`` and ``guard-fixture``: the zoo and its
generated docs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vmaf_tiny.console import out_console, print_json
from vmaf_train.cli._common import (
    JsonOpt,
    SaltOpt,
    TestFracOpt,
    ValFracOpt,
    ZooOpt,
    split_overrides,
)
from vmaf_train.recipes import SplitConfig

__all__ = ["guard_fixture", "make_smoke", "register", "report"]

DocsOpt = Annotated[Path, typer.Option("--docs", help="Docs directory (cards in docs/models).")]


def _zoo(zoo: Path | None) -> Path:
    from vmaf_train.evaluate.predict import default_zoo

    return zoo if zoo is not None else default_zoo()


def register(
    run: Annotated[
        Path, typer.Argument(help="A finished `vmaf-train fit` run directory (any kind).")
    ],
    zoo: ZooOpt = None,
    loso: Annotated[
        Path | None, typer.Option("--loso", help="loso.json or its dir (default RUN/loso).")
    ] = None,
    baseline: Annotated[
        Path | None, typer.Option("--baseline", help="A `baseline-svr` output directory.")
    ] = None,
    smoke: Annotated[
        bool, typer.Option("--smoke", help="Mark as a smoke checkpoint (no quality claim).")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Replace a model of the same id already in the zoo.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Check (size class, operator allowlist) and register a run of any kind (FR, NR, filter,
    saliency): files, sidecar, registry row. An id already in the zoo needs --force."""
    from vmaf_train.ship.register import register as register_run

    row = register_run(run, _zoo(zoo), loso=loso, baseline=baseline, smoke=smoke, replace=force)
    if as_json:
        print_json(row)
        return
    out_console.print(
        f"registered {row['id']} ({row['class']}, {row['bytes']} bytes, {row['quant_mode']}) "
        f"into {_zoo(zoo)}"
    )


def make_smoke(
    zoo: ZooOpt = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the placeholder weights.")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Build and ship the smoke checkpoints (dists_sq_placeholder_v0, mobilesal_placeholder_v0)."""
    from vmaf_train.ship.register import register_smoke

    rows = register_smoke(_zoo(zoo), seed=seed)
    if as_json:
        print_json(rows)
        return
    for row in rows:
        out_console.print(
            f"registered {row['id']} ({row['class']}, {row['bytes']} bytes, smoke) into {_zoo(zoo)}"
        )


def report(
    zoo: ZooOpt = None,
    docs: DocsOpt = Path("docs"),
    as_json: JsonOpt = False,
) -> None:
    """Regenerate every model card (all kinds), the benchmarks snapshot table and the schema doc
    block."""
    from vmaf_train.ship.cards import write_reports

    res = write_reports(_zoo(zoo), docs)
    if as_json:
        print_json(res)
        return
    for p in res["written"]:
        out_console.print(f"wrote {p}")
    out_console.print(f"{len(res['unchanged'])} file(s) unchanged")


def guard_fixture(
    zoo: ZooOpt = None,
    out_dir: Annotated[
        Path, typer.Option("--out", "-o", help="Where the fixture and expected metrics live.")
    ] = Path("tests/support/fixtures"),
    features: Annotated[
        Path | None,
        typer.Option("--features", "-f", help="Rebuild the fixture from this table's test split."),
    ] = None,
    max_clips: Annotated[int, typer.Option("--max-clips", min=1, help="Clips to keep.")] = 60,
    val_frac: ValFracOpt = None,
    test_frac: TestFracOpt = None,
    salt: SaltOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Record each shipped model's PLCC/RMSE on the committed eval fixture (rounding guard)."""
    from vmaf_train.evaluate.drift import EXPECTED_NAME, FIXTURE_NAME, build_eval_fixture
    from vmaf_train.evaluate.drift import expected_metrics as record

    fixture = out_dir / FIXTURE_NAME
    if features is not None:
        over = {
            k: v for k, v in split_overrides(val_frac, test_frac, salt).items() if v is not None
        }
        split = SplitConfig(**{**SplitConfig().__dict__, **over})
        build_eval_fixture(features, fixture, split=split, max_clips=max_clips)
    doc = record(_zoo(zoo), fixture, out_dir / EXPECTED_NAME)
    if as_json:
        print_json(doc)
        return
    for mid, m in doc["models"].items():
        out_console.print(f"{mid}: n {m['n']} PLCC {m['plcc']:.6f} RMSE {m['rmse']:.6f}")
    out_console.print(f"wrote {out_dir / EXPECTED_NAME} ({len(doc['models'])} models)")
