"""The real `vmaf-tiny` command: score (single, NR, pairs) and check; one-line errors."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.support.cli import one_line_error
from vmaf_tiny import VideoSpec, extract_features

VMAF_TINY = Path(sys.executable).parent / "vmaf-tiny"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VMAF_TINY), *map(str, args)], capture_output=True, text=True, cwd=cwd, check=False
    )


@pytest.fixture(scope="module")
def fr_model(tiny_models, tmp_path_factory: pytest.TempPathFactory):
    d = tmp_path_factory.mktemp("cli_models")
    path, params = tiny_models.fr_mlp(d, "cli_fr", clamp=False)
    return path, params


@pytest.fixture(scope="module")
def src01_args(shared_data: Path) -> list[str]:
    clips = shared_data / "clips"
    return [
        "--reference",
        str(clips / "src01_ref_160x90_48f.yuv"),
        "--distorted",
        str(clips / "src01_dis_160x90_48f.yuv"),
        "--width",
        "160",
        "--height",
        "90",
    ]


def test_score_json_csv_and_table(tiny_models, fr_model, src01_args, shared_data: Path) -> None:
    path, params = fr_model
    out = run("score", *src01_args, "--model", path, "--with-svm", "--json", "--backend", "cpu")
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    clips = shared_data / "clips"
    feats = extract_features(
        VideoSpec(clips / "src01_ref_160x90_48f.yuv", 160, 90),
        VideoSpec(clips / "src01_dis_160x90_48f.yuv", 160, 90),
    )
    want = tiny_models.fr_reference(params, feats.matrix())
    np.testing.assert_allclose(d["frames"], want, rtol=1e-5, atol=1e-4)
    assert d["svm"]["pooled"]["mean"] == pytest.approx(92.5209, abs=1e-3)
    assert d["provider"] == "CPUExecutionProvider"
    assert "cli_fr on CPUExecutionProvider: 48 frames" in out.stderr

    out = run("score", *src01_args, "--model", path, "--with-svm", "--csv")
    rows = list(csv.DictReader(io.StringIO(out.stdout)))  # tidy per-frame records (issue 14)
    assert list(rows[0])[:2] == ["frame", "time_s"] and len(rows) == 48
    assert {"cli_fr", "vmaf_v0.6.1", "adm2"} <= set(rows[0])
    assert float(rows[0]["cli_fr"]) == pytest.approx(want[0], rel=1e-5, abs=1e-4)

    out = run("score", *src01_args, "--model", path)
    assert out.returncode == 0 and "harmonic_mean" in out.stdout and "cli_fr" in out.stdout


def test_score_no_reference(tiny_models, tmp_path: Path, runtime_clips) -> None:
    path = tiny_models.nr_pool_gemm(tmp_path, "cli_nr")
    out = run(
        "score", "--no-reference", "--distorted", runtime_clips["dis"], "--model", path, "--json"
    )
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    assert d["kind"] == "nr" and d["n_frames"] == 12 and d["reference"] is None
    one_line_error(
        run(
            "score",
            "--no-reference",
            "--reference",
            runtime_clips["ref"],
            "--distorted",
            runtime_clips["dis"],
            "--model",
            path,
        ),
        "cannot be combined",
    )


def test_score_argument_errors_are_one_line(fr_model, src01_args) -> None:
    path, _ = fr_model
    one_line_error(run("score", *src01_args, "--model", path, "--json", "--csv"), "one of")
    one_line_error(run("score", "--distorted", "x.mp4", "--model", path), "pass --reference")
    one_line_error(run("score", *src01_args, "--model", "no_such_model"), "unknown model id")
    one_line_error(
        run("score", *src01_args, "--model", path, "--backend", "cuda"), "CUDAExecutionProvider"
    ) if "CUDA" not in _providers() else None
    debug = run("score", *src01_args, "--model", "no_such_model", "--debug")
    assert debug.returncode == 2 and "Traceback" in debug.stderr


def _providers() -> str:
    import onnxruntime

    return ",".join(onnxruntime.get_available_providers())


def test_check_command(tiny_models, tmp_path: Path, fr_model) -> None:
    path, _ = fr_model
    out = run("check", "-m", path, "--json")
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    assert d["ok"] and d["checks"][-1] == {
        "name": "onnxruntime",
        "status": "pass",
        "detail": "session opens on CPUExecutionProvider",
    }
    bad = tiny_models.if_model(tmp_path, "cli_hidden", then_op="Scan")
    out = run("check", "-m", bad)
    one_line_error(out, "cli_hidden.onnx: operators:", "'Scan' not allowed")
    assert "REFUSED" in out.stdout and "fail" in out.stdout


def test_check_takes_a_registry_id_like_score(tmp_path: Path) -> None:
    """``check vmaf_tiny_v2`` checks the registered model (sidecar and sha256 from its row)."""
    out = run("check", "-m", "vmaf_tiny_v2", "--json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    assert d["ok"] and Path(d["path"]).name == "vmaf_tiny_v2.onnx"
    status = {c["name"]: c["status"] for c in d["checks"]}
    assert status["sha256"] == "pass"  # checked against the registry row (a bare path: skip)
    one_line_error(run("check", "-m", "no_such_model_v9", cwd=tmp_path), "unknown model id")


def _pairs_csv(tmp_path: Path, runtime_clips, bad: bool) -> Path:
    ref, dis = runtime_clips["ref"], runtime_clips["dis"]
    lines = ["reference,distorted,crf", f"{ref},{dis},35", f"{ref},{ref},"]
    if bad:
        lines.insert(2, f"{ref},missing.mp4,")
    p = tmp_path / "pairs.csv"
    p.write_text("\n".join(lines) + "\n")
    return p


def test_pairs_serial_bad_pair_is_reported_and_others_continue(
    fr_model, tmp_path: Path, runtime_clips
) -> None:
    path, _ = fr_model
    pairs = _pairs_csv(tmp_path, runtime_clips, bad=True)
    out = run("score", "--pairs", pairs, "--model", path, "--serial", "--json", "--with-svm")
    one_line_error(out, "1 of 3 pair(s) failed")
    rows = json.loads(out.stdout)
    assert [r["pair"] for r in rows] == [0, 1, 2]
    assert rows[1]["error"] and "no such file" in rows[1]["error"]
    assert rows[0]["error"] is None and rows[0]["n_frames"] == 12 and "svm_mean" in rows[0]
    assert rows[2]["error"] is None and rows[2]["svm_mean"] > 95  # identical pair
    assert "pair 1 (missing.mp4) failed" in out.stderr


def test_pairs_on_a_local_dask_cluster_match_serial(
    fr_model, tmp_path: Path, runtime_clips
) -> None:
    path, _ = fr_model
    pairs = _pairs_csv(tmp_path, runtime_clips, bad=False)
    serial = run("score", "--pairs", pairs, "--model", path, "--serial", "--csv")
    assert serial.returncode == 0, serial.stderr
    train = Path(sys.executable).parent / "vmaf-train"  # Dask scheduling is the toolkit's
    dask = subprocess.run(
        [
            str(train),
            "score-pairs",
            "--pairs",
            str(pairs),
            "--model",
            str(path),
            "--workers",
            "2",
            "--csv",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert dask.returncode == 0, dask.stderr
    assert "local dask (2 workers)" in dask.stderr
    assert dask.stdout == serial.stdout
    rows = list(csv.DictReader(io.StringIO(serial.stdout)))
    assert len(rows) == 2 and all(r["error"] == "" for r in rows)


def test_pairs_on_the_process_pool_match_serial_and_survive_a_bad_pair(
    fr_model, tmp_path: Path, runtime_clips
) -> None:
    """The standard-library pool (what a runtime-only install uses), forced where Dask exists."""
    import os

    path, _ = fr_model
    pairs = _pairs_csv(tmp_path, runtime_clips, bad=True)
    serial = run("score", "--pairs", pairs, "--model", path, "--serial", "--csv")
    pool = subprocess.run(
        [str(VMAF_TINY), "score", "--pairs", str(pairs), "--model", str(path), "-w", "2", "--csv"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "VMAF_TINY_EXECUTOR": "pool"},
    )
    one_line_error(pool, "1 of 3 pair(s) failed")
    assert "scoring 3 pair(s) on local process pool (2 workers)" in pool.stderr
    assert pool.stdout == serial.stdout
    rows = list(csv.DictReader(io.StringIO(pool.stdout)))
    assert [r["error"] == "" for r in rows] == [True, False, True]


def test_pairs_with_several_models_give_a_row_per_pair_and_model(
    fr_model, tmp_path: Path, runtime_clips
) -> None:
    """`--pairs` with two models: one libvmaf pass per pair, one row per (pair, model), the
    same scores as each model alone; -o writes the rows."""
    path, _ = fr_model
    pairs = _pairs_csv(tmp_path, runtime_clips, bad=False)
    out_file = tmp_path / "rows.json"
    both = run("score", "--pairs", pairs, "-m", path, "-m", "vmaf_tiny_v2", "--serial", "--json",
               "--with-svm", "-o", out_file)  # fmt: skip
    assert both.returncode == 0, both.stderr
    rows = json.loads(both.stdout)
    assert json.loads(out_file.read_text()) == rows
    assert [(r["pair"], r["model"]) for r in rows] == [
        (0, Path(path).stem), (0, "vmaf_tiny_v2"), (1, Path(path).stem), (1, "vmaf_tiny_v2")
    ]  # fmt: skip
    alone = json.loads(run("score", "--pairs", pairs, "-m", "vmaf_tiny_v2", "--serial",
                           "--json").stdout)  # fmt: skip
    for r in rows:
        assert r["svm_model"] == "vmaf_v0.6.1" and r["svm_mean"] > 0
        if r["model"] == "vmaf_tiny_v2":
            assert r["mean"] == pytest.approx(alone[r["pair"]]["mean"], abs=1e-9)
    one_line_error(run("score", "--pairs", pairs, "-m", path, "-o", tmp_path / "x.txt"), ".json")
    # a model that cannot share the pass is refused before any pair runs, nothing written
    bad_mix = tmp_path / "mix.json"
    mix = ["-m", "vmaf_tiny_v2", "-m", "vmaf_tiny_fast_v1"]
    one_line_error(run("score", "--pairs", pairs, *mix, "-o", bad_mix), "fast model")
    assert not bad_mix.exists()


def test_pairs_file_errors(fr_model, tmp_path: Path) -> None:
    path, _ = fr_model
    bad = tmp_path / "bad.csv"
    bad.write_text("ref,dis\na,b\n")
    one_line_error(run("score", "--pairs", bad, "--model", path, "--serial"), "reference,distorted")
    one_line_error(run("score", "--pairs", tmp_path / "none.csv", "--model", path), "no such")


def test_inference_doc_examples_run(tiny_models, tmp_path: Path, runtime_clips) -> None:
    """Every python block and every `vmaf-tiny` line of docs/inference.md runs as written."""
    import re
    import shlex
    import shutil

    doc = (Path(__file__).resolve().parents[2] / "docs" / "inference.md").read_text()
    shutil.copy(runtime_clips["ref"], tmp_path / "ref.y4m")
    shutil.copy(runtime_clips["dis"], tmp_path / "dis.mp4")
    tiny_models.fr_mlp(tmp_path, "bench_fr_mlp")
    (tmp_path / "pairs.csv").write_text("reference,distorted\nref.y4m,dis.mp4\nref.y4m,ref.y4m\n")
    blocks = re.findall(r"```(\w+)\n(.*?)```", doc, re.S)
    python = [code for lang, code in blocks if lang == "python"]
    commands = [
        line
        for lang, code in blocks
        if lang == "sh"
        for line in code.splitlines()
        if line.startswith("vmaf-tiny ")
    ]
    assert len(python) >= 3 and len(commands) >= 6
    for code in python:
        out = subprocess.run(
            [sys.executable, "-c", code],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )
        assert out.returncode == 0, (code, out.stderr)
    for line in commands:
        argv = shlex.split(line.split("#")[0])
        out = run(*argv[1:], cwd=tmp_path)
        assert out.returncode == 0, (line, out.stderr)
