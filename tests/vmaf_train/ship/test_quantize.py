"""Static QDQ int8 behind the gate, measured on the real test split; saturation on x86-64 CPUs
without VNNI proven impossible from the graph and checked by emulating their kernel."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from tests.support.fr_fixtures import FR_SPLIT, run_cli
from vmaf_tiny.fsutil import sha256_file
from vmaf_train.data.dataset import load_fr_data, split_data
from vmaf_train.data.table import read_features
from vmaf_train.evaluate.metrics import plcc
from vmaf_train.evaluate.predict import FRModel, make_session, open_fr_model
from vmaf_train.recipes import SplitConfig
from vmaf_train.ship.quantize import (
    GATE_MAX_PLCC_DROP,
    GATE_MAX_RMSE_RISE,
    GATE_MIN_SPEEDUP,
    gate_path,
    quantize_int8,
    quantize_qdq,
)
from vmaf_train.ship.register import register
from vmaf_train.ship.saturation import emulate_u8s8, saturation_check


def test_quantize_int8_gate_report(fr_run: Path, fr_features: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(fr_run, run)
    out = run / "model.int8.onnx"
    proc = run_cli(
        "quantize-int8",
        "-m",
        run / "model.onnx",
        "--features",
        fr_features,
        "--out",
        out,
        "--n-calib",
        256,
        "--json",
        check=True,
    )
    rep = json.loads(proc.stdout)
    assert json.loads(gate_path(out).read_text()) == rep
    # One self-contained file beside the gate report.
    new = sorted({p.name for p in run.iterdir()} - {p.name for p in fr_run.iterdir()})
    assert new == ["model.int8.gate.json", "model.int8.onnx"]
    proto = onnx.load(str(out), load_external_data=False)
    ops = {n.op_type for n in proto.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    assert {n.domain for n in proto.graph.node} <= {""}
    meta = {p.key: p.value for p in proto.metadata_props}
    assert "QDQ" in meta["quantization"] and "7-bit" in meta["quantization"]
    assert meta["seed"] == "0"
    # The gate's verdict follows its own numbers, measured on the test split.
    metrics = json.loads((run / "metrics.json").read_text())
    assert rep["n_test"] == metrics["test"]["frame"]["n"]
    assert rep["n_calibration"] == 256
    assert rep["plcc_fp32"] == np.float64(metrics["test"]["frame"]["plcc"])
    assert rep["rmse_change"] == rep["rmse_int8"] - rep["rmse_fp32"]
    # 7-bit weights: no pair of products can leave int16, and the emulated non-VNNI kernel
    # gives the exact accumulators on every test row.
    assert rep["reduce_range"] is True and rep["saturation_free"] is True
    assert rep["worst_pair_sum"] <= 32767
    assert rep["emulated_rows"] == rep["n_test"] and rep["emulated_saturated_dots"] == 0
    assert rep["emulated_identical"] is True
    assert rep["smaller"] == (rep["int8_bytes"] < rep["fp32_bytes"])
    speedups = [rep["speedup_b1"], rep["speedup_b1024"]]
    assert rep["faster"] == (max(speedups) >= GATE_MIN_SPEEDUP)
    assert rep["accurate"] == (
        rep["plcc_drop"] <= GATE_MAX_PLCC_DROP and rep["rmse_change"] <= GATE_MAX_RMSE_RISE
    )
    assert rep["passed"] == (rep["accurate"] and (rep["smaller"] or rep["faster"]))
    assert (rep["verdict"] == "ships") == rep["passed"]
    for k in (
        "fp32_us_per_row_b1",
        "int8_us_per_row_b1",
        "fp32_us_per_row_b1024",
        "int8_us_per_row_b1024",
    ):
        assert rep[k] > 0
    # The int8 file really is a different model, close to fp32 on the calibration distribution
    # (the train split; far outside it MinMax-calibrated activations clip). Saturation-free, the
    # same holds on CPUs without VNNI (the emulation above).
    fp32 = open_fr_model(run / "model.onnx")
    q = FRModel(out, fp32.sidecar, make_session(out))
    table = read_features(fr_features)
    train = split_data(load_fr_data(table), SplitConfig(**FR_SPLIT))[0]["train"]
    a = fp32.run(fp32.inputs_from_arrays(train.features, None))
    b = q.run(q.inputs_from_arrays(train.features, None))
    assert not np.array_equal(a, b)
    assert plcc(a, b) > 0.999


def _tiny_qdq(path: Path, w: list[int]) -> None:
    """x [N, 2] -> QuantizeLinear (u8, scale 1) -> DQ -> Gemm with int8 weights ``w`` -> y."""
    one = numpy_helper.from_array(np.array(1.0, np.float32), "one")
    zp = numpy_helper.from_array(np.array(0, np.uint8), "zp")
    wq = numpy_helper.from_array(np.array([w], np.int8), "wq")
    wzp = numpy_helper.from_array(np.array(0, np.int8), "wzp")
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "one", "zp"], ["xq"]),
        helper.make_node("DequantizeLinear", ["xq", "one", "zp"], ["xd"]),
        helper.make_node("DequantizeLinear", ["wq", "one", "wzp"], ["wd"]),
        helper.make_node("Gemm", ["xd", "wd"], ["y"], transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])],
        [one, zp, wq, wzp],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


@pytest.mark.parametrize(("w", "safe"), [([127, 127], False), ([64, 64], True), ([-64, -64], True)])
def test_saturation_proof_and_emulation_on_a_known_graph(
    w: list[int], safe: bool, tmp_path: Path
) -> None:
    path = tmp_path / "tiny.onnx"
    _tiny_qdq(path, w)
    proof = saturation_check(path)
    (layer,) = proof["layers"]
    assert proof["saturation_free"] is safe and layer["safe"] is safe
    assert layer["max_pair"] == 255 * max(w[0] + w[1], 0)
    assert layer["min_pair"] == 255 * min(w[0] + w[1], 0)
    x = np.array([[255.0, 255.0], [1.0, 2.0]], np.float32)
    emu = emulate_u8s8(path, [{"x": x}])
    assert emu["rows"] == 2 and emu["identical"] is safe
    assert emu["saturated_dots"] == (0 if safe else 1) and emu["rows_affected"] == (not safe)
    exact = 255 * (w[0] + w[1])
    assert emu["max_abs_error"] == (0 if safe else exact - 32767)
    # ONNX Runtime here gives the exact sum (a VNNI CPU) or the clamped one (AVX2 without VNNI);
    # a saturation-free graph gives the exact sum on both.
    y = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    assert y[0, 0] in ((exact,) if safe else (exact, 32767.0))
    assert y[1, 0] == w[0] + 2 * w[1]


def test_old_recipe_is_refused_and_fixed_recipe_passes(
    fr_run: Path, fr_features: Path, tmp_path: Path
) -> None:
    fp32 = open_fr_model(fr_run / "model.onnx")
    table = read_features(fr_features)
    train = split_data(load_fr_data(table), SplitConfig(**FR_SPLIT))[0]["train"]
    feed = fp32.inputs_from_arrays(train.features, None)
    calib = [{k: v[:256] for k, v in feed.items()}]
    old, new = tmp_path / "old.int8.onnx", tmp_path / "new.int8.onnx"
    quantize_qdq(fp32.onnx_path, old, calib, op_types=("Gemm",), reduce_range=False)
    quantize_qdq(fp32.onnx_path, new, calib, op_types=("Gemm",))
    # Full-range (8-bit) per-channel weights reach +-127: two of them times 255 leave int16.
    bad, good = saturation_check(old), saturation_check(new)
    assert bad["saturation_free"] is False and bad["worst_pair_sum"] > 32767
    assert good["saturation_free"] is True and good["worst_pair_sum"] <= 32640
    assert {r["weight_max"] for r in good["layers"]} <= set(range(-64, 65))
    assert [r["node"] for r in bad["layers"]] == [r["node"] for r in good["layers"]]
    assert len(good["layers"]) == sum(n.op_type == "Gemm" for n in onnx.load(str(new)).graph.node)
    assert emulate_u8s8(new, [feed])["identical"] is True
    # Inputs that drive every activation to 255 make the old file's pairs overflow.
    corner = {k: np.full_like(v[:1], 1e4) for k, v in feed.items()}
    assert emulate_u8s8(old, [corner])["saturated_dots"] > 0
    assert emulate_u8s8(new, [corner])["saturated_dots"] == 0


def test_register_refuses_an_int8_file_that_may_saturate(
    fr_run: Path, fr_features: Path, tmp_path: Path
) -> None:
    fp32 = open_fr_model(fr_run / "model.onnx")
    table = read_features(fr_features)
    feed = fp32.inputs_from_arrays(load_fr_data(table).features[:256], None)
    for reduce_range, ships in ((False, False), (True, True)):
        run = tmp_path / f"run{reduce_range}"
        shutil.copytree(fr_run, run)
        int8 = run / "model.int8.onnx"
        info = quantize_qdq(run / "model.onnx", int8, [feed], reduce_range=reduce_range)
        # A gate report that says "passed" (as old reports did) is not enough to ship.
        gate_path(int8).write_text(json.dumps({**info, "passed": True, "ops": []}))
        row = register(run, tmp_path / f"zoo{reduce_range}")
        assert (row["int8"] is not None) is ships
        assert (tmp_path / f"zoo{reduce_range}" / "vmaf_tiny_v3.int8.onnx").exists() is ships


def test_int8_ship_applies_a_gate_and_rechecks_a_shipped_file(
    fr_run: Path, fr_features: Path, tmp_path: Path
) -> None:
    from vmaf_tiny.registry import verify_registry
    from vmaf_train.evaluate.predict import load_sidecar
    from vmaf_train.ship.registry import load_registry

    run = tmp_path / "run"
    shutil.copytree(fr_run, run)
    zoo = tmp_path / "zoo"
    register(run, zoo)  # fp32 only
    int8 = tmp_path / "q" / "vmaf_tiny_v3.int8.onnx"
    int8.parent.mkdir()
    quantize_int8(zoo / "vmaf_tiny_v3.onnx", fr_features, int8, n_calib=256)
    gate = json.loads(gate_path(int8).read_text())
    assert gate["fp32_sha256"] == sha256_file(zoo / "vmaf_tiny_v3.onnx")
    # A gate that passes ships the zoo's int8 file through the registration checks ...
    gate_path(int8).write_text(json.dumps({**gate, "passed": True}))
    run_cli("int8-ship", "--zoo", zoo, "--int8", int8, check=True)
    row = load_registry(zoo)["models"][0]
    assert row["quant_mode"] == "fp32+int8_qdq" and row["int8"]["sha256"] == gate["int8_sha256"]
    assert load_sidecar(zoo / "vmaf_tiny_v3.json")["int8"]["onnx"] == "vmaf_tiny_v3.int8.onnx"
    assert verify_registry(zoo).ok
    # ... and the recheck re-judges that shipped file from the zoo alone, with the real rules.
    proc = run_cli("int8-ship", "--zoo", zoo, "-m", "vmaf_tiny_v3", "--json", check=True)
    rep = json.loads(proc.stdout)
    assert rep["rechecked"] and rep["saturation_free"] is True and rep["emulated_identical"]
    assert rep["plcc_int8"] == gate["plcc_int8"] and rep["int8_bytes"] == gate["int8_bytes"]
    assert rep["passed"] == (rep["accurate"] and (rep["smaller"] or rep["faster"]))
    row = load_registry(zoo)["models"][0]
    assert (row["int8"] is not None) is rep["passed"]
    assert (zoo / "vmaf_tiny_v3.int8.onnx").exists() is rep["passed"]
    assert row["training"]["metrics"]["extra"]["int8_gate"]["verdict"] == rep["verdict"]
    assert verify_registry(zoo).ok
    # The real gate report withdraws the file when it does not pass.
    gate_path(int8).write_text(json.dumps({**gate, "passed": False}))
    run_cli("int8-ship", "--zoo", zoo, "--int8", int8, check=True)
    assert load_registry(zoo)["models"][0]["int8"] is None
    assert not (zoo / "vmaf_tiny_v3.int8.onnx").exists()
    assert load_sidecar(zoo / "vmaf_tiny_v3.json")["int8"] is None
