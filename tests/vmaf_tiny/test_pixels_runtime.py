"""Pixel models through the runtime: guard, session, NR / frame-pair scoring, filter, saliency.

The zoo holds the smoke-trained NR metric, filter and saliency student and the two smoke
checkpoints (tests/support/pixels_fixtures.py). ``vmaf-tiny filter`` / ``saliency`` are exercised
through their command functions on a Typer app wired like the runtime's (``run_app``: one-line
errors, exit code 2).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.support.clips import lavfi_clip, x264
from vmaf_tiny.framepair import is_frame_pair, score_frame_pair
from vmaf_tiny.nr import score_nr
from vmaf_tiny.registry import verify_registry
from vmaf_tiny.session import load_model
from vmaf_train.data.frames import PixelCorpus
from vmaf_train.fit.nr import predict_clips
from vmaf_train.ship.onnx_io import ort_session

VMAF_TINY = Path(sys.executable).parent / "vmaf-tiny"
PIXEL_APP = (
    "import typer\n"
    "from vmaf_tiny.console import run_app\n"
    "from vmaf_tiny.cli.pixels import filter_cmd, saliency_cmd\n"
    "app = typer.Typer(pretty_exceptions_enable=False)\n"
    "@app.callback()\n"
    "def _root() -> None: pass\n"
    "app.command('filter')(filter_cmd)\n"
    "app.command('saliency')(saliency_cmd)\n"
    "run_app(app, prog_name='vmaf-tiny')\n"
)


def pixel_cli(*args: str, zoo: Path) -> subprocess.CompletedProcess[str]:
    env = {"VMAF_TINY_ZOO": str(zoo), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-c", PIXEL_APP, *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


@pytest.fixture(scope="module")
def clips(ffmpeg, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("px-clips")
    ref = lavfi_clip(ffmpeg, d / "ref.y4m", size="192x108", frames=6)
    return {
        "ref": ref,
        "dis": lavfi_clip(ffmpeg, d / "dis.mkv", size="192x108", frames=6, codec=x264(40)),
    }


def test_models_verify_accepts_the_pixel_zoo(pixel_zoo: Path) -> None:
    rep = verify_registry(pixel_zoo)
    assert rep.ok, rep
    out = subprocess.run(
        [str(VMAF_TINY), "models", "verify"],
        capture_output=True,
        text=True,
        env={"VMAF_TINY_ZOO": str(pixel_zoo), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert out.returncode == 0, out.stderr + out.stdout


def test_nr_scores_match_training_eval(pixel_zoo: Path, smoke_corpus: Path, monkeypatch) -> None:
    """The runtime prepares frames exactly as training evaluated them: same per-frame scores."""
    monkeypatch.setenv("VMAF_TINY_ZOO", str(pixel_zoo))
    pc = PixelCorpus.open(smoke_corpus)
    clip = next(c for c in pc.clips if c.distortion == "ladder")  # a rescaled clip
    res = score_nr(clip.clip, "nr_metric_v1", backend="cpu")
    side = json.loads((pixel_zoo / "nr_metric_v1.json").read_text())
    w, h = side["frame"]["resize"]
    ev = predict_clips(
        [clip], {"m": ort_session(pixel_zoo / "nr_metric_v1.onnx")}, size=(w, h), progress=False
    )
    assert res.kind == "nr" and res.n_frames == clip.n_frames
    np.testing.assert_allclose(res.frames, ev["pred"]["m"], atol=1e-4)
    assert res.pooled["mean"] == pytest.approx(float(np.mean(ev["pred"]["m"])), abs=1e-4)


def test_no_reference_cli(pixel_zoo: Path, clips: dict[str, Path]) -> None:
    env = {"VMAF_TINY_ZOO": str(pixel_zoo), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [
            str(VMAF_TINY),
            "score",
            "--no-reference",
            "--model",
            "nr_metric_v1",
            "--distorted",
            str(clips["dis"]),
            "--json",
            "--backend",
            "cpu",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["kind"] == "nr" and data["n_frames"] == 6
    assert 0.0 <= data["pooled"]["mean"] <= 100.0


def test_two_input_smoke_through_guard_session_scoring(pixel_zoo: Path, clips, monkeypatch):
    monkeypatch.setenv("VMAF_TINY_ZOO", str(pixel_zoo))
    lm = load_model("dists_sq_placeholder_v0", backend="cpu")
    assert is_frame_pair(lm.sidecar) and lm.input_names == ["reference", "distorted"]
    same = score_frame_pair(clips["ref"], clips["ref"], lm)
    worse = score_frame_pair(clips["ref"], clips["dis"], lm)
    assert same.n_frames == worse.n_frames == 6
    np.testing.assert_allclose(same.frames, 100.0, atol=1e-3)
    assert worse.pooled["mean"] < same.pooled["mean"]
    short = lavfi_clip(load_ffmpeg(), clips["ref"].parent / "short.y4m", size="192x108", frames=4)
    with pytest.raises(Exception, match="frame counts differ"):
        score_frame_pair(clips["ref"], short, lm)
    assert score_frame_pair(clips["ref"], short, lm, truncate=True).n_frames == 4
    with pytest.raises(Exception, match="reference_frame"):
        score_frame_pair(clips["ref"], clips["dis"], "nr_metric_v1")


def load_ffmpeg():
    from vmaf_tiny.ffmpeg import resolve_ffmpeg

    return resolve_ffmpeg()


def test_filter_and_saliency_commands(pixel_zoo: Path, clips, tmp_path: Path) -> None:
    out = pixel_cli(
        "filter",
        str(clips["dis"]),
        "-o",
        str(tmp_path / "f.y4m"),
        "--model",
        "learned_filter_v2",
        "--strength",
        "0.5",
        "--json",
        "--backend",
        "cpu",
        zoo=pixel_zoo,
    )
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    assert res["n_frames"] == 6 and res["model"] == "learned_filter_v2"
    assert res["strength"] == 0.5
    assert set(res["audit"]) == {"mean_shift_8bit", "mean_abs_change_8bit", "clip_fraction"}
    assert (tmp_path / "f.y4m").is_file()
    out = pixel_cli(
        "saliency",
        str(clips["dis"]),
        "-o",
        str(tmp_path / "maps"),
        "--model",
        "saliency_student_v1",
        "--max-frames",
        "3",
        "--json",
        zoo=pixel_zoo,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["n_frames"] == 3
    assert len(list((tmp_path / "maps").glob("frame_*.png"))) == 3
    out = pixel_cli(
        "saliency",
        str(clips["dis"]),
        "-o",
        str(tmp_path / "m2"),
        "--model",
        "mobilesal_placeholder_v0",
        "--map-size",
        "model",
        "--json",
        zoo=pixel_zoo,
    )
    assert out.returncode == 0 and json.loads(out.stdout)["map_size"] == [64, 36]


V2 = ("--model", "learned_filter_v2")  # the fixture zoo's filter (the default, v1, is not in it)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["filter", "{dis}", "-o", "{tmp}/x.y4m", "--model", "nr_metric_v1"], "not a filter"),
        (["saliency", "{dis}", "-o", "{tmp}/m", "--model", "learned_filter_v2"], "not a saliency"),
        (["filter", "{tmp}/missing.mkv", "-o", "{tmp}/x.y4m", *V2], "no such file"),
        (["filter", "{dis}", "-o", "{tmp}/x.mp4", *V2], "choose --codec"),
        (["filter", "{dis}", "-o", "{tmp}/x.y4m", "--strength", "3"], "--strength"),
        (["filter", "{dis}", "-o", "{tmp}/x.y4m", "--model", "no_such_model"], "no_such_model"),
    ],
)
def test_pixel_commands_fail_in_one_line(pixel_zoo, clips, tmp_path, args, fragment) -> None:
    argv = [a.format(dis=clips["dis"], tmp=tmp_path) for a in args]
    out = pixel_cli(*argv, zoo=pixel_zoo)
    assert out.returncode == 2, (out.returncode, out.stderr)
    lines = [ln for ln in out.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and fragment in lines[0] and "Traceback" not in out.stderr
    assert not (tmp_path / "x.y4m").exists() and not (tmp_path / "x.mp4").exists()
