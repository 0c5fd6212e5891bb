"""The zoo, read-only: lookup, sha256 on load by id, `vmaf-tiny models list|show|verify`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vmaf_tiny.errors import BadInputError, BadModelError
from vmaf_tiny.fsutil import sha256_file
from vmaf_tiny.registry import load_registry, resolve_model, verify_registry, zoo_dir
from vmaf_tiny.session import load_model

REPO = Path(__file__).resolve().parents[2]
VMAF_TINY = Path(sys.executable).parent / "vmaf-tiny"


def _row(zoo: Path, onnx_path: Path, **over: object) -> dict:
    side = json.loads(onnx_path.with_suffix(".json").read_text())
    row = {
        "id": side["id"],
        "kind": side["kind"],
        "class": side["class"],
        "onnx": onnx_path.name,
        "sidecar": f"{side['id']}.json",
        "sha256": sha256_file(onnx_path),
        "bytes": onnx_path.stat().st_size,
        "opset": side["opset"],
        "smoke": side["smoke"],
        "quant_mode": "fp32",
        "int8": None,
        "license": "BSD-2-Clause-Patent",
        "description": f"test model {side['id']}",
        "inputs": side["inputs"],
        "outputs": side["outputs"],
        "training": None,
    }
    row.update(over)
    return row


def _write_registry(zoo: Path, rows: list[dict]) -> None:
    (zoo / "registry.json").write_text(json.dumps({"schema_version": 1, "models": rows}))


@pytest.fixture
def zoo(tiny_models, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    z = tmp_path / "zoo"
    z.mkdir()
    shutil.copy(REPO / "src" / "vmaf_tiny" / "zoo" / "registry.schema.json", z)
    fr, _ = tiny_models.fr_mlp(z, "tiny_fr_v1")
    # an int8 twin (QDQ) described by the same sidecar
    q = tiny_models.qdq_mlp(tmp_path / "q", "tiny_fr_v1")
    int8 = z / "tiny_fr_v1.int8.onnx"
    shutil.copy(q, int8)
    side = json.loads(fr.with_suffix(".json").read_text())
    side["int8"] = {"onnx": int8.name, "sha256": sha256_file(int8)}
    fr.with_suffix(".json").write_text(json.dumps(side))
    nr = tiny_models.nr_pool_gemm(z, "tiny_nr_v1")
    rows = [
        _row(
            z,
            fr,
            quant_mode="fp32+int8_qdq",
            int8={
                "onnx": int8.name,
                "sha256": sha256_file(int8),
                "bytes": int8.stat().st_size,
                "gate": {"delta_plcc": 0.001},
            },
        ),
        _row(z, nr),
    ]
    _write_registry(z, rows)
    monkeypatch.setenv("VMAF_TINY_ZOO", str(z))
    return z


def test_zoo_dir_defaults_to_the_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VMAF_TINY_ZOO", raising=False)
    assert zoo_dir() == REPO / "src" / "vmaf_tiny" / "zoo"


def test_shipped_registry_verifies() -> None:
    rep = verify_registry(REPO / "src" / "vmaf_tiny" / "zoo")
    assert rep.ok, rep.failures


def test_load_by_id_checks_sha256_and_resolves_int8(zoo: Path) -> None:
    lm = load_model("tiny_fr_v1", backend="cpu")
    assert lm.model_id == "tiny_fr_v1"
    assert lm.guarded.report.checks[3].status == "pass"  # sha256 compared
    lm8 = load_model("tiny_fr_v1", backend="cpu", int8=True)
    assert lm8.guarded.path.name == "tiny_fr_v1.int8.onnx"
    x = np.full((3, 6), 0.5, np.float32)
    assert lm8.run({"features": x})[0].shape == (3, 1)
    with pytest.raises(BadInputError, match="no int8 file"):
        resolve_model("tiny_nr_v1", int8=True)
    # tamper with the file: loading by id refuses it, loading by path still works
    onnx_path = zoo / "tiny_nr_v1.onnx"
    data = bytearray(onnx_path.read_bytes())
    data[-5] ^= 1
    onnx_path.write_bytes(bytes(data))
    with pytest.raises(BadModelError, match=r"sha256 .* does not match the registry"):
        load_model("tiny_nr_v1", backend="cpu")


def test_unknown_id_lists_close_matches(zoo: Path) -> None:
    with pytest.raises(BadInputError, match="did you mean tiny_fr_v1") as ei:
        resolve_model("tiny_fr_v2")
    assert "\n" not in str(ei.value)
    with pytest.raises(BadInputError, match=r"registered: tiny_fr_v1, tiny_nr_v1"):
        resolve_model("completely_different")
    assert resolve_model(str(zoo / "tiny_nr_v1.onnx")).model_id is None


def test_verify_reports_every_failure_on_one_line_each(zoo: Path, tiny_models) -> None:
    rep = verify_registry()
    assert rep.ok, rep.failures
    assert rep.checked == ["tiny_fr_v1", "tiny_nr_v1"]
    # Break things: a hash, a size class, a sidecar/row mismatch, a missing file.
    reg = json.loads((zoo / "registry.json").read_text())
    reg["models"][1]["sha256"] = "0" * 64
    big = tiny_models.fr_mlp(zoo, "tiny_big_v1", hidden=(200, 150))[0]  # ~125 KiB > 100 KiB
    reg["models"].append(_row(zoo, big))
    gone = tiny_models.fr_mlp(zoo, "tiny_gone_v1")[0]
    reg["models"].append(_row(zoo, gone, kind="nr"))
    gone.unlink()
    (zoo / "registry.json").write_text(json.dumps(reg))
    rep = verify_registry()
    text = "\n".join(rep.failures)
    assert "tiny_nr_v1: onnx sha256 does not match the registry" in text
    assert "tiny_big_v1: onnx: size class" in text and "exceeds size class C1" in text
    assert "tiny_gone_v1: sidecar kind differs from the registry row" in text
    assert "tiny_gone_v1: onnx file tiny_gone_v1.onnx is missing" in text
    assert all("\n" not in f for f in rep.failures)

    out = subprocess.run(
        [str(VMAF_TINY), "models", "verify"],
        capture_output=True,
        text=True,
        env={**os.environ, "VMAF_TINY_ZOO": str(zoo)},
        check=False,
    )
    assert out.returncode == 2
    fail_lines = [ln for ln in out.stderr.splitlines() if ln.startswith("FAIL ")]
    assert len(fail_lines) == len(rep.failures)
    assert "Traceback" not in out.stderr


def test_invalid_registry_is_one_failure(zoo: Path) -> None:
    (zoo / "registry.json").write_text(json.dumps({"schema_version": 2, "models": []}))
    rep = verify_registry()
    assert len(rep.failures) == 1 and "schema_version" in rep.failures[0]
    with pytest.raises(BadModelError, match="schema_version"):
        load_registry()


def test_models_cli_list_show_verify(zoo: Path) -> None:
    env = {**os.environ, "VMAF_TINY_ZOO": str(zoo)}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(VMAF_TINY), *args], capture_output=True, text=True, env=env, check=False
        )

    out = run("models", "list", "--json")
    assert out.returncode == 0
    assert [r["id"] for r in json.loads(out.stdout)] == ["tiny_fr_v1", "tiny_nr_v1"]
    out = run("models", "show", "-m", "tiny_nr_v1", "--json")
    shown = json.loads(out.stdout)
    assert shown["registry"]["kind"] == "nr" and shown["sidecar"]["frame"]["resize"] == [32, 24]
    out = run("models", "show", "-m", "tiny_nr_v2")
    assert out.returncode == 2
    assert (
        out.stderr.strip().splitlines() == [out.stderr.strip().splitlines()[0]]
        and "did you mean tiny_nr_v1" in out.stderr
    )
    out = run("models", "verify")
    assert out.returncode == 0 and "ok: 2 model(s) verified" in out.stderr
    out = run("models", "list")
    assert out.returncode == 0 and "tiny_fr_v1" in out.stdout
