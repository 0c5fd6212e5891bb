"""ONNX export: one self-contained file, pinned opset, dynamic batch, provenance, ORT == torch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from vmaf_tiny.errors import BadModelError
from vmaf_tiny.guard import ALLOWED_OPS, check_model
from vmaf_train.evaluate.predict import make_session
from vmaf_train.models.mlp import FRMLP
from vmaf_train.ship.export import export_fr_onnx
from vmaf_train.ship.onnx_io import graph_ops

# The plain ops the exporter may emit for FR MLPs (all in the default ONNX domain).
PLAIN_OPS = {
    "Gemm",
    "Relu",
    "Erf",
    "Tanh",
    "Sub",
    "Div",
    "Mul",
    "Add",
    "Clip",
    "Constant",
    "Concat",
    "Pow",
}


def _model(
    codec: int = 0, activation: str = "gelu", bake: bool = True, clamp: bool = True
) -> FRMLP:
    torch.manual_seed(0)
    return FRMLP(
        6,
        codec,
        [16, 8],
        activation,
        feature_mean=np.linspace(0.2, 2.0, 6),
        feature_std=np.linspace(0.1, 1.0, 6),
        bake_scaler=bake,
        target_mean=60.0,
        target_std=25.0,
        clamp=(0.0, 100.0) if clamp else None,
    ).eval()


@pytest.mark.parametrize(
    ("codec", "activation", "bake"),
    [(0, "gelu", True), (0, "relu", False), (18, "gelu_tanh", False), (8, "relu", True)],
)
def test_export_single_file_verified_at_several_batches(
    tmp_path: Path, codec: int, activation: str, bake: bool
) -> None:
    model = _model(codec, activation, bake)
    meta = {
        "seed": "0",
        "train_commit": "abc",
        "manifest_sha256": "f" * 64,
        "config_sha256": "e" * 64,
    }
    info = export_fr_onnx(model, tmp_path / "m.onnx", opset=17, metadata=meta)
    # One file, nothing else (no external .data).
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]
    proto = onnx.load(str(tmp_path / "m.onnx"), load_external_data=False)
    assert all(i.data_location != onnx.TensorProto.EXTERNAL for i in proto.graph.initializer)
    assert [(o.domain, o.version) for o in proto.opset_import] == [("", 17)]
    assert {p.key: p.value for p in proto.metadata_props} == meta
    ops = graph_ops(proto)
    assert {d for d, _ in ops} == {""}
    assert {op for _, op in ops} <= PLAIN_OPS, ops
    assert ("Sub" in info.ops) == bake
    assert ("Clip" in info.ops) is True
    # Dynamic batch axis, checked here independently of the exporter's own verification.
    sess = make_session(tmp_path / "m.onnx")
    assert sess.get_inputs()[0].shape == ["N", 6]
    if codec:
        assert sess.get_inputs()[1].shape == ["N", codec]
    rng = np.random.default_rng(5)
    for b in (1, 2, 7, 300):
        feats = rng.normal(1.0, 0.5, (b, 6)).astype(np.float32)
        feed = {"features": feats}
        args = [torch.from_numpy(feats)]
        if codec:
            c = rng.uniform(0, 1, (b, codec)).astype(np.float32)
            feed["codec"] = c
            args.append(torch.from_numpy(c))
        got = sess.run(["score"], feed)[0]
        with torch.no_grad():
            want = model(*args).numpy()
        assert got.shape == (b, 1)
        np.testing.assert_allclose(got, want, atol=2e-5, rtol=0)
    assert info.max_abs_diff < 2e-5
    assert info.bytes == (tmp_path / "m.onnx").stat().st_size


def test_gelu_is_exported_as_plain_ops(tmp_path: Path) -> None:
    info = export_fr_onnx(_model(activation="gelu"), tmp_path / "g.onnx")
    assert "Erf" in info.ops and "Gelu" not in info.ops
    info = export_fr_onnx(_model(activation="gelu_tanh"), tmp_path / "t.onnx")
    assert "Tanh" in info.ops and "Gelu" not in info.ops


def test_export_passes_the_runtime_allowlist(fr_run: Path, fr_codec_run: Path) -> None:
    for run in (fr_run, fr_codec_run):
        report = check_model(run / "model.onnx", sidecar=run / "model.json")
        assert report.ok, report.to_dict()
        ops = {n.op_type for n in onnx.load(str(run / "model.onnx")).graph.node}
        assert ops <= ALLOWED_OPS


def test_verification_catches_a_graph_that_disagrees(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Break the contract on purpose: torch's eager forward differs from what gets exported.
    model = _model()
    traced_forward = model.forward

    def drifted(*a: torch.Tensor) -> torch.Tensor:
        out = traced_forward(*a)
        return out if torch.jit.is_tracing() or torch.onnx.is_in_onnx_export() else out + 0.01

    monkeypatch.setattr(model, "forward", drifted)
    with pytest.raises(BadModelError, match="ORT differs from torch"):
        export_fr_onnx(model, tmp_path / "bad.onnx")
    assert not (tmp_path / "bad.onnx").exists()


def test_run_records_provenance_in_metadata(fr_run: Path) -> None:
    proto = onnx.load(str(fr_run / "model.onnx"))
    meta = {p.key: p.value for p in proto.metadata_props}
    metrics = json.loads((fr_run / "metrics.json").read_text())
    assert meta["seed"] == "0"
    assert meta["manifest_sha256"] == metrics["provenance"]["manifest_sha256"]
    assert len(meta["config_sha256"]) == 64
    assert meta["train_commit"] == metrics["provenance"]["train_commit"]
    assert meta["train_commit"] == "unknown" or len(meta["train_commit"]) >= 40
