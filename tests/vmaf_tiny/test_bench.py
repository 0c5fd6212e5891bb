"""The benchmark harness on tiny clips: results schema, clip cache, bench_all.sh.

Recording the figures into model cards and docs (``vmaf-train bench``) is tested in
``tests/vmaf_train/test_bench_record.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import onnxruntime as ort
import pytest

from vmaf_tiny.bench import cache_dir, parse_sizes
from vmaf_tiny.errors import BadInputError

REPO = Path(__file__).resolve().parents[2]
VMAF_TINY = Path(sys.executable).parent / "vmaf-tiny"
QUICK = ["--sizes", "96x64x6", "--runs", "2", "--batch1-calls", "200", "--big-batch", "256"]
HAS_CUDA = "CUDAExecutionProvider" in ort.get_available_providers()


def test_parse_sizes() -> None:
    assert parse_sizes("640x360,1920x1080") == [(640, 360, 300), (1920, 1080, 60)]
    assert parse_sizes("96x64x6, 320x180") == [(96, 64, 6), (320, 180, 30)]
    for bad in ("640", "641x360", "8x8", "64x64x1", ""):
        with pytest.raises(BadInputError):
            parse_sizes(bad)


def test_cache_dir_never_the_working_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VMAF_TINY_CACHE", "/tmp/vt-cache")
    monkeypatch.setenv("XDG_CACHE_HOME", "/tmp/xdg")
    assert cache_dir() == Path("/tmp/vt-cache")
    monkeypatch.delenv("VMAF_TINY_CACHE")
    assert cache_dir() == Path("/tmp/xdg/vmaf-tiny")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_dir() == Path.home() / ".cache" / "vmaf-tiny"


@pytest.fixture(scope="module")
def bench_run(tiny_models, tmp_path_factory: pytest.TempPathFactory):
    from vmaf_tiny.codec import codec_block_spec

    d = tmp_path_factory.mktemp("bench")
    model, _ = tiny_models.fr_mlp(d, "bench_fr", codec_block=codec_block_spec("v3"))
    out = subprocess.run(
        [
            str(VMAF_TINY),
            "bench",
            "-m",
            str(model),
            "--backend",
            "cpu",
            *QUICK,
            "--clips-dir",
            str(d / "clips"),
            "-o",
            str(d / "res.json"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return d, model, out


def test_bench_writes_results_with_the_documented_schema(bench_run) -> None:
    d, _model, out = bench_run
    assert out.returncode == 0, out.stderr
    res = json.loads((d / "res.json").read_text())
    assert res["schema_version"] == 1
    assert set(res) >= {
        "created",
        "command",
        "model",
        "machine",
        "versions",
        "settings",
        "end_to_end",
        "model_only",
        "goals",
    }
    assert res["model"]["id"] == "bench_fr" and res["model"]["provider"] == "CPUExecutionProvider"
    mach = res["machine"]
    assert mach["cpu_model"] and mach["logical_cores"] >= 1 and isinstance(mach["isa_flags"], list)
    assert res["versions"]["libvmaf"] and res["versions"]["onnxruntime"] == ort.__version__
    (e,) = res["end_to_end"]
    assert e["clip"] == "96x64x6" and e["frames"] == 6
    for side in ("tiny", "svm"):
        assert len(e[side]["runs_s"]) == 2
        assert 0 < e[side]["p99_fps"] <= e[side]["median_fps"]
    assert e["ratio_median_fps"] == pytest.approx(e["tiny"]["median_fps"] / e["svm"]["median_fps"])
    assert set(e["tiny"]["breakdown_median_s"]) == {"load", "features", "model"}
    assert 0 <= e["svm_pooled_mean"] <= 100
    mo = res["model_only"]
    assert mo["batch1"]["calls"] == 200 and 0 < mo["batch1"]["p50_us"] <= mo["batch1"]["p99_us"]
    assert mo["batch_big"]["rows"] == 256 and mo["batch_big"]["rows_per_s"] > 0
    assert res["goals"]["ratio_min"] == 0.9 and res["goals"]["p50_us_max"] == 20.0
    assert "| 96x64x6 |" in out.stdout
    # the clips are cached: generated once, reused
    clips = sorted(p.name for p in (d / "clips").iterdir())
    assert clips == ["dis_96x64x6_x264_crf30.mp4", "ref_96x64x6.y4m"]


def test_bench_defaults_write_into_the_cache_not_the_working_directory(
    bench_run, tmp_path: Path
) -> None:
    _d, model, _ = bench_run
    work = tmp_path / "work"
    work.mkdir()
    cache = tmp_path / "cache"
    out = subprocess.run(
        [str(VMAF_TINY), "bench", "-m", str(model), *QUICK],
        capture_output=True,
        text=True,
        check=False,
        cwd=work,
        env={**os.environ, "VMAF_TINY_CACHE": str(cache)},
    )
    assert out.returncode == 0, out.stderr
    assert list(work.iterdir()) == []
    assert sorted(p.name for p in (cache / "clips").iterdir()) == [
        "dis_96x64x6_x264_crf30.mp4",
        "ref_96x64x6.y4m",
    ]
    assert json.loads((cache / "netflix_benchmark_results.json").read_text())["schema_version"]
    assert f"wrote {cache / 'netflix_benchmark_results.json'}" in out.stderr


def test_bench_all_sh_forwards_flags(bench_run) -> None:
    d, model, _ = bench_run
    out = subprocess.run(
        [
            "bash",
            str(REPO / "testdata" / "bench_all.sh"),
            "-m",
            str(model),
            "--backend=cpu",
            *QUICK,
            "--clips-dir",
            str(d / "clips"),
            "--out",
            str(d / "res2.json"),
            "--json",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "VMAF_TINY_BIN": str(VMAF_TINY)},
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["model"]["backend"] == "cpu"
    assert (d / "res2.json").is_file()


@pytest.mark.skipif(HAS_CUDA, reason="checks the error when CUDA is missing")
def test_bench_cuda_without_onnxruntime_gpu_is_one_line_error(bench_run) -> None:
    d, model, _ = bench_run
    out = subprocess.run(
        [
            str(VMAF_TINY),
            "bench",
            "-m",
            str(model),
            "--backend=cuda",
            *QUICK,
            "--clips-dir",
            str(d / "clips"),
            "--out",
            str(d / "res3.json"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 2
    assert out.stderr.strip().startswith("error: ") and "onnxruntime-gpu" in out.stderr
    assert not (d / "res3.json").exists()


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason="needs onnxruntime-gpu and an NVIDIA GPU")
def test_bench_on_cuda(bench_run) -> None:
    d, model, _ = bench_run
    out = subprocess.run(
        [
            str(VMAF_TINY),
            "bench",
            "-m",
            str(model),
            "--backend",
            "cuda",
            *QUICK,
            "--clips-dir",
            str(d / "clips"),
            "--out",
            str(d / "cuda.json"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    res = json.loads((d / "cuda.json").read_text())
    assert res["model"]["provider"] == "CUDAExecutionProvider"


def test_bench_refuses_an_unwritable_out_or_a_file_as_clips_dir_before_measuring(
    bench_run, tmp_path: Path
) -> None:
    _, model, _ = bench_run
    (tmp_path / "adir").mkdir()
    (tmp_path / "afile").write_text("x")
    for flags, fragment in (
        (["--out", str(tmp_path / "adir")], "it is a directory"),
        (["--out", str(tmp_path / "afile" / "r.json")], "is not a directory"),
        (["--clips-dir", str(tmp_path / "afile")], "--clips-dir"),
        (["--clips-dir", str(tmp_path / "afile" / "sub")], "afile is not a directory"),
    ):
        t0 = time.perf_counter()
        out = subprocess.run(
            [str(VMAF_TINY), "bench", "-m", str(model), *QUICK, *flags],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        lines = out.stderr.strip().splitlines()
        assert out.returncode == 2 and len(lines) == 1 and fragment in lines[0], out.stderr
        assert time.perf_counter() - t0 < 20  # refused up front, not after the measurements
