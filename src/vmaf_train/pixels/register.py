"""Register pixel models into a zoo: files, sidecar, registry row, load-time checks.

``register_pixel_run(RUN, ZOO)`` ships a ``vmaf-train pixels fit-*`` run directory;
``register_smoke(ZOO)`` builds and ships the two smoke checkpoints. Before anything lands in the
zoo, each file passes the runtime's load-time checks (:mod:`vmaf_tiny.guard`: operator allowlist,
sidecar/graph agreement) and its size class (an oversize model is an error here); the updated
``registry.json`` is validated against ``registry.schema.json``. Files are staged beside the zoo
and moved in before the registry is rewritten, so a reader never sees a row without its files.

The run-directory layout is the one ``vmaf-train register`` reads; the pixel-specific results
(``report.json``: per-codec tables, gate, speed) go to the row's ``training.metrics.extra``.
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
from vmaf_train.pixels.quantize import gate_path
from vmaf_train.pixels.runs import clean_json

__all__ = [
    "check_files",
    "register_files",
    "register_pixel_run",
    "register_smoke",
    "registry_schema",
]

REGISTRY = "registry.json"
# Used only when the runtime's guard is not importable (it holds the authoritative limits).
_FALLBACK_CLASSES = {"C1": 100 * 1024, "C2": 5 * 1024 * 1024, "C3": 2 * 1024 * 1024}


def registry_schema(zoo: str | os.PathLike[str]) -> dict[str, Any]:
    """``<zoo>/registry.schema.json`` if present, else the checkout's ``model/tiny`` one."""
    for c in (
        Path(zoo) / "registry.schema.json",
        Path(__file__).resolve().parents[3] / "model" / "tiny" / "registry.schema.json",
    ):
        if c.is_file():
            schema: dict[str, Any] = json.loads(c.read_text())
            return schema
    raise BadInputError("registry.schema.json not found (expected in the zoo or model/tiny/)")


def _validate(obj: Any, schema: Mapping[str, Any], what: str) -> None:
    err = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(obj))
    if err is not None:
        where = "/".join(str(x) for x in err.absolute_path) or "(top)"
        raise BadModelError(f"{what} invalid at {where}: {err.message[:300]}")


def check_files(onnx_path: Path, sidecar_path: Path, model_class: str) -> list[str]:
    """Size class (error if over) and the runtime's load-time checks on a staged file.

    Raises:
        BadModelError: over the size class or a load-time check failed.
    """
    try:
        from vmaf_tiny import guard
    except ImportError:  # the runtime's guard has not landed in this checkout
        guard = None  # type: ignore[assignment]
    if guard is not None:
        guard.check_size_class(onnx_path, model_class)
        report = guard.check_model(onnx_path, sidecar=sidecar_path)
        report.raise_if_failed()
        return [f"vmaf_tiny.guard: {len(report.checks)} checks passed, size class {model_class}"]
    size = onnx_path.stat().st_size
    if size > _FALLBACK_CLASSES[model_class]:
        raise BadModelError(
            f"{onnx_path.name}: {size} bytes exceeds size class {model_class} "
            f"({_FALLBACK_CLASSES[model_class]} bytes)"
        )
    import onnx

    proto = onnx.load(str(onnx_path))
    onnx.checker.check_model(proto)
    bad = sorted({n.domain for n in proto.graph.node if n.domain not in ("", "ai.onnx")})
    if bad:
        raise BadModelError(f"{onnx_path.name}: non-default op domains {bad}")
    return [
        f"size class {model_class} ({size} bytes), ONNX checker, default domain only "
        "(vmaf_tiny.guard not available)"
    ]


def _load_registry(zoo: Path) -> dict[str, Any]:
    path = zoo / REGISTRY
    if not path.is_file():
        return {"schema_version": 1, "models": []}
    try:
        reg: dict[str, Any] = json.loads(path.read_text())
    except ValueError as exc:
        raise BadInputError(f"{path}: not valid JSON ({exc})") from exc
    return reg


def register_files(
    onnx_src: Path,
    sidecar: Mapping[str, Any],
    zoo: str | os.PathLike[str],
    *,
    training: Mapping[str, Any] | None,
    license: str = "BSD-2-Clause-Patent",
    int8: tuple[Path, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Ship one model: stage, check, move in, then rewrite ``registry.json``.

    Args:
        onnx_src: The fp32 ``.onnx``.
        sidecar: Its sidecar (``onnx``/``int8`` are rewritten to the shipped names).
        zoo: The zoo directory.
        training: The row's ``training`` block (None for smoke checkpoints).
        license: Licence of the weights.
        int8: (int8 file, its gate report) -- shipped only if the gate passed.

    Returns:
        The registry row.
    """
    zoo = Path(zoo)
    mid = str(sidecar["id"])
    onnx_name, side_name = f"{mid}.onnx", f"{mid}.json"
    shipped = dict(sidecar)
    shipped["onnx"] = onnx_name
    int8_row: dict[str, Any] | None = None
    ship_int8 = int8 is not None and bool(int8[1].get("passed"))
    if ship_int8 and int8 is not None:
        path, gate = int8
        if gate.get("int8_sha256") != sha256_file(path):
            raise BadInputError(f"{path.name} changed after its gate ran; quantise again")
        int8_row = {
            "onnx": f"{mid}.int8.onnx",
            "sha256": gate["int8_sha256"],
            "bytes": int(gate["int8_bytes"]),
            "gate": _flat(gate),
        }
        shipped["int8"] = {"onnx": int8_row["onnx"], "sha256": int8_row["sha256"]}
    else:
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
        "quant_mode": "fp32+int8_qdq" if int8_row else "fp32",
        "int8": int8_row,
        "license": license,
        "description": shipped.get("description") or mid,
        "inputs": shipped["inputs"],
        "outputs": shipped["outputs"],
        "training": clean_json(dict(training)) if training is not None else None,
    }
    reg = _load_registry(zoo)
    reg["models"] = sorted(
        [r for r in reg.get("models", []) if r.get("id") != mid] + [row], key=lambda r: r["id"]
    )
    _validate(reg, registry_schema(zoo), REGISTRY)
    zoo.mkdir(parents=True, exist_ok=True)
    stage = zoo / f".stage-{mid}-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir()
    try:
        shutil.copyfile(onnx_src, stage / onnx_name)
        atomic_write_json(stage / side_name, shipped)
        notes = check_files(stage / onnx_name, stage / side_name, shipped["class"])
        if int8_row is not None and int8 is not None:
            shutil.copyfile(int8[0], stage / int8_row["onnx"])
            notes += check_files(stage / int8_row["onnx"], stage / side_name, shipped["class"])
        for f in sorted(stage.iterdir()):
            os.replace(f, zoo / f.name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    if int8_row is None:
        (zoo / f"{mid}.int8.onnx").unlink(missing_ok=True)
    atomic_write_json(zoo / REGISTRY, reg)
    return {**row, "checks": notes}


def _flat(m: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in m.items():
        if isinstance(v, bool):
            out[f"{prefix}{k}"] = str(v).lower()
        elif isinstance(v, int | float | str) or v is None:
            out[f"{prefix}{k}"] = v
    return clean_json(out)


def register_pixel_run(run: str | os.PathLike[str], zoo: str | os.PathLike[str]) -> dict[str, Any]:
    """Register a ``vmaf-train pixels fit-*`` run directory into ``zoo``.

    Raises:
        BadInputError: an incomplete run directory.
        BadModelError: size class exceeded or a load-time check failed.
    """
    run = Path(run)
    for name in ("metrics.json", "config.json", "model.onnx", "model.json", "report.json"):
        if not (run / name).is_file():
            raise BadInputError(f"{run} is not a finished pixel-model run (missing {name})")
    metrics = json.loads((run / "metrics.json").read_text())
    config = json.loads((run / "config.json").read_text())
    report = json.loads((run / "report.json").read_text())
    sidecar = json.loads((run / "model.json").read_text())
    int8 = None
    int8_path = run / "model.int8.onnx"
    if int8_path.is_file() and gate_path(int8_path).is_file():
        int8 = (int8_path, json.loads(gate_path(int8_path).read_text()))
    prov = metrics["provenance"]
    test = metrics["test"]
    training = {
        "corpus_manifest_sha256": prov["manifest_sha256"],
        "train_commit": prov["train_commit"],
        "seed": int(metrics["seed"]),
        "n_sources": int(metrics["n_sources"]),
        "n_rows": int(metrics["n_rows"]),
        "config_sha256": prov["config_sha256"],
        "metrics": {
            "test": {**_flat(test.get("frame", {})), **_flat(test.get("clip", {}), "clip_")},
            "loso": None,
            "latency": _flat(metrics.get("latency", {})),
            "extra": {
                "pixels": {k: v for k, v in report.items() if k != "per_clip"},
                "val": metrics.get("val", {}),
                "splits": metrics.get("splits", {}),
                "training": {k: v for k, v in metrics["training"].items() if k != "history"},
                "export": metrics.get("export", {}),
                "table_metadata": metrics.get("table_metadata", {}),
                "config": config,
                "int8_gate": int8[1] if int8 else None,
            },
        },
    }
    return register_files(
        run / "model.onnx",
        sidecar,
        zoo,
        training=training,
        license=str(config.get("license", "BSD-2-Clause-Patent")),
        int8=int8,
    )


def register_smoke(zoo: str | os.PathLike[str], seed: int = 0) -> list[dict[str, Any]]:
    """Build, check and register both smoke checkpoints (``training: null``)."""
    import tempfile

    from vmaf_train.pixels.smoke import make_smoke

    rows = []
    with tempfile.TemporaryDirectory(prefix="vmaf-train-smoke-") as tmp:
        for exp, side in make_smoke(tmp, seed=seed).values():
            rows.append(register_files(exp.path, side, zoo, training=None))
    return rows
