"""ONNX shape inference for the load-time size check, run in a child process under a memory and
time limit.

Shape inference can take memory that no check run before it bounds: data propagation
(``infer_shapes(..., data_prop=True)``) holds the 1-D tensors it follows element by element,
about 140 bytes each, and may size a tensor from values only it computes (an ``Expand`` to a
length computed from the input's shape); a 530 KB model whose tensors have rank 65,536 costs
megabytes per node even without it. :func:`infer_in_sandbox` therefore runs both passes
(:func:`vmaf_tiny.bounds.infer_checked`) in a fresh, isolated interpreter (``python -I``, the
parent's import path, no ``PYTHON*`` variables) whose address space is capped at
:data:`SANDBOX_MEMORY_BYTES` (or the process's own lower hard limit) and whose run is cut at
:data:`SANDBOX_TIMEOUT_S`. The child gets the model without its initializers of rank >= 2
(graph inputs of the same type and shape instead: data propagation follows only scalars and 1-D
tensors) and sends back either a one-line problem or the inferred model, its initializer values
removed. Verdicts are kept per process by the sha256 of what was sent.

Where the platform cannot cap a process's address space (no ``resource.RLIMIT_AS``), the child
refuses to run, and so the check refuses the model: an unbounded check is what this module
exists to prevent.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import onnx

__all__ = ["SANDBOX_MEMORY_BYTES", "SANDBOX_TIMEOUT_S", "SandboxError", "infer_in_sandbox"]

#: Address-space cap of the child (the interpreter with onnx imported reserves about 160 MiB;
#: it receives the model without its weights, and inference of the shipped models adds a few).
SANDBOX_MEMORY_BYTES: int = 512 * 1024 * 1024
#: Wall-clock limit of the child, start-up included (the shipped models take under a second).
SANDBOX_TIMEOUT_S: float = 30.0
#: Exit codes of the child.
_RC_MEMORY = 3
_RC_NO_LIMIT = 4
_RC_FAILED = 5
#: One thread for every math library the child might import: each thread's reserved stack and
#: buffers count against the address-space cap.
_ONE_THREAD = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
#: The child's program: the parent's import path, then :func:`main`.
_CHILD = "import sys; sys.path[:0] = {path!r}; from vmaf_tiny.shape_sandbox import main; main()"
#: Verdicts of this process: sha256 of the bytes sent -> what came back.
_VERDICTS: dict[str, bytes] = {}
_MAX_VERDICTS = 64


class SandboxError(Exception):
    """The child gave no verdict (memory or time limit, no limit available, a failure); the
    message is one line, fit for a check report."""


def infer_in_sandbox(bound: onnx.ModelProto) -> onnx.ModelProto | str:
    """:func:`vmaf_tiny.bounds.infer_checked` of ``bound``, run in a memory-capped child.

    Returns:
        The inferred model (initializer values removed) or a one-line problem.

    Raises:
        SandboxError: the child ran out of its memory or time, the platform cannot cap it, or
            it failed.
    """
    import onnx

    data = _without_weights(bound).SerializeToString()
    key = hashlib.sha256(data).hexdigest()
    out = _VERDICTS.get(key)
    if out is None:
        out = _run_child(data)
        if len(_VERDICTS) >= _MAX_VERDICTS:
            _VERDICTS.pop(next(iter(_VERDICTS)))
        _VERDICTS[key] = out
    if out[:1] == b"P":
        return out[1:].decode("utf-8", errors="replace")
    return onnx.load_model_from_string(out[1:])


def _run_child(data: bytes) -> bytes:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(dict.fromkeys(_ONE_THREAD, "1"))
    path = [p for p in sys.path if p]
    try:
        proc = subprocess.run(
            [sys.executable, "-I", "-c", _CHILD.format(path=path)],
            input=data,
            capture_output=True,
            timeout=SANDBOX_TIMEOUT_S,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        limit = f"{SANDBOX_TIMEOUT_S:.0f} s"
        raise SandboxError(f"shape inference ran past its {limit} limit") from None
    lines = proc.stderr.decode(errors="replace").strip().splitlines()
    why = " ".join(lines[-1].split())[:200] if lines else f"exit code {proc.returncode}"
    if proc.returncode == _RC_MEMORY or proc.returncode < 0:
        mib = _memory_limit() // 1024**2
        raise SandboxError(f"shape inference needed more than its {mib} MiB memory limit")
    if proc.returncode == _RC_NO_LIMIT:
        raise SandboxError(
            f"shape inference cannot run under a memory limit on this platform ({why}); only "
            "the shipped models load without one"
        )
    if proc.returncode != 0 or proc.stdout[:1] not in (b"P", b"M"):
        raise SandboxError(f"shape inference failed: {why}")
    return proc.stdout


def _memory_limit() -> int:
    """:data:`SANDBOX_MEMORY_BYTES`, or this process's hard address-space limit if lower."""
    try:
        import resource

        hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    except (ImportError, AttributeError, OSError, ValueError):
        return SANDBOX_MEMORY_BYTES
    if hard == resource.RLIM_INFINITY or hard <= 0:
        return SANDBOX_MEMORY_BYTES
    return min(SANDBOX_MEMORY_BYTES, hard)


def _without_weights(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of ``model`` whose top-level initializers of rank >= 2 are graph inputs of the same
    type and shape: data propagation follows only scalars and 1-D tensors, so their values
    never matter to it, and the child need not hold them."""
    import onnx
    from onnx import helper

    light = onnx.ModelProto()
    light.CopyFrom(model)
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


def _cap_memory() -> str | None:
    """Cap this process's address space; why it cannot be, or None."""
    try:
        import resource

        limit = _memory_limit()
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ImportError, ValueError, OSError, AttributeError) as exc:
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


def main() -> None:
    """The child: stdin = serialized bound model; stdout = ``P`` + a problem, or ``M`` + the
    inferred model without weights."""
    problem = _cap_memory()
    if problem:
        print(problem, file=sys.stderr)
        sys.exit(_RC_NO_LIMIT)
    try:
        import onnx

        from vmaf_tiny.bounds import infer_checked

        result = infer_checked(onnx.load_model_from_string(sys.stdin.buffer.read()))
        if isinstance(result, str):
            out = b"P" + result.encode()
        else:
            _strip_values(result)
            out = b"M" + result.SerializeToString()
    except MemoryError:
        sys.exit(_RC_MEMORY)
    except Exception as exc:
        print(f"{type(exc).__name__}: {' '.join(str(exc).split())}", file=sys.stderr)
        sys.exit(_RC_FAILED)
    sys.stdout.buffer.write(out)
    sys.stdout.flush()
