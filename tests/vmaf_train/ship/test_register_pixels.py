"""Smoke checkpoints, registration into a zoo, and the generated cards."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import numpy as np
import torch

from vmaf_train.ship.card_parts import RUNTIME_BEGIN, RUNTIME_END
from vmaf_train.ship.cards import write_reports
from vmaf_train.ship.onnx_io import ort_session
from vmaf_train.ship.register import register
from vmaf_train.ship.smoke import SMOKE_IDS, DistsSq

REPO = Path(__file__).resolve().parents[3]
ALL_IDS = {"nr_metric_v1", "learned_filter_v2", "saliency_student_v1", *SMOKE_IDS}


def test_dists_sq_placeholder_behaves_like_a_distance() -> None:
    m = DistsSq(seed=0).eval()
    g = torch.Generator().manual_seed(1)
    ref = torch.rand(3, 1, 36, 64, generator=g)
    with torch.no_grad():
        same = m(ref, ref)
        small = m(ref, (ref + 0.02 * torch.randn(ref.shape, generator=g)).clamp(0, 1))
        large = m(ref, (ref + 0.2 * torch.randn(ref.shape, generator=g)).clamp(0, 1))
    assert torch.allclose(same, torch.full((3, 1), 100.0))
    assert bool((large < small).all()) and bool((small < 100).all())


def test_zoo_rows_validate_and_files_match(pixel_zoo: Path) -> None:
    reg = json.loads((pixel_zoo / "registry.json").read_text())
    schema = json.loads((REPO / "src" / "vmaf_tiny" / "zoo" / "registry.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(reg)
    rows = {r["id"]: r for r in reg["models"]}
    assert set(rows) == ALL_IDS
    sidecar_schema = json.loads(
        (REPO / "src" / "vmaf_tiny" / "schemas" / "sidecar.schema.json").read_text()
    )
    for mid, r in rows.items():
        side = json.loads((pixel_zoo / r["sidecar"]).read_text())
        jsonschema.Draft202012Validator(sidecar_schema).validate(side)
        assert side["onnx"] == r["onnx"] == f"{mid}.onnx"
        assert r["bytes"] == (pixel_zoo / r["onnx"]).stat().st_size
        assert r["smoke"] == (mid in SMOKE_IDS) == (r["training"] is None)
        assert side["frame"] is not None
    assert rows["learned_filter_v2"]["class"] == "C3"
    assert rows["dists_sq_placeholder_v0"]["kind"] == "fr"
    roles = [i["role"] for i in rows["dists_sq_placeholder_v0"]["inputs"]]
    assert roles == ["reference_frame", "distorted_frame"]
    nr = rows["nr_metric_v1"]
    assert nr["training"]["metrics"]["test"]["n"] > 0
    # int8 ships only when its gate passed
    assert (nr["int8"] is not None) == (nr["quant_mode"] == "fp32+int8_qdq")
    assert (pixel_zoo / "nr_metric_v1.int8.onnx").exists() == (nr["int8"] is not None)


def test_two_input_smoke_runs_on_onnx_runtime(pixel_zoo: Path) -> None:
    sess = ort_session(pixel_zoo / "dists_sq_placeholder_v0.onnx")
    x = np.random.default_rng(0).random((2, 1, 144, 256), dtype=np.float32)
    same = sess.run(None, {"reference": x, "distorted": x})[0]
    diff = sess.run(None, {"reference": x, "distorted": np.clip(x + 0.1, 0, 1)})[0]
    assert same.shape == (2, 1) and np.allclose(same, 100.0, atol=1e-3)
    assert np.all(diff < same)
    maps = ort_session(pixel_zoo / "mobilesal_placeholder_v0.onnx").run(None, {"frame": x})[0]
    assert maps.shape == (2, 1, 36, 64) and maps.min() >= 0 and maps.max() <= 1


def test_cards_are_generated_and_keep_the_runtime_block(pixel_zoo: Path, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    res = write_reports(pixel_zoo, docs)
    cards = {Path(p).stem for p in res["written"] if Path(p).parent.name == "models"}
    assert cards == ALL_IDS
    card = docs / "models" / "nr_metric_v1.md"
    text = card.read_text()
    reg = json.loads((pixel_zoo / "registry.json").read_text())
    nr = next(r for r in reg["models"] if r["id"] == "nr_metric_v1")
    assert text.startswith("---\n") and "model-index" in text
    assert f"{nr['training']['metrics']['test']['rmse']:.3f}" in text  # numbers from the row
    assert RUNTIME_BEGIN in text and RUNTIME_END in text
    assert "no quality claim" in (docs / "models" / "dists_sq_placeholder_v0.md").read_text()
    per_codec = (docs / "models" / "learned_filter_v2.md").read_text()
    assert "| libx264 |" in per_codec and "clip fraction" in per_codec
    # every goal of the recipe gets a verdict with its measured figure
    goals = [ln for ln in per_codec.splitlines() if ln.startswith("* ") and " >= " in ln]
    assert len(goals) == 6 + 5, goals  # with the quality gate, then without it (no speed goal)
    assert "this run's figures, without the gate)" in per_codec and "Quality gate" in per_codec
    assert all(ln.endswith((", met.", ", **missed**.")) for ln in goals), goals
    # a bench --record block survives regeneration
    card.write_text(text.replace(f"{RUNTIME_BEGIN}\n", f"{RUNTIME_BEGIN}\nmeasured: 123 fps\n"))
    again = write_reports(pixel_zoo, docs)
    assert str(card) in again["unchanged"] and "measured: 123 fps" in card.read_text()
    card.write_text(card.read_text().replace("## Limitations", "## Limits (edited by hand)"))
    assert str(card) in write_reports(pixel_zoo, docs)["written"]
    assert "## Limitations" in card.read_text() and "measured: 123 fps" in card.read_text()


VMAF_TRAIN = Path(sys.executable).parent / "vmaf-train"


def _train_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(VMAF_TRAIN), *args], capture_output=True, text=True, check=False)


def test_cli_report_register_and_one_line_errors(pixel_zoo: Path, smoke_corpus: Path, tmp_path):
    out = _train_cli("report", "--zoo", str(pixel_zoo), "--docs", str(tmp_path), "--json")
    assert out.returncode == 0, out.stderr
    cards = [p for p in json.loads(out.stdout)["written"] if Path(p).parent.name == "models"]
    assert len(cards) == len(ALL_IDS)
    out = _train_cli("register", str(tmp_path), "--zoo", str(tmp_path / "zoo"))
    assert out.returncode == 2, out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "not a finished fit run" in lines[0], out.stderr
    assert "Traceback" not in out.stderr and not (tmp_path / "zoo").exists()
    r = str(tmp_path / "r")
    for args, fragment in [
        (["fit", "-c", "nr_metric_v1", "--corpus", str(tmp_path), "-o", r], "not a built corpus"),
        (
            [
                *("fit", "-c", "learned_filter_v1", "--corpus", str(smoke_corpus)),
                *("-o", r, "--set", "train.epochs=two"),
            ],
            "expected int",
        ),
        (
            ["fit", "-c", str(tmp_path / "none.toml"), "--corpus", str(smoke_corpus), "-o", r],
            "no such model config",
        ),
        (["register", str(tmp_path)], "not a finished fit run"),
    ]:
        out = _train_cli(*args)
        assert out.returncode == 2, (args, out.stderr)
        lines = [ln for ln in out.stderr.splitlines() if ln.startswith("error:")]
        assert len(lines) == 1 and fragment in lines[0], out.stderr
        assert "Traceback" not in out.stderr
    assert not (tmp_path / "r").exists()


def test_a_passed_int8_gate_ships_the_int8_file(nr_run: Path, tmp_path: Path) -> None:
    import shutil

    run = tmp_path / "run"
    shutil.copytree(nr_run, run, ignore=shutil.ignore_patterns("cache"))
    gate_file = run / "model.int8.gate.json"
    gate = json.loads(gate_file.read_text())
    gate["passed"] = True  # whatever the smoke numbers were: exercise the shipping branch
    gate_file.write_text(json.dumps(gate))
    zoo = tmp_path / "zoo"
    row = register(run, zoo)
    assert row["quant_mode"] == "fp32+int8_qdq" and row["int8"]["gate"]["passed"] == "true"
    assert (zoo / "nr_metric_v1.int8.onnx").is_file()
    side = json.loads((zoo / "nr_metric_v1.json").read_text())
    assert side["int8"]["sha256"] == row["int8"]["sha256"]
    gate["passed"] = False
    gate_file.write_text(json.dumps(gate))
    row = register(run, zoo)
    assert row["int8"] is None and not (zoo / "nr_metric_v1.int8.onnx").exists()
