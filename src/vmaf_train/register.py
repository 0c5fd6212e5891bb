"""Register a finished run into a model zoo: files, sidecar, registry row, load-time checks.

``register_run(RUN, ZOO)`` copies ``RUN/model.onnx`` to ``ZOO/<id>.onnx`` (and the int8 file,
only when its gate passed and it is proven saturation-free), writes the sidecar ``ZOO/<id>.json``
and replaces the model's row in ``ZOO/registry.json``. Before anything is written the model must
pass the runtime's load-time checks (:mod:`vmaf_tiny.guard`: operator allowlist, sidecar/graph
agreement) and its size class (C1 <= 100 KiB) -- an oversize model is an error here, not a warning.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import jsonschema

from vmaf_tiny.errors import BadInputError, BadModelError
from vmaf_tiny.fsutil import atomic_write_bytes, atomic_write_json, sha256_file
from vmaf_tiny.guard import check_model, check_size_class
from vmaf_tiny.registry import shipped_zoo
from vmaf_train.evaluate.predict import load_sidecar
from vmaf_train.quantize import gate_path, saturation_check

__all__ = [
    "REGISTRY_NAME",
    "check_for_registration",
    "int8_entry",
    "load_registry",
    "register_run",
    "registry_schema",
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
    """``<zoo>/registry.json`` (an empty registry if the file does not exist yet)."""
    path = Path(zoo) / REGISTRY_NAME
    if not path.is_file():
        return {"schema_version": 1, "models": []}
    try:
        reg: dict[str, Any] = json.loads(path.read_text())
    except ValueError as exc:
        raise BadInputError(f"{path}: not valid JSON ({exc})") from exc
    return reg


def _validate(obj: Any, schema: dict[str, Any], what: str) -> None:
    err = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(obj))
    if err is not None:
        where = "/".join(str(x) for x in err.absolute_path) or "(top)"
        raise BadModelError(f"{what} invalid at {where}: {err.message}")


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


def _flat_metrics(m: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Registry metrics are flat scalars: ``[lo, hi]`` intervals become ``_low``/``_high``."""
    out: dict[str, Any] = {}
    for k, v in m.items():
        if isinstance(v, list) and len(v) == 2:
            out[f"{prefix}{k}_low"], out[f"{prefix}{k}_high"] = v
        elif isinstance(v, bool):
            out[f"{prefix}{k}"] = str(v).lower()
        elif isinstance(v, int | float | str) or v is None:
            out[f"{prefix}{k}"] = v
    return out


def int8_entry(
    model_id: str, gate: dict[str, Any] | None, int8_src: Path
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The sidecar's ``int8`` field and the registry row's ``int8`` block for a gated file.

    The int8 file ships only if its gate report says ``passed`` *and* the file itself is proven
    saturation-free here (:func:`vmaf_train.quantize.saturation_check`), so a gate report
    written before that rule existed cannot ship a file that saturates on CPUs without VNNI.

    Returns:
        ``(None, None)`` when it does not ship.
    """
    if not gate or not gate.get("passed"):
        return None, None
    if not saturation_check(int8_src)["saturation_free"]:
        return None, None
    int8_name = f"{model_id}.int8.onnx"
    row = {
        "onnx": int8_name,
        "sha256": gate["int8_sha256"],
        "bytes": int(gate["int8_bytes"]),
        "gate": _flat_metrics(
            {k: v for k, v in gate.items() if k not in ("int8_sha256", "fp32_sha256", "ops")}
        ),
    }
    return {"onnx": int8_name, "sha256": gate["int8_sha256"]}, row


def _loso_metrics(loso: dict[str, Any]) -> dict[str, dict[str, Any]]:
    summary = {k: v for k, v in loso["summary"].items() if k != "seeds"}
    summary["seeds"] = ",".join(str(s) for s in loso["summary"].get("seeds", []))
    summary["protocol"] = loso.get("protocol", "")
    summary["failures"] = loso.get("failures", 0)
    summary["wall_seconds"] = loso.get("wall_seconds")
    summary["executor"] = loso.get("executor", "")
    out: dict[str, dict[str, Any]] = {"summary": summary}
    for r in loso["rows"]:
        if "error" in r:
            out[f"fold:{r['fold']}:seed{r['seed']}"] = {"error": str(r["error"])[:300]}
            continue
        out[f"fold:{r['fold']}:seed{r['seed']}"] = {
            k: r.get(k) for k in ("plcc", "srocc", "rmse", "clip_rmse", "n_test", "n_train")
        }
    return out


def register_run(
    run: str | os.PathLike[str],
    zoo: str | os.PathLike[str],
    *,
    loso: str | os.PathLike[str] | None = None,
    baseline: str | os.PathLike[str] | None = None,
    smoke: bool = False,
) -> dict[str, Any]:
    """Register a fit run into ``zoo``.

    Args:
        run: The ``vmaf-train fit`` output directory.
        zoo: The zoo directory (``src/vmaf_tiny/zoo`` for the shipped zoo).
        loso: ``loso.json`` or its directory (default: ``RUN/loso/`` if present).
        baseline: A ``vmaf-train baseline-svr`` output directory (for the latency/accuracy
            comparison in the card).
        smoke: Mark the model as a contract-exercising checkpoint with no quality claim.

    Returns:
        The registry row written.

    Raises:
        BadInputError: an incomplete run directory.
        BadModelError: size class exceeded, a load-time check failed, or invalid output.
    """
    run = Path(run)
    zoo = Path(zoo)
    for name in ("metrics.json", "config.json", "model.onnx", "model.json"):
        if not (run / name).is_file():
            raise BadInputError(f"{run} is not a finished fit run (missing {name})")
    metrics = json.loads((run / "metrics.json").read_text())
    sidecar = load_sidecar(run / "model.json")
    model_id = sidecar["id"]
    notes = check_for_registration(run / "model.onnx", run / "model.json", sidecar["class"])
    int8_row: dict[str, Any] | None = None
    gate: dict[str, Any] | None = None
    int8_src = run / "model.int8.onnx"
    if int8_src.is_file() and gate_path(int8_src).is_file():
        gate = json.loads(gate_path(int8_src).read_text())
        if gate.get("int8_sha256") != sha256_file(int8_src):
            raise BadInputError(f"{int8_src.name} changed after its gate ran; rerun quantize-int8")
    loso_path = Path(loso) if loso else run / "loso"
    if loso_path.is_dir():
        loso_path = loso_path / "loso.json"
    loso_data = json.loads(loso_path.read_text()) if loso_path.is_file() else None
    base = None
    if baseline:
        bpath = Path(baseline) / "metrics.json"
        if not bpath.is_file():
            raise BadInputError(f"{baseline} is not a baseline-svr output (no metrics.json)")
        base = json.loads(bpath.read_text())

    onnx_name, side_name = f"{model_id}.onnx", f"{model_id}.json"
    zoo.mkdir(parents=True, exist_ok=True)

    shipped = dict(sidecar)
    shipped["onnx"] = onnx_name
    shipped["smoke"] = bool(smoke)
    shipped["int8"], int8_row = int8_entry(model_id, gate, int8_src)
    run_config = json.loads((run / "config.json").read_text())
    test = metrics["test"]
    latency: dict[str, Any] = dict(metrics.get("latency", {}))
    extra: dict[str, Any] = {
        "test_clip": test.get("clip", {}),
        "val": metrics.get("val", {}).get("frame", {}),
        "splits": {
            k: {"n_rows": v["n_rows"], "n_sources": v["n_sources"]}
            for k, v in metrics["splits"].items()
        },
        "training": {k: v for k, v in metrics["training"].items() if k != "history"},
        "int8_gate": gate,
        "registration_checks": notes,
        "table_metadata": metrics.get("table_metadata", {}),
        "architecture": {
            **run_config.get("arch", {}),
            "parameters": metrics["training"].get("parameters"),
        },
        "goals": run_config.get("goals", {}),
        "split": run_config.get("split", {}),
        "train_config": run_config.get("train", {}),
    }
    if gate:
        # fp32 and int8 measured back to back by the gate: compare those, not fit-time figures.
        latency.update({k: gate[k] for k in gate if "_us_per_row_" in k})
    if base:
        latency.update({f"svr_{k}": v for k, v in base.get("latency", {}).items()})
        latency.update(
            {
                f"upstream_svm_{k}": v
                for k, v in base.get("upstream_svm", {}).get("latency", {}).items()
            }
        )
        extra["baseline_svr"] = {
            "test": base.get("test", {}).get("frame", {}),
            "n_train": base.get("n_train"),
            "n_support": base.get("n_support"),
            "params": base.get("params"),
        }
    prov = metrics["provenance"]
    row: dict[str, Any] = {
        "id": model_id,
        "kind": sidecar["kind"],
        "class": sidecar["class"],
        "onnx": onnx_name,
        "sidecar": side_name,
        "sha256": sha256_file(run / "model.onnx"),
        "bytes": (run / "model.onnx").stat().st_size,
        "opset": int(sidecar["opset"]),
        "smoke": bool(smoke),
        "quant_mode": "fp32+int8_qdq" if int8_row else "fp32",
        "int8": int8_row,
        "license": run_config.get("license", "BSD-2-Clause-Patent"),
        "description": sidecar.get("description") or model_id,
        "inputs": sidecar["inputs"],
        "outputs": sidecar["outputs"],
        "training": {
            "corpus_manifest_sha256": prov["manifest_sha256"],
            "train_commit": prov["train_commit"],
            "seed": int(metrics["seed"]),
            "n_sources": int(metrics["n_sources"]),
            "n_rows": int(metrics["n_rows"]),
            "config_sha256": prov["config_sha256"],
            "metrics": {
                "test": _flat_metrics(test["frame"]),
                "loso": _loso_metrics(loso_data) if loso_data else None,
                "latency": latency,
                "extra": extra,
            },
        },
    }
    reg = load_registry(zoo)
    reg["models"] = sorted(
        [r for r in reg.get("models", []) if r.get("id") != model_id] + [row], key=lambda r: r["id"]
    )
    _validate(reg, registry_schema(zoo), "registry.json")
    # Stage the files beside the zoo and check them as the runtime will load them (the int8
    # file through the shipped sidecar); then move them in, and write the registry last so a
    # reader never sees a row whose files are missing.
    stage = zoo / f".stage-{model_id}-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir()
    try:
        shutil.copyfile(run / "model.onnx", stage / onnx_name)
        atomic_write_json(stage / side_name, shipped)
        load_sidecar(stage / side_name)
        check_for_registration(stage / onnx_name, stage / side_name, sidecar["class"])
        if int8_row:
            shutil.copyfile(int8_src, stage / int8_row["onnx"])
            check_for_registration(stage / int8_row["onnx"], stage / side_name, sidecar["class"])
        for f in sorted(stage.iterdir()):
            os.replace(f, zoo / f.name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    if not int8_row:
        (zoo / f"{model_id}.int8.onnx").unlink(missing_ok=True)
    if not (zoo / "registry.schema.json").is_file():
        # The runtime validates a zoo's registry against the schema beside it.
        atomic_write_bytes(zoo / "registry.schema.json", _repo_schema_path().read_bytes())
    atomic_write_json(zoo / REGISTRY_NAME, reg)
    return row
