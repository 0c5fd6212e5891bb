"""Hostile models: small files that ask the runtime for too much memory or lie about scores,
plus one of each classic kind (custom domain, unbounded Loop, lying sidecar, 51 MiB file).

Each builder writes ``<dir>/<id>.onnx`` and ``<dir>/<id>.json`` (a schema-valid sidecar, so the
model reaches the checks it is aimed at) and returns the .onnx path. :data:`HOSTILE` lists every
case with the stage that must refuse it: ``load`` (a guard check: ``vmaf-tiny check`` and every
load refuse it) or ``score`` (it loads, but scoring refuses its output). Used by
``tests/vmaf_tiny/test_bounds.py`` and ``benchmarks/hostile.py``; needs only numpy and onnx.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

__all__ = ["HOSTILE", "HostileCase", "build_all"]

OPSET = 17
FEATURES = ("adm2", "motion2", "vif_scale0", "vif_scale1", "vif_scale2", "vif_scale3")


def _model(nodes: list, inputs: list, outputs: list, inits: list) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "hostile", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    return model


def _tensor(name: str, shape: list[Any], role: str | None = None) -> dict[str, Any]:
    d: dict[str, Any] = {"name": name, "dtype": "float32", "shape": shape}
    if role:
        d["role"] = role
    return d


def _write(out_dir: Path, model_id: str, model: onnx.ModelProto, sidecar: dict[str, Any]) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{model_id}.onnx"
    path.write_bytes(model.SerializeToString())
    (out_dir / f"{model_id}.json").write_text(json.dumps(sidecar, indent=2) + "\n")
    return path


def _fr_sidecar(model_id: str, clamp: bool = True, **extra: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "schema_version": 1,
        "id": model_id,
        "kind": "fr",
        "class": "C1",
        "onnx": f"{model_id}.onnx",
        "opset": OPSET,
        "smoke": True,
        "inputs": [_tensor("features", ["N", 6], "features")],
        "outputs": [_tensor("score", ["N", 1], "score")],
        "feature_order": list(FEATURES),
        "normalization": {"baked": True},
        "output": {"target": "vmaf", "range": [0.0, 100.0], "clamp": clamp},
    }
    d.update(extra)
    return d


def _nr_sidecar(
    model_id: str, shape: list[Any], resize: list[int] | None, **extra: Any
) -> dict[str, Any]:
    d: dict[str, Any] = {
        "schema_version": 1,
        "id": model_id,
        "kind": "nr",
        "class": "C2",
        "onnx": f"{model_id}.onnx",
        "opset": OPSET,
        "smoke": True,
        "inputs": [_tensor("frame", shape, "frame")],
        "outputs": [_tensor("score", ["N", 1], "score")],
        "frame": {"channels": "luma", "resize": resize, "crop": None, "pooling": "mean"},
        "output": {"target": "vmaf", "range": [0.0, 100.0], "clamp": True},
    }
    d.update(extra)
    return d


def _fr_io() -> tuple[Any, Any]:
    x = helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", 6])
    y = helper.make_tensor_value_info("score", TensorProto.FLOAT, ["N", 1])
    return x, y


def _gemm_score(prefix: str = "") -> tuple[list, list]:
    """features [N, 6] -> ``{prefix}lin`` [N, 1] = features @ W + 50."""
    w = numpy_helper.from_array(np.full((6, 1), 1.0, np.float32), f"{prefix}W")
    b = numpy_helper.from_array(np.array([50.0], np.float32), f"{prefix}B")
    return [helper.make_node("Gemm", ["features", f"{prefix}W", f"{prefix}B"], [f"{prefix}lin"])], [
        w,
        b,
    ]


def _fr_plus(extra_nodes: list, extra_inits: list, side: str) -> onnx.ModelProto:
    """score = features @ W + 50 + 0 * ReduceMean(side) (the hostile branch feeds the output)."""
    x, y = _fr_io()
    nodes, inits = _gemm_score()
    zero = numpy_helper.from_array(np.array([0.0], np.float32), "zero")
    nodes += [
        *extra_nodes,
        helper.make_node("ReduceMean", [side], ["side_mean"], keepdims=0),
        helper.make_node("Mul", ["side_mean", "zero"], ["side_zero"]),
        helper.make_node("Add", ["lin", "side_zero"], ["score"]),
    ]
    return _model(nodes, [x], [y], [*inits, *extra_inits, zero])


def _i64(name: str, values: list[int]) -> onnx.TensorProto:
    return numpy_helper.from_array(np.array(values, np.int64), name)


# ---------------------------------------------------------------------------- the cases


def constant_of_shape_3gib(out_dir: Path) -> Path:
    """ConstantOfShape of a constant shape: 805306368 float32 = 3 GiB from a ~300-byte file."""
    nodes = [
        helper.make_node(
            "ConstantOfShape",
            ["big_shape"],
            ["big"],
            value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0]),
        )
    ]
    m = _fr_plus(nodes, [_i64("big_shape", [805306368])], "big")
    return _write(out_dir, "cos_3gib", m, _fr_sidecar("cos_3gib"))


def constant_of_shape_from_input_shape(out_dir: Path) -> Path:
    """ConstantOfShape of Shape(features) * 1e8: 'derived from input shapes', still 2.4 GB."""
    nodes = [
        helper.make_node("Shape", ["features"], ["fshape"]),
        helper.make_node("Mul", ["fshape", "k"], ["bshape"]),
        helper.make_node(
            "ConstantOfShape",
            ["bshape"],
            ["big"],
            value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0]),
        ),
    ]
    m = _fr_plus(nodes, [_i64("k", [1, 100_000_000])], "big")
    return _write(out_dir, "cos_input_shape", m, _fr_sidecar("cos_input_shape"))


def _fill_then_cast(shape: str) -> list[onnx.NodeProto]:
    """``big`` = Cast to float of ConstantOfShape(``shape``) filled with uint8 ones."""
    fill = helper.make_tensor("v", TensorProto.UINT8, [1], [1])
    return [
        helper.make_node("ConstantOfShape", [shape], ["small"], value=fill),
        helper.make_node("Cast", ["small"], ["big"], to=TensorProto.FLOAT),
    ]


def cast_bomb(out_dir: Path) -> Path:
    """ConstantOfShape of 200M uint8 (under the 1 GiB cap), then Cast: ONNX's data propagation
    would hold its 200M values at ~140 bytes each (28 GB) while checking a ~400-byte model."""
    m = _fr_plus(_fill_then_cast("big_shape"), [_i64("big_shape", [200_000_000])], "big")
    return _write(out_dir, "cast_bomb", m, _fr_sidecar("cast_bomb"))


def cast_bomb_from_input_shape(out_dir: Path) -> Path:
    """The same with a length computed from the input's shape (6 features x 10M): only data
    propagation itself could tell the length, so the first, cheap pass must refuse it."""
    nodes = [
        helper.make_node("Shape", ["features"], ["fshape"]),
        helper.make_node("Slice", ["fshape", "s0", "s1"], ["fwidth"]),
        helper.make_node("Mul", ["fwidth", "k"], ["n"]),
        *_fill_then_cast("n"),
    ]
    inits = [_i64("s0", [1]), _i64("s1", [2]), _i64("k", [10_000_000])]
    m = _fr_plus(nodes, inits, "big")
    return _write(out_dir, "cast_bomb_shape", m, _fr_sidecar("cast_bomb_shape"))


def tile_cast(out_dir: Path) -> Path:
    """Shape(features) tiled 50M times, then Cast: a 1-D tensor of unknown values that data
    propagation would still hold element by element (about 14 GB) while checking."""
    nodes = [
        helper.make_node("Shape", ["features"], ["fshape"]),
        helper.make_node("Tile", ["fshape", "reps"], ["long"]),
        helper.make_node("Cast", ["long"], ["big"], to=TensorProto.FLOAT),
    ]
    m = _fr_plus(nodes, [_i64("reps", [50_000_000])], "big")
    return _write(out_dir, "tile_cast", m, _fr_sidecar("tile_cast"))


def expand_shape_cast(out_dir: Path) -> Path:
    """A width read from the input's shape, expanded to a length computed from that shape
    (6 x 10M), then Cast: only data propagation itself can size the expanded vector (60M
    elements, about 8 GB held while checking), so no check run before it can bound it."""
    nodes = [
        helper.make_node("Shape", ["features"], ["fshape"]),
        helper.make_node("Slice", ["fshape", "s0", "s1"], ["fwidth"]),
        helper.make_node("Mul", ["fwidth", "k"], ["n"]),
        helper.make_node("Expand", ["fwidth", "n"], ["long"]),
        helper.make_node("Cast", ["long"], ["big"], to=TensorProto.FLOAT),
    ]
    inits = [_i64("s0", [1]), _i64("s1", [2]), _i64("k", [10_000_000])]
    m = _fr_plus(nodes, inits, "big")
    return _write(out_dir, "expand_shape_cast", m, _fr_sidecar("expand_shape_cast"))


def rank_bomb(out_dir: Path) -> Path:
    """A tensor of rank 65,536 (a constant shape of that many ones, 512 KiB) through 200 Relus:
    shape inference holds every rank-65,536 shape, about 5 MB and 0.1 s per node, before any
    tensor has a size to check (about 1 GB and 25 s at 200 nodes)."""
    fill = helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0])
    nodes = [helper.make_node("ConstantOfShape", ["rshape"], ["t0"], value=fill)]
    nodes += [helper.make_node("Relu", [f"t{i}"], [f"t{i + 1}"]) for i in range(200)]
    m = _fr_plus(nodes, [_i64("rshape", [1] * 65536)], "t200")
    return _write(out_dir, "rank_bomb", m, _fr_sidecar("rank_bomb") | {"class": "C2"})


def if_name_clash(out_dir: Path) -> Path:
    """Two If branches that both define ``big``: 4 elements in one, 3 GiB in the other. Shapes
    read by name once kept only the one read last (the harmless one, in this order)."""

    def branch(n: int, name: str) -> onnx.GraphProto:
        fill = helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0])
        nodes = [
            helper.make_node("ConstantOfShape", [f"shp_{name}"], ["big"], value=fill),
            helper.make_node("ReduceMean", ["big"], ["r"], keepdims=0),
        ]
        out = helper.make_tensor_value_info("r", TensorProto.FLOAT, [])
        return helper.make_graph(nodes, name, [], [out], [_i64(f"shp_{name}", [n])])

    nodes = [
        helper.make_node("ReduceMax", ["features"], ["fmax"], keepdims=0),
        helper.make_node("Greater", ["fmax", "half"], ["cond"]),
        helper.make_node(
            "If",
            ["cond"],
            ["side"],
            then_branch=branch(4, "small_branch"),
            else_branch=branch(805_306_368, "huge_branch"),
        ),
    ]
    half = numpy_helper.from_array(np.array(0.5, np.float32), "half")
    m = _fr_plus(nodes, [half], "side")
    return _write(out_dir, "if_name_clash", m, _fr_sidecar("if_name_clash"))


def constant_of_shape_from_values(out_dir: Path) -> Path:
    """ConstantOfShape whose shape is computed from the input *values* (unbounded)."""
    nodes = [
        helper.make_node("ReduceMax", ["features"], ["fmax"], keepdims=0),
        helper.make_node("Mul", ["fmax", "scale"], ["fbig"]),
        helper.make_node("Cast", ["fbig"], ["n"], to=TensorProto.INT64),
        helper.make_node("Reshape", ["n", "one"], ["vshape"]),
        helper.make_node(
            "ConstantOfShape",
            ["vshape"],
            ["big"],
            value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0]),
        ),
    ]
    inits = [numpy_helper.from_array(np.array(1e9, np.float32), "scale"), _i64("one", [1])]
    m = _fr_plus(nodes, inits, "big")
    return _write(out_dir, "cos_values", m, _fr_sidecar("cos_values"))


def expand_bomb(out_dir: Path) -> Path:
    """Expand features [N, 6] to [16384, 16384, N, 6]: 6.4 GB per frame."""
    nodes = [helper.make_node("Expand", ["features", "eshape"], ["big"])]
    m = _fr_plus(nodes, [_i64("eshape", [16384, 16384, 1, 6])], "big")
    return _write(out_dir, "expand_bomb", m, _fr_sidecar("expand_bomb"))


def tile_bomb(out_dir: Path) -> Path:
    """Tile features [N, 6] by [1, 1e8]: 2.4 GB per frame."""
    nodes = [helper.make_node("Tile", ["features", "reps"], ["big"])]
    m = _fr_plus(nodes, [_i64("reps", [1, 100_000_000])], "big")
    return _write(out_dir, "tile_bomb", m, _fr_sidecar("tile_bomb"))


def range_huge(out_dir: Path) -> Path:
    """Range(0, 1e12, 1): Range is not on the allowlist (its length is a tensor value)."""
    x, y = _fr_io()
    nodes, inits = _gemm_score()
    nodes += [
        helper.make_node("Range", ["r0", "r1", "r2"], ["big"]),
        helper.make_node("Cast", ["big"], ["bigf"], to=TensorProto.FLOAT),
        helper.make_node("ReduceMean", ["bigf"], ["side_mean"], keepdims=0),
        helper.make_node("Mul", ["side_mean", "zero"], ["side_zero"]),
        helper.make_node("Add", ["lin", "side_zero"], ["score"]),
    ]
    inits += [
        numpy_helper.from_array(np.array(0, np.int64), "r0"),
        numpy_helper.from_array(np.array(10**12, np.int64), "r1"),
        numpy_helper.from_array(np.array(1, np.int64), "r2"),
        numpy_helper.from_array(np.array([0.0], np.float32), "zero"),
    ]
    return _write(out_dir, "range_huge", _model(nodes, [x], [y], inits), _fr_sidecar("range_huge"))


def _nr_pool(in_shape: list[Any], prefix_nodes: list, src: str, inits: list) -> onnx.ModelProto:
    """frame -> (prefix) -> GlobalAveragePool -> Flatten -> *100 = score [N, 1]."""
    x = helper.make_tensor_value_info("frame", TensorProto.FLOAT, in_shape)
    y = helper.make_tensor_value_info("score", TensorProto.FLOAT, ["N", 1])
    nodes = [
        *prefix_nodes,
        helper.make_node("GlobalAveragePool", [src], ["gap"]),
        helper.make_node("Flatten", ["gap"], ["flat"]),
        helper.make_node("Mul", ["flat", "hundred"], ["score"]),
    ]
    hundred = numpy_helper.from_array(np.array([100.0], np.float32), "hundred")
    return _model(nodes, [x], [y], [*inits, hundred])


def resize_bomb(out_dir: Path) -> Path:
    """Resize a 360x640 frame by 100x per side: 9.2 GB per frame."""
    nodes = [helper.make_node("Resize", ["frame", "", "scales"], ["big"], mode="nearest")]
    scales = numpy_helper.from_array(np.array([1, 1, 100, 100], np.float32), "scales")
    m = _nr_pool(["N", 1, 360, 640], nodes, "big", [scales])
    return _write(out_dir, "resize_bomb", m, _nr_sidecar("resize_bomb", ["N", 1, 360, 640],
                                                          [640, 360]))  # fmt: skip


def pad_bomb(out_dir: Path) -> Path:
    """Pad a 360x640 frame with 40000 pixels per side: 6.4 GB per frame."""
    nodes = [helper.make_node("Pad", ["frame", "pads"], ["big"])]
    pads = _i64("pads", [0, 0, 40000, 40000, 0, 0, 40000, 40000])
    m = _nr_pool(["N", 1, 360, 640], nodes, "big", [pads])
    return _write(out_dir, "pad_bomb", m, _nr_sidecar("pad_bomb", ["N", 1, 360, 640],
                                                       [640, 360]))  # fmt: skip


def huge_declared_input(out_dir: Path) -> Path:
    """A graph input declared [N, 1, 65536, 65536] (16 GiB per frame) with a matching sidecar."""
    m = _nr_pool(["N", 1, 65536, 65536], [], "frame", [])
    side = _nr_sidecar("huge_input", ["N", 1, 65536, 65536], None)
    return _write(out_dir, "huge_input", m, side)


def nr_sidecar_8192(out_dir: Path) -> Path:
    """A harmless NR graph whose sidecar asks for 8192x8192 frames (1.2 GB decoded per batch)."""
    m = _nr_pool(["N", 1, "H", "W"], [], "frame", [])
    side = _nr_sidecar("nr_8192", ["N", 1, "H", "W"], [8192, 8192])
    return _write(out_dir, "nr_8192", m, side)


def output_6e30_unclamped(out_dir: Path) -> Path:
    """A finite but absurd score (6e30) with ``clamp: false``: loads, refused when scoring."""
    x, y = _fr_io()
    nodes, inits = _gemm_score()
    nodes.append(helper.make_node("Mul", ["lin", "huge"], ["score"]))
    inits.append(numpy_helper.from_array(np.array([1e29], np.float32), "huge"))
    side = _fr_sidecar("out_6e30", clamp=False)
    return _write(out_dir, "out_6e30", _model(nodes, [x], [y], inits), side)


def output_6e30_clamped(out_dir: Path) -> Path:
    """The same absurd score with ``clamp: true``: refused, not clamped into a perfect 100."""
    x, y = _fr_io()
    nodes, inits = _gemm_score()
    nodes.append(helper.make_node("Mul", ["lin", "huge"], ["score"]))
    inits.append(numpy_helper.from_array(np.array([1e29], np.float32), "huge"))
    side = _fr_sidecar("out_6e30_clamped", clamp=True)
    return _write(out_dir, "out_6e30_clamped", _model(nodes, [x], [y], inits), side)


def output_nan(out_dir: Path) -> Path:
    """0/0 in the graph: every score is NaN. Loads, refused when scoring."""
    x, y = _fr_io()
    nodes, inits = _gemm_score()
    nodes += [
        helper.make_node("Mul", ["lin", "zero"], ["z"]),
        helper.make_node("Div", ["z", "zero"], ["score"]),
    ]
    inits.append(numpy_helper.from_array(np.array([0.0], np.float32), "zero"))
    side = _fr_sidecar("out_nan")
    return _write(out_dir, "out_nan", _model(nodes, [x], [y], inits), side)


def custom_domain_op(out_dir: Path) -> Path:
    """A node from a custom operator domain (code ONNX Runtime would look up by name)."""
    x, y = _fr_io()
    nodes, inits = _gemm_score()
    nodes.append(helper.make_node("Evil", ["lin"], ["score"], domain="com.example"))
    graph = helper.make_graph(nodes, "hostile", [x], [y], inits)
    m = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("com.example", 1)],
    )
    m.ir_version = 8
    return _write(out_dir, "custom_domain", m, _fr_sidecar("custom_domain"))


def loop_unbounded(out_dir: Path) -> Path:
    """A Loop whose trip count is computed from the input values (runs as long as it likes)."""
    x, y = _fr_io()
    nodes, inits = _gemm_score()
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            helper.make_node("Identity", ["v_in"], ["v_out"]),
        ],
        "body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v_in", TensorProto.FLOAT, ["N", 1]),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v_out", TensorProto.FLOAT, ["N", 1]),
        ],
    )
    nodes += [
        helper.make_node("ReduceMax", ["features"], ["fmax"], keepdims=0),
        helper.make_node("Mul", ["fmax", "scale"], ["fbig"]),
        helper.make_node("Cast", ["fbig"], ["trips"], to=TensorProto.INT64),
        helper.make_node("Loop", ["trips", "true", "lin"], ["score"], body=body),
    ]
    inits += [
        numpy_helper.from_array(np.array(1e12, np.float32), "scale"),
        numpy_helper.from_array(np.array(True), "true"),
    ]
    m = _model(nodes, [x], [y], inits)
    return _write(out_dir, "loop_unbounded", m, _fr_sidecar("loop_unbounded"))


def sidecar_lies(out_dir: Path) -> Path:
    """A sidecar that declares the wrong input name (the runtime would feed a different tensor)."""
    x, y = _fr_io()
    nodes, inits = _gemm_score()
    nodes.append(helper.make_node("Identity", ["lin"], ["score"]))
    side = _fr_sidecar("sidecar_lies")
    side["inputs"][0]["name"] = "feats"
    return _write(out_dir, "sidecar_lies", _model(nodes, [x], [y], inits), side)


def oversize_51mib(out_dir: Path) -> Path:
    """A 51 MiB model (an unused initializer): over the 50 MiB cap."""
    x, y = _fr_io()
    nodes, inits = _gemm_score()
    nodes.append(helper.make_node("Identity", ["lin"], ["score"]))
    pad = np.zeros(51 * 1024 * 1024 // 4, np.float32)
    inits.append(numpy_helper.from_array(pad, "padding"))
    return _write(out_dir, "oversize", _model(nodes, [x], [y], inits), _fr_sidecar("oversize"))


@dataclass(frozen=True)
class HostileCase:
    """One hostile model.

    Attributes:
        name: Case id (also the model id).
        build: Writes the model and sidecar into a directory; returns the .onnx path.
        stage: ``load`` (a load-time check refuses it) or ``score`` (scoring refuses it).
        check: The failing guard check (``load``) or a phrase of the scoring error.
        kind: ``fr`` or ``nr`` (which scoring path exercises it).
    """

    name: str
    build: Callable[[Path], Path]
    stage: str
    check: str
    kind: str


HOSTILE: tuple[HostileCase, ...] = (
    HostileCase("cos_3gib", constant_of_shape_3gib, "load", "tensor_sizes", "fr"),
    HostileCase(
        "cos_input_shape", constant_of_shape_from_input_shape, "load", "tensor_sizes", "fr"
    ),
    HostileCase("cos_values", constant_of_shape_from_values, "load", "tensor_sizes", "fr"),
    HostileCase("cast_bomb", cast_bomb, "load", "tensor_sizes", "fr"),
    HostileCase("cast_bomb_shape", cast_bomb_from_input_shape, "load", "tensor_sizes", "fr"),
    HostileCase("tile_cast", tile_cast, "load", "tensor_sizes", "fr"),
    HostileCase("expand_shape_cast", expand_shape_cast, "load", "tensor_sizes", "fr"),
    HostileCase("rank_bomb", rank_bomb, "load", "tensor_sizes", "fr"),
    HostileCase("if_name_clash", if_name_clash, "load", "tensor_sizes", "fr"),
    HostileCase("expand_bomb", expand_bomb, "load", "tensor_sizes", "fr"),
    HostileCase("tile_bomb", tile_bomb, "load", "tensor_sizes", "fr"),
    HostileCase("range_huge", range_huge, "load", "operators", "fr"),
    HostileCase("resize_bomb", resize_bomb, "load", "tensor_sizes", "nr"),
    HostileCase("pad_bomb", pad_bomb, "load", "tensor_sizes", "nr"),
    HostileCase("huge_input", huge_declared_input, "load", "sidecar_graph", "nr"),
    HostileCase("nr_8192", nr_sidecar_8192, "load", "sidecar_schema", "nr"),
    HostileCase("out_6e30", output_6e30_unclamped, "score", "outside the plausible range", "fr"),
    HostileCase(
        "out_6e30_clamped", output_6e30_clamped, "score", "outside the plausible range", "fr"
    ),
    HostileCase("out_nan", output_nan, "score", "non-finite", "fr"),
    HostileCase("custom_domain", custom_domain_op, "load", "opset", "fr"),
    HostileCase("loop_unbounded", loop_unbounded, "load", "loop_bounds", "fr"),
    HostileCase("sidecar_lies", sidecar_lies, "load", "sidecar_graph", "fr"),
    HostileCase("oversize", oversize_51mib, "load", "size_cap", "fr"),
)


def build_all(out_dir: Path) -> dict[str, Path]:
    """Build every case into ``out_dir/<name>/``; name -> .onnx path."""
    return {c.name: c.build(out_dir / c.name) for c in HOSTILE}
