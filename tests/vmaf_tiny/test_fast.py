"""The fast VMAF estimate (vmaf_tiny.fast): operating points, the one-pass features, the CLI."""

from __future__ import annotations

import itertools
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.support.cli import one_line_error
from vmaf_tiny import extract_features
from vmaf_tiny.errors import BadInputError, BadModelError
from vmaf_tiny.fast import (
    DEFAULT_FAST_LEVEL,
    FAST_FEATURES,
    FAST_LEVELS,
    OperatingPoint,
    extract_fast_features,
    score_fast,
)
from vmaf_tiny.registry import shipped_zoo

VMAF_TINY = Path(sys.executable).parent / "vmaf-tiny"
DEFAULT_ID = FAST_LEVELS[DEFAULT_FAST_LEVEL]


def run(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VMAF_TINY), *map(str, args)], capture_output=True, text=True, check=False
    )


def shipped_sidecar(model_id: str) -> dict:
    return json.loads((shipped_zoo() / f"{model_id}.json").read_text())


@pytest.mark.parametrize("height", [90, 360, 1080])
@pytest.mark.parametrize(
    "op", [OperatingPoint(4, 0.25, 2), OperatingPoint(2, 0.0625, 8), OperatingPoint(8, 0.125, 4)]
)
def test_layout_bands_are_aligned_and_inside(op: OperatingPoint, height: int) -> None:
    bands = op.layout(height)
    if bands == [(0, height)]:  # 16-row bands would cover the picture: the whole picture
        assert op.bands * 32 >= height or height < 64
        return
    assert len(bands) == op.bands
    tops = [y for y, _ in bands]
    assert tops == sorted(tops)
    for y, h in bands:
        assert h % 16 == 0 and h >= 32 and y % 2 == 0 and y >= 0 and y + h <= height
    for (y0, h0), (y1, _) in itertools.pairwise(bands):
        assert y0 + h0 <= y1  # no overlap
    assert 0 < op.sampled_fraction(height) < 1


def test_layout_full_picture_and_bad_points() -> None:
    assert OperatingPoint(4, 1.0, 1).layout(360) == [(0, 360)]
    assert OperatingPoint(8, 0.9, 1).layout(90) == [(0, 90)]
    for bad in [(0, 0.25, 1), (4, 0.0, 1), (4, 1.5, 1), (4, 0.25, 0), (4, 0.25, 1.5)]:
        with pytest.raises(BadModelError):
            OperatingPoint(*bad)  # type: ignore[arg-type]
    with pytest.raises(BadModelError, match="no 'fast' block"):
        OperatingPoint.from_sidecar({"id": "x"})


def test_whole_picture_point_reproduces_libvmaf(runtime_clips: dict[str, Path]) -> None:
    """bands=1, fraction=1, subsample=1 is plain libvmaf: the same canonical-6 and vmaf."""
    ref, dis = runtime_clips["ref"], runtime_clips["dis"]
    fast = extract_fast_features(ref, dis, OperatingPoint(1, 1.0, 1))
    full = extract_features(ref, dis)
    assert list(fast.frame_index) == list(range(full.n_frames))
    for c in ("adm2", "motion2", "vif_scale0", "vif_scale3", "vmaf"):
        np.testing.assert_allclose(fast.columns[f"sample_{c}"], full.columns[c], atol=1e-6)
    assert set(fast.columns) == set(FAST_FEATURES)


def test_subsampled_sample_keeps_motion_of_consecutive_frames(
    runtime_clips: dict[str, Path],
) -> None:
    ref, dis = runtime_clips["ref"], runtime_clips["dis"]
    every = extract_fast_features(ref, dis, OperatingPoint(2, 0.5, 1))
    third = extract_fast_features(ref, dis, OperatingPoint(2, 0.5, 3))
    assert list(third.frame_index) == [0, 3, 6, 9]
    # libvmaf's motion extractor sees every frame even with n_subsample
    np.testing.assert_allclose(
        third.columns["sample_motion2"], every.columns["sample_motion2"][::3], atol=1e-6
    )
    assert every.columns["log2_bpp"][0] < np.log2(12.0)  # an x264 stream, not raw


def test_cli_fast_json_matches_python_api(runtime_clips: dict[str, Path]) -> None:
    ref, dis = runtime_clips["ref"], runtime_clips["dis"]
    out = run("score", "-r", ref, "-d", dis, "--fast", "--json")
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    side = shipped_sidecar(DEFAULT_ID)["fast"]
    assert d["model"] == DEFAULT_ID
    assert d["fast"]["subsample"] == side["subsample"] and d["fast"]["bands"] == side["bands"]
    assert d["n_frames"] == math.ceil(12 / side["subsample"]) == len(d["frames"])
    assert [r["frame"] for r in d["records"]] == list(range(0, 12, side["subsample"]))
    assert d["subsample"] == side["subsample"] and d["n_frames_total"] == 12
    assert 0.0 <= d["pooled"]["mean"] <= 100.0
    api = score_fast(ref, dis)
    assert api.mean == pytest.approx(d["pooled"]["mean"], abs=1e-9)
    np.testing.assert_array_equal(api.frame_index, [r["frame"] for r in d["records"]])
    np.testing.assert_allclose(api.records[DEFAULT_ID], d["frames"], atol=1e-12)


def test_cli_fast_writes_output_files_and_pools(
    runtime_clips: dict[str, Path], tmp_path: Path
) -> None:
    """--fast gives the ordinary result: -o JSON/CSV, --pool, per-frame records."""
    ref, dis = runtime_clips["ref"], runtime_clips["dis"]
    csv_out, json_out = tmp_path / "f.csv", tmp_path / "f.json"
    out = run("score", "-r", ref, "-d", dis, "--fast", "--with-svm", "-o", csv_out, "--json",
              "--pool", "median", "--pool", "min")  # fmt: skip
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    assert d["pool"] == ["median", "min"] and d["score"] == d["pooled"]["median"]
    assert d["svm"]["model"] == "vmaf_v0.6.1_sample"
    lines = csv_out.read_text().splitlines()
    header = lines[0].split(",")
    assert header[:2] == ["frame", "time_s"] and DEFAULT_ID in header
    assert "sample_adm2" in header and "vmaf_v0.6.1_sample" in header
    assert len(lines) == 1 + d["n_frames"]
    col = header.index(DEFAULT_ID)
    got = [float(line.split(",")[col]) for line in lines[1:]]
    np.testing.assert_allclose(got, d["frames"], atol=1e-6)
    out = run("score", "-r", ref, "-d", dis, "-m", DEFAULT_ID, "-o", json_out)
    assert out.returncode == 0, out.stderr
    assert json.loads(json_out.read_text())["fast"]["bands"] == d["fast"]["bands"]
    for flags in (["--subsample", "2"], ["--extras", "psnr_y"], ["--int8"]):
        one_line_error(run("score", "-r", ref, "-d", dis, "--fast", *flags), flags[0])
        one_line_error(
            run("score", "-r", ref, "-d", dis, "-m", DEFAULT_ID, *flags), flags[0].lstrip("-")
        )
    one_line_error(
        run("score", "-r", ref, "-d", dis, "-m", DEFAULT_ID, "-m", "vmaf_tiny_v2"), "fast model"
    )


def test_cli_fast_level_and_model_id(runtime_clips: dict[str, Path]) -> None:
    ref, dis = runtime_clips["ref"], runtime_clips["dis"]
    levels = [lv for lv, mid in FAST_LEVELS.items() if (shipped_zoo() / f"{mid}.json").is_file()]
    assert DEFAULT_FAST_LEVEL in levels
    for lv in levels:
        out = run("score", "-r", ref, "-d", dis, "--fast-level", lv, "--json")
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["model"] == FAST_LEVELS[lv]
    # a fast model id through the ordinary score path takes the fast pass too
    out = run("score", "-r", ref, "-d", dis, "-m", DEFAULT_ID, "--csv")
    assert out.returncode == 0, out.stderr
    rows = out.stdout.strip().splitlines()
    sub = shipped_sidecar(DEFAULT_ID)["fast"]["subsample"]
    assert rows[0].startswith("frame,time_s,") and rows[0].endswith(f",{DEFAULT_ID}")
    assert rows[2].startswith(f"{sub},")


def test_sidecar_declares_the_operating_point(
    runtime_clips: dict[str, Path], tmp_path: Path
) -> None:
    """The runtime reads bands/fraction/subsample from the sidecar, never a constant."""
    ref, dis = runtime_clips["ref"], runtime_clips["dis"]
    onnx = tmp_path / "m.onnx"
    shutil.copyfile(shipped_zoo() / f"{DEFAULT_ID}.onnx", onnx)
    side = shipped_sidecar(DEFAULT_ID)
    side["onnx"] = "m.onnx"
    side["fast"] = {"bands": 1, "fraction": 1.0, "subsample": 5}
    (tmp_path / "m.json").write_text(json.dumps(side))
    out = run("score", "-r", ref, "-d", dis, "-m", onnx, "--json", "--with-svm")
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    frames = [r["frame"] for r in d["records"]]
    assert frames == [0, 5, 10] and d["fast"]["sampled_fraction"] == 1.0
    full = extract_features(ref, dis)
    np.testing.assert_allclose(d["svm"]["frames"], full.vmaf[::5], atol=1e-6)
    # a broken fast block is refused at load time, one line, exit 2
    side["fast"] = {"bands": 0, "fraction": 0.25, "subsample": 2}
    (tmp_path / "m.json").write_text(json.dumps(side))
    one_line_error(run("score", "-r", ref, "-d", dis, "-m", onnx, "--fast"), "fast")


def test_fast_bad_inputs_one_line(runtime_clips: dict[str, Path], tmp_path: Path) -> None:
    ref, dis = runtime_clips["ref"], runtime_clips["dis"]
    one_line_error(run("score", "-r", ref, "-d", tmp_path / "nope.mp4", "--fast"), "nope.mp4")
    one_line_error(
        run("score", "-r", ref, "-d", dis, "--fast", "-m", "vmaf_tiny_v2x"), "vmaf_tiny_v2x"
    )
    one_line_error(run("score", "-r", ref, "-d", dis, "--fast", "-m", "vmaf_tiny_v3"), "not a fast")
    one_line_error(run("score", "-r", ref, "-d", dis, "--fast-level", "99"), "--fast-level")
    one_line_error(run("score", "-d", dis, "--fast", "--no-reference"), "--fast")
    one_line_error(
        run("score", "-r", ref, "-d", dis, "--fast-level", "1", "-m", DEFAULT_ID), "choose one"
    )
    short = tmp_path / "short.y4m"
    data = ref.read_bytes()
    header, _, _ = data.partition(b"\n")
    frame = data[len(header) + 1 :]
    one = frame[: len(frame) // 12]
    short.write_bytes(header + b"\n" + one * 5)
    one_line_error(run("score", "-r", short, "-d", dis, "--fast"), "frame counts differ")
    with pytest.raises(BadInputError):
        score_fast(ref, dis, "vmaf_tiny_v2")


def test_bench_runs_a_fast_model(tmp_path: Path) -> None:
    """`vmaf-tiny bench -m vmaf_tiny_fast_v1`: end to end beside libvmaf, model-only figures."""
    from vmaf_tiny.bench import run_bench

    res = run_bench(
        DEFAULT_ID, runs=1, sizes=[(160, 90, 12)], batch1_calls=10, big_batch=8, clips_dir=tmp_path
    )
    entry = res["end_to_end"][0]
    assert entry["tiny"]["median_fps"] > 0 and entry["svm"]["median_fps"] > 0
    assert 0.0 <= entry["tiny_pooled_mean"] <= 100.0


def test_threads_reach_libvmaf_on_both_sides_and_change_no_number(
    runtime_clips: dict[str, Path], tmp_path: Path
) -> None:
    """`bench --threads N`: the fast pass and plain libvmaf both run N libvmaf threads; the
    estimate is the same as with one thread."""
    from vmaf_tiny.bench import run_bench

    ref, dis = runtime_clips["ref"], runtime_clips["dis"]
    one, two = score_fast(ref, dis, threads=1), score_fast(ref, dis, threads=2)
    assert np.array_equal(one.frames, two.frames)
    res = run_bench(
        DEFAULT_ID, runs=1, sizes=[(160, 90, 12)], batch1_calls=10, big_batch=8,
        clips_dir=tmp_path, threads=2,
    )  # fmt: skip
    assert res["settings"]["threads"] == 2
    entry = res["end_to_end"][0]
    assert entry["tiny"]["median_fps"] > 0 and entry["svm"]["median_fps"] > 0
    out = run("bench", "-m", DEFAULT_ID, "--threads", "0", "--runs", "1")
    assert out.returncode == 2 and "Traceback" not in out.stderr
