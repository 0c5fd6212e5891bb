"""``vmaf-tiny models list|show|verify``: the shipped model zoo (registry.json)."""

from __future__ import annotations

from typing import Annotated

import typer

from vmaf_tiny import console
from vmaf_tiny.cli.options import JsonOpt
from vmaf_tiny.console import print_json, say
from vmaf_tiny.errors import BadInputError

__all__ = ["models_app"]

models_app = typer.Typer(
    name="models",
    help="List, show and verify the shipped model zoo (registry.json).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@models_app.command("list")
def models_list(as_json: JsonOpt = False) -> None:
    """List the registered models."""
    from vmaf_tiny.registry import load_registry

    reg = load_registry()
    if as_json:
        print_json(reg.rows)
        return
    from rich.table import Table

    table = Table(title=f"{reg.path} ({len(reg.rows)} models)")
    for col in ("id", "kind", "class", "bytes", "quant", "smoke", "description"):
        table.add_column(col, overflow="fold")
    for r in reg.rows:
        table.add_row(
            r["id"],
            r["kind"],
            r["class"],
            str(r["bytes"]),
            r["quant_mode"],
            "yes" if r["smoke"] else "no",
            r["description"][:80],
        )
    console.out_console.print(table)


@models_app.command("show")
def models_show(
    model_id: Annotated[str, typer.Option("--model", "-m", help="Registry id.")],
    as_json: JsonOpt = False,
) -> None:
    """Show one registered model: its registry row and sidecar."""
    import json

    from vmaf_tiny.registry import load_registry

    reg = load_registry()
    row = reg.get(model_id)
    sidecar_path = reg.zoo / row["sidecar"]
    try:
        sidecar = json.loads(sidecar_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BadInputError(f"{model_id}: cannot read sidecar {sidecar_path.name}: {exc}") from exc
    if as_json:
        print_json({"registry": row, "sidecar": sidecar})
        return
    from rich.table import Table

    table = Table(title=model_id, show_header=False)
    table.add_column("key")
    table.add_column("value", overflow="fold")
    for key in (
        "kind",
        "class",
        "onnx",
        "bytes",
        "sha256",
        "opset",
        "quant_mode",
        "license",
        "description",
    ):
        table.add_row(key, str(row[key]))
    table.add_row("inputs", ", ".join(f"{t['name']}{t['shape']}" for t in row["inputs"]))
    table.add_row("outputs", ", ".join(f"{t['name']}{t['shape']}" for t in row["outputs"]))
    if sidecar.get("feature_order"):
        table.add_row("features", ", ".join(sidecar["feature_order"]))
    console.out_console.print(table)


@models_app.command("verify")
def models_verify(as_json: JsonOpt = False) -> None:
    """Verify every registered model (hashes, schemas, size classes, load-time checks)."""
    from vmaf_tiny.registry import verify_registry

    rep = verify_registry()
    if as_json:
        print_json(rep.to_dict())
    for line in rep.failures:
        say(f"FAIL {line}")
    if not rep.ok:
        raise typer.Exit(2)
    if not as_json:
        say(f"ok: {len(rep.checked)} model(s) verified in {rep.zoo}")
