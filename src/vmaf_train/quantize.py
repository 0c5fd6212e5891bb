"""Static int8 quantisation (QDQ) behind an accuracy gate.

ONNX Runtime's static quantiser inserts QuantizeLinear/DequantizeLinear pairs around the Gemm
layers (uint8 activations, int8 weights per output channel), calibrated with MinMax on rows of the
features table's *train* split. The input standardisation (Sub/Div) and the output affine stay
float. The gate compares both files against the target on the *test* split:
``PLCC(fp32) - PLCC(int8) <= 0.001``; the RMSE change and fp32/int8 per-row latency are reported.
The int8 file ships only if the gate passes (``vmaf-train register`` reads the gate report).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from vmaf_tiny.errors import BadModelError
from vmaf_tiny.fsutil import atomic_write_bytes, atomic_write_json, sha256_file
from vmaf_train.config import SplitConfig
from vmaf_train.dataset import FRData, load_fr_data, read_table_for, split_data
from vmaf_train.eval import plcc, rmse
from vmaf_train.export import graph_ops
from vmaf_train.predict import FRModel, make_session, open_fr_model, per_row_latency

__all__ = ["GATE_MAX_PLCC_DROP", "gate_path", "quantize_int8", "quantize_qdq"]

GATE_MAX_PLCC_DROP = 0.001


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
    note: str = "static QDQ int8 (MinMax, per-channel)",
) -> dict[str, Any]:
    """Quantise ``fp32`` into ``out``: ONNX Runtime's static quantiser, QDQ format, uint8
    activations, int8 weights, MinMax calibration over the ``calibration`` feeds.

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

    Returns:
        The gate report (``passed``, PLCC/RMSE of both, deltas, latency, sha256, bytes).
    """

    model = open_fr_model(fp32)
    target = model.target
    table = read_table_for(calibration, target)
    block = model.sidecar.get("codec_block") or ""
    data = load_fr_data(table, target=target, codec_block=block)
    parts, _ = split_data(data, _split_cfg(model))
    train, test = parts["train"], parts["test"]
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(train.n, size=min(n_calib, train.n), replace=False))
    calib = _feed(model, train.subset(pick))
    dest = Path(out)
    n = len(pick)
    chunks = [{k: v[i : i + 256] for k, v in calib.items()} for i in range(0, n, 256)]
    info = quantize_qdq(
        model.onnx_path,
        dest,
        chunks,
        op_types=("Gemm", "MatMul"),
        per_channel=per_channel,
        note="static QDQ int8 (u8 activations, s8 "
        f"weights{', per-channel' if per_channel else ''}), MinMax calibration "
        f"on {n} train rows, seed {seed}",
    )
    qmodel = FRModel(dest, model.sidecar, make_session(dest))
    feed = _feed(model, test)
    p32, p8 = model.run(feed), qmodel.run(feed)
    plcc32, plcc8 = plcc(test.target, p32), plcc(test.target, p8)
    rmse32, rmse8 = rmse(test.target, p32), rmse(test.target, p8)
    lat32 = per_row_latency(model, feed)
    lat8 = per_row_latency(qmodel, feed)
    report: dict[str, Any] = {
        "passed": bool(plcc32 - plcc8 <= GATE_MAX_PLCC_DROP),
        "rule": f"PLCC(fp32) - PLCC(int8) <= {GATE_MAX_PLCC_DROP} on the test split",
        "n_test": test.n,
        "n_calibration": len(pick),
        "plcc_fp32": plcc32,
        "plcc_int8": plcc8,
        "plcc_drop": plcc32 - plcc8,
        "rmse_fp32": rmse32,
        "rmse_int8": rmse8,
        "rmse_change": rmse8 - rmse32,
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
    }
    atomic_write_json(gate_path(dest), report)
    return report
