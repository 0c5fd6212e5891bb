"""Hostile videos through the real `vmaf-tiny score`: one-line error, exit 2, nothing on stdout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from vmaf_tiny.video_spec import check_raw_flags

VMAF_TINY = Path(sys.executable).parent / "vmaf-tiny"


def run(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VMAF_TINY), *map(str, args)], capture_output=True, text=True, check=False
    )


def assert_one_line(out: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert out.returncode == 2, (out.returncode, out.stderr)
    err = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert len(err) == 1 and err[0].startswith("error: "), out.stderr
    assert fragment in err[0], err[0]
    assert out.stdout == ""


@pytest.fixture(scope="module")
def model(tiny_models, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_models.fr_mlp(tmp_path_factory.mktemp("hv"), "hostile_fr")[0]


@pytest.fixture(scope="module")
def nr_model(tiny_models, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_models.nr_pool_gemm(tmp_path_factory.mktemp("hvnr"), "hostile_nr")


def test_zero_length_video(model: Path, runtime_clips, tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    out = run("score", "-r", runtime_clips["ref"], "-d", empty, "-m", model)
    assert_one_line(out, "empty.mp4: file is empty (0 bytes)")


def test_truncated_mp4(model: Path, runtime_clips, tmp_path: Path) -> None:
    data = runtime_clips["dis"].read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    out = run("score", "-r", runtime_clips["ref"], "-d", cut, "-m", model)
    assert_one_line(out, "cut.mp4: cannot read video")


def test_truncated_y4m_is_damaged(model: Path, runtime_clips, tmp_path: Path) -> None:
    data = runtime_clips["ref"].read_bytes()
    cut = tmp_path / "cut.y4m"
    cut.write_bytes(data[: len(data) * 2 // 3])  # ends mid-frame
    out = run("score", "-r", runtime_clips["ref"], "-d", cut, "-m", model)
    assert_one_line(out, "cut.y4m: damaged stream (y4m size check: last frame has")


def test_corrupt_files(model: Path, nr_model: Path, runtime_clips, tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(bytes(range(256)) * 64)
    assert_one_line(
        run("score", "-r", runtime_clips["ref"], "-d", junk, "-m", model),
        "junk.mp4: cannot read video",
    )
    assert_one_line(
        run("score", "--no-reference", "-d", junk, "-m", nr_model), "junk.mp4: cannot read video"
    )
    bad_header = tmp_path / "bad.y4m"
    bad_header.write_bytes(b"YUV4MPEG2 W0 H0 F25:1\nFRAME\n" + b"\x00" * 100)
    assert_one_line(
        run("score", "-r", runtime_clips["ref"], "-d", bad_header, "-m", model), "bad.y4m"
    )


def test_mismatched_raw_geometry(model: Path, shared_data: Path) -> None:
    clips = shared_data / "clips"
    ref, dis = clips / "src01_ref_160x90_48f.yuv", clips / "src01_dis_160x90_48f.yuv"
    out = run("score", "-r", ref, "-d", dis, "-m", model, "--width", "176", "--height", "144")
    assert_one_line(out, "is not a whole number of 176x144 yuv420p frames")
    assert_one_line(run("score", "-r", ref, "-d", dis, "-m", model), "raw yuv needs --width")


def test_mismatched_frame_counts_need_truncate(
    model: Path, runtime_clips, ffmpeg, tmp_path: Path
) -> None:
    short = tmp_path / "short.mp4"
    ffmpeg.run(
        [
            "-loglevel",
            "error",
            "-i",
            str(runtime_clips["ref"]),
            "-frames:v",
            "8",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-crf",
            "30",
            "-threads",
            "1",
            str(short),
        ],
        what="short encode",
    )
    out = run("score", "-r", runtime_clips["ref"], "-d", short, "-m", model)
    assert_one_line(out, "reference ref.y4m has 12, distorted short.mp4 has 8 (use --truncate")
    ok = run("score", "-r", runtime_clips["ref"], "-d", short, "-m", model, "--truncate", "--json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["n_frames"] == 8


def test_mismatched_resolution_is_upscaled_not_refused(
    model: Path, runtime_clips, ffmpeg, tmp_path: Path
) -> None:
    """VMAF scores at the reference size: a smaller distorted video is upscaled (bicubic)."""
    small = tmp_path / "small.mp4"
    ffmpeg.run(
        [
            "-loglevel",
            "error",
            "-i",
            str(runtime_clips["ref"]),
            "-vf",
            "scale=80:46",
            "-c:v",
            "libx264",
            "-crf",
            "30",
            "-threads",
            "1",
            str(small),
        ],
        what="small encode",
    )
    ok = run("score", "-r", runtime_clips["ref"], "-d", small, "-m", model, "--json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["n_frames"] == 12


def test_raw_geometry_flags_on_input_that_states_its_own_are_refused(
    model: Path, runtime_clips, shared_data: Path, tmp_path: Path
) -> None:
    ref, dis = runtime_clips["ref"], runtime_clips["dis"]  # y4m: they state size and format
    assert_one_line(
        run("score", "-r", ref, "-d", dis, "-m", model, "--width", "160", "--pix-fmt", "yuv444p"),
        "--width, --pix-fmt: only raw yuv input",
    )
    assert_one_line(
        run("filter", dis, "-o", tmp_path / "f.y4m", "--no-gate", "--height", "90"),
        "--height: only raw yuv input",
    )
    assert not (tmp_path / "f.y4m").exists()
    # a raw input among the pair takes them (the other one states its own)
    raw = shared_data / "clips" / "src01_ref_160x90_48f.yuv"
    check_raw_flags([raw, dis], width=160, height=90)
    check_raw_flags([dis], width=None, height=None, pix_fmt=None)


def test_raw_geometry_flags_with_pairs_need_a_raw_video_among_the_pairs(
    model: Path, runtime_clips, shared_data: Path, tmp_path: Path
) -> None:
    ref, dis = runtime_clips["ref"], runtime_clips["dis"]
    csv = tmp_path / "pairs.csv"
    csv.write_text(f"reference,distorted\n{ref},{dis}\n{ref},{ref}\n")
    assert_one_line(
        run("score", "--pairs", csv, "-m", model, "--width", "160"),
        "takes it; the videos of pairs.csv state their own size",
    )
    raw = shared_data / "clips" / "src01_ref_160x90_48f.yuv"
    check_raw_flags([ref, raw], width=160, what="the videos of pairs.csv")
