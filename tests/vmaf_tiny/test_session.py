"""ONNX Runtime sessions: explicit providers (no silent fallback), threads, finite outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from vmaf_tiny.errors import BadInputError, BadModelError, MissingToolError
from vmaf_tiny.session import PROVIDERS, available_backends, load_model

HAS_CUDA = "CUDAExecutionProvider" in ort.get_available_providers()


def _x(n: int = 4) -> np.ndarray:
    return np.random.default_rng(0).random((n, 6), dtype=np.float32)


def test_cpu_session_is_single_threaded_sequential_without_spinning(
    tiny_models, tmp_path: Path
) -> None:
    path, params = tiny_models.fr_mlp(tmp_path, "opts")
    lm = load_model(path, backend="cpu")
    assert lm.provider == "CPUExecutionProvider"
    assert lm.session.get_providers() == ["CPUExecutionProvider"]
    so = lm.session.get_session_options()
    assert so.intra_op_num_threads == 1
    assert so.inter_op_num_threads == 1
    assert so.execution_mode == ort.ExecutionMode.ORT_SEQUENTIAL
    assert so.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    lm2 = load_model(path, backend="cpu", threads=2)
    assert lm2.session.get_session_options().intra_op_num_threads == 2
    x = _x()
    (out,) = lm.run({"features": x})
    np.testing.assert_allclose(out[:, 0], tiny_models.fr_reference(params, x), rtol=1e-5)
    assert load_model(lm) is lm


def test_auto_backend_reports_the_provider_that_ran(tiny_models, tmp_path: Path) -> None:
    path, _ = tiny_models.fr_mlp(tmp_path, "auto")
    lm = load_model(path, backend="auto")
    assert lm.provider == lm.session.get_providers()[0]
    assert lm.provider in ort.get_available_providers()
    assert lm.describe()["provider"] == lm.provider
    assert "cpu" in available_backends()


@pytest.mark.parametrize("backend", ["cuda", "openvino"])
def test_requested_provider_must_exist(tiny_models, tmp_path: Path, backend: str) -> None:
    path, _ = tiny_models.fr_mlp(tmp_path, f"req_{backend}")
    if PROVIDERS[backend] in ort.get_available_providers():
        assert load_model(path, backend=backend).provider == PROVIDERS[backend]
    else:
        with pytest.raises(MissingToolError, match=f"needs {PROVIDERS[backend]}"):
            load_model(path, backend=backend)


@pytest.mark.skipif(HAS_CUDA, reason="needs an onnxruntime without a working CUDA provider")
def test_provider_that_does_not_attach_is_an_error_not_a_cpu_fallback(
    tiny_models, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """onnxruntime silently runs on CPU when CUDA cannot start; the runtime must refuse."""
    path, _ = tiny_models.fr_mlp(tmp_path, "noattach")
    real = ort.get_available_providers
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", *real()])
    with pytest.raises(MissingToolError, match="did not attach"):
        load_model(path, backend="cuda")
    # auto falls back, and says so
    assert load_model(path, backend="auto").provider == "CPUExecutionProvider"


def test_bad_backend_and_threads_are_bad_input(tiny_models, tmp_path: Path) -> None:
    path, _ = tiny_models.fr_mlp(tmp_path, "bad_opts")
    with pytest.raises(BadInputError, match="unknown backend 'tpu'"):
        load_model(path, backend="tpu")
    for threads in (0, 257):
        with pytest.raises(BadInputError, match=r"--threads must be an integer in 1\.\.256"):
            load_model(path, threads=threads)


@pytest.mark.parametrize(("op", "what"), [("Sqrt", "NaN"), ("Log", "inf")])
def test_non_finite_output_is_an_error(tiny_models, tmp_path: Path, op: str, what: str) -> None:
    """Sqrt(-x) gives NaN and Log(0 * x) gives -inf: never a silent score."""
    nodes = [
        helper.make_node("Mul", ["features", "k"], ["scaled"]),
        helper.make_node(op, ["scaled"], ["bad"]),
        helper.make_node("ReduceMean", ["bad"], ["score"], axes=[1], keepdims=1),
    ]
    k = -1.0 if op == "Sqrt" else 0.0
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", 6])],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, ["N", 1])],
        [helper.make_tensor("k", TensorProto.FLOAT, [], [k])],
    )
    side = tiny_models.base_sidecar(
        "nanny",
        "fr",
        [tiny_models.tensor_spec("features", ["N", 6], "features")],
        [tiny_models.tensor_spec("score", ["N", 1], "score")],
        feature_order=list(tiny_models.CANONICAL6),
    )
    path = tiny_models.write_model(tiny_models.make_model(graph), tmp_path, "nanny", side)
    lm = load_model(path, backend="cpu")
    with pytest.raises(BadModelError, match=r"non-finite value\(s\) \(NaN/inf\)"):
        lm.run({"features": _x() + 0.1})


def test_run_checks_input_names_and_wraps_runtime_failures(tiny_models, tmp_path: Path) -> None:
    path, _ = tiny_models.fr_mlp(tmp_path, "names")
    lm = load_model(path, backend="cpu")
    with pytest.raises(BadInputError, match="takes inputs"):
        lm.run({"x": _x()})
    with pytest.raises(BadModelError, match="failed to run"):
        lm.run({"features": np.zeros((2, 5), np.float32)})


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason="needs onnxruntime-gpu and an NVIDIA GPU")
def test_cuda_backend_matches_cpu(tiny_models, tmp_path: Path) -> None:
    path, _ = tiny_models.fr_mlp(tmp_path, "gpu")
    x = _x(64)
    cpu = load_model(path, backend="cpu").run({"features": x})[0]
    gpu = load_model(path, backend="cuda")
    assert gpu.provider == "CUDAExecutionProvider"
    np.testing.assert_allclose(gpu.run({"features": x})[0], cpu, rtol=1e-4, atol=1e-3)
