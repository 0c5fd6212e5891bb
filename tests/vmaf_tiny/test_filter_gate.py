"""The learned filter's no-reference quality gate (:mod:`vmaf_tiny.filter_gate`): the per-frame
scale, the gated runner, the plan for encoded vs raw input, the sidecar contract and the CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.support.clips import lavfi_clip, x264
from vmaf_tiny.errors import BadModelError
from vmaf_tiny.ffmpeg import FFmpeg
from vmaf_tiny.filter_gate import Gate, GatedRunner, plan_gate
from vmaf_tiny.registry import shipped_zoo
from vmaf_tiny.sidecar import sidecar_contract, validate_sidecar

VMAF_TINY = Path(sys.executable).with_name("vmaf-tiny")


def test_scale_is_full_below_off_above_and_linear_between() -> None:
    g = Gate("nr_stream_v2", 70.0, 90.0)
    got = g.scale(np.array([10.0, 70.0, 75.0, 80.0, 89.0, 90.0, 99.0]))
    np.testing.assert_allclose(got, [1.0, 1.0, 0.75, 0.5, 0.05, 0.0, 0.0])


def test_gated_runner_scales_per_frame_and_skips_frames_it_leaves_alone() -> None:
    calls: list[int] = []

    def plus_one(x: np.ndarray) -> np.ndarray:
        calls.append(x.shape[0])
        return x + 1.0

    run = GatedRunner(plus_one, np.array([0.0, 0.5, 1.0, 0.0]))
    x = np.zeros((3, 1, 4, 4), dtype=np.float32)
    y = run(x)
    assert [float(v) for v in y[:, 0, 0, 0]] == [0.0, 0.5, 1.0]
    assert calls == [2]  # only the two frames the gate lets through reach the model
    y2 = run(np.zeros((3, 1, 4, 4), dtype=np.float32))  # frame 4 off, then past the end
    np.testing.assert_allclose(y2[:, 0, 0, 0], [0.0, 0.375, 0.375])  # the clip's mean scale
    assert run(np.zeros((0, 1, 4, 4), dtype=np.float32)).shape[0] == 0


def test_plan_scores_an_encoded_stream_and_is_off_for_raw_input(
    ffmpeg: FFmpeg, tmp_path: Path
) -> None:
    g = Gate("nr_stream_v2", 70.0, 90.0)
    enc = lavfi_clip(ffmpeg, tmp_path / "c.mp4", frames=6, codec=x264(45))
    plan = plan_gate(enc, g, ffmpeg=ffmpeg)
    assert plan.note is None and plan.scale is not None and plan.scores is not None
    assert plan.scale.shape == (6,) and np.all((plan.scale >= 0) & (plan.scale <= 1))
    np.testing.assert_allclose(plan.scale, g.scale(plan.scores))
    summary = plan.summary(0.5, n_frames=4)
    assert summary is not None and summary["active"] is True
    assert summary["strength_mean"] == pytest.approx(0.5 * float(np.mean(plan.scale[:4])))
    # at --strength 0 every frame is unchanged and none is "filtered in full"
    zero = plan.summary(0.0, n_frames=6)
    assert zero is not None and zero["frames_unchanged"] == 6 and zero["frames_full"] == 0
    raw = lavfi_clip(ffmpeg, tmp_path / "c.y4m", frames=3)
    off = plan_gate(raw, g, ffmpeg=ffmpeg)
    assert off.scale is None and off.note is not None and "gate" in off.note
    assert plan_gate(raw, None, ffmpeg=ffmpeg).summary(1.0) is None


def _filter_sidecar() -> dict:
    return json.loads((shipped_zoo() / "learned_filter_v1.json").read_text())


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"gate": {"model": "nr_stream_v2", "full_below": 90, "off_above": 70}}, "full_below"),
        ({"kind": "nr", "gate": {"model": "nr_stream_v2", "full_below": 70, "off_above": 90}},
         "only a filter"),
    ],
)  # fmt: skip
def test_sidecar_gate_contract(change: dict, fragment: str) -> None:
    side = _filter_sidecar() | change
    validate_sidecar(side)
    problem = sidecar_contract(side)
    assert problem is not None and fragment in problem


def test_sidecar_gate_schema_refuses_unknown_keys() -> None:
    side = _filter_sidecar() | {
        "gate": {"model": "nr_stream_v2", "full_below": 70, "off_above": 90, "x": 1}
    }
    with pytest.raises(BadModelError, match="gate"):
        validate_sidecar(side)


@pytest.fixture(scope="module")
def gated_filter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped v1 filter with a gate in its sidecar (v1's own weights: the gate is what is
    under test)."""
    d = tmp_path_factory.mktemp("gated")
    shutil.copyfile(shipped_zoo() / "learned_filter_v1.onnx", d / "gated.onnx")
    side = _filter_sidecar() | {
        "id": "gated_filter",
        "onnx": "gated.onnx",
        "gate": {"model": "nr_stream_v2", "full_below": 70.0, "off_above": 90.0},
    }
    (d / "gated.json").write_text(json.dumps(side))
    return d / "gated.onnx"


def _filter(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VMAF_TINY), "filter", *map(str, args)], capture_output=True, text=True, check=False
    )


def test_cli_gates_an_encoded_stream_and_says_so_for_raw_input(
    ffmpeg: FFmpeg, tmp_path: Path, gated_filter: Path
) -> None:
    enc = lavfi_clip(ffmpeg, tmp_path / "in.mp4", frames=5, codec=x264(45))
    out = _filter(enc, "-o", tmp_path / "a.y4m", "-m", gated_filter, "--json")
    assert out.returncode == 0, out.stderr
    g = json.loads(out.stdout)["gate"]
    assert g["active"] is True and g["model"] == "nr_stream_v2"
    assert 0.0 <= g["strength_mean"] <= 1.0 and g["frames_unchanged"] + g["frames_full"] <= 5
    off = _filter(enc, "-o", tmp_path / "b.y4m", "-m", gated_filter, "--no-gate", "--json")
    assert off.returncode == 0 and json.loads(off.stdout)["gate"] is None
    # raw input cannot be gated: refused in one line (ungated, clean frames would pay) ...
    raw = lavfi_clip(ffmpeg, tmp_path / "in.y4m", frames=3)
    r = _filter(raw, "-o", tmp_path / "c.y4m", "-m", gated_filter, "--json")
    assert r.returncode == 2 and r.stdout == "" and not (tmp_path / "c.y4m").exists()
    err = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(err) == 1 and "carries no stream facts" in err[0] and "--no-gate" in err[0]
    # ... unless the gate is turned off
    r2 = _filter(raw, "-o", tmp_path / "c.y4m", "-m", gated_filter, "--no-gate", "--json")
    assert r2.returncode == 0, r2.stderr
    assert json.loads(r2.stdout)["gate"] is None and (tmp_path / "c.y4m").is_file()


def test_max_frames_limits_the_gate_pass_and_an_unknown_encoder_fails_first(
    ffmpeg: FFmpeg, tmp_path: Path, gated_filter: Path
) -> None:
    enc = lavfi_clip(ffmpeg, tmp_path / "in.mp4", frames=12, codec=x264(45))
    gate = Gate("nr_stream_v2", 70.0, 90.0)
    plan = plan_gate(enc, gate, backend="cpu", ffmpeg=ffmpeg, max_frames=4)
    assert plan.scores is not None and plan.scores.size == 4
    assert plan_gate(enc, gate, backend="cpu", ffmpeg=ffmpeg).scores.size == 12  # type: ignore[union-attr]
    out = _filter(enc, "-o", tmp_path / "a.y4m", "-m", gated_filter, "--max-frames", 4, "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["n_frames"] == 4
    # an encoder this ffmpeg lacks is refused in one line before the gate scores anything
    bad = _filter(enc, "-o", tmp_path / "b.mkv", "-m", gated_filter, "--codec", "libnosuch")
    err = [ln for ln in bad.stderr.splitlines() if ln.strip()]
    assert bad.returncode == 2 and len(err) == 1, bad.stderr
    assert "no video encoder" in err[0] and "libnosuch" in err[0]
    assert not (tmp_path / "b.mkv").exists()


def test_flat_frames_are_left_unchanged_with_a_warning(
    ffmpeg: FFmpeg, tmp_path: Path, gated_filter: Path
) -> None:
    # A flat (one-colour) frame is outside the NR model's domain: its score says nothing about
    # coding damage, so the gate must not act on it (the filter would paint texture on it).
    grey = lavfi_clip(
        ffmpeg, tmp_path / "grey.mp4", graph="color=c=gray:size=160x96:rate=25", frames=6,
        codec=x264(30),
    )  # fmt: skip
    g = Gate("nr_stream_v2", 70.0, 90.0)
    plan = plan_gate(grey, g, ffmpeg=ffmpeg)
    assert plan.scale is not None and plan.scores is not None
    assert float(plan.scores.max()) < 90.0  # the model alone would have filtered them
    assert plan.scale.tolist() == [0.0] * 6
    assert any("flat" in w and "unchanged" in w for w in plan.warnings)
    summary = plan.summary(1.0, 6)
    assert summary is not None and summary["frames_flat"] == 6
    assert summary["frames_unchanged"] == 6
    out = _filter(grey, "-o", tmp_path / "g.y4m", "-m", gated_filter, "--json")
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    assert res["audit"]["mean_abs_change_8bit"] == 0.0
    assert any("flat" in w for w in res["warnings"]) and "flat" in out.stderr


@pytest.mark.parametrize("gate_model", ["nr_stream_v9", "nr_metric_v2"])
def test_a_gate_naming_a_missing_or_non_stream_model_says_it_is_the_gate(
    ffmpeg: FFmpeg, tmp_path: Path, gate_model: str
) -> None:
    shutil.copyfile(shipped_zoo() / "learned_filter_v1.onnx", tmp_path / "gf.onnx")
    side = _filter_sidecar() | {
        "id": "gf",
        "onnx": "gf.onnx",
        "gate": {"model": gate_model, "full_below": 70.0, "off_above": 90.0},
    }
    (tmp_path / "gf.json").write_text(json.dumps(side))
    enc = lavfi_clip(ffmpeg, tmp_path / "in.mp4", frames=3, codec=x264(40))
    r = _filter(enc, "-o", tmp_path / "o.y4m", "-m", tmp_path / "gf.onnx")
    err = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == 2 and len(err) == 1 and not (tmp_path / "o.y4m").exists()
    assert "quality gate" in err[0] and gate_model in err[0] and "gf" in err[0]


def test_gate_model_replaces_the_gates_scorer_and_is_refused_where_it_does_nothing(
    ffmpeg: FFmpeg, tmp_path: Path, gated_filter: Path
) -> None:
    enc = lavfi_clip(ffmpeg, tmp_path / "in.mp4", frames=4, codec=x264(45))
    (tmp_path / "mine").mkdir()
    for ext in (".onnx", ".json"):  # a user's own copy of the stream model, by path
        shutil.copyfile(
            shipped_zoo() / f"nr_stream_v2{ext}", tmp_path / "mine" / f"nr_stream_v2{ext}"
        )
    own = _filter(enc, "-o", tmp_path / "a.y4m", "-m", gated_filter, "--json")
    mine = _filter(
        enc, "-o", tmp_path / "b.y4m", "-m", gated_filter, "--json",
        "--gate-scorer", tmp_path / "mine" / "nr_stream_v2.onnx",
    )  # fmt: skip
    assert own.returncode == 0 and mine.returncode == 0, mine.stderr
    g_own, g_mine = json.loads(own.stdout)["gate"], json.loads(mine.stdout)["gate"]
    assert g_own["model"] == "nr_stream_v2" and g_mine["model"] == str(
        tmp_path / "mine" / "nr_stream_v2.onnx"
    )
    assert g_mine["nr_score_mean"] == pytest.approx(g_own["nr_score_mean"], abs=1e-4)
    assert (tmp_path / "a.y4m").read_bytes() == (tmp_path / "b.y4m").read_bytes()
    # not a stream model; with --no-gate; on a filter without a gate: one line, exit 2
    for extra, fragment in (
        (["--gate-scorer", "nr_metric_v2"], "--gate-scorer 'nr_metric_v2' (kind nr) is not a"),
        (["--gate-scorer", "nr_stream_v2", "--no-gate"], "--no-gate is set"),
        (["--gate-scorer", "nr_stream_v2", "-m", "learned_filter_v1"], "has no quality gate"),
    ):
        model = [] if "-m" in extra else ["-m", gated_filter]
        r = _filter(enc, "-o", tmp_path / "c.y4m", *model, *extra)
        err = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert r.returncode == 2 and len(err) == 1 and fragment in err[0], r.stderr
        assert not (tmp_path / "c.y4m").exists()
    # raw input cannot be gated: a scorer that cannot load says so first, and the advice for
    # filtering anyway does not lead into the --no-gate refusal above
    raw = lavfi_clip(ffmpeg, tmp_path / "in.y4m", frames=3)
    for scorer, fragment in (
        ("nosuch_v1", "--gate-scorer 'nosuch_v1' cannot be loaded"),
        ("nr_stream_v2", "drop --gate-scorer and pass --no-gate"),
    ):
        r = _filter(raw, "-o", tmp_path / "c.y4m", "-m", gated_filter, "--gate-scorer", scorer)
        err = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert r.returncode == 2 and len(err) == 1 and fragment in err[0], r.stderr
    # a scorer whose sidecar names a stream feature the runtime does not compute fails to load
    # (before: only while scoring, blamed on the filter, and never on raw input)
    (tmp_path / "odd").mkdir()
    shutil.copyfile(shipped_zoo() / "nr_stream_v2.onnx", tmp_path / "odd" / "nr_stream_v2.onnx")
    side = json.loads((shipped_zoo() / "nr_stream_v2.json").read_text())
    side["feature_order"] = ["bogus_feat", *side["feature_order"][1:]]
    (tmp_path / "odd" / "nr_stream_v2.json").write_text(json.dumps(side))
    for src in (enc, raw):
        r = _filter(src, "-o", tmp_path / "c.y4m", "-m", gated_filter,
                    "--gate-scorer", tmp_path / "odd" / "nr_stream_v2.onnx")  # fmt: skip
        err = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert r.returncode == 2 and len(err) == 1, r.stderr
        assert "--gate-scorer" in err[0] and "bogus_feat" in err[0], err[0]
