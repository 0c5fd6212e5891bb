"""Load-time checks: real models pass, hand-built hostile models are refused with one typed line."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from vmaf_tiny import guard
from vmaf_tiny.errors import BadModelError
from vmaf_tiny.guard import (
    ALLOWED_OPS,
    MAX_MODEL_BYTES,
    SizeClassWarning,
    check_model,
    check_size_class,
    guard_model,
)

REPO = Path(__file__).resolve().parents[2]


def _refused(path: Path, check: str, pattern: str, **kw: object) -> str:
    """Assert the guard refuses ``path`` at ``check`` with a one-line message matching pattern."""
    with pytest.raises(BadModelError) as ei:
        guard_model(path, **kw)  # type: ignore[arg-type]
    msg = str(ei.value)
    assert "\n" not in msg
    assert f": {check}: " in msg, msg
    assert re.search(pattern, msg), msg
    report = check_model(path, **kw)  # type: ignore[arg-type]
    assert not report.ok
    assert report.failures[0].name == check
    return msg


def _fr_graph_model(nodes, inits=(), n_in: int = 6, opset: int = 17) -> onnx.ModelProto:
    graph = helper.make_graph(
        list(nodes),
        "g",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", n_in])],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, ["N", 1])],
        list(inits),
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def _write_fr(tiny_models, d: Path, model: onnx.ModelProto, mid: str = "mm") -> Path:
    side = tiny_models.base_sidecar(
        mid,
        "fr",
        [tiny_models.tensor_spec("features", ["N", 6], "features")],
        [tiny_models.tensor_spec("score", ["N", 1], "score")],
        feature_order=list(tiny_models.CANONICAL6),
        normalization={"baked": True},
    )
    return tiny_models.write_model(model, d, mid, side)


# ---------------------------------------------------------------------------- good models


@pytest.mark.parametrize(
    "builder", ["fr_mlp", "fr_codec", "fr_unbaked", "nr", "if", "loop", "loop_const", "qdq"]
)
def test_real_models_pass_every_check(tiny_models, tmp_path: Path, builder: str) -> None:
    from vmaf_tiny.codec import codec_block_spec

    make = {
        "fr_mlp": lambda: tiny_models.fr_mlp(tmp_path, "m_a")[0],
        "fr_codec": lambda: tiny_models.fr_mlp(
            tmp_path, "m_b", codec_block=codec_block_spec("v3"), codec_input="appended"
        )[0],
        "fr_unbaked": lambda: tiny_models.fr_mlp(tmp_path, "m_c", baked=False)[0],
        "nr": lambda: tiny_models.nr_pool_gemm(tmp_path, "m_d"),
        "if": lambda: tiny_models.if_model(tmp_path, "m_e"),
        "loop": lambda: tiny_models.loop_model(tmp_path, "m_f", trips=1024),
        "loop_const": lambda: tiny_models.loop_model(tmp_path, "m_g", trips=4, const_node=True),
        "qdq": lambda: tiny_models.qdq_mlp(tmp_path, "m_h"),
    }
    path = make[builder]()
    report = check_model(path)
    assert report.ok, report.failures
    names = [c.name for c in report.checks]
    assert names == [
        "regular_file",
        "jail",
        "size_cap",
        "sha256",
        "parse",
        "opset",
        "functions",
        "operators",
        "loop_bounds",
        "external_data",
        "onnx_checker",
        "sidecar_file",
        "sidecar_schema",
        "sidecar_graph",
        "size_class",
        "tensor_sizes",
    ]
    g = guard_model(path)
    assert g.model_bytes == path.read_bytes()
    assert len(g.sha256) == 64
    assert g.sidecar["id"] == path.stem


def test_qdq_from_onnxruntime_quantization_uses_default_domain_only(
    tiny_models, tmp_path: Path
) -> None:
    """Static QDQ quantisation (what the training side ships as int8) passes the allowlist."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, quantize_static

    fp32, _ = tiny_models.fr_mlp(tmp_path, "qq")
    rng = np.random.default_rng(0)

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.it = iter([{"features": rng.random((1, 6), dtype=np.float32)} for _ in range(16)])

        def get_next(self):  # type: ignore[no-untyped-def]
            return next(self.it, None)

    int8 = tmp_path / "qq.int8.onnx"
    quantize_static(str(fp32), str(int8), Reader(), quant_format=QuantFormat.QDQ)
    ops = {(n.domain, n.op_type) for n in onnx.load(str(int8)).graph.node}
    assert ("", "QuantizeLinear") in ops and ("", "DequantizeLinear") in ops
    side = json.loads((tmp_path / "qq.json").read_text())
    side["int8"] = {"onnx": int8.name, "sha256": "0" * 64}
    (tmp_path / "qq.json").write_text(json.dumps(side))
    report = check_model(int8)  # the int8 file finds <id>.json via find_sidecar
    assert report.ok, report.failures


# ---------------------------------------------------------------------------- size cap and classes


def _big_model(tiny_models, d: Path, n_bytes: int, mid: str = "big") -> Path:
    """An otherwise valid FR model padded with an unused initializer of n_bytes."""
    pad = numpy_helper.from_array(np.zeros(n_bytes // 4, np.float32), "pad")
    model = _fr_graph_model(
        [helper.make_node("ReduceMean", ["features"], ["score"], axes=[1], keepdims=1)], [pad]
    )
    return _write_fr(tiny_models, d, model, mid)


def test_51_mb_model_is_refused(tiny_models, tmp_path: Path) -> None:
    path = _big_model(tiny_models, tmp_path, 51 * 1024 * 1024)
    assert path.stat().st_size > MAX_MODEL_BYTES
    _refused(path, "size_cap", r"exceeds the cap of 52428800 bytes")


def test_cap_is_a_constant_no_environment_variable_changes_it(tiny_models, tmp_path: Path) -> None:
    path = _big_model(tiny_models, tmp_path, 51 * 1024 * 1024)
    env = dict(os.environ)
    for name in (
        "VMAF_TINY_MAX_MODEL_BYTES",
        "VMAF_TINY_MAX_BYTES",
        "VMAF_TINY_MODEL_CAP",
        "MAX_MODEL_BYTES",
        "VMAF_TINY_MAX_MODEL_MB",
        "VMAF_TINY_SIZE_LIMIT",
    ):
        env[name] = str(10**12)
    code = (
        "import sys, vmaf_tiny.guard as g\n"
        "from vmaf_tiny.errors import BadModelError\n"
        "print(g.MAX_MODEL_BYTES)\n"
        "try:\n    g.guard_model(sys.argv[1])\n"
        "except BadModelError as e:\n    print('refused', e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    lines = out.stdout.splitlines()
    assert lines[0] == str(50 * 1024 * 1024)
    assert lines[1].startswith("refused") and "size_cap" in lines[1]


def test_size_class_warns_at_load_and_errors_at_registration(tiny_models, tmp_path: Path) -> None:
    path = _big_model(tiny_models, tmp_path, 120 * 1024)  # C1 allows 100 KiB
    with pytest.warns(SizeClassWarning, match="exceeds size class C1"):
        g = guard_model(path)
    assert any("C1" in w for w in g.warnings)
    report = check_model(path)
    assert report.ok and [c.status for c in report.checks if c.name == "size_class"] == ["warn"]
    with pytest.raises(BadModelError, match="exceeds size class C1"):
        check_size_class(path, "C1")
    assert check_size_class(path, "C2") == path.stat().st_size
    assert check_size_class(path.read_bytes(), "C3") == path.stat().st_size
    with pytest.raises(BadModelError, match="exceeds size class C3"):
        check_size_class(b"x" * (2 * 1024 * 1024 + 1), "C3")
    with pytest.raises(BadModelError, match="unknown size class"):
        check_size_class(path, "C9")
    assert guard.SIZE_CLASSES == {"C1": 102400, "C2": 5242880, "C3": 2097152}


# ---------------------------------------------------------------------------- operators


def test_disallowed_op_is_refused(tiny_models, tmp_path: Path) -> None:
    model = _fr_graph_model(
        [
            helper.make_node("RandomNormalLike", ["features"], ["noise"]),
            helper.make_node("ReduceMean", ["noise"], ["score"], axes=[1], keepdims=1),
        ]
    )
    path = _write_fr(tiny_models, tmp_path, model)
    _refused(path, "operators", r"'RandomNormalLike' not allowed")


def test_non_default_domain_is_refused(tiny_models, tmp_path: Path) -> None:
    model = _fr_graph_model(
        [helper.make_node("FusedGemm", ["features", "W"], ["score"], domain="com.microsoft")],
        [numpy_helper.from_array(np.ones((6, 1), np.float32), "W")],
    )
    model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    _refused(_write_fr(tiny_models, tmp_path, model), "opset", r"com\.microsoft")
    report = check_model(tmp_path / "mm.onnx")
    ops = next(c for c in report.checks if c.name == "operators")
    assert ops.status == "fail" and "domain 'com.microsoft'" in ops.detail


def test_disallowed_op_hidden_in_if_branch_is_refused(tiny_models, tmp_path: Path) -> None:
    path = tiny_models.if_model(tmp_path, "hidden", then_op="Scan")
    msg = _refused(path, "operators", r"'Scan' not allowed")
    assert "then_branch" in msg


def test_subgraphs_nested_deeper_than_8_are_refused(tiny_models, tmp_path: Path) -> None:
    def nest(level: int) -> onnx.GraphProto:
        out = f"o{level}"
        if level == 0:
            node = helper.make_node("Identity", ["features"], [out])
        else:
            node = helper.make_node(
                "If", ["cond"], [out], then_branch=nest(level - 1), else_branch=nest(level - 1)
            )
        return helper.make_graph(
            [node], f"b{level}", [], [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)]
        )

    def model_with(levels: int) -> onnx.ModelProto:
        top = helper.make_node(
            "If", ["cond"], ["t"], then_branch=nest(levels - 1), else_branch=nest(levels - 1)
        )
        return _fr_graph_model(
            [top, helper.make_node("ReduceMean", ["t"], ["score"], axes=[1], keepdims=1)],
            [numpy_helper.from_array(np.array(True), "cond")],
        )

    ok = _write_fr(tiny_models, tmp_path / "ok", model_with(8), "ok")
    assert check_model(ok).ok
    deep = _write_fr(tiny_models, tmp_path / "deep", model_with(9), "deep")
    _refused(deep, "operators", r"nested deeper than 8")


def test_loop_with_non_constant_trip_count_is_refused(tiny_models, tmp_path: Path) -> None:
    path = tiny_models.loop_model(tmp_path, "dyn", trips=None)
    _refused(path, "loop_bounds", r"trip count 'M' is not a constant")


def test_loop_trip_count_over_1024_is_refused(tiny_models, tmp_path: Path) -> None:
    path = tiny_models.loop_model(tmp_path, "long", trips=1025)
    _refused(path, "loop_bounds", r"trip count 1025 exceeds 1024")


def test_loop_trip_count_overridable_by_caller_is_not_constant(tiny_models, tmp_path: Path) -> None:
    """An initializer that is also a graph input is only a default: the caller can replace it."""
    path = tiny_models.loop_model(tmp_path, "ovr", trips=3)
    model = onnx.load(str(path))
    model.graph.input.append(helper.make_tensor_value_info("M", TensorProto.INT64, []))
    path.write_bytes(model.SerializeToString())
    _refused(path, "loop_bounds", r"not a constant")


def test_unbounded_loop_without_trip_count_is_refused(tiny_models, tmp_path: Path) -> None:
    path = tiny_models.loop_model(tmp_path, "inf", trips=3)
    model = onnx.load(str(path))
    loop = next(n for n in model.graph.node if n.op_type == "Loop")
    loop.input[0] = ""
    path.write_bytes(model.SerializeToString())
    _refused(path, "loop_bounds", r"unbounded Loop")


def test_local_functions_are_refused(tiny_models, tmp_path: Path) -> None:
    path, _ = tiny_models.fr_mlp(tmp_path, "fn")
    model = onnx.load(str(path))
    model.functions.append(
        helper.make_function(
            "",
            "MyOp",
            ["x"],
            ["y"],
            [helper.make_node("Relu", ["x"], ["y"])],
            [helper.make_opsetid("", 17)],
        )
    )
    path.write_bytes(model.SerializeToString())
    _refused(path, "functions", r"model-local functions")


def test_unparsable_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "junk.onnx"
    path.write_bytes(b"\xff" * 100)
    _refused(path, "parse", r"not an ONNX model")


def test_registry_hash_mismatch_is_refused(tiny_models, tmp_path: Path) -> None:
    path, _ = tiny_models.fr_mlp(tmp_path, "m_h")
    _refused(path, "sha256", r"does not match the registry", expected_sha256="0" * 64)
    good = guard_model(path, expected_sha256=guard_model(path).sha256)
    assert good.report.ok


# ---------------------------------------------------------------------------- sidecars


def test_sidecar_that_lies_about_input_names_is_refused(tiny_models, tmp_path: Path) -> None:
    path, _ = tiny_models.fr_mlp(tmp_path, "liar")
    side = json.loads(path.with_suffix(".json").read_text())
    side["inputs"][0]["name"] = "input_0"
    path.with_suffix(".json").write_text(json.dumps(side))
    _refused(path, "sidecar_graph", r"sidecar inputs \['input_0'\] do not match .*'features'")


@pytest.mark.parametrize(
    ("edit", "pattern"),
    [
        (lambda s: s["inputs"][0].update(shape=["N", 7]), r"axis 1 is 6 in the graph"),
        (lambda s: s["inputs"][0].update(dtype="float16"), r"dtype float16"),
        (lambda s: s["outputs"][0].update(name="vmaf"), r"sidecar outputs \['vmaf'\]"),
        (lambda s: s.update(feature_order=s["feature_order"][:5]), r"width 6 but feature_order"),
        (lambda s: s.update(opset=18), r"opset 18 but the model's is 17"),
        (lambda s: s.update(onnx="other.onnx"), r"describes \['other.onnx'\]"),
        (
            lambda s: s.update(normalization={"baked": False, "feature_mean": [0.0] * 6}),
            r"feature_std are missing",
        ),
    ],
)
def test_sidecar_disagreeing_with_graph_is_refused(
    tiny_models, tmp_path: Path, edit, pattern: str
) -> None:
    path, _ = tiny_models.fr_mlp(tmp_path, "ss")
    side = json.loads(path.with_suffix(".json").read_text())
    edit(side)
    path.with_suffix(".json").write_text(json.dumps(side))
    _refused(path, "sidecar_graph", pattern)


def test_sidecar_schema_violations_are_refused(tiny_models, tmp_path: Path) -> None:
    path, _ = tiny_models.fr_mlp(tmp_path, "sc")
    side_path = path.with_suffix(".json")
    side = json.loads(side_path.read_text())
    del side["outputs"]
    side_path.write_text(json.dumps(side))
    _refused(path, "sidecar_schema", r"'outputs' is a required property")
    side_path.write_text("{not json")
    _refused(path, "sidecar_schema", r"not valid JSON")


def test_sidecar_over_1_mib_or_missing_is_refused(tiny_models, tmp_path: Path) -> None:
    path, _ = tiny_models.fr_mlp(tmp_path, "sz")
    side_path = path.with_suffix(".json")
    side = json.loads(side_path.read_text())
    side["description"] = "x" * 100
    side_path.write_text(json.dumps(side) + " " * (1024 * 1024))
    _refused(path, "sidecar_file", r"exceeds the cap of 1048576")
    side_path.unlink()
    _refused(path, "sidecar_file", r"no sidecar beside sz.onnx")


def test_check_report_lists_every_failure_with_one_line_details(
    tiny_models, tmp_path: Path
) -> None:
    model = _fr_graph_model(
        [
            helper.make_node(
                "Scan",
                ["features"],
                ["score"],
                body=helper.make_graph([], "b", [], []),
                num_scan_inputs=1,
            )
        ]
    )
    path = _write_fr(tiny_models, tmp_path, model, "multi")
    side = json.loads(path.with_suffix(".json").read_text())
    side["inputs"][0]["name"] = "nope"
    path.with_suffix(".json").write_text(json.dumps(side))
    report = check_model(path)
    failed = {c.name for c in report.failures}
    assert {"operators", "sidecar_graph"} <= failed
    assert all("\n" not in c.detail for c in report.checks)
    d = report.to_dict()
    assert d["ok"] is False and len(d["checks"]) == len(report.checks)


# ---------------------------------------------------------------------------- documentation


def test_security_doc_carries_the_allowlist_from_code() -> None:
    text = (REPO / "docs" / "security.md").read_text()
    begin, end = "<!-- allowlist:begin -->", "<!-- allowlist:end -->"
    block = text[text.index(begin) + len(begin) : text.index(end)].strip()
    assert block == guard.allowlist_markdown(), (
        "docs/security.md is stale: regenerate with .venv/bin/python -c 'from vmaf_tiny.guard "
        'import write_allowlist_doc as w; w("docs/security.md")\''
    )
    documented = set(re.findall(r"`(\w+)`", block))
    assert documented == set(ALLOWED_OPS)
    assert "Scan" not in ALLOWED_OPS
    for name in ("MAX_MODEL_BYTES", "VMAF_TINY_MODEL_DIR", "1024", "depth"):
        assert name in text
