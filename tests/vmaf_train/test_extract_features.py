"""``vmaf-train extract-features`` on user pairs, and every kind of bad video input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.support.clips import lavfi_clip, x264
from vmaf_tiny.ffmpeg import FFmpeg
from vmaf_train.data.table import SCHEMA, read_features

CLI = [sys.executable, "-c", "from vmaf_train.cli import main; main()"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory, ffmpeg: FFmpeg) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("pairs")
    ref = lavfi_clip(ffmpeg, d / "ref.y4m", frames=8)
    return {
        "ref": ref,
        "dis": lavfi_clip(ffmpeg, d / "dis_crf35.mp4", frames=8, codec=x264(35)),
        "dis2": lavfi_clip(ffmpeg, d / "dis_crf45.mkv", frames=8, codec=x264(45)),
        "half": lavfi_clip(ffmpeg, d / "half.mp4", frames=8, codec=x264(25), vf="scale=80:46"),
        "short": lavfi_clip(ffmpeg, d / "short.mp4", frames=5, codec=x264(30)),
        "raw": lavfi_clip(ffmpeg, d / "ref.yuv", frames=8),
        "gray": lavfi_clip(
            ffmpeg, d / "gray.mkv", frames=8, pix_fmt="gray", codec=["-c:v", "ffv1"]
        ),
    }


def test_single_pair_with_mos(clips: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "f.parquet"
    res = run(
        "extract-features",
        "-r",
        clips["ref"],
        "-d",
        clips["dis"],
        "--mos",
        "3.5",
        "-o",
        out,
        "--json",
    )
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["rows"] == 8
    t = read_features(out, require=("mos",))
    assert t.schema.remove_metadata() == SCHEMA.remove_metadata()
    r = t.to_pylist()[0]
    assert r["key"] == "dis_crf35" and r["source_id"] == "ref"
    assert r["codec"] == "libx264" and r["crf"] == 35.0  # read from the stream
    assert r["mos"] == 3.5 and r["source_kind"] == "user"


def test_pairs_csv_reports_bad_pair_and_keeps_the_rest(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    csv = tmp_path / "pairs.csv"
    csv.write_text(
        "reference,distorted,mos,source_id\n"
        f"{clips['ref']},{clips['dis']},4.0,contentA\n"
        f"{clips['ref']},{clips['dis2']},2.0,contentA\n"
        f"{clips['ref']},{clips['half']},3.0,contentB\n"
        f"{clips['ref']},{tmp_path / 'missing.mp4'},1.0,contentC\n"
    )
    out = tmp_path / "many.parquet"
    res = run("extract-features", "--pairs", csv, "-o", out, "--workers", "2", "--no-progress")
    assert res.returncode == 2  # some inputs bad: the same code as `vmaf-tiny score --pairs`
    assert "1 of 4 pairs failed" in res.stderr
    t = pq.read_table(out)
    assert sorted(set(t.column("key").to_pylist())) == ["dis_crf35", "dis_crf45", "half"]
    assert t.num_rows == 24
    fails = json.loads(out.with_suffix(".failures.json").read_text())["failures"]
    assert fails[0]["item"] == "missing" and "no such file" in fails[0]["error"]
    rows = t.to_pylist()
    half = next(r for r in rows if r["key"] == "half")
    assert (half["encode_width"], half["width"]) == (80, 160)  # upscaled for scoring
    by_key = {
        k: np.mean([r["vmaf"] for r in rows if r["key"] == k]) for k in ("dis_crf35", "dis_crf45")
    }
    assert by_key["dis_crf35"] > by_key["dis_crf45"]


def test_pairs_all_failing_removes_the_old_parquet(clips: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "old.parquet"
    ok = run("extract-features", "-r", clips["ref"], "-d", clips["dis"], "-o", out)
    assert ok.returncode == 0 and out.exists(), ok.stderr
    csv = tmp_path / "pairs.csv"
    csv.write_text(
        "reference,distorted\n"
        f"{clips['ref']},{tmp_path / 'gone1.mp4'}\n"
        f"{clips['ref']},{tmp_path / 'gone2.mp4'}\n"
    )
    res = run("extract-features", "--pairs", csv, "-o", out, "--serial", "--no-progress")
    assert res.returncode == 2
    assert "all 2 pairs failed, nothing written; removed the earlier old.parquet" in res.stderr
    assert not out.exists()  # no stale table beside the new failures.json
    fails = json.loads(out.with_suffix(".failures.json").read_text())
    assert fails["n_failed"] == 2
    assert not list(tmp_path.glob(".*.lock"))  # the lock file is gone after the run


def _bad(tmp: Path, name: str, data: bytes) -> Path:
    p = tmp / name
    p.write_bytes(data)
    return p


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing", "no such file"),
        ("empty", "empty"),
        ("corrupt", "cannot read video"),
        ("truncated", "truncated or corrupt"),
        ("gray", "unsupported pixel format"),
        ("raw_no_dims", "raw yuv needs"),
        ("raw_partial", "not a whole number"),
        ("frame_mismatch", "frame counts differ"),
    ],
)
def test_bad_video_input_is_one_line_exit_2(
    case: str, message: str, clips: dict[str, Path], tmp_path: Path
) -> None:
    ref, dis = clips["ref"], clips["dis"]
    extra: list[str] = []
    if case == "missing":
        dis = tmp_path / "nope.mp4"
    elif case == "empty":
        dis = _bad(tmp_path, "empty.mp4", b"")
    elif case == "corrupt":
        dis = _bad(tmp_path, "corrupt.mp4", bytes(range(256)) * 64)
    elif case == "truncated":
        data = clips["dis2"].read_bytes()
        dis = _bad(tmp_path, "trunc.mkv", data[: min(1000, len(data) // 2)])
    elif case == "gray":
        dis = clips["gray"]
    elif case == "raw_no_dims":
        ref = clips["raw"]
    elif case == "raw_partial":
        ref = _bad(tmp_path, "partial.yuv", clips["raw"].read_bytes()[:-100])
        dis = clips["raw"]
        extra = ["--width", "160", "--height", "90"]
    elif case == "frame_mismatch":
        dis = clips["short"]
    out = tmp_path / "out.parquet"
    res = run("extract-features", "-r", ref, "-d", dis, "-o", out, *extra)
    assert res.returncode == 2, (res.returncode, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), res.stderr
    assert message in lines[0]
    assert "Traceback" not in res.stderr
    assert not out.exists() and not list(tmp_path.glob("*.tmp*"))


def test_truncate_flag_scores_the_common_frames(clips: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "t.parquet"
    res = run("extract-features", "-r", clips["ref"], "-d", clips["short"], "-o", out, "--truncate")
    assert res.returncode == 0, res.stderr
    assert pq.read_table(out).num_rows == 5


def test_raw_yuv_with_geometry(clips: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "raw.parquet"
    res = run(
        "extract-features",
        "-r",
        clips["raw"],
        "-d",
        clips["raw"],
        "-o",
        out,
        "--width",
        "160",
        "--height",
        "90",
    )
    assert res.returncode == 0, res.stderr
    vmaf = pq.read_table(out).column("vmaf").to_numpy()
    assert len(vmaf) == 8 and vmaf.min() > 97  # identical inputs score at the top
