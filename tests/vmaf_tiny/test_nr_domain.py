"""Input outside an NR model's domain: too small is refused, flat clips are flagged.

Before these checks ``nr_metric_v2`` gave 99.99 to an all-black clip and to a 2x2 clip, and
``nr_stream_v2`` 81 to an all-black H.264 clip, with no warning: confident wrong scores.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.clips import lavfi_clip, x264
from vmaf_tiny.errors import BadInputError
from vmaf_tiny.ffmpeg import FFmpeg
from vmaf_tiny.nr import MIN_NR_SIDE, flat_warning, score_nr
from vmaf_tiny.nr_stream import MIN_STREAM_AREA, outside_sizes, score_stream

VMAF_TINY = Path(sys.executable).parent / "vmaf-tiny"
MODEL = "nr_metric_v2"


def _run(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VMAF_TINY), *map(str, args)], capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize("size", ["2x2", "64x8"])
def test_a_clip_too_small_to_score_is_one_error_exit_2(
    ffmpeg: FFmpeg, tmp_path: Path, size: str
) -> None:
    clip = lavfi_clip(ffmpeg, tmp_path / "s.y4m", size=size, frames=3)
    out = _run("score", "--no-reference", "-d", clip, "--json")
    assert out.returncode == 2
    assert out.stdout == ""
    assert out.stderr.strip().splitlines() == [
        f"error: s.y4m: {size} is too small for {MODEL} (each side at least {MIN_NR_SIDE} pixels)"
    ]


def test_the_smallest_accepted_side_scores(ffmpeg: FFmpeg, tmp_path: Path) -> None:
    clip = lavfi_clip(ffmpeg, tmp_path / "s.y4m", size=f"{MIN_NR_SIDE}x{MIN_NR_SIDE}", frames=3)
    res = score_nr(clip, MODEL, backend="cpu")
    assert res.n_frames == 3
    with pytest.raises(BadInputError, match="too small"):
        score_nr(lavfi_clip(ffmpeg, tmp_path / "t.y4m", size="15x40", frames=2), MODEL)


@pytest.mark.parametrize("graph", ["color=black", "color=0x808080"])
def test_a_flat_clip_is_scored_but_flagged_out_of_domain(
    ffmpeg: FFmpeg, tmp_path: Path, graph: str
) -> None:
    clip = lavfi_clip(ffmpeg, tmp_path / "flat.y4m", graph=f"{graph}:size=64x64:rate=25", frames=4)
    out = _run("score", "--no-reference", "-d", clip, "--json")
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    assert d["out_of_domain"] is True
    assert any("4 of 4 frames are flat" in w for w in d["warnings"])
    assert "4 of 4 frames are flat" in out.stderr


def test_natural_looking_content_is_in_domain(ffmpeg: FFmpeg, tmp_path: Path) -> None:
    clip = lavfi_clip(ffmpeg, tmp_path / "ok.y4m", size="64x64", frames=4)
    res = score_nr(clip, MODEL, backend="cpu")
    assert res.out_of_domain is False
    assert not any("flat" in w for w in res.warnings)
    assert res.to_dict()["out_of_domain"] is False


def test_a_few_flat_frames_warn_without_the_flag() -> None:
    assert flat_warning("c.y4m", MODEL, [False] * 4) is None
    few = flat_warning("c.y4m", MODEL, [True, False, False])
    half = flat_warning("c.y4m", MODEL, [True, False])
    assert few is not None and "1 of 3 frames are flat" in few and "domain" not in few
    assert half is not None and "out of the model's domain" in half


def test_the_stream_model_flags_a_flat_stream_too(ffmpeg: FFmpeg, tmp_path: Path) -> None:
    black = lavfi_clip(
        ffmpeg, tmp_path / "black.mp4", graph="color=black:size=160x90:rate=25", frames=6,
        codec=x264(30),
    )  # fmt: skip
    out = _run("score", "--no-reference", "-d", black, "--json")
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    assert d["model"] == "nr_stream_v2" and d["out_of_domain"] is True
    assert any("6 of 6 frames are flat" in w for w in d["warnings"])
    ok = lavfi_clip(ffmpeg, tmp_path / "ok.mp4", frames=6, codec=x264(30))
    d = json.loads(_run("score", "--no-reference", "-d", ok, "--json").stdout)
    assert d["out_of_domain"] is False and not d["warnings"]


@pytest.mark.parametrize(
    ("size", "flagged"),
    [
        ("32x32", True),
        ("158x90", True),
        ("16x900", True),  # area 160x90 exactly, but a 16-pixel side
        ("320x80", False),  # 4:1
        ("480x80", True),  # 6:1
        ("160x90", False),
        ("90x160", False),  # portrait
    ],
)
def test_a_stream_far_from_the_training_sizes_is_flagged(
    ffmpeg: FFmpeg, tmp_path: Path, size: str, flagged: bool
) -> None:
    """Such clips decode and are scored, but flagged out of domain with a warning (a 10x10 or
    2000x10 stream used to get a confident score)."""
    clip = lavfi_clip(ffmpeg, tmp_path / "t.mp4", size=size, frames=4, codec=x264())
    res = score_stream(clip, "nr_stream_v2", backend="cpu")
    assert res.out_of_domain is flagged
    assert any(f"{size} is far from" in w for w in res.warnings) is flagged
    w, h = map(int, size.split("x"))
    assert outside_sizes(w, h) is flagged
    assert MIN_STREAM_AREA == 160 * 90
