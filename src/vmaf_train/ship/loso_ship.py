"""What the leave-one-family-out NR models (``nr_stream_*``, ``nr_metric_v2``) share when they ship.

Both are fitted by a module (``python -m vmaf_train.nr_stream fit``, ``... nr_pixel fit``) that
writes ``model.onnx``, ``model.json`` and ``metrics.json`` (with a ``loso`` block) into a run
directory, ship fp32 only, and print the same per-codec / per-distortion / per-family error
tables in their cards. :func:`ship_loso_run` is the one registry-row builder for such a run;
:func:`error_table` and :func:`figure` the card pieces.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from vmaf_tiny.errors import BadInputError
from vmaf_tiny.fsutil import atomic_write_bytes, sha256_file
from vmaf_train.provenance import git_commit
from vmaf_train.ship.card_parts import RUNTIME_BEGIN, RUNTIME_END, extract_block
from vmaf_train.ship.registry import Shipment, ship

__all__ = [
    "error_table",
    "figure",
    "loso_front_matter",
    "ship_loso_run",
    "write_loso_card",
]


def _num(m: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in m.items() if isinstance(v, int | float | str) or v is None}


def ship_loso_run(
    run: str | os.PathLike[str],
    zoo: str | os.PathLike[str],
    *,
    fitter: str,
    extra: Callable[[Mapping[str, Any]], dict[str, Any]],
) -> dict[str, Any]:
    """Register a LOSO fit run into ``zoo`` (fp32, no int8). Returns the row.

    The row's ``test`` metrics are the pooled held-out clip figures, ``loso`` one entry per
    held-out family, and ``extra`` what ``extra(metrics)`` returns.

    Args:
        run: The fit's run directory.
        zoo: Zoo directory to ship into.
        fitter: The fitting module's name, for the error of a directory that is not its run.
        extra: Builds the row's ``training.metrics.extra`` from the run's ``metrics.json``.

    Raises:
        BadInputError: the run directory lacks model.onnx, model.json or metrics.json, or was
            fitted with families held out.
        BadModelError: the model fails a load-time check or the registry schema.
    """
    run = Path(run)
    for name in ("model.onnx", "model.json", "metrics.json"):
        if not (run / name).is_file():
            raise BadInputError(f"{run}: no {name} (not a {fitter} fit run)")
    side = json.loads((run / "model.json").read_text())
    m = json.loads((run / "metrics.json").read_text())
    if m.get("held_out_families"):
        raise BadInputError(
            f"{run}: fitted without the families {', '.join(m['held_out_families'])} "
            "(--hold-out): an evaluation model, not one to ship"
        )
    lo = m["loso"]
    training = {
        "corpus_manifest_sha256": m.get("corpus_manifest_sha256", ""),
        "train_commit": git_commit(),
        "seed": 0,
        "n_sources": int(m["n_sources"]),
        "n_rows": int(m["n_rows"]),
        "metrics": {
            "test": _num(lo["clip"]),
            "loso": {k: _num(v) for k, v in lo["per_family"].items()},
            "extra": extra(m),
        },
    }
    mid = side["id"]
    shipped = {**side, "onnx": f"{mid}.onnx", "int8": None}
    row = {
        "id": mid,
        "kind": side["kind"],
        "class": side["class"],
        "onnx": f"{mid}.onnx",
        "sidecar": f"{mid}.json",
        "sha256": sha256_file(run / "model.onnx"),
        "bytes": (run / "model.onnx").stat().st_size,
        "opset": int(side["opset"]),
        "smoke": False,
        "quant_mode": "fp32",
        "int8": None,
        "license": "BSD-2-Clause-Patent",
        "description": side.get("description") or mid,
        "inputs": side["inputs"],
        "outputs": side["outputs"],
        "training": training,
    }
    ship(zoo, [Shipment(row, shipped, run / "model.onnx")])
    return row


def figure(v: Any, nd: int = 3) -> str:
    """A float to ``nd`` decimals, anything else as ``str``."""
    return f"{v:.{nd}f}" if isinstance(v, float) else str(v)


def error_table(title: str, rows: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """A markdown table of held-out clip errors, one row per group (codec, family, ...)."""
    return [
        f"| {title} | clips | PLCC | SROCC | RMSE | bias (pred - teacher) |",
        "|---|---|---|---|---|---|",
        *(
            f"| {k} | {v['n']} | {figure(v['plcc'])} | {figure(v['srocc'])} | "
            f"{figure(v['rmse'], 2)} | {figure(v['bias'], 2)} |"
            for k, v in rows.items()
        ),
    ]


def write_loso_card(
    zoo: str | os.PathLike[str],
    docs: str | os.PathLike[str],
    model_id: str,
    render: Callable[..., str],
) -> Path:
    """Write ``docs/models/<id>.md`` from the zoo's row with ``render(row, sidecar,
    runtime_block=...)``, keeping the card's measured runtime-figures block. Returns the path.

    Raises:
        BadInputError: ``model_id`` is not in the zoo's registry.
    """
    zoo, docs = Path(zoo), Path(docs)
    reg = json.loads((zoo / "registry.json").read_text())
    row = next((r for r in reg["models"] if r["id"] == model_id), None)
    if row is None:
        raise BadInputError(f"{model_id} is not in {zoo}/registry.json")
    side = json.loads((zoo / row["sidecar"]).read_text())
    card = docs / "models" / f"{model_id}.md"
    old = card.read_text() if card.is_file() else ""
    runtime = extract_block(old, RUNTIME_BEGIN, RUNTIME_END) or ""
    atomic_write_bytes(card, render(row, side, runtime_block=runtime).encode())
    return card


def loso_front_matter(
    row: Mapping[str, Any], clip: Mapping[str, Any], *, tag: str
) -> dict[str, Any]:
    """The Hub-style YAML front matter of a LOSO NR card: tags (``tag`` names the input) and
    the pooled clip figures as the model index."""
    tr = row.get("training") or {}
    return {
        "license": row.get("license"),
        "library_name": "onnx",
        "tags": ["video-quality", "onnx", "tiny", "kind-nr", f"class-{row['class']}", tag],
        "model-index": [
            {
                "name": row["id"],
                "results": [
                    {
                        "task": {"type": "no-reference video quality assessment"},
                        "dataset": {
                            "name": "vmaf-tiny nr_stream corpus (leave-one-source-out)",
                            "type": "vmaf-tiny-corpus",
                            "revision": str(tr.get("corpus_manifest_sha256", ""))[:16],
                        },
                        "metrics": [
                            {
                                "type": f"clip_{k}",
                                "name": f"clip {k.upper()} vs teacher (LOSO)",
                                "value": round(float(clip[k]), 6),
                            }
                            for k in ("plcc", "srocc", "rmse")
                            if isinstance(clip.get(k), int | float)
                        ],
                    }
                ],
            }
        ],
    }
