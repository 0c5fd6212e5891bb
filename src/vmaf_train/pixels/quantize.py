"""Static int8 (QDQ) quantisation of pixel models, gated on held-out accuracy.

ONNX Runtime's static quantiser inserts QuantizeLinear/DequantizeLinear pairs around the
convolutions and the head (uint8 activations, int8 per-channel weights), calibrated with MinMax on
frames of the *train* split. The caller computes the gate (for the NR metric: the PLCC drop on the
held-out sources, at most :data:`NR_MAX_PLCC_DROP`); :func:`write_gate` stores the report beside
the int8 file where ``vmaf-train register`` looks for it (:func:`vmaf_train.quantize.gate_path`).
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort

from vmaf_tiny.errors import BadModelError
from vmaf_tiny.fsutil import atomic_write_bytes, atomic_write_json, sha256_file
from vmaf_train.pixels.export import graph_ops
from vmaf_train.quantize import gate_path

__all__ = [
    "NR_MAX_PLCC_DROP",
    "gate_path",
    "latency_us",
    "quantize_qdq",
    "write_gate",
]

NR_MAX_PLCC_DROP = 0.005


class _Reader:
    """CalibrationDataReader over a list of feed dicts."""

    def __init__(self, feeds: Sequence[dict[str, np.ndarray]]) -> None:
        self._feeds = list(feeds)
        self._it = iter(self._feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)

    def rewind(self) -> None:
        self._it = iter(self._feeds)


def quantize_qdq(
    fp32: str | Path,
    out: str | Path,
    calibration: Sequence[dict[str, np.ndarray]],
    *,
    op_types: Sequence[str] = ("Conv", "Gemm", "MatMul"),
    per_channel: bool = True,
) -> dict[str, Any]:
    """Quantise ``fp32`` into ``out`` (static QDQ, MinMax calibration over ``calibration``).

    Returns:
        ``{"int8_sha256", "int8_bytes", "fp32_sha256", "ops"}``.

    Raises:
        BadModelError: the quantiser wrote external data or a non-default op domain.
    """
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    dest = Path(out)
    root = logging.getLogger()
    level = root.level
    with tempfile.TemporaryDirectory(prefix="vmaf-train-px-int8-") as tmp:
        tmp_out = Path(tmp) / "model.int8.onnx"
        root.setLevel(logging.ERROR)
        try:
            quantize_static(
                str(fp32),
                str(tmp_out),
                _Reader(calibration),
                quant_format=QuantFormat.QDQ,
                op_types_to_quantize=list(op_types),
                per_channel=per_channel,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                calibrate_method=CalibrationMethod.MinMax,
                use_external_data_format=False,
            )
        finally:
            root.setLevel(level)
        if any(p.suffix == ".data" for p in Path(tmp).iterdir()):
            raise BadModelError("the quantiser wrote external data")
        proto = onnx.load(str(tmp_out), load_external_data=False)
    bad = sorted({d for d, _ in graph_ops(proto) if d not in ("", "ai.onnx")})
    if bad:
        raise BadModelError(f"int8 graph uses non-default op domains {bad}")
    src = onnx.load(str(fp32), load_external_data=False)
    del proto.metadata_props[:]
    for e in src.metadata_props:
        proto.metadata_props.add(key=e.key, value=e.value)
    proto.metadata_props.add(key="quantization", value="static QDQ int8 (MinMax, per-channel)")
    atomic_write_bytes(dest, proto.SerializeToString())
    return {
        "int8_sha256": sha256_file(dest),
        "int8_bytes": dest.stat().st_size,
        "fp32_sha256": sha256_file(fp32),
        "ops": ",".join(op for _, op in graph_ops(proto)),
    }


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


def write_gate(int8_path: str | Path, report: Mapping[str, Any]) -> Path:
    """Write the gate report beside the int8 file; returns its path."""
    from vmaf_train.pixels.runs import clean_json

    path = gate_path(int8_path)
    atomic_write_json(path, clean_json(report))
    return path
