"""ONNX shape inference and the tensor-size checks, run in a child process under a memory and
time limit.

Shape inference can take memory that no check run before it bounds: data propagation
(``infer_shapes(..., data_prop=True)``) holds the 1-D tensors it follows element by element,
about 140 bytes each, and may size a tensor from values only it computes (an ``Expand`` to a
length computed from the input's shape); a tensor of rank 65,536 costs megabytes per node even
without it. :func:`verdict_in_sandbox` therefore runs
:func:`vmaf_tiny.tensor_sizes.size_verdict` (both passes and every check on their result) in a
fresh, isolated interpreter (``python -I``, the parent's import path, no ``PYTHON*``
variables) whose address space is capped at :data:`SANDBOX_MEMORY_BYTES` (or the process's own
lower hard limit), whose CPU time is capped at :data:`SANDBOX_TIMEOUT_S`, which the parent
kills at that wall-clock limit, and which dies with its parent (Linux). The child gets the model
without its top-level initializers of rank >= 2 (graph inputs of the same type and shape
instead: data propagation follows only scalars and 1-D tensors) and sends back one short line:
the problem, or the summary of a pass. Verdicts are kept per process by the sha256 of what was
sent.

Where the platform cannot cap a process's address space (no ``resource.RLIMIT_AS``), the child
refuses to run, and so the check refuses the model: an unbounded check is what this module
exists to prevent.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import onnx

__all__ = ["SANDBOX_MEMORY_BYTES", "SANDBOX_TIMEOUT_S", "SandboxError", "verdict_in_sandbox"]

#: Address-space cap of the child (the interpreter with onnx imported reserves about 160 MiB;
#: it receives the model without its weights, and inference of the shipped models adds a few).
SANDBOX_MEMORY_BYTES: int = 512 * 1024 * 1024
#: Wall-clock (and CPU-time) limit of the child, start-up included (the shipped models take
#: under a second).
SANDBOX_TIMEOUT_S: float = 30.0
#: Exit codes of the child.
_RC_MEMORY = 3
_RC_NO_LIMIT = 4
_RC_FAILED = 5
#: One thread for every math library the child might import: each thread's reserved stack and
#: buffers count against the address-space cap.
_ONE_THREAD = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
#: The child's program: the parent's import path, then :func:`main` (told the parent's pid).
_CHILD = (
    "import sys; sys.path[:0] = {path!r}; from vmaf_tiny.shape_sandbox import main; main({pid})"
)
#: Verdicts of this process: sha256 of the bytes sent -> (problem or None, summary).
_VERDICTS: dict[str, tuple[str | None, str]] = {}
_MAX_VERDICTS = 256
#: Longest verdict line read back.
_MAX_LINE = 1000


class SandboxError(Exception):
    """The child gave no verdict (memory or time limit, no limit available, a failure); the
    message is one line, fit for a check report."""


def verdict_in_sandbox(bound: onnx.ModelProto) -> tuple[str | None, str]:
    """:func:`vmaf_tiny.tensor_sizes.size_verdict` of ``bound`` (the caller's own copy, whose
    weights this moves to graph inputs), run in a capped child.

    Returns:
        (problem or None, summary), as :func:`~vmaf_tiny.tensor_sizes.size_verdict` gives.

    Raises:
        SandboxError: the child ran out of its memory or time, the platform cannot cap it, or
            it failed.
    """
    _weights_to_inputs(bound)
    data = bound.SerializeToString()
    key = hashlib.sha256(data).hexdigest()
    verdict = _VERDICTS.get(key)
    if verdict is None:
        out = _run_child(data)
        text = out[1:].decode("utf-8", errors="replace")
        verdict = (text, "") if out[:1] == b"P" else (None, text)
        if len(_VERDICTS) >= _MAX_VERDICTS:
            _VERDICTS.pop(next(iter(_VERDICTS)))
        _VERDICTS[key] = verdict
    return verdict


def _run_child(data: bytes) -> bytes:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(dict.fromkeys(_ONE_THREAD, "1"))
    path = [p for p in sys.path if p]
    try:
        proc = subprocess.run(
            [sys.executable, "-I", "-c", _CHILD.format(path=path, pid=os.getpid())],
            input=data,
            capture_output=True,
            timeout=SANDBOX_TIMEOUT_S,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        limit = f"{SANDBOX_TIMEOUT_S:.0f} s"
        raise SandboxError(f"shape inference ran past its {limit} limit") from None
    err = proc.stderr.decode(errors="replace")
    lines = err.strip().splitlines()
    why = " ".join(lines[-1].split())[:200] if lines else f"exit code {proc.returncode}"
    if proc.returncode == -signal.SIGXCPU:
        limit = f"{SANDBOX_TIMEOUT_S:.0f} s"
        raise SandboxError(f"shape inference ran past its {limit} CPU-time limit")
    if (
        proc.returncode in (_RC_MEMORY, -signal.SIGKILL, -signal.SIGABRT, -signal.SIGSEGV)
        or "cannot allocate memory" in err
        or "MemoryError" in err
    ):
        mib = _memory_limit() // 1024**2
        raise SandboxError(f"shape inference needed more than its {mib} MiB memory limit")
    if proc.returncode == _RC_NO_LIMIT:
        raise SandboxError(
            f"shape inference cannot run under a memory limit on this platform ({why}); only "
            "the shipped models load without one"
        )
    if proc.returncode != 0 or proc.stdout[:1] not in (b"P", b"S"):
        raise SandboxError(f"shape inference failed: {why}")
    return proc.stdout[:_MAX_LINE]


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


def _weights_to_inputs(model: onnx.ModelProto) -> None:
    """Make the top-level initializers of rank >= 2 graph inputs of the same type and shape, in
    place: data propagation follows only scalars and 1-D tensors, so their values never matter
    to it, and the child need not receive them."""
    from onnx import helper

    graph = model.graph
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


def _cap_self(parent: int) -> str | None:
    """Cap this process's address space and CPU time and tie its life to ``parent``'s; why it
    cannot be capped, or None."""
    try:
        import resource

        limit = _memory_limit()
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        cpu = int(SANDBOX_TIMEOUT_S) + 1
        _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
        if hard == resource.RLIM_INFINITY or hard > cpu:
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, hard))
    except (ImportError, ValueError, OSError, AttributeError) as exc:
        return f"RLIMIT_AS: {exc}"
    if sys.platform.startswith("linux"):
        try:  # killed when the parent dies (PR_SET_PDEATHSIG), not left running on its own
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # it died before that took effect
        os._exit(_RC_FAILED)
    return None


def main(parent: int) -> None:
    """The child: stdin = serialized bound model; stdout = ``P`` + the problem, or ``S`` + the
    summary (one line each)."""
    problem = _cap_self(parent)
    if problem:
        print(problem, file=sys.stderr)
        sys.exit(_RC_NO_LIMIT)
    try:
        import onnx

        from vmaf_tiny.tensor_sizes import size_verdict

        problem, summary = size_verdict(onnx.load_model_from_string(sys.stdin.buffer.read()))
        out = b"P" + problem.encode() if problem else b"S" + summary.encode()
    except MemoryError:
        sys.exit(_RC_MEMORY)
    except Exception as exc:
        print(f"{type(exc).__name__}: {' '.join(str(exc).split())}", file=sys.stderr)
        sys.exit(_RC_FAILED)
    sys.stdout.buffer.write(out[:_MAX_LINE])
    sys.stdout.flush()
