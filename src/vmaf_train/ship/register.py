"""Register models into a zoo, every kind by one path: files, sidecar, registry row, checks.

``register(RUN, ZOO)`` ships any finished run directory (an FR ``fit`` run, plain or
codec-aware, or an NR / filter / saliency run, recognised by its ``report.json``):
``RUN/model.onnx`` becomes ``ZOO/<id>.onnx`` (and the int8 file, only when its gate passed and it
is proven saturation-free), the sidecar ``ZOO/<id>.json`` is written and the model's row in
``ZOO/registry.json`` replaced; the kind adds its extras to ``training.metrics.extra`` (pixel
runs: ``pixels``). :func:`register_smoke` builds the smoke checkpoints and ships them through the
same path with ``training: null`` (they were never trained).

Every model goes through :func:`vmaf_train.ship.registry.ship`: staged, checked as the runtime
will load it, moved in, then ``registry.json`` written once, last and atomically.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from vmaf_tiny.errors import BadInputError
from vmaf_tiny.fsutil import check_folder, read_json_object, sha256_file
from vmaf_train.evaluate.predict import load_sidecar
from vmaf_train.ship.quantize import gate_path
from vmaf_train.ship.registry import Shipment, check_for_registration, load_registry, ship
from vmaf_train.ship.saturation import saturation_check

__all__ = ["int8_entry", "register", "register_smoke"]


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
    saturation-free here (:func:`vmaf_train.ship.saturation.saturation_check`), so a gate report
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


def _row(
    sidecar: dict[str, Any],
    onnx_src: Path,
    *,
    smoke: bool,
    int8_row: dict[str, Any] | None,
    license: str,
    training: dict[str, Any] | None,
) -> dict[str, Any]:
    mid = sidecar["id"]
    return {
        "id": mid,
        "kind": sidecar["kind"],
        "class": sidecar["class"],
        "onnx": f"{mid}.onnx",
        "sidecar": f"{mid}.json",
        "sha256": sha256_file(onnx_src),
        "bytes": onnx_src.stat().st_size,
        "opset": int(sidecar["opset"]),
        "smoke": bool(smoke),
        "quant_mode": "fp32+int8_qdq" if int8_row else "fp32",
        "int8": int8_row,
        "license": license,
        "description": sidecar.get("description") or mid,
        "inputs": sidecar["inputs"],
        "outputs": sidecar["outputs"],
        "training": training,
    }


def _pixel_extras(run: Path, metrics: dict[str, Any]) -> dict[str, Any]:
    """A pixel run's results for ``extra.pixels``: its report without per-clip rows, the split's
    source names, the export facts."""
    from vmaf_train.fit.loop import clean_json

    report = read_json_object(run / "report.json")
    extra: dict[str, Any] = clean_json(
        {
            "report": {k: v for k, v in report.items() if k != "per_clip"},
            "splits": metrics.get("splits", {}),
            "export": metrics.get("export", {}),
            "seconds": metrics.get("seconds"),
        }
    )
    return extra


def register(
    run: str | os.PathLike[str],
    zoo: str | os.PathLike[str],
    *,
    loso: str | os.PathLike[str] | None = None,
    baseline: str | os.PathLike[str] | None = None,
    smoke: bool = False,
    replace: bool = True,
) -> dict[str, Any]:
    """Register a finished run of any kind into ``zoo``.

    Args:
        run: A ``vmaf-train fit`` run directory (FR, NR, filter or saliency; a pixel run has a
            ``report.json``, whose results go to the row's ``training.metrics.extra.pixels``).
        zoo: The zoo directory (``src/vmaf_tiny/zoo`` for the shipped zoo).
        loso: ``loso.json`` or its directory (default: ``RUN/loso/`` if present).
        baseline: A ``vmaf-train baseline-svr`` output directory (for the latency/accuracy
            comparison in the card).
        smoke: Mark the model as a contract-exercising checkpoint with no quality claim.
        replace: Replace a model of the same id already in ``zoo`` (False: refuse it).

    Returns:
        The registry row written.

    Raises:
        BadInputError: an incomplete run directory, or run files that lack what a fit run
            writes (a field missing or of the wrong type); the id already in ``zoo`` and not
            ``replace``.
        BadModelError: size class exceeded, a load-time check failed, or invalid output.
    """
    try:
        return _register(Path(run), zoo, loso=loso, baseline=baseline, smoke=smoke, replace=replace)
    except (KeyError, TypeError, AttributeError) as exc:  # a hand-edited or foreign run file
        raise BadInputError(
            f"{run}: its files lack what a fit run writes ({type(exc).__name__}: {exc})"
        ) from None


def _register(
    run: Path,
    zoo: str | os.PathLike[str],
    *,
    loso: str | os.PathLike[str] | None,
    baseline: str | os.PathLike[str] | None,
    smoke: bool,
    replace: bool,
) -> dict[str, Any]:
    run = Path(run)
    for name in ("metrics.json", "config.json", "model.onnx", "model.json"):
        if not (run / name).is_file():
            raise BadInputError(f"{run} is not a finished fit run (missing {name})")
    check_folder(zoo, "--zoo")
    metrics = read_json_object(run / "metrics.json")
    if not isinstance(metrics.get("test"), dict):
        raise BadInputError(f"{run / 'metrics.json'}: no test-split figures (not a fit run's)")
    sidecar = load_sidecar(run / "model.json")
    model_id = sidecar["id"]
    if not replace and any(r.get("id") == model_id for r in load_registry(zoo).get("models", [])):
        raise BadInputError(
            f"{zoo} already has {model_id}: pass --force to replace it with {run}'s model"
        )
    notes = check_for_registration(run / "model.onnx", run / "model.json", sidecar["class"])
    gate: dict[str, Any] | None = None
    int8_src = run / "model.int8.onnx"
    if int8_src.is_file() and gate_path(int8_src).is_file():
        gate = read_json_object(gate_path(int8_src))
        if gate.get("int8_sha256") != sha256_file(int8_src):
            raise BadInputError(f"{int8_src.name} changed after its gate ran; rerun quantize-int8")
    loso_path = Path(loso) if loso else run / "loso"
    if loso_path.is_dir():
        loso_path = loso_path / "loso.json"
    loso_data = read_json_object(loso_path) if loso_path.is_file() else None
    base = None
    if baseline:
        bpath = Path(baseline) / "metrics.json"
        if not bpath.is_file():
            raise BadInputError(f"{baseline} is not a baseline-svr output (no metrics.json)")
        base = read_json_object(bpath)

    shipped = dict(sidecar)
    shipped["onnx"] = f"{model_id}.onnx"
    shipped["smoke"] = bool(smoke)
    shipped["int8"], int8_row = int8_entry(model_id, gate, int8_src)
    run_config = read_json_object(run / "config.json")
    if run_config.get("id") != model_id:
        raise BadInputError(
            f"{run / 'config.json'} is the recipe of {run_config.get('id')!r}, the model is "
            f"{model_id!r}: not this run's config"
        )
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
    smeta = sidecar.get("metadata") or {}
    if smeta.get("libvmaf_features"):  # what the model imitates and what libvmaf must compute
        extra["teacher"] = {
            "model": smeta.get("teacher_model"),
            "target": (sidecar.get("output") or {}).get("target"),
            "libvmaf_features": str(smeta["libvmaf_features"]).split(","),
            "libvmaf_models": [m for m in str(smeta.get("libvmaf_models", "")).split(",") if m],
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
    if (run / "report.json").is_file():
        extra["pixels"] = _pixel_extras(run, metrics)
    prov = metrics["provenance"]
    training = {
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
    }
    row = _row(
        sidecar,
        run / "model.onnx",
        smoke=smoke,
        int8_row=int8_row,
        license=run_config.get("license", "BSD-2-Clause-Patent"),
        training=training,
    )
    ship(zoo, [Shipment(row, shipped, run / "model.onnx", int8_src if int8_row else None)])
    return row


def register_smoke(zoo: str | os.PathLike[str], seed: int = 0) -> list[dict[str, Any]]:
    """Build, check and register both smoke checkpoints (``training: null``, fp32 only).

    Returns:
        Their registry rows, each with the registration notes under ``checks``.
    """
    from vmaf_train.ship.smoke import make_smoke

    with tempfile.TemporaryDirectory(prefix="vmaf-train-smoke-") as tmp:
        shipments = []
        for exp, side in make_smoke(tmp, seed=seed).values():
            shipped = {**side, "onnx": f"{side['id']}.onnx", "int8": None}
            row = _row(
                shipped,
                exp.path,
                smoke=bool(shipped["smoke"]),
                int8_row=None,
                license="BSD-2-Clause-Patent",
                training=None,
            )
            shipments.append(Shipment(row, shipped, exp.path))
        notes = ship(zoo, shipments)
    return [{**s.row, "checks": n} for s, n in zip(shipments, notes, strict=True)]
