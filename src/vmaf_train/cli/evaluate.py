"""``vmaf-train eval``: accuracy of an exported model on a features table."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from vmaf_tiny.console import out_console, print_json
from vmaf_train.cli._common import FeaturesOpt, JsonOpt, SaltOpt, TestFracOpt, ValFracOpt, ZooOpt

__all__ = ["evaluate"]


def _cell(m: dict[str, Any], k: str, nd: int) -> str:
    ci = m.get(f"{k}_ci")
    s = f"{m[k]:.{nd}f}"
    return s + (f" [{ci[0]:.{nd}f}, {ci[1]:.{nd}f}]" if ci else "")


def evaluate(
    model: Annotated[str, typer.Option("--model", "-m", help="Path to an .onnx or a model id.")],
    features: FeaturesOpt,
    split: Annotated[str, typer.Option("--split", help="train, val, test or all.")] = "test",
    target: Annotated[
        str | None, typer.Option("--target", help="vmaf or mos (default: the model's).")
    ] = None,
    level: Annotated[str, typer.Option("--level", help="frame or clip (mean per key).")] = "frame",
    baseline: Annotated[
        bool, typer.Option("--baseline", help="Also score the upstream vmaf_v0.6.1 SVM.")
    ] = False,
    int8: Annotated[bool, typer.Option("--int8", help="Use the shipped int8 file.")] = False,
    zoo: ZooOpt = None,
    n_boot: Annotated[int, typer.Option("--n-boot", min=0, help="Bootstrap resamples.")] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Bootstrap seed.")] = 0,
    val_frac: ValFracOpt = None,
    test_frac: TestFracOpt = None,
    salt: SaltOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """n, PLCC, SROCC and RMSE with seeded bootstrap 95 % intervals (raw, no logistic fit)."""
    from vmaf_train.assess import evaluate_model

    res = evaluate_model(
        model, features, split=split, target=target, level=level, baseline=baseline,
        zoo=zoo, int8=int8, n_boot=n_boot, seed=seed, val_frac=val_frac, test_frac=test_frac,
        salt=salt,
    )  # fmt: skip
    if as_json:
        print_json(res)
        return
    t = Table(title=f"{res['split']} split, {res['level']} level, target {res['target']} "
              f"({res['n_sources']} sources)")  # fmt: skip
    for col in ("model", "n", "PLCC [95% CI]", "SROCC [95% CI]", "RMSE [95% CI]"):
        t.add_column(col, no_wrap=True)
    rows = [(res["model"], res["metrics"])]
    if "baseline" in res:
        rows.append((res["baseline"]["name"], res["baseline"]["metrics"]))
    for name, m in rows:
        t.add_row(name, str(m["n"]), _cell(m, "plcc", 4), _cell(m, "srocc", 4), _cell(m, "rmse", 3))
    out_console.print(t)
    out_console.print(res["note"])
    if "baseline" in res and res["baseline"].get("note"):
        out_console.print(f"note: {res['baseline']['note']}")
