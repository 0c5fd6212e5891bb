"""The load-time tensor-size check: how much memory a model may ask for.

A small file can still ask for a huge tensor (``ConstantOfShape`` of a 3 GiB shape is a 310-byte
model). :func:`tensor_size_problem` binds the graph's dynamic input dimensions to the largest
input the runtime will feed per item (batch axis 1; frame height and width from the sidecar's
``frame`` block, or :data:`~vmaf_tiny.bounds.MAX_FRAME_WIDTH` x
:data:`~vmaf_tiny.bounds.MAX_FRAME_HEIGHT` for models that take any size), refuses constant
shapes asking for a rank over :data:`~vmaf_tiny.bounds.MAX_RANK`, then runs :func:`size_verdict`
(ONNX shape inference and every check on its result) in a memory- and time-capped child process
(:mod:`vmaf_tiny.shape_sandbox`) for any model but the shipped ones. The verdict refuses

* any tensor of rank over :data:`~vmaf_tiny.bounds.MAX_RANK` (shape inference holds every
  dimension of every tensor: a rank of 65,536 costs megabytes per node);
* any 1-D tensor that data propagation follows (computed from constants or shapes, or read by
  an operator it follows) longer than :data:`~vmaf_tiny.bounds.MAX_SHAPE_DATA` elements: shape
  inference holds such tensors element by element (about 140 bytes each); what no pass can size
  before holding it is left to the child's memory cap;
* any tensor (input, initializer, intermediate, output; subgraphs included) whose inferred size
  exceeds :data:`~vmaf_tiny.bounds.MAX_TENSOR_BYTES`;
* any size-creating node (:data:`~vmaf_tiny.bounds.SIZE_CREATING_OPS`) whose output shape cannot
  be inferred: its size would depend on tensor *values*, not on constants or the input shapes,
  so no load-time bound exists.

Shapes are read per graph: the two branches of an ``If`` may each define a value of the same
name, and neither definition's size may hide the other's.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vmaf_tiny.bounds import (
    MAX_FRAME_HEIGHT,
    MAX_FRAME_WIDTH,
    MAX_RANK,
    MAX_SHAPE_DATA,
    MAX_TENSOR_BYTES,
    SIZE_CREATING_OPS,
)
from vmaf_tiny.graph import iter_graphs
from vmaf_tiny.shape_sandbox import SandboxError, verdict_in_sandbox

if TYPE_CHECKING:
    import onnx

__all__ = ["size_verdict", "tensor_size_problem"]

#: Operators whose output rank is read from a tensor, and that input's position.
_RANK_INPUTS = {"ConstantOfShape": 0, "Expand": 1, "Reshape": 1, "Unsqueeze": 1}
#: Operators through which ONNX shape inference propagates values (``data_prop``): it holds
#: their 1-D inputs element by element (about 140 bytes each), known values or not.
_DATA_PROP_OPS = frozenset(
    {"Add", "Cast", "Concat", "Gather", "Mul", "Shape", "Size", "Slice", "Squeeze", "Sub"}
    | {"Unsqueeze"}
)
#: What carries values known from constants or shapes forward (ConstantOfShape's values are
#: constant; data propagation knows its length only when it knows its shape input).
_VALUE_CARRIERS = _DATA_PROP_OPS | {"ConstantOfShape"}

Shape = tuple[list[int | None], int]  # (dims, ONNX element type); None: an unknown dim


def tensor_size_problem(
    model: onnx.ModelProto, sidecar: Mapping[str, Any], *, sandbox: bool = True
) -> tuple[str | None, str]:
    """Why the model could allocate an unbounded or over-cap tensor, or None; and a summary.

    Args:
        model: The checked model (external data inlined; not modified).
        sidecar: Its validated sidecar (frame size for dynamic H/W).
        sandbox: Run :func:`size_verdict` in a memory- and time-capped child process
            (:mod:`vmaf_tiny.shape_sandbox`). False only for models already known to be safe
            (a shipped model whose sha256 the shipped registry lists): it saves the child's
            start-up (about half a second).

    Returns:
        (problem or None, one-line summary of the largest tensor found).
    """
    import onnx

    bound = onnx.ModelProto()
    bound.CopyFrom(model)
    inits = {i.name for i in bound.graph.initializer}
    frame_hw = _frame_hw(sidecar)
    for vi in bound.graph.input:
        if vi.name in inits or not vi.type.HasField("tensor_type"):
            continue
        shape = vi.type.tensor_type.shape
        rank = len(shape.dim)
        for axis, d in enumerate(shape.dim):
            if not d.HasField("dim_value"):
                d.Clear()
                d.dim_value = _bind(axis, rank, frame_hw)
    _inline_constants(bound)
    problem = _rank_problem(bound)
    if problem:
        return problem, ""
    try:
        return verdict_in_sandbox(bound) if sandbox else size_verdict(bound)
    except SandboxError as exc:
        return str(exc), ""


def size_verdict(bound: onnx.ModelProto) -> tuple[str | None, str]:
    """Shape inference of a bound copy (inputs bound, ``Constant`` nodes inlined) and every size
    check on its result: (problem or None, summary).

    A first pass without data propagation refuses over-cap tensors and over-long 1-D tensors
    that data propagation would follow; a second, with data propagation, runs only where the
    first left a tensor unsized, and is checked the same way. Both passes can take memory no
    check before them bounds, so :func:`tensor_size_problem` runs this in a memory-capped child
    for any model but the shipped ones.

    Raises:
        MemoryError: out of memory (the child's cap).
    """
    import onnx

    try:
        inferred = onnx.shape_inference.infer_shapes(bound, strict_mode=False, data_prop=False)
        shapes = _Shapes.of(inferred)
        problem = _early_problem(inferred, shapes)
        if problem:
            return problem, ""
        if not shapes.all_sized(inferred):  # data propagation sizes only the unsized
            inferred = onnx.shape_inference.infer_shapes(bound, strict_mode=False, data_prop=True)
            shapes = _Shapes.of(inferred)
            problem = _early_problem(inferred, shapes)
            if problem:
                return problem, ""
    except MemoryError:
        raise
    except Exception as exc:
        text = " ".join(str(exc).split())
        if "bad_alloc" in text:
            raise MemoryError(text) from exc
        return f"shape inference failed: {text[:200]}", ""
    for gi, (graph, _) in enumerate(iter_graphs(inferred.graph)):
        for node in graph.node:
            if node.op_type not in SIZE_CREATING_OPS:
                continue
            for out in node.output:
                got = shapes.get(gi, out) if out else ([0], 1)
                if got is None or None in got[0]:
                    return (
                        f"{node.op_type} node {node.name or '(unnamed)'}: output {out!r} has a "
                        "size that depends on tensor values, not on constants or the input "
                        "shapes, so it cannot be bounded at load time"
                    ), ""
    name, size = shapes.largest()
    return None, f"largest tensor {name!r} {_fmt(size)} per item (cap {_fmt(MAX_TENSOR_BYTES)})"


@dataclass(frozen=True)
class _Shapes:
    """Inferred shapes per graph (in :func:`~vmaf_tiny.graph.iter_graphs` order): a name is
    looked up in its own graph first, then in any (the outer scopes)."""

    local: list[dict[str, Shape]]
    any: dict[str, Shape]

    @classmethod
    def of(cls, model: onnx.ModelProto) -> _Shapes:
        local: list[dict[str, Shape]] = []
        merged: dict[str, Shape] = {}
        for graph, _ in iter_graphs(model.graph):
            here: dict[str, Shape] = {}
            for vi in [*graph.input, *graph.value_info, *graph.output]:
                got = _shape_of(vi)
                if got is not None:
                    here[vi.name] = got
            for init in graph.initializer:
                here[init.name] = ([int(d) for d in init.dims], init.data_type)
            local.append(here)
            for name, got in here.items():
                merged.setdefault(name, got)
        return cls(local, merged)

    def get(self, gi: int, name: str) -> Shape | None:
        return self.local[gi].get(name) or self.any.get(name)

    def every(self) -> list[tuple[str, Shape]]:
        """Every definition of every name, subgraphs included."""
        return [item for here in self.local for item in here.items()]

    def all_sized(self, model: onnx.ModelProto) -> bool:
        """Whether every node output (subgraphs included) has a fully known shape."""
        for gi, (graph, _) in enumerate(iter_graphs(model.graph)):
            for node in graph.node:
                for out in node.output:
                    got = self.get(gi, out) if out else ([0], 1)
                    if got is None or None in got[0]:
                        return False
        return True

    def largest(self) -> tuple[str, int]:
        sized = [(name, _bytes(got)) for name, got in self.every() if None not in got[0]]
        return max(sized, key=lambda item: item[1], default=("", 0))


def _early_problem(inferred: onnx.ModelProto, shapes: _Shapes) -> str | None:
    """A rank over the cap, a tensor over the cap, or an over-long shape vector; or None."""
    every = shapes.every()
    for name, (dims, _) in every:
        if len(dims) > MAX_RANK:
            return f"tensor {name!r} has rank {len(dims):,}; at most {MAX_RANK}"
    for name, got in every:
        size = _bytes(got) if None not in got[0] else 0
        if size > MAX_TENSOR_BYTES:
            held, cap = _fmt(size), _fmt(MAX_TENSOR_BYTES)
            if held == cap:  # rounding would hide the excess: say it in bytes
                held, cap = f"{size:,} bytes", f"{cap} ({MAX_TENSOR_BYTES:,} bytes)"
            return (
                f"tensor {name!r} would hold {held} (shape {got[0]}) per item, over the {cap} cap"
            )
    return _shape_data_problem(inferred, shapes)


def _shape_data_problem(inferred: onnx.ModelProto, shapes: _Shapes) -> str | None:
    """A 1-D tensor that ONNX's data propagation would hold element by element and that is
    longer than :data:`~vmaf_tiny.bounds.MAX_SHAPE_DATA`, or None.

    Two kinds: any 1-D input of a value-propagating operator (:data:`_DATA_PROP_OPS` but
    ``Shape`` and ``Size``, which read only dims), values known or not; and any 1-D tensor
    computed from constants or shapes (what data propagation follows).
    """
    valued: set[str] = set()
    for gi, (graph, _) in enumerate(iter_graphs(inferred.graph)):
        valued.update(init.name for init in graph.initializer)
        for node in graph.node:
            ins = [i for i in node.input if i]
            follows = node.op_type in _DATA_PROP_OPS and node.op_type not in ("Shape", "Size")
            for name in ins if follows else ():
                got = shapes.get(gi, name)
                if _too_long(got):
                    return _shape_data_message(name, got, f"{node.op_type} node reads ")
            if node.op_type in ("Shape", "Size", "Constant") or (
                node.op_type in _VALUE_CARRIERS and all(i in valued for i in ins)
            ):
                valued.update(o for o in node.output if o)
    for name, got in sorted(shapes.every(), key=lambda item: item[0]):
        if name in valued and _too_long(got):
            return _shape_data_message(name, got, "")
    return None


def _too_long(got: Shape | None) -> bool:
    return got is not None and len(got[0]) == 1 and (got[0][0] or 0) > MAX_SHAPE_DATA


def _shape_data_message(name: str, got: Shape | None, lead: str) -> str:
    length = got[0][0] if got is not None else 0
    return (
        f"{lead}the 1-D tensor {name!r} of {length or 0:,} elements: shape inference would "
        f"follow it element by element, so such tensors are limited to {MAX_SHAPE_DATA:,} "
        "elements (shape vectors hold a few)"
    )


def _rank_problem(model: onnx.ModelProto) -> str | None:
    """A constant shape (or axes list) asking for a rank over :data:`~vmaf_tiny.bounds.MAX_RANK`,
    or None: caught before shape inference, which would hold every dimension of every tensor
    downstream."""
    for graph, _ in iter_graphs(model.graph):
        sizes = {i.name: math.prod(i.dims) for i in graph.initializer}
        for node in graph.node:
            at = _RANK_INPUTS.get(node.op_type)
            if at is None or len(node.input) <= at or sizes.get(node.input[at], 0) <= MAX_RANK:
                continue
            n = sizes[node.input[at]]
            return (
                f"{node.op_type} node {node.name or '(unnamed)'}: its constant input "
                f"{node.input[at]!r} asks for rank {n:,} or more; at most {MAX_RANK}"
            )
    return None


def _inline_constants(model: onnx.ModelProto) -> None:
    """Make the top-level ``Constant`` nodes initializers (in place), so that shape inference
    without data propagation reads their values (a Reshape's shape, a reduction's axes)."""
    keep = []
    for node in model.graph.node:
        attrs = {a.name: a for a in node.attribute}
        if node.op_type == "Constant" and not node.domain and "value" in attrs and node.output:
            tensor = model.graph.initializer.add()
            tensor.CopyFrom(attrs["value"].t)
            tensor.name = node.output[0]
        else:
            keep.append(node)
    if len(keep) < len(model.graph.node):
        del model.graph.node[:]
        model.graph.node.extend(keep)


def _bind(axis: int, rank: int, frame_hw: tuple[int, int]) -> int:
    """The value a dynamic input dimension is bound to for the size check."""
    if axis == 0:
        return 1  # the batch axis: sizes are per item
    if rank == 4 and axis == 2:
        return frame_hw[0]
    if rank == 4 and axis == 3:
        return frame_hw[1]
    return 1


def _frame_hw(sidecar: Mapping[str, Any]) -> tuple[int, int]:
    frame = sidecar.get("frame") or {}
    size = frame.get("crop") or frame.get("resize")
    if size:
        return int(size[1]), int(size[0])
    return MAX_FRAME_HEIGHT, MAX_FRAME_WIDTH


@functools.lru_cache(maxsize=64)
def _itemsize(elem_type: int) -> int:
    from onnx import helper

    try:
        return int(helper.tensor_dtype_to_np_dtype(elem_type).itemsize)
    except Exception:
        return 8


def _bytes(got: Shape) -> int:
    return math.prod(max(int(d or 0), 0) for d in got[0]) * _itemsize(got[1])


def _shape_of(vi: onnx.ValueInfoProto) -> Shape | None:
    if not vi.type.HasField("tensor_type"):
        return None
    tt = vi.type.tensor_type
    if not tt.HasField("shape"):
        return [None], tt.elem_type
    dims: list[int | None] = [
        int(d.dim_value) if d.HasField("dim_value") else None for d in tt.shape.dim
    ]
    return dims, tt.elem_type


def _fmt(n: int) -> str:
    if n >= 1024**3:
        return f"{n / 1024**3:.2f} GiB"
    return f"{n / 1024**2:.1f} MiB"
