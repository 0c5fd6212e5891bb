"""Saturation of int8 (QDQ) graphs on x86-64 CPUs without VNNI: the proof and the emulation.

ONNX Runtime runs u8 x s8 products there with ``VPMADDUBSW``, which adds two adjacent products
into a saturating int16 (see :mod:`vmaf_train.ship.quantize` for why the recipe's 7-bit weights
make that exact). :func:`saturation_check` proves a graph saturation-free from its integer weights
and activation ranges; :func:`emulate_u8s8` replays the non-VNNI kernel in numpy on real rows.
Both feed the int8 gate and ``vmaf-train register``, which never ships a file that saturates.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx

__all__ = ["INT16_MAX", "INT16_MIN", "U8_MAX", "emulate_u8s8", "saturation_check"]

# VPMADDUBSW adds two u8 x s8 products into a signed 16-bit lane, saturating.
INT16_MIN, INT16_MAX = -32768, 32767
# 8-bit activations reach the U8S8 kernel as u8 (S8 ones are shifted by 128 on x86).
U8_MAX = 255


def _qdq_layers(proto: onnx.ModelProto) -> list[dict[str, Any]]:
    """The integer matmul-like layers of a QDQ graph: MatMul/Gemm/Conv whose data input and
    weight both come through DequantizeLinear (the pattern ONNX Runtime fuses into integer
    kernels). Each entry: node, op, the quantised activation tensor and its type, the integer
    weights as ``[reduction, out]`` (Conv: ``[C/g * kh * kw, M]``), and why it may be skipped."""
    from onnx import numpy_helper

    inits = {t.name: t for t in proto.graph.initializer}
    producer = {o: n for n in proto.graph.node for o in n.output}
    for n in proto.graph.node:  # Constant nodes count as initialisers
        if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value":
            inits.setdefault(n.output[0], n.attribute[0].t)

    def dq_source(name: str) -> onnx.NodeProto | None:
        node = producer.get(name)
        return node if node is not None and node.op_type == "DequantizeLinear" else None

    layers = []
    for n in proto.graph.node:
        if n.op_type not in ("MatMul", "Gemm", "Conv") or len(n.input) < 2:
            continue
        a_dq, b_dq = dq_source(n.input[0]), dq_source(n.input[1])
        if a_dq is None and b_dq is None:
            continue  # a float layer: no integer kernel
        name = n.name or n.output[0]
        layer: dict[str, Any] = {"node": name, "op": n.op_type, "problem": None}
        layers.append(layer)
        if a_dq is None or b_dq is None or b_dq.input[0] not in inits:
            layer["problem"] = "not an activation x constant-weight integer layer"
            continue
        a_zp = a_dq.input[2] if len(a_dq.input) > 2 else ""
        a_type = numpy_helper.to_array(inits[a_zp]).dtype if a_zp in inits else np.dtype(np.uint8)
        w = numpy_helper.to_array(inits[b_dq.input[0]])
        layer["activation"] = a_dq.input[0]
        layer["activation_dtype"] = str(a_type)
        layer["weight_dtype"] = str(w.dtype)
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
        if n.op_type == "Gemm":
            if attrs.get("transA", 0):
                layer["problem"] = "Gemm with transA"
                continue
            wk = w.T if attrs.get("transB", 0) else w
        elif n.op_type == "MatMul":
            if w.ndim != 2:
                layer["problem"] = f"MatMul weight of rank {w.ndim}"
                continue
            wk = w
        else:  # Conv: out channel m reduces over its (C/g, kh, kw) block
            wk = w.reshape(w.shape[0], -1).T
        layer["weights"] = np.asarray(wk, dtype=np.int64)
    return layers


def saturation_check(model: str | os.PathLike[str] | onnx.ModelProto) -> dict[str, Any]:
    """Prove (or refute) that a QDQ int8 graph cannot saturate ONNX Runtime's U8S8 kernels on
    x86-64 CPUs without VNNI, whatever the input.

    There the kernels multiply u8 activations by s8 weights with ``VPMADDUBSW``, which adds two
    products along the reduction axis into a signed 16-bit lane with saturation, then widens to
    int32. Activations reach the kernel as u8 in [0, 255] (int8 ones are shifted by 128 on x86),
    and any input can drive them to either end. So for each output channel the largest pair sum
    is 255 x (sum of its two largest positive weights) and the smallest 255 x (sum of its two most
    negative weights); the layer is safe when both stay in [-32768, 32767]. Taking the two largest
    weights of the whole reduction makes the bound hold for any pairing the kernel uses (Gemm,
    MatMul, or a Conv's im2col order). u8 weights (U8U8 kernels) and 16-bit types do not use
    ``VPMADDUBSW``; they are reported and count as safe.

    Args:
        model: A QDQ ``.onnx`` path or its proto.

    Returns:
        ``{"saturation_free", "worst_pair_sum", "bound", "layers": [...]}``; each layer gives
        ``node``, ``op``, ``max_pair``, ``min_pair``, ``safe`` (or ``problem``, counted unsafe).
    """
    proto = model if isinstance(model, onnx.ModelProto) else onnx.load(str(model))
    out: list[dict[str, Any]] = []
    worst = 0
    for layer in _qdq_layers(proto):
        row = {k: v for k, v in layer.items() if k != "weights"}
        if layer["problem"]:
            row["safe"] = False
        elif layer["weight_dtype"] != "int8" or layer["activation_dtype"] not in ("uint8", "int8"):
            row["safe"] = True
            row["kernel"] = "not U8S8"
        else:
            w = layer["weights"]
            pos = -np.sort(-np.clip(w, 0, None), axis=0)[:2].sum(axis=0)
            neg = np.sort(np.clip(w, None, 0), axis=0)[:2].sum(axis=0)
            hi, lo = int(U8_MAX * pos.max()), int(U8_MAX * neg.min())
            worst = max(worst, hi, -lo - 1)
            row.update(
                {
                    "max_pair": hi,
                    "min_pair": lo,
                    "weight_min": int(w.min()),
                    "weight_max": int(w.max()),
                    "safe": bool(hi <= INT16_MAX and lo >= INT16_MIN),
                }
            )
        out.append(row)
    return {
        "saturation_free": bool(out) and all(r["safe"] for r in out),
        "worst_pair_sum": worst,
        "bound": INT16_MAX,
        "layers": out,
    }


def emulate_u8s8(
    model: str | os.PathLike[str], feeds: Sequence[dict[str, np.ndarray]]
) -> dict[str, Any]:
    """Run a QDQ model's integer layers the way a non-VNNI x86-64 CPU does, in numpy.

    The u8 activations entering each quantised Gemm/MatMul are captured with ONNX Runtime (the
    QuantizeLinear outputs, exposed as graph outputs); each dot product is then summed twice: in
    exact int32, and as the AVX2 kernel does it (pairs ``(2j, 2j + 1)`` along the reduction axis
    summed into saturating int16, ``VPMADDUBSW``, then into int32). Equal accumulators mean the
    int8 file computes the same numbers on CPUs with and without VNNI. Conv layers are covered
    by :func:`saturation_check` only (listed in ``not_emulated``).

    Args:
        model: A QDQ ``.onnx``.
        feeds: Input feeds (the rows to check, e.g. the test split).

    Returns:
        ``{"rows", "dots", "saturated_dots", "rows_affected", "max_abs_error", "identical",
        "not_emulated"}``.
    """
    proto = onnx.load(str(model))
    layers = [la for la in _qdq_layers(proto) if not la["problem"] and la["op"] != "Conv"]
    skipped = [la["node"] for la in _qdq_layers(proto) if la["op"] == "Conv" or la["problem"]]
    names = sorted({la["activation"] for la in layers})
    have = {o.name for o in proto.graph.output}
    for name in names:
        if name not in have:
            proto.graph.output.add().name = name
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(proto.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    got: dict[str, list[np.ndarray]] = {n: [] for n in names}
    for feed in feeds:
        for name, arr in zip(names, sess.run(names, dict(feed)), strict=True):
            got[name].append(np.asarray(arr))
    rows = dots = saturated = 0
    max_err = 0
    affected = np.zeros(0, dtype=bool)
    for la in layers:
        parts = got[la["activation"]]
        if not parts:
            continue
        x = np.concatenate([p.reshape(-1, p.shape[-1]) for p in parts]).astype(np.int64)
        if la["activation_dtype"] == "int8":
            x = x + 128  # as ONNX Runtime's S8 -> U8 shift on x86
        w = la["weights"]
        k = w.shape[0]
        if k % 2:  # the kernel pads the reduction to whole pairs with zeros
            x = np.pad(x, ((0, 0), (0, 1)))
            w = np.pad(w, ((0, 1), (0, 0)))
        exact = x @ w
        pairs = np.einsum("mjc,jcn->mjn", x.reshape(len(x), -1, 2), w.reshape(-1, 2, w.shape[1]))
        sat = np.clip(pairs, INT16_MIN, INT16_MAX)
        emulated = sat.sum(axis=1)
        bad = emulated != exact
        rows = max(rows, len(x))
        dots += bad.size
        saturated += int((pairs != sat).sum())
        max_err = max(max_err, int(np.abs(emulated - exact).max(initial=0)))
        row_bad = bad.any(axis=1)
        affected = row_bad if affected.size == 0 else affected | row_bad[: affected.size]
    return {
        "rows": rows,
        "dots": dots,
        "saturated_dots": saturated,
        "rows_affected": int(affected.sum()),
        "max_abs_error": max_err,
        "identical": saturated == 0,
        "not_emulated": skipped,
    }
