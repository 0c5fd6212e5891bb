"""The no-reference metric: training run, export contract, int8 gate, determinism."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnx.numpy_helper
import pyarrow.parquet as pq

from tests.pixels_helpers import NR_TINY, files_in
from vmaf_train.pixels.export import ort_session
from vmaf_train.pixels.nr import fit_nr, load_nr_config
from vmaf_train.pixels.quantize import gate_path


def test_nr_run_is_complete(nr_run: Path, pixel_corpus) -> None:
    want = {
        "config.json",
        "metrics.json",
        "model.onnx",
        "model.json",
        "report.json",
        "predictions.parquet",
        "model.int8.onnx",
        "model.int8.gate.json",
    }
    assert want <= files_in(nr_run)
    m = json.loads((nr_run / "metrics.json").read_text())
    test_src = m["splits"]["test"]["sources"]
    assert test_src and not set(test_src) & set(m["splits"]["train"]["sources"])
    n_test = sum(c.n_frames for c in pixel_corpus.clips if c.source_id in test_src)
    assert m["test"]["frame"]["n"] == n_test  # every frame of every held-out clip
    assert m["test"]["clip"]["n"] == len([c for c in pixel_corpus.clips if c.source_id in test_src])
    assert m["test"]["frame"]["rmse"] > 0 and m["latency"]["fp32_us_per_row_b1"] > 0
    preds = pq.read_table(nr_run / "predictions.parquet")
    assert preds.num_rows == n_test
    p = preds.column("prediction").to_numpy()
    assert np.all((p >= 0) & (p <= 100))  # clamped like the runtime
    assert set(preds.column("source_id").to_pylist()) == set(test_src)


def test_nr_export_contract(nr_run: Path) -> None:
    side = json.loads((nr_run / "model.json").read_text())
    assert side["kind"] == "nr" and side["class"] == "C2"
    assert side["inputs"] == [
        {"name": "frame", "dtype": "float32", "shape": ["N", 1, 108, 192], "role": "frame"}
    ]
    assert side["frame"]["resize"] == [192, 108] and side["frame"]["pooling"] == "mean"
    proto = onnx.load(str(nr_run / "model.onnx"))
    ops = {n.op_type for n in proto.graph.node}
    assert "BatchNormalization" not in ops  # folded at export
    assert {n.domain for n in proto.graph.node} <= {""}
    meta = {p.key: p.value for p in proto.metadata_props}
    assert {"seed", "train_commit", "manifest_sha256", "config_sha256"} <= set(meta)
    sess = ort_session(nr_run / "model.onnx")
    x = np.random.default_rng(0).random((7, 1, 108, 192), dtype=np.float32)
    assert sess.run(None, {"frame": x})[0].shape == (7, 1)


def test_int8_gate_is_reported(nr_run: Path) -> None:
    gate = json.loads(gate_path(nr_run / "model.int8.onnx").read_text())
    assert isinstance(gate["passed"], bool)
    assert gate["rule"].startswith("PLCC(fp32) - PLCC(int8) <= 0.005")
    assert gate["int8_bytes"] == (nr_run / "model.int8.onnx").stat().st_size
    assert gate["fp32_us_per_row_b1"] > 0 and gate["int8_us_per_row_b1"] > 0
    proto = onnx.load(str(nr_run / "model.int8.onnx"))
    ops = {n.op_type for n in proto.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    if gate["plcc_drop"] is not None:
        assert gate["passed"] == (gate["plcc_drop"] <= 0.005)
    else:  # an undefined PLCC (constant int8 output) can never pass
        assert gate["passed"] is False


def test_nr_training_is_deterministic(nr_run: Path, pixel_corpus, tmp_path: Path) -> None:
    over = {**NR_TINY, "int8": {"enabled": False}}
    fit_nr(
        load_nr_config(overrides=over),
        pixel_corpus,
        tmp_path / "again",
        progress=False,
        cache=nr_run / "cache",
    )
    a = json.loads((nr_run / "metrics.json").read_text())
    b = json.loads((tmp_path / "again" / "metrics.json").read_text())
    wa = {
        i.name: onnx.numpy_helper.to_array(i)
        for i in onnx.load(str(nr_run / "model.onnx")).graph.initializer
    }
    wb = {
        i.name: onnx.numpy_helper.to_array(i)
        for i in onnx.load(str(tmp_path / "again" / "model.onnx")).graph.initializer
    }
    assert wa.keys() == wb.keys()
    assert all(np.array_equal(wa[k], wb[k]) for k in wa)  # same seed -> same weights
    for k in ("plcc", "srocc", "rmse"):
        assert a["test"]["frame"][k] == b["test"]["frame"][k]


def test_mscn_front_exports_with_allowed_ops(tmp_path: Path) -> None:
    """The optional local-contrast front end stays within the runtime's operator allowlist."""
    import torch

    from vmaf_tiny.guard import ALLOWED_OPS
    from vmaf_train.models.nr import NRNet
    from vmaf_train.pixels.export import TensorSpec, export_pixel_onnx

    model = NRNet(front="mscn", out_mean=70.0, out_std=20.0)
    g = torch.Generator().manual_seed(0)
    exp = export_pixel_onnx(
        model,
        tmp_path / "m.onnx",
        inputs=[TensorSpec("frame", ("N", 1, 36, 64), "frame")],
        outputs=[TensorSpec("score", ("N", 1), "score")],
        example=lambda b: (torch.rand(b, 1, 36, 64, generator=g),),
    )
    assert set(exp.ops) <= ALLOWED_OPS and {"Sqrt", "Div"} <= set(exp.ops)
    assert exp.max_abs_diff < 1e-3
