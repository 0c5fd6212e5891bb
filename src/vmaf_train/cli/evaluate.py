"""``vmaf-train eval``: accuracy of an exported model on a features table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from vmaf_tiny.console import out_console, print_json, say
from vmaf_tiny.errors import BadInputError
from vmaf_train.cli._common import (
    FeaturesOpt,
    JsonOpt,
    SaltOpt,
    TestFracOpt,
    ValFracOpt,
    ZooOpt,
    metrics_table,
)

__all__ = ["evaluate", "plot_scores", "render_eval"]


def evaluate(
    model: Annotated[str, typer.Option("--model", "-m", help="Path to an .onnx or a model id.")],
    features: FeaturesOpt,
    split: Annotated[str, typer.Option("--split", help="train, val, test or all.")] = "test",
    target: Annotated[
        str | None,
        typer.Option(
            "--target",
            help="vmaf, vmaf_neg, vmaf_4k, vmaf_phone or mos (default: the model's).",
        ),
    ] = None,
    level: Annotated[
        str | None,
        typer.Option("--level", help="frame or clip (mean per key); default clip for mos."),
    ] = None,
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
    mapping: Annotated[
        str,
        typer.Option(
            "--mapping",
            help="Map prediction -> target before PLCC/RMSE: none, linear, logistic4 "
            "(alias logistic) or logistic5; fitted on the evaluated points.",
        ),
    ] = "none",
    targets: Annotated[
        Path | None,
        typer.Option(
            "--targets",
            help="CSV with columns key,mos joined on the clip key (instead of the table's mos "
            "column); implies --target mos.",
        ),
    ] = None,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot", help="Also draw prediction vs target to this image (.png, .svg, .pdf, ...)."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """n, PLCC, SROCC and RMSE with seeded bootstrap 95 % intervals, raw and (with --mapping)
    after a linear or logistic map fitted from prediction to target."""
    from vmaf_train.evaluate.model import evaluate_model

    res = evaluate_model(
        model, features, split=split, target=target, level=level, baseline=baseline,
        zoo=zoo, int8=int8, n_boot=n_boot, seed=seed, val_frac=val_frac, test_frac=test_frac,
        salt=salt, mapping=mapping, targets=targets, plot=plot,
    )  # fmt: skip
    if plot is not None:
        say(f"wrote {plot}")
    if as_json:
        print_json(res)
        return
    render_eval(res)


def render_eval(res: dict[str, Any]) -> None:
    """Print an evaluation result (model and optional baseline) as a rich table."""
    rows = [(res["model"], res["metrics"])]
    if "mapping" in res:
        rows[0] = (f"{res['model']} (raw)", res["metrics"])
        rows.append((f"{res['model']} ({res['mapping']['kind']} map)", res["mapping"]["metrics"]))
    if "baseline" in res:
        b = res["baseline"]
        rows.append((b["name"] + (" (raw)" if "mapping" in b else ""), b["metrics"]))
        if "mapping" in b:
            rows.append((f"{b['name']} ({b['mapping']['kind']} map)", b["mapping"]["metrics"]))
    title = f"{res['split']} split, {res['level']} level, target {res['target']} "
    t = metrics_table(title + f"({res['n_sources']} sources)", "model", rows)
    out_console.print(t)
    out_console.print(res["note"])
    if "mapping" in res:
        params = ", ".join(f"{k} {v:.4g}" for k, v in res["mapping"]["params"].items())
        out_console.print(f"{res['mapping']['kind']} map: {params}")
    if "targets" in res:
        tg = res["targets"]
        out_console.print(
            f"targets: {tg['n_scores']} scores from {tg['file']}; "
            f"{tg['n_clips_without_score']} of {tg['n_clips_in_table']} clips have none (left out)"
        )
    if "baseline" in res and res["baseline"].get("note"):
        out_console.print(f"note: {res['baseline']['note']}")


def plot_scores(
    scores: Annotated[
        Path, typer.Argument(help="JSON written by `vmaf-tiny score --json` or `-o FILE.json`.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="The PNG to write.")],
) -> None:
    """Plot the per-frame scores of a `vmaf-tiny score` JSON (every model and the teacher)."""
    from vmaf_train.plots import plot_score_document

    if out.suffix.lower() != ".png":
        raise BadInputError(f"-o {out.name}: write a .png file")
    try:
        doc = json.loads(scores.read_text())
    except OSError as exc:
        raise BadInputError(f"cannot read {scores}: {exc.strerror or exc}") from None
    except ValueError:
        raise BadInputError(
            f"{scores}: not JSON (pass the output of `vmaf-tiny score --json`)"
        ) from None
    if not isinstance(doc, dict):
        raise BadInputError(f"{scores}: not a `vmaf-tiny score` JSON document")
    n = plot_score_document(doc, out)
    say(f"wrote {out} ({n} series)")
