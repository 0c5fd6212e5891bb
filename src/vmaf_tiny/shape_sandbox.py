"""ONNX shape inference with data propagation, run in a child process under a memory limit.

Data propagation (``onnx.shape_inference.infer_shapes(..., data_prop=True)``) holds the 1-D
tensors it follows element by element, about 140 bytes each, and may size a tensor only from
values it computes itself (a ``Tile`` whose repeats come from shape arithmetic): no check run
before it can bound what it will hold. :func:`infer_with_data_prop` therefore runs it in a fresh
interpreter (``python -m vmaf_tiny.shape_sandbox``) whose address space is capped at
:data:`SANDBOX_MEMORY_BYTES` and whose run is cut at :data:`SANDBOX_TIMEOUT_S`. The child reads
the serialized model on stdin and writes the inferred model back, initializer values removed
(their dims and types stay): the caller needs shapes, not weights.

Where the platform cannot cap a process's address space (no ``resource.RLIMIT_AS``), the child
refuses to run, and so the check refuses the model: an unbounded check is what this module
exists to prevent.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import onnx

__all__ = ["SANDBOX_MEMORY_BYTES", "SANDBOX_TIMEOUT_S", "SandboxError", "infer_with_data_prop"]

#: Address-space cap of the child (the interpreter with onnx imported reserves about 160 MiB;
#: it receives the model without its weights, and data propagation on the shipped models adds a
#: few MiB).
SANDBOX_MEMORY_BYTES: int = 512 * 1024 * 1024
#: Wall-clock limit of the child, start-up included.
SANDBOX_TIMEOUT_S: float = 60.0
#: Exit codes of the child.
_RC_MEMORY = 3
_RC_NO_LIMIT = 4
_RC_FAILED = 5
#: One thread for every math library the child might import: each thread's reserved stack and
#: buffers count against the address-space cap.
_ONE_THREAD = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


class SandboxError(Exception):
    """The child could not give a verdict (memory or time limit, no limit available, a failure);
    the message is one line, fit for a check report."""


def infer_with_data_prop(model: onnx.ModelProto) -> onnx.ModelProto:
    """``model`` after shape inference with data propagation, run in a memory-capped child.

    Raises:
        SandboxError: the child ran out of its memory or time, the platform cannot cap it, or
            shape inference failed.
    """
    import onnx

    env = {**os.environ, **dict.fromkeys(_ONE_THREAD, "1"), "PYTHONSAFEPATH": "1"}
    limit = f"{SANDBOX_MEMORY_BYTES // 1024**2} MiB"
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "vmaf_tiny.shape_sandbox"],
            input=_without_weights(model).SerializeToString(),
            capture_output=True,
            timeout=SANDBOX_TIMEOUT_S,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise SandboxError(
            f"shape inference with data propagation ran past its {SANDBOX_TIMEOUT_S:.0f} s limit"
        ) from None
    why = " ".join(proc.stderr.decode(errors="replace").split())[:200]
    if proc.returncode == _RC_MEMORY or proc.returncode < 0:
        raise SandboxError(
            f"shape inference with data propagation needed more than its {limit} memory limit"
        )
    if proc.returncode == _RC_NO_LIMIT:
        raise SandboxError(
            "the model needs shape inference with data propagation, which this platform cannot "
            f"run under a memory limit ({why})"
        )
    if proc.returncode != 0:
        raise SandboxError(f"shape inference failed: {why or f'exit code {proc.returncode}'}")
    return onnx.load_model_from_string(proc.stdout)


def _without_weights(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of ``model`` whose top-level initializers of rank >= 2 are graph inputs of the same
    type and shape: data propagation follows only scalars and 1-D tensors, so their values
    never matter to it, and the child need not hold them."""
    from onnx import helper

    light = _copy(model)
    graph = light.graph
    keep = []
    for init in graph.initializer:
        if len(init.dims) >= 2:
            graph.input.append(helper.make_tensor_value_info(init.name, init.data_type, init.dims))
        else:
            keep.append(init)
    if len(keep) < len(graph.initializer):
        inputs = {vi.name: vi for vi in graph.input}  # an initializer may already be an input
        del graph.initializer[:]
        graph.initializer.extend(keep)
        del graph.input[:]
        graph.input.extend(inputs.values())
    return light


def _copy(model: onnx.ModelProto) -> onnx.ModelProto:
    """A deep copy of ``model``."""
    import onnx

    out = onnx.ModelProto()
    out.CopyFrom(model)
    return out


def _cap_memory() -> str | None:
    """Cap this process's address space; why it cannot be, or None."""
    try:
        import resource
    except ImportError:
        return "no resource module"
    try:
        resource.setrlimit(resource.RLIMIT_AS, (SANDBOX_MEMORY_BYTES, SANDBOX_MEMORY_BYTES))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError, AttributeError) as exc:
        return f"RLIMIT_AS: {exc}"
    return None


def _strip_values(model: onnx.ModelProto) -> None:
    """Drop initializer values in place (dims, type and name stay), subgraphs included."""
    from vmaf_tiny.graph import iter_graphs

    for graph, _ in iter_graphs(model.graph):
        for init in graph.initializer:
            dims, dtype, name = list(init.dims), init.data_type, init.name
            init.Clear()
            init.dims.extend(dims)
            init.data_type, init.name = dtype, name


def main() -> int:
    """The child: stdin = serialized model, stdout = the inferred model without weights."""
    problem = _cap_memory()
    if problem:
        print(problem, file=sys.stderr)
        return _RC_NO_LIMIT
    try:
        import onnx

        model = onnx.load_model_from_string(sys.stdin.buffer.read())
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
        _strip_values(inferred)
        sys.stdout.buffer.write(inferred.SerializeToString())
    except MemoryError:
        return _RC_MEMORY
    except Exception as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return _RC_FAILED
    return 0


if __name__ == "__main__":
    sys.exit(main())
