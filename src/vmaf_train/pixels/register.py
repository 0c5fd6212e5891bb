"""Register pixel models into a zoo: files, sidecar, registry row, load-time checks.

``register_pixel_run(RUN, ZOO)`` ships a ``vmaf-train pixels fit-*`` run directory through
``vmaf-train register`` and adds the pixel-specific results to its row. ``register_smoke(ZOO)``
builds and ships the two smoke checkpoints, whose rows have ``training: null`` (they were never
trained, so there is no run directory): :func:`register_files` does the same staging as
``vmaf-train register`` for them -- each file passes the runtime's load-time checks
(:mod:`vmaf_tiny.guard`) and its size class, the updated ``registry.json`` is validated against
``registry.schema.json``, and files are moved in before the registry is rewritten.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema

from vmaf_tiny.errors import BadInputError, BadModelError
from vmaf_tiny.fsutil import atomic_write_json, sha256_file
from vmaf_train.fit.loop import clean_json
from vmaf_train.register import (
    REGISTRY_NAME,
    check_for_registration,
    load_registry,
    registry_schema,
)

__all__ = [
    "register_files",
    "register_pixel_run",
    "register_smoke",
]

REGISTRY = REGISTRY_NAME


def validate_registry(reg: Mapping[str, Any], zoo: Path) -> None:
    """Raise BadModelError (one line, naming the place) if ``reg`` breaks the registry schema."""
    validator = jsonschema.Draft202012Validator(registry_schema(zoo))
    err = jsonschema.exceptions.best_match(validator.iter_errors(reg))
    if err is not None:
        where = "/".join(str(x) for x in err.absolute_path) or "(top)"
        raise BadModelError(f"{REGISTRY} invalid at {where}: {err.message[:300]}")


def register_files(
    onnx_src: Path,
    sidecar: Mapping[str, Any],
    zoo: str | os.PathLike[str],
    *,
    training: Mapping[str, Any] | None,
    license: str = "BSD-2-Clause-Patent",
) -> dict[str, Any]:
    """Ship one model without a run directory (fp32 only): stage, check, move in, then
    rewrite ``registry.json``.

    Args:
        onnx_src: The fp32 ``.onnx``.
        sidecar: Its sidecar (``onnx``/``int8`` are rewritten to the shipped names).
        zoo: The zoo directory.
        training: The row's ``training`` block (None for smoke checkpoints).
        license: Licence of the weights.

    Returns:
        The registry row.
    """
    zoo = Path(zoo)
    mid = str(sidecar["id"])
    onnx_name, side_name = f"{mid}.onnx", f"{mid}.json"
    shipped = dict(sidecar)
    shipped["onnx"] = onnx_name
    shipped["int8"] = None
    row: dict[str, Any] = {
        "id": mid,
        "kind": shipped["kind"],
        "class": shipped["class"],
        "onnx": onnx_name,
        "sidecar": side_name,
        "sha256": sha256_file(onnx_src),
        "bytes": onnx_src.stat().st_size,
        "opset": int(shipped["opset"]),
        "smoke": bool(shipped["smoke"]),
        "quant_mode": "fp32",
        "int8": None,
        "license": license,
        "description": shipped.get("description") or mid,
        "inputs": shipped["inputs"],
        "outputs": shipped["outputs"],
        "training": clean_json(dict(training)) if training is not None else None,
    }
    reg = load_registry(zoo)
    reg["models"] = sorted(
        [r for r in reg.get("models", []) if r.get("id") != mid] + [row], key=lambda r: r["id"]
    )
    validate_registry(reg, zoo)
    zoo.mkdir(parents=True, exist_ok=True)
    stage = zoo / f".stage-{mid}-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir()
    try:
        shutil.copyfile(onnx_src, stage / onnx_name)
        atomic_write_json(stage / side_name, shipped)
        notes = check_for_registration(stage / onnx_name, stage / side_name, shipped["class"])
        for f in sorted(stage.iterdir()):
            os.replace(f, zoo / f.name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    (zoo / f"{mid}.int8.onnx").unlink(missing_ok=True)
    if not (zoo / "registry.schema.json").is_file():  # the runtime validates against it
        atomic_write_json(zoo / "registry.schema.json", registry_schema(zoo))
    atomic_write_json(zoo / REGISTRY, reg)
    return {**row, "checks": notes}


def register_pixel_run(run: str | os.PathLike[str], zoo: str | os.PathLike[str]) -> dict[str, Any]:
    """Register a ``vmaf-train pixels fit-*`` run directory into ``zoo``.

    The run goes through ``vmaf-train register`` (:func:`vmaf_train.register.register_run`:
    load-time checks, size class, int8 only if its gate passed, schema-valid row); the
    pixel-specific results (``report.json`` without per-clip rows, the split's source names,
    the export facts) are then added to the row's ``training.metrics.extra.pixels``.

    Raises:
        BadInputError: an incomplete run directory.
        BadModelError: size class exceeded or a load-time check failed.
    """
    from vmaf_train.register import register_run

    run, zoo = Path(run), Path(zoo)
    for name in ("metrics.json", "config.json", "model.onnx", "model.json", "report.json"):
        if not (run / name).is_file():
            raise BadInputError(f"{run} is not a finished pixel-model run (missing {name})")
    metrics = json.loads((run / "metrics.json").read_text())
    report = json.loads((run / "report.json").read_text())
    row = register_run(run, zoo)
    reg = load_registry(zoo)
    for r in reg["models"]:
        if r["id"] == row["id"]:
            r["training"]["metrics"]["extra"]["pixels"] = clean_json(
                {
                    "report": {k: v for k, v in report.items() if k != "per_clip"},
                    "splits": metrics.get("splits", {}),
                    "export": metrics.get("export", {}),
                    "seconds": metrics.get("seconds"),
                }
            )
            row = r
    validate_registry(reg, zoo)
    atomic_write_json(zoo / REGISTRY, reg)
    return row


def register_smoke(zoo: str | os.PathLike[str], seed: int = 0) -> list[dict[str, Any]]:
    """Build, check and register both smoke checkpoints (``training: null``)."""
    import tempfile

    from vmaf_train.pixels.smoke import make_smoke

    rows = []
    with tempfile.TemporaryDirectory(prefix="vmaf-train-smoke-") as tmp:
        for exp, side in make_smoke(tmp, seed=seed).values():
            rows.append(register_files(exp.path, side, zoo, training=None))
    return rows
