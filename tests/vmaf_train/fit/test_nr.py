"""The no-reference metric: training run, export contract, int8 gate, determinism."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnx.numpy_helper
import pyarrow.parquet as pq

from tests.support.pixels_helpers import NR_TINY, files_in
from vmaf_train.fit.nr import fit_nr
from vmaf_train.recipes import load_recipe
from vmaf_train.ship.onnx_io import ort_session
from vmaf_train.ship.quantize import gate_path


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
    score, heads = sess.run(None, {"frame": x})
    assert score.shape == (7, 1) and heads.shape == (7, 5)
    # the ensemble's heads are a second output (role heads): the score is their mean
    assert side["outputs"][1] == {"name": "heads", "dtype": "float32", "shape": ["N", 5],
                                  "role": "heads"}  # fmt: skip
    np.testing.assert_allclose(score[:, 0], heads.mean(axis=1), rtol=1e-6, atol=1e-4)
    assert np.ptp(heads, axis=1).max() > 0  # five different heads, a real spread


def test_int8_gate_is_reported(nr_run: Path) -> None:
    gate = json.loads(gate_path(nr_run / "model.int8.onnx").read_text())
    assert isinstance(gate["passed"], bool)
    assert gate["rule"].startswith("PLCC(fp32) - PLCC(int8) <= 0.005")
    assert gate["int8_bytes"] == (nr_run / "model.int8.onnx").stat().st_size
    assert gate["fp32_us_per_row_b1"] > 0 and gate["int8_us_per_row_b1"] > 0
    proto = onnx.load(str(nr_run / "model.int8.onnx"))
    ops = {n.op_type for n in proto.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    # 7-bit weights: saturation-free on x86-64 without VNNI, exact in the emulated kernel.
    assert gate["saturation_free"] is True and gate["emulated_identical"] is True
    assert gate["emulated_rows"] > 0 and gate["max_rmse_rise"] == 0.5
    assert gate["smaller"] == (gate["int8_bytes"] < gate["fp32_bytes"])
    if gate["plcc_drop"] is not None and gate["rmse_change"] is not None:
        accurate = gate["plcc_drop"] <= 0.005 and gate["rmse_change"] <= 0.5
        assert gate["accurate"] == accurate
        assert gate["passed"] == (accurate and (gate["smaller"] or gate["faster"]))
    else:  # an undefined PLCC (constant int8 output) can never pass
        assert gate["passed"] is False


def test_nr_training_is_deterministic(nr_run: Path, pixel_corpus, tmp_path: Path) -> None:
    over = {**NR_TINY, "int8": {"enabled": False}}
    fit_nr(
        load_recipe("nr_metric_v1", over, kind="nr"),
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
    from vmaf_train.ship.export import TensorSpec, export_pixel_onnx

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


def test_grad_stats_match_numpy_and_export(tmp_path: Path) -> None:
    """The fixed statistics equal a plain numpy computation and export with allowed ops."""
    import torch

    from vmaf_tiny.guard import ALLOWED_OPS
    from vmaf_train.models.nr import GradStats, StatsNRNet
    from vmaf_train.ship.export import TensorSpec, export_pixel_onnx

    x = np.random.default_rng(3).random((36, 64)).astype(np.float64)
    want = []
    y = x
    for s in (1, 2, 4):
        if s > 1:
            y = y.reshape(y.shape[0] // 2, 2, y.shape[1] // 2, 2).mean(axis=(1, 3))
        h, w = y.shape[0] // 4, y.shape[1] // 4
        b = y[: 4 * h, : 4 * w].reshape(h, 4, w, 4)  # [block row, r, block col, c]
        dx, dy = np.diff(b, axis=3), np.diff(b, axis=1)
        lap = np.stack(
            [
                4 * b[:, r, :, c]
                - b[:, r - 1, :, c]
                - b[:, r + 1, :, c]
                - b[:, r, :, c - 1]
                - b[:, r, :, c + 1]
                for r, c in ((1, 1), (1, 2), (2, 1), (2, 2))
            ]
        )
        want += [np.abs(dx).mean(), np.abs(dy).mean(), np.abs(lap).mean()]
        want += [(dx**2).mean(), (dy**2).mean(), (lap**2).mean()]
    ni, nj = (x.shape[0] - 9) // 8 + 1, (x.shape[1] - 9) // 8 + 1
    i0, j0 = 8 * np.arange(ni)[:, None, None], 8 * np.arange(nj)[None, :, None]
    r = np.arange(8)[None, None, :]
    across_c = np.abs(x[i0 + r, j0 + 8] - x[i0 + r, j0 + 7]).mean()
    middle_c = np.abs(x[i0 + r, j0 + 4] - x[i0 + r, j0 + 3]).mean()
    across_r = np.abs(x[i0 + 8, j0 + r] - x[i0 + 7, j0 + r]).mean()
    middle_r = np.abs(x[i0 + 4, j0 + r] - x[i0 + 3, j0 + r]).mean()
    want += [across_c / middle_c, across_r / middle_r]
    want = np.log(np.asarray(want) + 1e-6)
    got = GradStats((1, 2, 4))(torch.from_numpy(x.astype(np.float32))[None, None])
    assert got.shape == (1, 20)
    assert np.allclose(got.numpy()[0], want, atol=1e-4)
    model = StatsNRNet(out_mean=70.0, out_std=20.0).eval()
    g = torch.Generator().manual_seed(0)
    exp = export_pixel_onnx(
        model,
        tmp_path / "m.onnx",
        inputs=[TensorSpec("frame", ("N", 1, 36, 64), "frame")],
        outputs=[TensorSpec("score", ("N", 1), "score")],
        example=lambda b: (torch.rand(b, 1, 36, 64, generator=g),),
    )
    assert set(exp.ops) <= ALLOWED_OPS and {"Log", "Clip", "Gemm"} <= set(exp.ops)
    assert exp.max_abs_diff < 1e-3


def test_nr_run_uses_the_shipped_stats_arch(nr_run: Path) -> None:
    """The recipe's ``stats`` model: fixed statistics (no weights) into five 16-wide heads."""
    m = json.loads((nr_run / "metrics.json").read_text())
    assert m["training"]["parameters"] == 5 * (20 * 16 + 16 + 16 + 1)
    ops = {n.op_type for n in onnx.load(str(nr_run / "model.onnx")).graph.node}
    assert {"Log", "Conv", "Gemm"} <= ops
    gate = json.loads(gate_path(nr_run / "model.int8.onnx").read_text())
    assert "QLinearConv" not in gate["ops"] and "Conv" in gate["ops"]  # only the heads quantised


def test_nr_cnn_model_trains_and_exports(nr_run: Path, pixel_corpus, tmp_path: Path) -> None:
    """``arch.model = "cnn"``: the convolutional alternative trains on crops and exports."""
    over = {**NR_TINY, "arch": {"model": "cnn"}, "int8": {"enabled": False}}
    m = fit_nr(
        load_recipe("nr_metric_v1", over, kind="nr"),
        pixel_corpus,
        tmp_path / "cnn",
        progress=False,
        cache=nr_run / "cache",
    )
    assert m["training"]["parameters"] > 5000
    assert m["test"]["frame"]["n"] > 0 and m["test"]["frame"]["rmse"] > 0
    ops = {n.op_type for n in onnx.load(str(tmp_path / "cnn" / "model.onnx")).graph.node}
    assert "Conv" in ops and "Log" not in ops and "BatchNormalization" not in ops
    sess = ort_session(tmp_path / "cnn" / "model.onnx")
    x = np.random.default_rng(1).random((3, 1, 108, 192), dtype=np.float32)
    out = sess.run(None, {"frame": x})[0]
    assert out.shape == (3, 1) and np.isfinite(out).all()
