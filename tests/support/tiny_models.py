"""Small, real ONNX models (and their sidecars) for runtime tests, fuzzing and benchmarks.

Written with ``onnx.helper`` so they need no training stack. Every builder writes
``<dir>/<id>.onnx`` and ``<dir>/<id>.json`` and returns the .onnx path (plus, for the MLPs, the
parameters, so a test can compute the expected scores with :func:`mlp_forward`).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

CANONICAL6 = ("adm2", "motion2", "vif_scale0", "vif_scale1", "vif_scale2", "vif_scale3")
OPSET = 17
IR_VERSION = 8
# Typical canonical-6 statistics (used as the baked scaler of the hand-made MLPs).
FEATURE_MEAN = (0.93, 3.0, 0.55, 0.85, 0.92, 0.95)
FEATURE_STD = (0.06, 3.0, 0.2, 0.12, 0.08, 0.06)


def make_model(graph: onnx.GraphProto, opset: int = OPSET) -> onnx.ModelProto:
    """A ModelProto at a fixed IR version and opset (what the shipped models use)."""
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="vmaf-tiny-tests"
    )
    model.ir_version = IR_VERSION
    return model


def tensor_spec(name: str, shape: Sequence[Any], role: str | None = None) -> dict[str, Any]:
    d: dict[str, Any] = {"name": name, "dtype": "float32", "shape": list(shape)}
    if role:
        d["role"] = role
    return d


def write_model(
    model: onnx.ModelProto, out_dir: Path, model_id: str, sidecar: dict[str, Any]
) -> Path:
    """Write ``<id>.onnx`` and ``<id>.json``; return the .onnx path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{model_id}.onnx"
    path.write_bytes(model.SerializeToString())
    (out_dir / f"{model_id}.json").write_text(json.dumps(sidecar, indent=2) + "\n")
    return path


def base_sidecar(
    model_id: str, kind: str, inputs: list[dict], outputs: list[dict], **extra: Any
) -> dict[str, Any]:
    d: dict[str, Any] = {
        "schema_version": 1,
        "id": model_id,
        "kind": kind,
        "class": "C1" if kind == "fr" else "C2",
        "onnx": f"{model_id}.onnx",
        "opset": OPSET,
        "smoke": True,
        "inputs": inputs,
        "outputs": outputs,
        "output": {"target": "vmaf", "range": [0.0, 100.0], "clamp": True},
    }
    d.update(extra)
    return d


@dataclass
class MlpParams:
    """Weights of a hand-made FR MLP (numpy, float32)."""

    weights: list[np.ndarray]
    biases: list[np.ndarray]
    mean: np.ndarray | None = None
    std: np.ndarray | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def random_mlp(
    n_in: int, hidden: Sequence[int] = (16, 8), seed: int = 0, out_scale: float = 20.0
) -> MlpParams:
    """Seeded random MLP weights with an output around 50-100 for typical inputs."""
    rng = np.random.default_rng(seed)
    sizes = [n_in, *hidden, 1]
    ws, bs = [], []
    for a, b in itertools.pairwise(sizes):
        ws.append((rng.standard_normal((a, b)) / np.sqrt(a)).astype(np.float32))
        bs.append((rng.standard_normal(b) * 0.1).astype(np.float32))
    ws[-1] = (ws[-1] * out_scale).astype(np.float32)
    bs[-1] = np.array([70.0], dtype=np.float32)
    return MlpParams(weights=ws, biases=bs)


def mlp_forward(params: MlpParams, x: np.ndarray, baked: bool = True) -> np.ndarray:
    """Reference forward pass in float64 (for checking the runtime's scores)."""
    h = np.asarray(x, dtype=np.float64)
    if baked and params.mean is not None:
        h = (h - params.mean) / params.std
    for i, (w, b) in enumerate(zip(params.weights, params.biases, strict=True)):
        h = h @ w.astype(np.float64) + b
        if i < len(params.weights) - 1:
            h = np.maximum(h, 0.0)
    return h[:, 0]


def _mlp_nodes(
    params: MlpParams, x_name: str, out_name: str, prefix: str = ""
) -> tuple[list[onnx.NodeProto], list[onnx.TensorProto]]:
    nodes, inits = [], []
    h = x_name
    if params.mean is not None:
        inits += [
            numpy_helper.from_array(params.mean.astype(np.float32), f"{prefix}mean"),
            numpy_helper.from_array(params.std.astype(np.float32), f"{prefix}std"),
        ]
        nodes += [
            helper.make_node("Sub", [h, f"{prefix}mean"], [f"{prefix}centered"]),
            helper.make_node("Div", [f"{prefix}centered", f"{prefix}std"], [f"{prefix}scaled"]),
        ]
        h = f"{prefix}scaled"
    n = len(params.weights)
    for i, (w, b) in enumerate(zip(params.weights, params.biases, strict=True)):
        inits += [
            numpy_helper.from_array(w, f"{prefix}W{i}"),
            numpy_helper.from_array(b, f"{prefix}B{i}"),
        ]
        z = out_name if i == n - 1 else f"{prefix}z{i}"
        nodes.append(helper.make_node("Gemm", [h, f"{prefix}W{i}", f"{prefix}B{i}"], [z]))
        if i < n - 1:
            nodes.append(helper.make_node("Relu", [z], [f"{prefix}a{i}"]))
            h = f"{prefix}a{i}"
    return nodes, inits


def fr_mlp(
    out_dir: Path,
    model_id: str = "tiny_fr",
    *,
    features: Sequence[str] = CANONICAL6,
    hidden: Sequence[int] = (16, 8),
    seed: int = 0,
    baked: bool = True,
    codec_block: dict[str, Any] | None = None,
    codec_input: str = "separate",
    clamp: bool = True,
    params: MlpParams | None = None,
) -> tuple[Path, MlpParams]:
    """An FR MLP over per-frame features: [N, F] (+ codec block) -> [N, 1].

    Args:
        out_dir: Where to write it.
        model_id: Model id (file stem).
        features: Feature columns (the sidecar's feature_order).
        hidden: Hidden layer widths.
        seed: Weight seed.
        baked: Standardise inside the graph (Sub/Div); else the sidecar carries mean/std.
        codec_block: A sidecar codec_block; adds the codec columns.
        codec_input: ``separate`` (a second input, role codec) or ``appended`` (one input).
        clamp: Sidecar output.clamp.
        params: Use these weights instead of random ones.
    """
    n_feat = len(features)
    width = int(codec_block["width"]) if codec_block else 0
    appended = bool(codec_block) and codec_input == "appended"
    if params is None:
        params = random_mlp(n_feat + width, hidden, seed)
        pad = max(0, n_feat - 6)
        params.mean = np.asarray(FEATURE_MEAN[:n_feat] + (0.0,) * pad, np.float32)
        params.std = np.asarray(FEATURE_STD[:n_feat] + (1.0,) * pad, np.float32)
    mean, std = params.mean, params.std
    in_width = n_feat + (width if appended else 0)
    inputs = [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", in_width])]
    side_inputs = [tensor_spec("features", ["N", in_width], "features")]
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = []
    x = "features"
    if baked:
        # Standardise the feature columns only (the codec columns pass through: mean 0, std 1).
        full_mean = np.concatenate([mean, np.zeros(width if appended else 0, np.float32)])
        full_std = np.concatenate([std, np.ones(width if appended else 0, np.float32)])
        inits += [
            numpy_helper.from_array(full_mean.astype(np.float32), "mean"),
            numpy_helper.from_array(full_std.astype(np.float32), "std"),
        ]
        nodes += [
            helper.make_node("Sub", [x, "mean"], ["centered"]),
            helper.make_node("Div", ["centered", "std"], ["scaled"]),
        ]
        x = "scaled"
    if codec_block and not appended:
        inputs.append(helper.make_tensor_value_info("codec", TensorProto.FLOAT, ["N", width]))
        side_inputs.append(tensor_spec("codec", ["N", width], "codec"))
        nodes.append(helper.make_node("Concat", [x, "codec"], ["joined"], axis=1))
        x = "joined"
    core = MlpParams(params.weights, params.biases)
    mlp_nodes, mlp_inits = _mlp_nodes(core, x, "score")
    nodes += mlp_nodes
    inits += mlp_inits
    graph = helper.make_graph(
        nodes,
        model_id,
        inputs,
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, ["N", 1])],
        inits,
    )
    model = make_model(graph)
    onnx.checker.check_model(model)
    extra: dict[str, Any] = {"feature_order": list(features)}
    if baked:
        extra["normalization"] = {"baked": True}
    else:
        extra["normalization"] = {
            "baked": False,
            "feature_mean": [float(v) for v in mean],
            "feature_std": [float(v) for v in std],
        }
    if codec_block:
        extra["codec_block"] = codec_block
    sidecar = base_sidecar(
        model_id, "fr", side_inputs, [tensor_spec("score", ["N", 1], "score")], **extra
    )
    sidecar["output"]["clamp"] = clamp
    return write_model(model, out_dir, model_id, sidecar), params


def fr_reference(params: MlpParams, x: np.ndarray, codec: np.ndarray | None = None) -> np.ndarray:
    """Expected scores of an :func:`fr_mlp` model (baked scaler on the feature columns only)."""
    h = (np.asarray(x, np.float64) - params.mean) / params.std
    if codec is not None:
        h = np.concatenate([h, codec.astype(np.float64)], axis=1)
    return mlp_forward(MlpParams(params.weights, params.biases), h, baked=False)


def nr_pool_gemm(
    out_dir: Path,
    model_id: str = "tiny_nr",
    *,
    size: tuple[int, int] | None = (32, 24),
    scale: float = 100.0,
    bias: float = 0.0,
    frame: dict[str, Any] | None = None,
) -> Path:
    """A tiny NR model: GlobalAveragePool over [N, 1, H, W] luma, then Gemm -> [N, 1].

    Its score is ``scale * mean(luma) + bias`` per frame, easy to check against numpy.

    Args:
        size: (width, height) of the input (static dims), or None for dynamic H/W.
    """
    h, w = (size[1], size[0]) if size else ("H", "W")
    graph = helper.make_graph(
        [
            helper.make_node("GlobalAveragePool", ["frame"], ["pooled"]),
            helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
            helper.make_node("Gemm", ["flat", "W", "B"], ["score"]),
        ],
        model_id,
        [helper.make_tensor_value_info("frame", TensorProto.FLOAT, ["N", 1, h, w])],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, ["N", 1])],
        [
            numpy_helper.from_array(np.array([[scale]], np.float32), "W"),
            numpy_helper.from_array(np.array([bias], np.float32), "B"),
        ],
    )
    model = make_model(graph)
    onnx.checker.check_model(model)
    frame_spec = (
        frame
        if frame is not None
        else (
            {"channels": "luma", "resize": list(size), "value_range": [0.0, 1.0], "pooling": "mean"}
            if size
            else {"channels": "luma", "pooling": "mean"}
        )
    )
    sidecar = base_sidecar(
        model_id,
        "nr",
        [tensor_spec("frame", ["N", 1, h, w], "frame")],
        [tensor_spec("score", ["N", 1], "score")],
        frame=frame_spec,
    )
    sidecar["output"] = {"target": "mos", "range": [0.0, 100.0], "clamp": False}
    return write_model(model, out_dir, model_id, sidecar)


def if_model(out_dir: Path, model_id: str = "tiny_if", then_op: str = "Relu") -> Path:
    """An FR-shaped model whose If branches apply ``then_op`` / Identity (condition constant)."""
    then_g = helper.make_graph(
        [helper.make_node(then_op, ["features"], ["t_out"])],
        "then",
        [],
        [helper.make_tensor_value_info("t_out", TensorProto.FLOAT, None)],
    )
    else_g = helper.make_graph(
        [helper.make_node("Identity", ["features"], ["e_out"])],
        "else",
        [],
        [helper.make_tensor_value_info("e_out", TensorProto.FLOAT, None)],
    )
    graph = helper.make_graph(
        [
            helper.make_node("If", ["cond"], ["branched"], then_branch=then_g, else_branch=else_g),
            helper.make_node("ReduceMean", ["branched"], ["score"], axes=[1], keepdims=1),
        ],
        model_id,
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", 6])],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, ["N", 1])],
        [
            numpy_helper.from_array(np.array(True), "cond"),
        ],
    )
    model = make_model(graph)
    sidecar = base_sidecar(
        model_id,
        "fr",
        [tensor_spec("features", ["N", 6], "features")],
        [tensor_spec("score", ["N", 1], "score")],
        feature_order=list(CANONICAL6),
        normalization={"baked": True},
    )
    return write_model(model, out_dir, model_id, sidecar)


def loop_model(
    out_dir: Path, model_id: str = "tiny_loop", trips: int | None = 3, const_node: bool = False
) -> Path:
    """An FR-shaped model adding 1.0 to its input in a Loop ``trips`` times.

    Args:
        trips: The constant trip count; None makes it a runtime value (computed from the input
            with Shape/Gather, so not a constant).
        const_node: Give the trip count as a Constant node instead of an initializer.
    """
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            helper.make_node("Add", ["acc_in", "one"], ["acc_out"]),
        ],
        "body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("acc_in", TensorProto.FLOAT, None),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("acc_out", TensorProto.FLOAT, None),
        ],
    )
    nodes: list[onnx.NodeProto] = []
    inits = [
        numpy_helper.from_array(np.array(True), "cond"),
        numpy_helper.from_array(np.array(1.0, np.float32), "one"),
    ]
    if trips is None:
        inits.append(numpy_helper.from_array(np.array(0, np.int64), "zero"))
        nodes += [
            helper.make_node("Shape", ["features"], ["shape"]),
            helper.make_node("Gather", ["shape", "zero"], ["M"], axis=0),
        ]
    elif const_node:
        nodes.append(
            helper.make_node(
                "Constant", [], ["M"], value=numpy_helper.from_array(np.array(trips, np.int64))
            )
        )
    else:
        inits.append(numpy_helper.from_array(np.array(trips, np.int64), "M"))
    nodes += [
        helper.make_node("Loop", ["M", "cond", "features"], ["looped"], body=body),
        helper.make_node("ReduceMean", ["looped"], ["score"], axes=[1], keepdims=1),
    ]
    graph = helper.make_graph(
        nodes,
        model_id,
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", 6])],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, ["N", 1])],
        inits,
    )
    model = make_model(graph)
    sidecar = base_sidecar(
        model_id,
        "fr",
        [tensor_spec("features", ["N", 6], "features")],
        [tensor_spec("score", ["N", 1], "score")],
        feature_order=list(CANONICAL6),
        normalization={"baked": True},
    )
    return write_model(model, out_dir, model_id, sidecar)


def qdq_mlp(out_dir: Path, model_id: str = "tiny_qdq", seed: int = 0) -> Path:
    """An FR MLP with static QDQ int8 weights (QuantizeLinear/DequantizeLinear, default domain)."""
    params = random_mlp(6, (16,), seed)
    nodes = [
        helper.make_node("QuantizeLinear", ["features", "xs", "xz"], ["xq"]),
        helper.make_node("DequantizeLinear", ["xq", "xs", "xz"], ["xd"]),
    ]
    inits = [
        numpy_helper.from_array(np.array(0.05, np.float32), "xs"),
        numpy_helper.from_array(np.array(0, np.int8), "xz"),
    ]
    h = "xd"
    for i, (w, b) in enumerate(zip(params.weights, params.biases, strict=True)):
        ws = np.float32(np.abs(w).max() / 127.0)
        wq = np.clip(np.round(w / ws), -127, 127).astype(np.int8)
        inits += [
            numpy_helper.from_array(wq, f"W{i}q"),
            numpy_helper.from_array(np.array(ws, np.float32), f"W{i}s"),
            numpy_helper.from_array(np.array(0, np.int8), f"W{i}z"),
            numpy_helper.from_array(b, f"B{i}"),
        ]
        nodes.append(
            helper.make_node("DequantizeLinear", [f"W{i}q", f"W{i}s", f"W{i}z"], [f"W{i}"])
        )
        z = "score" if i == len(params.weights) - 1 else f"z{i}"
        nodes.append(helper.make_node("Gemm", [h, f"W{i}", f"B{i}"], [z]))
        if z != "score":
            nodes.append(helper.make_node("Relu", [z], [f"a{i}"]))
            h = f"a{i}"
    graph = helper.make_graph(
        nodes,
        model_id,
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", 6])],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, ["N", 1])],
        inits,
    )
    model = make_model(graph)
    onnx.checker.check_model(model)
    sidecar = base_sidecar(
        model_id,
        "fr",
        [tensor_spec("features", ["N", 6], "features")],
        [tensor_spec("score", ["N", 1], "score")],
        feature_order=list(CANONICAL6),
        normalization={"baked": True},
    )
    return write_model(model, out_dir, model_id, sidecar)


def seed_models(out_dir: Path) -> list[Path]:
    """The set of valid models the fuzzer mutates (one of each structure)."""
    from vmaf_tiny.codec import codec_block_spec

    paths = [
        fr_mlp(out_dir, "seed_mlp")[0],
        fr_mlp(out_dir, "seed_codec", codec_block=codec_block_spec("v2"), seed=1)[0],
        nr_pool_gemm(out_dir, "seed_nr"),
        if_model(out_dir, "seed_if"),
        loop_model(out_dir, "seed_loop"),
        qdq_mlp(out_dir, "seed_qdq"),
    ]
    return paths
