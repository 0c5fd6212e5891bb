"""Apply an int8 gate to a model already in a zoo: ship the int8 file or take it out.

``vmaf-train register`` decides about int8 when a run is registered. When the gate's rules
change after a model shipped (the saturation proof, the RMSE limit and the smaller-or-faster
rule came after ``vmaf_tiny_v3`` and ``nr_metric_v1`` shipped), the zoo must follow without a
retraining:

* :func:`apply_int8_gate` takes a gate report of the zoo's own fp32 file (``vmaf-train
  quantize-int8 -m ZOO/<id>.onnx ...``: the whole gate on the test split) and updates the
  row, the sidecar and the files exactly as registration would;
* :func:`recheck_int8` re-judges a shipped int8 file where the gate's data are not at hand (a
  pixel model's corpus frames): the accuracy figures stay those measured when it shipped; the
  saturation proof, the non-VNNI emulation (on seeded probe inputs), sizes and latency are
  measured now on the shipped files; then :func:`apply_int8_gate`.

Both validate the registry against its schema and run the load-time checks before writing.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from vmaf_tiny.errors import BadInputError
from vmaf_tiny.fsutil import sha256_file
from vmaf_train.evaluate.predict import load_sidecar, make_session
from vmaf_train.ship.quantize import (
    GATE_MAX_PLCC_DROP,
    GATE_MAX_RMSE_RISE,
    gate_path,
    gate_verdict,
    int8_checks,
)
from vmaf_train.ship.register import int8_entry
from vmaf_train.ship.registry import Shipment, load_registry, ship

__all__ = ["apply_int8_gate", "load_gate", "recheck_int8"]


def _row(reg: dict[str, Any], pred: Any, what: str) -> dict[str, Any]:
    rows = [r for r in reg.get("models", []) if pred(r)]
    if len(rows) != 1:
        raise BadInputError(f"no registry row {what}")
    row: dict[str, Any] = rows[0]
    return row


def apply_int8_gate(
    zoo: str | os.PathLike[str],
    gate: dict[str, Any],
    int8_src: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Ship or withdraw a zoo model's int8 file according to ``gate``.

    Args:
        zoo: The zoo directory.
        gate: A gate report whose ``fp32_sha256`` is the zoo row's fp32 file.
        int8_src: The gated int8 file (its sha256 must match the report); needed to ship.

    Returns:
        The updated registry row.

    Raises:
        BadInputError: no row for the gate's fp32 file, or the int8 file is not the gated one.
        BadModelError: the int8 file fails a load-time check, or the registry would be invalid.
    """
    zoo = Path(zoo)
    reg = load_registry(zoo)
    row = _row(reg, lambda r: r.get("sha256") == gate.get("fp32_sha256"), "for this fp32 file")
    mid = row["id"]
    src = Path(int8_src) if int8_src is not None else None
    if src is not None and sha256_file(src) != gate.get("int8_sha256"):
        raise BadInputError(f"{src.name} is not the file its gate measured; rerun the gate")
    shipped = load_sidecar(zoo / row["sidecar"])
    if src is None:
        side_int8, int8_row = None, None
    else:
        side_int8, int8_row = int8_entry(mid, gate, src)
    shipped["int8"] = side_int8
    row["int8"] = int8_row
    row["quant_mode"] = "fp32+int8_qdq" if int8_row else "fp32"
    metrics = (row.get("training") or {}).get("metrics")
    if metrics is not None:
        metrics.setdefault("extra", {})["int8_gate"] = gate
        lat = metrics.setdefault("latency", {})
        for k in [k for k in lat if k.startswith("int8_us_per_row_")]:
            del lat[k]
        lat.update({k: v for k, v in gate.items() if k.startswith(("fp32_us_", "int8_us_"))})
        pixels = metrics["extra"].get("pixels", {}).get("report")
        if isinstance(pixels, dict) and "int8_gate" in pixels:
            pixels["int8_gate"] = gate
    # The same single path as `vmaf-train register`: stage, check as the runtime loads it, move
    # in, write registry.json once.
    ship(zoo, [Shipment(row, shipped, zoo / row["onnx"], src if int8_row else None)])
    return row


def _batches(gate: dict[str, Any]) -> list[str]:
    """The ``_us_per_row_bN`` suffixes a gate measured."""
    return sorted(
        {k.removeprefix("fp32") for k in gate if k.startswith("fp32_us_per_row_b")}
        | {k.removeprefix("int8") for k in gate if k.startswith("int8_us_per_row_b")}
    )


def _probe(sess: Any, batch: int, seed: int) -> dict[str, np.ndarray]:
    """Seeded uniform [0, 1) inputs of the declared shapes (symbolic axes -> ``batch``)."""
    rng = np.random.default_rng(seed)
    feed = {}
    for i in sess.get_inputs():
        shape = [d if isinstance(d, int) else batch for d in i.shape]
        feed[i.name] = rng.random(shape, dtype=np.float32)
    return feed


def _latency(
    sessions: dict[str, Any], batch: int, seed: int, budget_s: float = 2.0
) -> dict[str, float]:
    """Median seconds per row of each session at ``batch``, runs interleaved (a fair race on a
    shared machine)."""
    feed = _probe(next(iter(sessions.values())), batch, seed)
    times: dict[str, list[float]] = {k: [] for k in sessions}
    for s in sessions.values():
        s.run(None, feed)
    t_end = time.perf_counter() + budget_s
    while time.perf_counter() < t_end or min(len(v) for v in times.values()) < 5:
        for k, s in sessions.items():
            t0 = time.perf_counter()
            s.run(None, feed)
            times[k].append(time.perf_counter() - t0)
    return {k: float(np.median(v)) / batch for k, v in times.items()}


def recheck_int8(
    zoo: str | os.PathLike[str], model_id: str, *, apply: bool = False, seed: int = 0
) -> dict[str, Any]:
    """Re-judge a shipped int8 file under the current gate rules, from the shipped files.

    Accuracy figures (PLCC, RMSE on the test split) are those stored when the file shipped;
    the saturation proof, the non-VNNI emulation (seeded probe inputs), both file sizes and both
    latencies (at the batch sizes the stored gate measured) are measured now. Limits: those the
    stored gate recorded, else the kind's defaults (FR: the toolkit's, pixel models: the
    ``[int8]`` defaults of the pixel recipes).

    Args:
        zoo: The zoo directory.
        model_id: A row with a shipped int8 file.
        apply: Write the verdict into the zoo (:func:`apply_int8_gate`).
        seed: Seed of the probe inputs.

    Returns:
        The new gate report.
    """
    from vmaf_train.recipes import INT8_DEFAULTS

    zoo = Path(zoo)
    row = _row(load_registry(zoo), lambda r: r.get("id") == model_id, f"with id {model_id}")
    if not row.get("int8"):
        raise BadInputError(f"{model_id} ships no int8 file")
    fp32, int8 = zoo / row["onnx"], zoo / row["int8"]["onnx"]
    metrics = (row.get("training") or {}).get("metrics") or {}
    stored = dict(metrics.get("extra", {}).get("int8_gate") or {})
    if row["kind"] == "fr":
        limits = {"max_plcc_drop": GATE_MAX_PLCC_DROP, "max_rmse_rise": GATE_MAX_RMSE_RISE}
    else:
        limits = {k: float(INT8_DEFAULTS[k]) for k in ("max_plcc_drop", "max_rmse_rise")}
    limits = {k: float(stored.get(k, v)) for k, v in limits.items()}
    sessions = {"fp32": make_session(fp32), "int8": make_session(int8)}
    batches = sorted({int(b.removeprefix("_us_per_row_b")) for b in _batches(stored)} or {1})
    gate = {k: v for k, v in stored.items() if "_us_per_row_" not in k}
    for b in batches:
        lat = _latency(sessions, b, seed)
        gate[f"fp32_us_per_row_b{b}"] = lat["fp32"] * 1e6
        gate[f"int8_us_per_row_b{b}"] = lat["int8"] * 1e6
    rows = 256 if row["kind"] == "fr" else 4
    gate.update(
        {
            "fp32_bytes": fp32.stat().st_size,
            "int8_bytes": int8.stat().st_size,
            "fp32_sha256": sha256_file(fp32),
            "int8_sha256": sha256_file(int8),
            **int8_checks(int8, [_probe(sessions["fp32"], rows, seed)]),
            "rechecked": (
                "Re-judged from the shipped files (vmaf-train int8-ship --recheck): PLCC/RMSE as "
                "measured when the file shipped; saturation proof, non-VNNI emulation on seeded "
                "probe inputs, sizes and latency measured now"
            ),
        }
    )
    if "rmse_delta" in gate and "rmse_change" not in gate:
        gate["rmse_change"] = gate.pop("rmse_delta")
    gate = gate_verdict(gate, **limits)
    if apply:
        apply_int8_gate(zoo, gate, int8)
    return gate


def load_gate(int8_path: str | os.PathLike[str]) -> dict[str, Any]:
    """The gate report beside ``int8_path``.

    Raises:
        BadInputError: no report there.
    """
    p = gate_path(int8_path)
    if not p.is_file():
        raise BadInputError(f"no gate report {p.name} beside {Path(int8_path).name}")
    gate: dict[str, Any] = json.loads(p.read_text())
    return gate
