"""Static QDQ int8 behind the accuracy gate, measured on the real test split."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnx

from tests.fr_fixtures import FR_SPLIT, run_cli
from vmaf_train.config import SplitConfig
from vmaf_train.data.table import read_features
from vmaf_train.dataset import load_fr_data, split_data
from vmaf_train.eval import plcc
from vmaf_train.predict import FRModel, make_session, open_fr_model
from vmaf_train.quantize import GATE_MAX_PLCC_DROP, gate_path


def test_quantize_int8_gate_report(fr_run: Path, fr_features: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(fr_run, run)
    out = run / "model.int8.onnx"
    proc = run_cli(
        "quantize-int8",
        "--fp32",
        run / "model.onnx",
        "--calibration",
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
    assert "QDQ" in meta["quantization"] and meta["seed"] == "0"
    # The gate's verdict follows its own numbers, measured on the test split.
    metrics = json.loads((run / "metrics.json").read_text())
    assert rep["n_test"] == metrics["test"]["frame"]["n"]
    assert rep["n_calibration"] == 256
    assert rep["plcc_fp32"] == np.float64(metrics["test"]["frame"]["plcc"])
    assert rep["passed"] == (rep["plcc_drop"] <= GATE_MAX_PLCC_DROP)
    assert rep["rmse_change"] == rep["rmse_int8"] - rep["rmse_fp32"]
    for k in (
        "fp32_us_per_row_b1",
        "int8_us_per_row_b1",
        "fp32_us_per_row_b1024",
        "int8_us_per_row_b1024",
    ):
        assert rep[k] > 0
    # The int8 file really is a different model, close to fp32 on the calibration distribution
    # (the train split; far outside it MinMax-calibrated activations saturate).
    fp32 = open_fr_model(run / "model.onnx")
    q = FRModel(out, fp32.sidecar, make_session(out))
    table = read_features(fr_features)
    train = split_data(load_fr_data(table), SplitConfig(**FR_SPLIT))[0]["train"]
    a = fp32.run(fp32.inputs_from_arrays(train.features, None))
    b = q.run(q.inputs_from_arrays(train.features, None))
    assert not np.array_equal(a, b)
    assert plcc(a, b) > 0.999
