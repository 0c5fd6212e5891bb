"""Static int8 (QDQ) quantisation of pixel models, gated on held-out accuracy.

ONNX Runtime's static quantiser inserts QuantizeLinear/DequantizeLinear pairs around the
operators the recipe's ``[int8] op_types`` names (uint8 activations, 7-bit int8 per-channel
weights: saturation-free on x86-64 without VNNI, see :mod:`vmaf_train.quantize`), calibrated with
MinMax on frames of the *train* split. The caller measures the figures and decides with
:func:`vmaf_train.quantize.gate_verdict` (limits from the recipe's ``[int8]`` table; for the NR
metric by default a PLCC drop of at most :data:`NR_MAX_PLCC_DROP` and an RMSE rise of at most 0.5
VMAF point on the held-out sources); :func:`write_gate` stores the report beside the int8 file
where ``vmaf-train register`` looks for it (:func:`vmaf_train.quantize.gate_path`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from vmaf_tiny.fsutil import atomic_write_json
from vmaf_train.quantize import gate_path, quantize_qdq

__all__ = [
    "NR_MAX_PLCC_DROP",
    "gate_path",
    "latency_us",
    "quantize_qdq",
    "write_gate",
]

NR_MAX_PLCC_DROP = 0.005


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
    from vmaf_train.fit.loop import clean_json

    path = gate_path(int8_path)
    atomic_write_json(path, clean_json(report))
    return path
