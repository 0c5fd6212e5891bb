"""ONNX Runtime sessions with an explicit execution provider, and the loaded-model object.

``backend`` picks the execution provider: ``cpu``, ``cuda`` (onnxruntime-gpu), ``openvino`` or
``auto`` (the best one available, falling back to CPU and saying which one ran). An explicitly
requested provider that does not attach is an error: ONNX Runtime would otherwise fall back to
CPU silently. Sessions run sequentially on ``threads`` intra-op threads (default 1, for
reproducible single-thread figures; at most :data:`MAX_THREADS`) without thread spinning.

Memory: every session allocates CPU tensors from one process-wide arena registered with ONNX
Runtime's environment and capped at :data:`vmaf_tiny.bounds.SESSION_ARENA_BYTES`
(``OrtArenaCfg.max_mem``, ``session.use_env_allocators``); an allocation past the cap fails the
run with a one-line BadModelError instead of growing the process. It bounds the tensors ONNX
Runtime allocates while running on the CPU provider; it does not bound the memory of graph
optimisation at session creation (constant folding is itself capped by ONNX Runtime at 1 GiB
per folded tensor), of initializers (bounded by the 50 MiB file cap), or of GPU providers.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vmaf_tiny._lazy import numpy as np  # numpy on first use (start-up)
from vmaf_tiny.bounds import MAX_THREADS, SESSION_ARENA_BYTES, check_threads
from vmaf_tiny.errors import BadInputError, BadModelError, MissingToolError
from vmaf_tiny.guard import GuardedModel, guard_model

if TYPE_CHECKING:
    import onnxruntime as ort

__all__ = [
    "BACKENDS",
    "MAX_THREADS",
    "PROVIDERS",
    "LoadedModel",
    "available_backends",
    "load_guarded",
    "load_model",
    "make_session",
    "session_options",
]

#: backend name -> the execution provider it asks for.
PROVIDERS: dict[str, str] = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
}
BACKENDS: tuple[str, ...] = ("auto", "cpu", "cuda", "openvino")
_AUTO_ORDER = ("cuda", "openvino", "cpu")
_INSTALL_HINT = {
    "cuda": "on a machine with CUDA, swap the CPU build for onnxruntime-gpu: "
    "pip uninstall -y onnxruntime && pip install onnxruntime-gpu",
    "openvino": "install onnxruntime-openvino",
}


def _ort() -> Any:
    import onnxruntime

    return onnxruntime


def available_backends() -> list[str]:
    """Backends whose provider this onnxruntime build offers (``cpu`` always)."""
    have = set(_ort().get_available_providers())
    return [b for b in ("cpu", "cuda", "openvino") if PROVIDERS[b] in have]


_ENV_ARENA: list[bool] = []


def _env_arena() -> bool:
    """Register the capped, process-wide CPU arena once; False if this build cannot."""
    if not _ENV_ARENA:
        ort = _ort()
        try:
            info = ort.OrtMemoryInfo(
                "Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0, ort.OrtMemType.DEFAULT
            )
            # max_mem, extend strategy 0 (next power of two, ONNX Runtime's default),
            # initial chunk and max dead bytes per chunk left at their defaults (-1).
            cfg = ort.OrtArenaCfg(SESSION_ARENA_BYTES, 0, -1, -1)
            ort.create_and_register_allocator(info, cfg)
            _ENV_ARENA.append(True)
        except Exception:  # pragma: no cover - builds without the API; sessions still work
            _ENV_ARENA.append(False)
    return _ENV_ARENA[0]


def session_options(threads: int = 1) -> ort.SessionOptions:
    """Session options: ``threads`` intra-op threads, one inter-op, sequential, no spinning,
    CPU tensors from the capped process-wide arena (see the module docstring).

    Raises:
        BadInputError: ``threads`` is not an integer in ``1..MAX_THREADS``.
    """
    threads = check_threads(threads)
    ort = _ort()
    so = ort.SessionOptions()
    so.intra_op_num_threads = int(threads)
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.add_session_config_entry("session.inter_op.allow_spinning", "0")
    so.log_severity_level = 4  # errors come back as exceptions; no stderr noise
    if _env_arena():
        so.add_session_config_entry("session.use_env_allocators", "1")
    return so


def _providers_for(backend: str) -> tuple[list[str], str]:
    """(provider list to ask for, the provider that must attach) for a backend."""
    if backend not in BACKENDS:
        raise BadInputError(f"unknown backend {backend!r} (choose from {', '.join(BACKENDS)})")
    have = set(_ort().get_available_providers())
    if backend == "auto":
        for b in _AUTO_ORDER:
            if PROVIDERS[b] in have:
                chosen = PROVIDERS[b]
                break
        else:  # pragma: no cover - the CPU provider is always built in
            chosen = PROVIDERS["cpu"]
        providers = [chosen] if chosen == PROVIDERS["cpu"] else [chosen, PROVIDERS["cpu"]]
        return providers, chosen
    wanted = PROVIDERS[backend]
    if wanted not in have:
        raise MissingToolError(
            f"backend {backend!r} needs {wanted}, which this onnxruntime "
            f"({_ort().__version__}) lacks: {_INSTALL_HINT.get(backend, '')}".rstrip(": ")
        )
    providers = [wanted] if backend == "cpu" else [wanted, PROVIDERS["cpu"]]
    return providers, wanted


def make_session(
    model_bytes: bytes, *, backend: str = "auto", threads: int = 1
) -> tuple[ort.InferenceSession, str]:
    """Create an InferenceSession from guarded bytes and check which provider attached.

    Args:
        model_bytes: The serialized model (from :func:`vmaf_tiny.guard.guard_model`).
        backend: ``auto``, ``cpu``, ``cuda`` or ``openvino``.
        threads: Intra-op threads.

    Returns:
        The session and the provider that runs it.

    Raises:
        MissingToolError: an explicitly requested provider is not built in or did not attach.
        BadModelError: ONNX Runtime refused the model.
    """
    providers, wanted = _providers_for(backend)
    options = session_options(threads)
    ort = _ort()
    try:
        with warnings.catch_warnings():
            # onnxruntime warns and falls back when a provider is missing; we check below.
            warnings.simplefilter("ignore", UserWarning)
            sess = ort.InferenceSession(model_bytes, sess_options=options, providers=providers)
    except Exception as exc:
        raise BadModelError(f"onnxruntime cannot load the model: {_one_line(exc)}") from exc
    attached = sess.get_providers()
    if backend == "auto":
        provider = attached[0] if attached else wanted
    elif not attached or attached[0] != wanted:
        raise MissingToolError(
            f"backend {backend!r}: {wanted} did not attach (onnxruntime gave {attached}); "
            f"{_INSTALL_HINT.get(backend, 'check the provider installation')}"
        )
    else:
        provider = wanted
    return sess, provider


def _one_line(exc: BaseException) -> str:
    msg = " ".join(str(exc).split())
    # onnxruntime prefixes messages with "[ONNXRuntimeError] : 1 : FAIL : ..."
    if "] :" in msg and msg.startswith("[ONNXRuntimeError]"):
        msg = msg.split(" : ", 3)[-1]
    return msg[:300]


@dataclass
class LoadedModel:
    """A guarded model with its ONNX Runtime session.

    Attributes:
        guarded: The load-time checks' result (bytes, sidecar, report).
        session: The ONNX Runtime session.
        provider: The execution provider that runs it.
        backend: The backend that was asked for.
        threads: Intra-op threads.
        model_id: Registry id (or the sidecar's id for a model loaded by path).
        load_seconds: Guard plus session creation time.
    """

    guarded: GuardedModel
    session: ort.InferenceSession
    provider: str
    backend: str
    threads: int
    model_id: str
    load_seconds: float = 0.0
    _output_names: list[str] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self._output_names = [o.name for o in self.session.get_outputs()]

    @property
    def sidecar(self) -> dict[str, Any]:
        return self.guarded.sidecar

    @property
    def kind(self) -> str:
        return str(self.sidecar["kind"])

    @property
    def warnings(self) -> list[str]:
        return self.guarded.warnings

    @property
    def input_names(self) -> list[str]:
        return [i["name"] for i in self.sidecar["inputs"]]

    @property
    def output_names(self) -> list[str]:
        return list(self._output_names)

    def run(self, inputs: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        """Run the model once and check every output is finite.

        Args:
            inputs: input name -> array (dtypes as the sidecar declares).

        Returns:
            The outputs, in the graph's order.

        Raises:
            BadInputError: missing/unknown input names.
            BadModelError: ONNX Runtime failed, or an output holds NaN or inf.
        """
        names = set(self.input_names)
        if set(inputs) != names:
            raise BadInputError(
                f"model {self.model_id} takes inputs {sorted(names)}, got {sorted(inputs)}"
            )
        try:
            outs = self.session.run(self._output_names, dict(inputs))
        except Exception as exc:
            raise BadModelError(f"model {self.model_id} failed to run: {_one_line(exc)}") from exc
        for name, arr in zip(self._output_names, outs, strict=True):
            arr = np.asarray(arr)
            if arr.dtype.kind in "fc" and not np.isfinite(arr).all():
                bad = int(np.size(arr) - np.isfinite(arr).sum())
                raise BadModelError(
                    f"model {self.model_id} produced {bad} non-finite value(s) (NaN/inf) in "
                    f"output {name!r}"
                )
        return [np.asarray(o) for o in outs]

    def describe(self) -> dict[str, Any]:
        """Facts for reports: id, file, sha256, provider, versions."""
        return {
            "id": self.model_id,
            "path": str(self.guarded.path),
            "sha256": self.guarded.sha256,
            "bytes": self.guarded.total_bytes,
            "kind": self.kind,
            "class": self.sidecar["class"],
            "opset": self.guarded.opset,
            "backend": self.backend,
            "provider": self.provider,
            "threads": self.threads,
            "onnxruntime": _ort().__version__,
        }


def load_guarded(
    path: str | os.PathLike[str],
    *,
    sidecar: str | os.PathLike[str] | None = None,
    expected_sha256: str | None = None,
    model_id: str | None = None,
    backend: str = "auto",
    threads: int = 1,
) -> LoadedModel:
    """Guard a model file, then open an ONNX Runtime session on the checked bytes.

    Args:
        path: The .onnx file.
        sidecar: Its sidecar (default: beside it).
        expected_sha256: Registry hash to enforce.
        model_id: Id to report (default: the sidecar's ``id``).
        backend: Execution backend.
        threads: Intra-op threads.

    Returns:
        The loaded model.
    """
    t0 = time.perf_counter()
    # Validate the options before the (more expensive) checks.
    _providers_for(backend)
    session_options(threads)
    guarded = guard_model(path, sidecar=sidecar, expected_sha256=expected_sha256)
    sess, provider = make_session(guarded.model_bytes, backend=backend, threads=threads)
    return LoadedModel(
        guarded=guarded,
        session=sess,
        provider=provider,
        backend=backend,
        threads=threads,
        model_id=model_id or str(guarded.sidecar["id"]),
        load_seconds=time.perf_counter() - t0,
    )


def load_model(
    model: str | os.PathLike[str] | LoadedModel,
    *,
    backend: str = "auto",
    threads: int = 1,
    int8: bool = False,
    sidecar: str | os.PathLike[str] | None = None,
    zoo: str | os.PathLike[str] | None = None,
) -> LoadedModel:
    """Load a model by registry id or path, through every load-time check.

    Args:
        model: A registry id (``vmaf_tiny_v2``), a path to an .onnx file, or an already
            loaded model (returned as is).
        backend: ``auto`` (default), ``cpu``, ``cuda`` or ``openvino``.
        threads: Intra-op threads (default 1).
        int8: For a registry id, load its int8 file.
        sidecar: Sidecar path for a model given by path (default: beside it).
        zoo: Zoo directory for registry ids (default ``$VMAF_TINY_ZOO`` or the shipped zoo).

    Returns:
        The loaded model; ``.provider`` says which execution provider runs it.

    Raises:
        BadInputError: unknown id.
        BadModelError: a load-time check failed (one line naming it).
        MissingToolError: the requested backend is not available.
    """
    if isinstance(model, LoadedModel):
        return model
    from vmaf_tiny.registry import resolve_model

    ref = resolve_model(model, int8=int8, zoo=zoo)
    return load_guarded(
        ref.onnx,
        sidecar=sidecar or ref.sidecar,
        expected_sha256=ref.sha256,
        model_id=ref.model_id,
        backend=backend,
        threads=threads,
    )
