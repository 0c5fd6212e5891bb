"""Resource bounds: how much memory a model may ask for, how large a frame may be, which scores
are plausible.

A small file can still ask for a huge tensor (``ConstantOfShape`` of a 3 GiB shape is a 310-byte
model). :func:`tensor_size_problem` binds the graph's dynamic input dimensions to the largest
input the runtime will feed per item (batch axis 1; frame height and width from the sidecar's
``frame`` block, or :data:`MAX_FRAME_WIDTH` x :data:`MAX_FRAME_HEIGHT` for models that take any
size), runs ONNX shape inference (:func:`infer_checked`: a pass without data propagation, then
one with it where the first left a tensor unsized, both in a memory- and time-capped child
process, :mod:`vmaf_tiny.shape_sandbox`, for any model but the shipped ones), and refuses

* any rank over :data:`MAX_RANK` (a constant shape of 65,536 ones costs megabytes per node in
  shape inference itself);
* any 1-D tensor that data propagation follows (computed from constants or shapes, or read by
  an operator it follows) longer than :data:`MAX_SHAPE_DATA` elements: shape inference holds
  such tensors element by element (about 140 bytes each); what it cannot size before holding
  it is left to the child's memory cap;
* any tensor (input, initializer, intermediate, output; subgraphs included) whose inferred size
  exceeds :data:`MAX_TENSOR_BYTES`;
* any size-creating node (:data:`SIZE_CREATING_OPS`) whose output shape cannot be inferred: its
  size would depend on tensor *values*, not on constants or the input shapes, so no load-time
  bound exists.

At run time ONNX Runtime allocates from one process-wide CPU arena capped at
:data:`SESSION_ARENA_BYTES` (:func:`vmaf_tiny.session.session_options`), which stops what
shape inference cannot see (an allocation over the cap fails the run with a one-line error).

Raw model outputs outside :func:`score_bounds` (the sidecar's ``output.range`` widened by
:data:`SCORE_MARGIN` of its width on each side; ``[0, 100]`` -> ``[-25, 125]``, also when none is
declared) are refused before any clamping, as are NaN/inf.

Thread and worker counts are capped at :data:`MAX_THREADS` and :data:`MAX_WORKERS`
(:func:`check_threads`, :func:`check_workers`): a typo like ``--threads 100000`` is an error, not
tens of thousands of threads.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from vmaf_tiny.errors import BadInputError
from vmaf_tiny.graph import iter_graphs
from vmaf_tiny.shape_sandbox import SandboxError, infer_in_sandbox

if TYPE_CHECKING:
    import onnx

__all__ = [
    "DEFAULT_SCORE_RANGE",
    "MAX_FRAME_HEIGHT",
    "MAX_FRAME_PIXELS",
    "MAX_FRAME_WIDTH",
    "MAX_RANK",
    "MAX_SHAPE_DATA",
    "MAX_TENSOR_BYTES",
    "MAX_THREADS",
    "MAX_WORKERS",
    "SCORE_MARGIN",
    "SESSION_ARENA_BYTES",
    "SIZE_CREATING_OPS",
    "check_threads",
    "check_workers",
    "frame_size_problem",
    "score_bounds",
    "tensor_size_problem",
]

#: Largest tensor a model may create for one item (batch axis bound to 1). The shipped
#: learned_filter_v1 on a 3840x2160 frame peaks at 0.5 GiB (16 channels of float32).
MAX_TENSOR_BYTES: int = 1024 * 1024 * 1024
#: Largest frame side a sidecar may declare (width or height; portrait allowed).
MAX_FRAME_WIDTH: int = 3840
MAX_FRAME_HEIGHT: int = 2160
#: Largest frame area a sidecar may declare (4K UHD).
MAX_FRAME_PIXELS: int = MAX_FRAME_WIDTH * MAX_FRAME_HEIGHT
#: Cap of the process-wide ONNX Runtime CPU arena all sessions allocate from.
SESSION_ARENA_BYTES: int = 4 * 1024 * 1024 * 1024
#: Score range assumed when a score model's sidecar declares none (the VMAF scale).
DEFAULT_SCORE_RANGE: tuple[float, float] = (0.0, 100.0)
#: How far past its declared range (as a fraction of the range's width, on each side) a raw
#: model output may fall and still count as a score: ``[0, 100]`` -> ``[-25, 125]`` (a regressor
#: fitted to a data range extrapolates somewhat past it; far beyond, it is broken).
SCORE_MARGIN: float = 0.25
#: Most threads one run may ask for (ONNX Runtime intra-op threads, libvmaf ``n_threads``,
#: ``train.threads``): a constant, not the machine's core count, so a command line is portable.
MAX_THREADS: int = 256
#: Most worker processes a local executor may start (``--workers``).
MAX_WORKERS: int = 256
#: Allowed operators whose output can be larger than their inputs by a factor read from a tensor.
SIZE_CREATING_OPS: frozenset[str] = frozenset(
    {"ConstantOfShape", "Expand", "Tile", "Resize", "Pad", "Range", "Upsample", "OneHot"}
)
#: Longest 1-D tensor computed from constants or shapes that a model may hold (shape vectors
#: have a handful of elements; the shipped models' longest is far below this).
MAX_SHAPE_DATA: int = 65536
#: Highest tensor rank a model may ask for (ONNX Runtime's kernels and the shipped models use at
#: most 6): shape inference holds every dimension of every tensor, so a constant shape of 65,536
#: ones costs megabytes per node before any size can be checked.
MAX_RANK: int = 32
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
_FRAME_ROLES = ("frame", "reference_frame", "distorted_frame")


def _fmt(n: int) -> str:
    if n >= 1024**3:
        return f"{n / 1024**3:.2f} GiB"
    return f"{n / 1024**2:.1f} MiB"


def frame_size_problem(sidecar: Mapping[str, Any]) -> str | None:
    """Why a sidecar's declared frame size is too large, or None.

    Checks ``frame.resize``, ``frame.crop`` and the static H/W of 4-D frame inputs against
    :data:`MAX_FRAME_WIDTH` / :data:`MAX_FRAME_HEIGHT` (either orientation) and
    :data:`MAX_FRAME_PIXELS`.
    """
    sizes: list[tuple[str, int, int]] = []
    frame = sidecar.get("frame") or {}
    for key in ("resize", "crop"):
        size = frame.get(key)
        if size:
            sizes.append((f"frame.{key}", int(size[0]), int(size[1])))
    for t in sidecar.get("inputs", []):
        shape = t.get("shape") or []
        if len(shape) == 4 and (t.get("role") in _FRAME_ROLES or sidecar.get("kind") != "fr"):
            h, w = shape[2], shape[3]
            if isinstance(h, int) and isinstance(w, int):
                sizes.append((f"input {t['name']!r}", w, h))
    longest = max(MAX_FRAME_WIDTH, MAX_FRAME_HEIGHT)
    for where, w, h in sizes:
        if (
            max(w, h) > longest
            or min(w, h) > min(MAX_FRAME_WIDTH, MAX_FRAME_HEIGHT)
            or (w * h > MAX_FRAME_PIXELS)
        ):
            return (
                f"{where} declares {w}x{h} frames; the cap is {MAX_FRAME_WIDTH}x"
                f"{MAX_FRAME_HEIGHT} ({MAX_FRAME_PIXELS} pixels)"
            )
    return None


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


def _itemsize(elem_type: int) -> int:
    from onnx import helper

    try:
        return int(helper.tensor_dtype_to_np_dtype(elem_type).itemsize)
    except Exception:
        return 8


def _shape_of(vi: onnx.ValueInfoProto) -> tuple[list[int | None], int] | None:
    if not vi.type.HasField("tensor_type"):
        return None
    tt = vi.type.tensor_type
    if not tt.HasField("shape"):
        return [None], tt.elem_type
    dims: list[int | None] = [
        int(d.dim_value) if d.HasField("dim_value") else None for d in tt.shape.dim
    ]
    return dims, tt.elem_type


def tensor_size_problem(
    model: onnx.ModelProto, sidecar: Mapping[str, Any], *, sandbox: bool = True
) -> tuple[str | None, str]:
    """Why the model could allocate an unbounded or over-cap tensor, or None; and a summary.

    Args:
        model: The checked model (external data inlined; not modified).
        sidecar: Its validated sidecar (frame size for dynamic H/W).
        sandbox: Run shape inference in a memory- and time-capped child process
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
        result = infer_in_sandbox(bound) if sandbox else infer_checked(bound)
    except SandboxError as exc:
        return str(exc), ""
    if isinstance(result, str):
        return result, ""
    inferred, known = result, _known_shapes(result)
    deep = next((name for name, (dims, _) in known.items() if len(dims) > MAX_RANK), None)
    if deep is not None:
        return f"tensor {deep!r} has rank {len(known[deep][0]):,}; at most {MAX_RANK}", ""
    problem, largest = _cap_problem(known)
    if problem:
        return problem, ""
    for graph, _ in iter_graphs(inferred.graph):
        for node in graph.node:
            if node.op_type not in SIZE_CREATING_OPS:
                continue
            for out in node.output:
                if not out:
                    continue
                got = known.get(out)
                if got is None or any(d is None for d in got[0]):
                    return (
                        f"{node.op_type} node {node.name or '(unnamed)'}: output {out!r} has a "
                        "size that depends on tensor values, not on constants or the input "
                        "shapes, so it cannot be bounded at load time"
                    ), ""
    name, size = largest
    return None, f"largest tensor {name!r} {_fmt(size)} per item (cap {_fmt(MAX_TENSOR_BYTES)})"


def infer_checked(bound: onnx.ModelProto) -> onnx.ModelProto | str:
    """Shape inference of a bound copy (inputs bound, ``Constant`` nodes inlined), in two
    passes, or the first problem found on the way (one line).

    The first pass, without data propagation, refuses over-cap tensors and over-long 1-D
    tensors that data propagation would follow (:func:`_shape_data_problem`); the second, with
    data propagation, runs only where the first left a tensor unsized, and its result is checked
    the same way. Both passes can take memory no check before them bounds (a tensor of rank
    65,536 costs megabytes per node; data propagation holds 1-D tensors it alone can size), so
    :func:`tensor_size_problem` runs this in a memory-capped child
    (:mod:`vmaf_tiny.shape_sandbox`) for any model but the shipped ones.

    Raises:
        MemoryError: out of memory (the child's cap).
    """
    import onnx

    try:
        inferred = onnx.shape_inference.infer_shapes(bound, strict_mode=False, data_prop=False)
        known = _known_shapes(inferred)
        problem = _cap_problem(known)[0] or _shape_data_problem(inferred, known)
        if problem or _all_sized(inferred, known):  # data propagation sizes only the unsized
            return problem or inferred
        inferred = onnx.shape_inference.infer_shapes(bound, strict_mode=False, data_prop=True)
        known = _known_shapes(inferred)
        return _cap_problem(known)[0] or _shape_data_problem(inferred, known) or inferred
    except MemoryError:
        raise
    except Exception as exc:
        text = " ".join(str(exc).split())
        if "bad_alloc" in text:
            raise MemoryError(text) from exc
        return f"shape inference failed: {text[:200]}"


def _rank_problem(model: onnx.ModelProto) -> str | None:
    """A constant shape (or axes list) asking for a rank over :data:`MAX_RANK`, or None: caught
    before shape inference, which would hold every dimension of every tensor downstream."""
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


def _all_sized(model: onnx.ModelProto, known: Mapping[str, tuple[list[int | None], int]]) -> bool:
    """Whether every node output (subgraphs included) has a fully known shape."""
    return all(
        out in known and None not in known[out][0]
        for graph, _ in iter_graphs(model.graph)
        for node in graph.node
        for out in node.output
        if out
    )


def _known_shapes(model: onnx.ModelProto) -> dict[str, tuple[list[int | None], int]]:
    """Every tensor's inferred (dims, element type), subgraphs included.

    Sibling subgraphs (an If's two branches) may define the same name; the entry kept is then
    the one the checks would refuse first (:func:`_severity`), so that no definition's size hides
    behind another's.
    """
    known: dict[str, tuple[list[int | None], int]] = {}
    for graph, _ in iter_graphs(model.graph):
        local: dict[str, tuple[list[int | None], int]] = {}
        for vi in [*graph.input, *graph.value_info, *graph.output]:
            got = _shape_of(vi)
            if got is not None:
                local[vi.name] = got
        for init in graph.initializer:
            local[init.name] = ([int(d) for d in init.dims], init.data_type)
        for name, got in local.items():
            if name not in known or _severity(got) > _severity(known[name]):
                known[name] = got
    return known


def _severity(got: tuple[list[int | None], int]) -> tuple[bool, bool, int]:
    """Order of two shapes of one name: over a limit (tensor bytes, 1-D length, rank) first,
    then not fully known (a size-creating node's output must be known), then larger."""
    dims, elem = got
    if None in dims:
        return False, True, 0
    size = math.prod(max(int(d or 0), 0) for d in dims) * _itemsize(elem)
    over = size > MAX_TENSOR_BYTES or len(dims) > MAX_RANK or _too_long(got)
    return over, False, size


def _cap_problem(
    known: Mapping[str, tuple[list[int | None], int]],
) -> tuple[str | None, tuple[str, int]]:
    """The first tensor of known size over :data:`MAX_TENSOR_BYTES`, or None; and the largest
    (name, bytes) seen."""
    largest = ("", 0)
    for name, (dims, elem) in known.items():
        if any(d is None for d in dims):
            continue
        n = 1
        for d in dims:
            n *= max(int(d or 0), 0)
        size = n * _itemsize(elem)
        if size > largest[1]:
            largest = (name, size)
        if size > MAX_TENSOR_BYTES:
            held, cap = _fmt(size), _fmt(MAX_TENSOR_BYTES)
            if held == cap:  # rounding would hide the excess: say it in bytes
                held, cap = f"{size:,} bytes", f"{cap} ({MAX_TENSOR_BYTES:,} bytes)"
            return (
                f"tensor {name!r} would hold {held} (shape {dims}) per item, over the {cap} cap"
            ), largest
    return None, largest


def _shape_data_problem(
    inferred: onnx.ModelProto, known: Mapping[str, tuple[list[int | None], int]]
) -> str | None:
    """A 1-D tensor that ONNX's data propagation would hold element by element and that is
    longer than :data:`MAX_SHAPE_DATA`, or None.

    Two kinds: any 1-D input of a value-propagating operator (:data:`_DATA_PROP_OPS` but
    ``Shape`` and ``Size``, which read only dims), values known or not; and any 1-D tensor
    computed from constants or shapes (what data propagation follows). Shape vectors hold a few
    elements; a length no pass could tell is left to the memory cap of the child that runs the
    passes.
    """
    valued: set[str] = set()
    for graph, _ in iter_graphs(inferred.graph):
        valued.update(init.name for init in graph.initializer)
        for node in graph.node:
            ins = [i for i in node.input if i]
            follows = node.op_type in _DATA_PROP_OPS and node.op_type not in ("Shape", "Size")
            for name in ins if follows else ():
                if _too_long(known.get(name)):
                    lead = f"{node.op_type} node reads"
                    return _shape_data_message(name, known[name][0][0], lead)
            if node.op_type in ("Shape", "Size", "Constant") or (
                node.op_type in _VALUE_CARRIERS and all(i in valued for i in ins)
            ):
                valued.update(o for o in node.output if o)
    for name in sorted(valued):
        if _too_long(known.get(name)):
            return _shape_data_message(name, known[name][0][0], "")
    return None


def _too_long(got: tuple[list[int | None], int] | None) -> bool:
    return got is not None and len(got[0]) == 1 and (got[0][0] or 0) > MAX_SHAPE_DATA


def _shape_data_message(name: str, length: int | None, lead: str) -> str:
    return (
        f"{lead + ' ' if lead else ''}the 1-D tensor {name!r} of {length or 0:,} elements: shape "
        "inference would follow it element by element, so such tensors are limited to "
        f"{MAX_SHAPE_DATA:,} elements (shape vectors hold a few)"
    )


def score_bounds(sidecar: Mapping[str, Any]) -> tuple[float, float]:
    """The plausible interval for a score model's raw outputs (checked before any clamping).

    The sidecar's ``output.range`` (default :data:`DEFAULT_SCORE_RANGE`) widened by
    :data:`SCORE_MARGIN` of its width on each side: a VMAF-scale model may output -25..125
    (a regressor's small overshoot, which ``output.clamp`` then clips), never 150 or 1e30.
    """
    rng = (sidecar.get("output") or {}).get("range") or DEFAULT_SCORE_RANGE
    lo, hi = float(rng[0]), float(rng[1])
    margin = (hi - lo) * SCORE_MARGIN
    return lo - margin, hi + margin


def _as_count(value: object, high: int) -> int | None:
    """``value`` as an int if it is an integer (numpy's too, not bool) in ``1..high``."""
    if isinstance(value, bool):
        return None
    try:
        n = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        return None
    return n if 1 <= n <= high else None


def check_threads(threads: int, name: str = "--threads") -> int:
    """``threads`` if it is an integer in ``1..MAX_THREADS``.

    Raises:
        BadInputError: anything else (one line naming ``name``).
    """
    return _check_count(threads, MAX_THREADS, name)


def check_workers(workers: int, name: str = "--workers") -> int:
    """``workers`` if it is an integer in ``1..MAX_WORKERS``.

    Raises:
        BadInputError: anything else (one line naming ``name``).
    """
    return _check_count(workers, MAX_WORKERS, name)


def _check_count(value: int, high: int, name: str) -> int:
    n = _as_count(value, high)
    if n is None:
        raise BadInputError(f"{name} must be an integer in 1..{high}, got {value!r}")
    return n
