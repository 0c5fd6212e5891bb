"""The zoo's registry: reading, validating, and the one path that writes models into a zoo.

:func:`ship` is the single writer every registration goes through (``vmaf-train register`` for
any run kind, ``make-smoke``, ``int8-ship``): each model is staged beside the zoo and must pass
the runtime's load-time checks (:mod:`vmaf_tiny.guard`: operator allowlist, sidecar/graph
agreement) and its size class (C1 <= 100 KiB; an oversize model is an error here, not a warning)
as the runtime will load it; the updated registry is validated against
``registry.schema.json``; files move in first and ``registry.json`` is written once, last and
atomically, so a reader never sees a row whose files are missing.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema

from vmaf_tiny.errors import BadInputError, BadModelError
from vmaf_tiny.fsutil import atomic_write_bytes, atomic_write_json, read_json_object
from vmaf_tiny.guard import check_model, check_size_class
from vmaf_tiny.registry import shipped_zoo
from vmaf_train.evaluate.predict import load_sidecar

__all__ = [
    "REGISTRY_NAME",
    "Shipment",
    "check_for_registration",
    "load_registry",
    "registry_schema",
    "ship",
    "validate_registry",
]

REGISTRY_NAME = "registry.json"


def _repo_schema_path() -> Path:
    return shipped_zoo() / "registry.schema.json"


def registry_schema(zoo: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The registry JSON Schema: ``<zoo>/registry.schema.json`` if present, else the repo's."""
    candidates = []
    if zoo is not None:
        candidates.append(Path(zoo) / "registry.schema.json")
    candidates.append(_repo_schema_path())
    for c in candidates:
        if c.is_file():
            schema: dict[str, Any] = json.loads(c.read_text())
            return schema
    raise BadInputError("registry.schema.json not found (in the zoo or the shipped vmaf_tiny/zoo)")


def load_registry(zoo: str | os.PathLike[str]) -> dict[str, Any]:
    """``<zoo>/registry.json`` (an empty registry if the file does not exist yet).

    Raises:
        BadInputError: the path is not a file, not valid JSON, or not a registry's shape (an
            object whose ``models`` is a list of rows, each an object with a string ``id``);
            the full schema is checked when a registry is written.
    """
    path = Path(zoo) / REGISTRY_NAME
    if not path.exists():
        return {"schema_version": 1, "models": []}
    reg = read_json_object(path)
    rows = reg.get("models")
    if not isinstance(rows, list) or not all(
        isinstance(r, dict) and isinstance(r.get("id"), str) for r in rows
    ):
        raise BadInputError(
            f'{path}: not a model registry ("models" must be a list of rows with an "id")'
        )
    return reg


def validate_registry(reg: Any, zoo: str | os.PathLike[str] | None = None) -> None:
    """Raise BadModelError (one line, naming the place) if ``reg`` breaks the registry schema."""
    schema = registry_schema(zoo)
    err = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(reg))
    if err is not None:
        where = "/".join(str(x) for x in err.absolute_path) or "(top)"
        raise BadModelError(f"{REGISTRY_NAME} invalid at {where}: {err.message[:300]}")


def check_for_registration(onnx_path: Path, sidecar_path: Path, model_class: str) -> list[str]:
    """The size class (an error here, over the limit) and every runtime load-time check.

    Returns:
        Notes on what passed.

    Raises:
        BadModelError: over the size class, or a load-time check failed (one line naming it).
    """
    size = check_size_class(onnx_path, model_class)
    report = check_model(onnx_path, sidecar=sidecar_path)
    report.raise_if_failed()
    return [
        f"{onnx_path.name}: size class {model_class} ({size} bytes), "
        f"{sum(c.status == 'pass' for c in report.checks)} load-time checks passed"
    ]


@dataclass
class Shipment:
    """One model to ship: its registry row, shipped sidecar and source files.

    Attributes:
        row: The registry row (``onnx``/``sidecar``/``int8`` name the shipped files).
        sidecar: The sidecar as shipped.
        onnx_src: The fp32 ``.onnx`` to copy.
        int8_src: The int8 ``.onnx`` to copy (only when ``row["int8"]`` is set).
    """

    row: dict[str, Any]
    sidecar: dict[str, Any]
    onnx_src: Path
    int8_src: Path | None = None


def ship(zoo: str | os.PathLike[str], shipments: Sequence[Shipment]) -> list[list[str]]:
    """Stage, check and move in every shipment's files, then write ``registry.json`` once.

    The updated registry is validated before anything is written; each file is checked as the
    runtime will load it (the int8 file through the shipped sidecar); a model without a shipped
    int8 file loses any stale one; a zoo without ``registry.schema.json`` gets the repo's.

    Returns:
        The registration notes of each shipment.

    Raises:
        BadModelError: the registry would be invalid, or a load-time check or size class failed
            (the zoo is left as it was).
    """
    zoo = Path(zoo)
    ids = {s.row["id"] for s in shipments}
    reg = load_registry(zoo)
    reg["models"] = sorted(
        [r for r in reg.get("models", []) if r.get("id") not in ids] + [s.row for s in shipments],
        key=lambda r: r["id"],
    )
    validate_registry(reg, zoo)
    zoo.mkdir(parents=True, exist_ok=True)
    stage = zoo / f".stage-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir()
    notes: list[list[str]] = []
    try:
        for s in shipments:
            row, cls = s.row, s.row["class"]
            shutil.copyfile(s.onnx_src, stage / row["onnx"])
            atomic_write_json(stage / row["sidecar"], s.sidecar)
            load_sidecar(stage / row["sidecar"])
            notes.append(check_for_registration(stage / row["onnx"], stage / row["sidecar"], cls))
            if row["int8"] and s.int8_src is not None:
                shutil.copyfile(s.int8_src, stage / row["int8"]["onnx"])
                check_for_registration(stage / row["int8"]["onnx"], stage / row["sidecar"], cls)
        for f in sorted(stage.iterdir()):
            os.replace(f, zoo / f.name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    for s in shipments:
        if not s.row["int8"]:
            (zoo / f"{s.row['id']}.int8.onnx").unlink(missing_ok=True)
    if not (zoo / "registry.schema.json").is_file():
        # The runtime validates a zoo's registry against the schema beside it.
        atomic_write_bytes(zoo / "registry.schema.json", _repo_schema_path().read_bytes())
    atomic_write_json(zoo / REGISTRY_NAME, reg)
    return notes
