"""Static int8 quantisation (QDQ) behind an accuracy, saturation and size/speed gate.

ONNX Runtime's static quantiser inserts QuantizeLinear/DequantizeLinear pairs around the Gemm
layers (uint8 activations, int8 weights per output channel, **7-bit weights**: ``reduce_range``),
calibrated with MinMax on rows of the features table's *train* split. The input standardisation
(Sub/Div) and the output affine stay float.

Why 7-bit weights: on x86-64 CPUs without VNNI (AVX2 / AVX-512 without VNNI, e.g. AMD EPYC
before Zen 4) ONNX Runtime runs u8 x s8 products with ``VPMADDUBSW``, which adds two adjacent
products into a *saturating* int16 (ONNX Runtime's quantisation docs, "When and why do I need to
try U8U8?"). With full-range weights (+-127) two products of 255 x 127 overflow and the int8
model silently clamps; with ``reduce_range`` weights lie in [-64, 64] and any two products sum to
at most 255 x 128 = 32640 <= 32767, so the kernel is exact on every x86-64 CPU. Signed (S8S8)
activations are no cure there: on x86 ONNX Runtime converts S8 activation Q/DQ pairs to U8 (zero
point + 128, ``QDQS8ToU8Transformer``) and runs the same U8S8 kernel.

The gate (:func:`gate_verdict`) compares both files against the target on the *test* split and
ships the int8 file only if all hold: ``PLCC(fp32) - PLCC(int8) <= 0.001``; ``RMSE(int8) -
RMSE(fp32) <= 0.1`` VMAF points; the graph is saturation-free by construction
(:func:`saturation_check`); a numpy emulation of the non-VNNI kernel gives the same integer
accumulators as exact arithmetic on the test rows (:func:`emulate_u8s8`); and the int8 file is
smaller than fp32 or at least :data:`GATE_MIN_SPEEDUP` times faster. ``vmaf-train register`` reads
the gate report.

Pixel models use the same recipe (:func:`quantize_qdq`) around the operators their recipe's
``[int8] op_types`` names, calibrated on frames of the train split; their fit measures the
figures, decides with :func:`gate_verdict` (limits from the recipe's ``[int8]`` table) and stores
the report with :func:`write_gate` where ``vmaf-train register`` looks for it (:func:`gate_path`).
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort

from vmaf_tiny.errors import BadModelError
from vmaf_tiny.features import CANONICAL6
from vmaf_tiny.fsutil import atomic_write_bytes, atomic_write_json, sha256_file
from vmaf_train.data.dataset import FRData, load_fr_data, read_table_for, split_data
from vmaf_train.evaluate.metrics import plcc, rmse
from vmaf_train.evaluate.predict import FRModel, make_session, open_fr_model, per_row_latency
from vmaf_train.recipes import SplitConfig
from vmaf_train.ship.onnx_io import graph_ops
from vmaf_train.ship.saturation import emulate_u8s8, saturation_check

__all__ = [
    "GATE_MAX_PLCC_DROP",
    "GATE_MAX_RMSE_RISE",
    "GATE_MIN_SPEEDUP",
    "NR_MAX_PLCC_DROP",
    "gate_path",
    "gate_verdict",
    "int8_checks",
    "latency_us",
    "quantize_int8",
    "quantize_qdq",
    "write_gate",
]

GATE_MAX_PLCC_DROP = 0.001
# int8 may add at most 0.1 VMAF point of RMSE against the teacher (vmaf_tiny_v3's own fp32 test
# RMSE is 0.107): the old recipe's rise to 0.747 on a CPU without VNNI fails it.
GATE_MAX_RMSE_RISE = 0.1
# "Faster" means at least 10 % less time per row at some measured batch size (timing noise on a
# shared machine is a few per cent).
GATE_MIN_SPEEDUP = 1.10
# Pixel models: the NR metric's default PLCC-drop limit (the recipe's ``[int8]`` table may set
# its own; RMSE may rise by at most 0.5 VMAF point on the held-out sources).
NR_MAX_PLCC_DROP = 0.005


def gate_path(int8_path: str | os.PathLike[str]) -> Path:
    """Where the gate report of an int8 file lives: ``M.int8.onnx`` -> ``M.int8.gate.json``."""
    p = Path(int8_path)
    return p.with_name(p.name.removesuffix(".onnx") + ".gate.json")


class _Reader:
    """CalibrationDataReader over a list of feed dicts (ORT duck-types ``get_next``)."""

    def __init__(self, feeds: Sequence[dict[str, np.ndarray]]) -> None:
        self._feeds = list(feeds)
        self._it = iter(self._feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)

    def rewind(self) -> None:
        self._it = iter(self._feeds)


def quantize_qdq(
    fp32: str | os.PathLike[str],
    out: str | os.PathLike[str],
    calibration: Sequence[dict[str, np.ndarray]],
    *,
    op_types: Sequence[str] = ("Conv", "Gemm", "MatMul"),
    per_channel: bool = True,
    reduce_range: bool = True,
    note: str = "static QDQ int8 (MinMax, per-channel, 7-bit weights)",
) -> dict[str, Any]:
    """Quantise ``fp32`` into ``out``: ONNX Runtime's static quantiser, QDQ format, uint8
    activations, int8 weights (7-bit with ``reduce_range``, the default: saturation-free on
    x86-64 without VNNI, see the module docstring), MinMax calibration over the ``calibration``
    feeds.

    The fp32 file's ``metadata_props`` are carried over, plus ``quantization`` = ``note``; the
    graph must stay in the default operator domain and pass the ONNX checker; written atomically.

    Returns:
        ``{"int8_sha256", "int8_bytes", "fp32_sha256", "ops"}`` (``ops``: comma-joined, sorted).

    Raises:
        BadModelError: the quantiser wrote external data or a non-default op domain.
    """
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    dest = Path(out)
    root = logging.getLogger()
    level = root.level
    with tempfile.TemporaryDirectory(prefix="vmaf-train-int8-") as tmp:
        tmp_out = Path(tmp) / "model.int8.onnx"
        root.setLevel(logging.ERROR)  # the quantiser logs pre-processing advice at WARNING
        try:
            quantize_static(
                str(fp32),
                str(tmp_out),
                _Reader(calibration),
                quant_format=QuantFormat.QDQ,
                op_types_to_quantize=list(op_types),
                per_channel=per_channel,
                reduce_range=reduce_range,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                calibrate_method=CalibrationMethod.MinMax,
                use_external_data_format=False,
            )
        finally:
            root.setLevel(level)
        extra = sorted(p.name for p in Path(tmp).iterdir() if p.suffix == ".data")
        if extra:
            raise BadModelError(f"quantiser wrote external data {extra}")
        proto = onnx.load(str(tmp_out), load_external_data=False)
    bad = sorted({d for d, _ in graph_ops(proto) if d not in ("", "ai.onnx")})
    if bad:
        raise BadModelError(f"int8 graph uses non-default op domains {bad}")
    src = onnx.load(str(fp32), load_external_data=False)
    del proto.metadata_props[:]
    for e in src.metadata_props:
        proto.metadata_props.add(key=e.key, value=e.value)
    proto.metadata_props.add(key="quantization", value=note)
    proto.producer_name = "vmaf-train"
    onnx.checker.check_model(proto)
    atomic_write_bytes(dest, proto.SerializeToString())
    return {
        "int8_sha256": sha256_file(dest),
        "int8_bytes": dest.stat().st_size,
        "fp32_sha256": sha256_file(fp32),
        "ops": ",".join(op for _, op in graph_ops(proto)),
    }


def gate_verdict(
    report: dict[str, Any],
    *,
    max_plcc_drop: float = GATE_MAX_PLCC_DROP,
    max_rmse_rise: float = GATE_MAX_RMSE_RISE,
    min_speedup: float = GATE_MIN_SPEEDUP,
) -> dict[str, Any]:
    """Decide whether an int8 file ships, from the figures its gate measured.

    ``report`` needs ``plcc_fp32/int8``, ``rmse_fp32/int8``, ``fp32_bytes``, ``int8_bytes``, the
    ``fp32_us_per_row_bN``/``int8_us_per_row_bN`` latencies, ``saturation_free`` and
    ``emulated_identical``. Every rule must hold: the PLCC drop and the RMSE rise within their
    limits, no possible saturation, identical emulated non-VNNI accumulators, and the int8 file
    smaller than fp32 or ``min_speedup`` times faster at some measured batch size (int8 that is
    neither buys nothing and is one more file to trust).

    Returns:
        ``report`` plus ``passed``, ``accurate``, ``smaller``, ``faster``, ``speedup_bN``,
        the limits, ``rule`` and ``verdict`` (the reasons when it does not ship).
    """
    rep = dict(report)

    def num(key: str) -> float:  # an undefined metric (None/NaN) fails every comparison
        v = rep.get(key)
        return float("nan") if v is None else float(v)

    rep["plcc_drop"] = num("plcc_fp32") - num("plcc_int8")
    rep["rmse_change"] = num("rmse_int8") - num("rmse_fp32")
    speed = {}
    for key in sorted(rep):
        if key.startswith("fp32_us_per_row_b"):
            b = key.removeprefix("fp32_us_per_row_")
            q = rep.get(f"int8_us_per_row_{b}")
            if q:
                speed[f"speedup_{b}"] = rep[key] / q
    rep.update(speed)
    checks = {
        f"PLCC drop {rep['plcc_drop']:.5f} > {max_plcc_drop}": rep["plcc_drop"] <= max_plcc_drop,
        f"RMSE rise {rep['rmse_change']:.4f} > {max_rmse_rise}": rep["rmse_change"]
        <= max_rmse_rise,
        "may saturate on x86-64 without VNNI": bool(rep.get("saturation_free")),
        "emulated non-VNNI accumulators differ": bool(rep.get("emulated_identical")),
    }
    rep["accurate"] = all(checks.values())
    rep["smaller"] = bool(rep["int8_bytes"] < rep["fp32_bytes"])
    rep["faster"] = bool(speed) and max(speed.values()) >= min_speedup
    checks[
        f"neither smaller ({rep['int8_bytes']} vs {rep['fp32_bytes']} bytes) nor "
        f"{min_speedup:.2f}x faster"
    ] = rep["smaller"] or rep["faster"]
    rep["passed"] = all(checks.values())
    rep["max_plcc_drop"], rep["max_rmse_rise"], rep["min_speedup"] = (
        max_plcc_drop,
        max_rmse_rise,
        min_speedup,
    )
    rep["rule"] = (
        f"PLCC(fp32) - PLCC(int8) <= {max_plcc_drop}, RMSE(int8) - RMSE(fp32) <= "
        f"{max_rmse_rise}, saturation-free on x86-64 without VNNI, smaller or >= "
        f"{min_speedup:.2f}x faster"
    )
    fails = [k for k, ok in checks.items() if not ok]
    rep["verdict"] = "ships" if not fails else "fp32 only: " + "; ".join(fails)
    return rep


def int8_checks(
    int8_path: str | os.PathLike[str], rows: Sequence[dict[str, np.ndarray]]
) -> dict[str, Any]:
    """The saturation proof and the non-VNNI emulation of ``int8_path`` as flat gate fields
    (``saturation_free``, ``worst_pair_sum``, ``emulated_*``) plus the per-layer proof."""
    proof = saturation_check(int8_path)
    emu = emulate_u8s8(int8_path, rows)
    return {
        "saturation_free": proof["saturation_free"],
        "worst_pair_sum": proof["worst_pair_sum"],
        "emulated_rows": emu["rows"],
        "emulated_saturated_dots": emu["saturated_dots"],
        "emulated_rows_affected": emu["rows_affected"],
        "emulated_identical": emu["identical"],
        "saturation": proof["layers"],
    }


def _split_cfg(model: FRModel) -> SplitConfig:
    meta = model.sidecar.get("metadata") or {}
    d = SplitConfig()
    return SplitConfig(
        val_frac=float(meta.get("val_frac", d.val_frac)),
        test_frac=float(meta.get("test_frac", d.test_frac)),
        salt=str(meta.get("split_salt", d.salt)),
    )


def _feed(model: FRModel, data: FRData) -> dict[str, np.ndarray]:
    return model.inputs_from_arrays(data.features, data.codec)


def quantize_int8(
    fp32: str | os.PathLike[str],
    calibration: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    n_calib: int = 2048,
    seed: int = 0,
    per_channel: bool = True,
    reduce_range: bool = True,
    max_plcc_drop: float = GATE_MAX_PLCC_DROP,
    max_rmse_rise: float = GATE_MAX_RMSE_RISE,
) -> dict[str, Any]:
    """Quantise ``fp32`` to ``out`` (static QDQ) and gate it on the test split.

    Args:
        fp32: The fp32 ``.onnx`` (sidecar ``.json`` beside it).
        calibration: Features table; calibration rows come from its train split, gate rows from
            its test split (split parameters from the sidecar's metadata).
        out: Destination ``.int8.onnx``; the gate report goes beside it (:func:`gate_path`).
        n_calib: Calibration rows (a seeded sample of the train split).
        seed: Seed of the calibration sample.
        per_channel: Per-output-channel weight scales.
        reduce_range: 7-bit weights (saturation-free without VNNI); ``False`` only to reproduce
            the old recipe, whose file the gate refuses.
        max_plcc_drop: Gate limit on ``PLCC(fp32) - PLCC(int8)``.
        max_rmse_rise: Gate limit on ``RMSE(int8) - RMSE(fp32)`` (VMAF points).

    Returns:
        The gate report (:func:`gate_verdict`: ``passed``, ``verdict``, PLCC/RMSE of both,
        saturation proof, non-VNNI emulation, latency, sha256, bytes).
    """

    model = open_fr_model(fp32)
    target = model.target
    table = read_table_for(calibration, target)
    block = model.sidecar.get("codec_block") or ""
    order = tuple(model.sidecar.get("feature_order") or CANONICAL6)
    data = load_fr_data(table, target=target, codec_block=block, features=order)
    parts, _ = split_data(data, _split_cfg(model))
    train, test = parts["train"], parts["test"]
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(train.n, size=min(n_calib, train.n), replace=False))
    calib = _feed(model, train.subset(pick))
    dest = Path(out)
    n = len(pick)
    chunks = [{k: v[i : i + 256] for k, v in calib.items()} for i in range(0, n, 256)]
    bits = "7-bit" if reduce_range else "8-bit"
    info = quantize_qdq(
        model.onnx_path,
        dest,
        chunks,
        op_types=("Gemm", "MatMul"),
        per_channel=per_channel,
        reduce_range=reduce_range,
        note=f"static QDQ int8 (u8 activations, {bits} s8 "
        f"weights{', per-channel' if per_channel else ''}), MinMax calibration "
        f"on {n} train rows, seed {seed}",
    )
    qmodel = FRModel(dest, model.sidecar, make_session(dest))
    feed = _feed(model, test)
    p32, p8 = model.run(feed), qmodel.run(feed)
    lat32 = per_row_latency(model, feed)
    lat8 = per_row_latency(qmodel, feed)
    report: dict[str, Any] = {
        "n_test": test.n,
        "n_calibration": len(pick),
        "reduce_range": reduce_range,
        "plcc_fp32": plcc(test.target, p32),
        "plcc_int8": plcc(test.target, p8),
        "rmse_fp32": rmse(test.target, p32),
        "rmse_int8": rmse(test.target, p8),
        "rmse_int8_vs_fp32": rmse(p32, p8),
        "max_abs_diff_fp32_int8": float(np.max(np.abs(p32 - p8))),
        "fp32_us_per_row_b1": lat32["us_per_row_b1"],
        "fp32_us_per_row_b1024": lat32["us_per_row_b1024"],
        "int8_us_per_row_b1": lat8["us_per_row_b1"],
        "int8_us_per_row_b1024": lat8["us_per_row_b1024"],
        "fp32_bytes": model.onnx_path.stat().st_size,
        "int8_bytes": dest.stat().st_size,
        "int8_sha256": info["int8_sha256"],
        "fp32_sha256": info["fp32_sha256"],
        "ops": info["ops"].split(","),
        **int8_checks(dest, [feed]),
    }
    report = gate_verdict(report, max_plcc_drop=max_plcc_drop, max_rmse_rise=max_rmse_rise)
    atomic_write_json(gate_path(dest), report)
    return report


def latency_us(
    sess: ort.InferenceSession, feed: Mapping[str, np.ndarray], *, runs: int = 20
) -> float:
    """Median microseconds per call (after one warm-up call)."""
    sess.run(None, dict(feed))
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        sess.run(None, dict(feed))
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1e6)


def write_gate(int8_path: str | os.PathLike[str], report: Mapping[str, Any]) -> Path:
    """Write the gate report beside the int8 file (non-finite floats as null); returns its path."""
    from vmaf_train.fit.loop import clean_json

    path = gate_path(int8_path)
    atomic_write_json(path, clean_json(report))
    return path
