"""NR models fed (frame, previous frame) pairs: sidecar ``frame.temporal = "previous"``.

A hand-built model scores 100 * mean |frame - previous|; the runtime's per-frame scores must equal
that computed in numpy from the same decoded frames (first frame: 0, it is its own previous), and
a sidecar that asks for pairs on a one-channel input is refused at load time.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from tests.support.clips import lavfi_clip
from vmaf_tiny.errors import VmafTinyError
from vmaf_tiny.nr import score_nr, with_previous
from vmaf_tiny.session import load_model
from vmaf_tiny.video import read_luma

W, H = 64, 36


def _tdiff_model(out: Path, channels: int = 2, temporal: str = "previous") -> Path:
    """[N, C, H, W] -> 100 * mean |x0 - x1| as [N, 1] (a 1x1 convolution with weights 1, -1)."""
    x = helper.make_tensor_value_info("frame", TensorProto.FLOAT, ["N", channels, H, W])
    y = helper.make_tensor_value_info("score", TensorProto.FLOAT, ["N", 1])
    w = np.zeros((1, channels, 1, 1), np.float32)
    w[0, 0], w[0, -1] = 1.0, -1.0
    nodes = [
        helper.make_node("Conv", ["frame", "w"], ["d"]),
        helper.make_node("Abs", ["d"], ["a"]),
        helper.make_node("GlobalAveragePool", ["a"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("Mul", ["f", "hundred"], ["score"]),
    ]
    inits = [
        numpy_helper.from_array(w, "w"),
        numpy_helper.from_array(np.array([100.0], np.float32), "hundred"),
    ]
    m = helper.make_model(
        helper.make_graph(nodes, "tdiff", [x], [y], inits),
        opset_imports=[helper.make_opsetid("", 17)],
    )
    m.ir_version = 8
    onnx.checker.check_model(m)
    out.mkdir(parents=True, exist_ok=True)
    (out / "tdiff.onnx").write_bytes(m.SerializeToString())
    side = {
        "schema_version": 1,
        "id": "tdiff",
        "kind": "nr",
        "class": "C2",
        "onnx": "tdiff.onnx",
        "opset": 17,
        "smoke": True,
        "inputs": [
            {"name": "frame", "dtype": "float32", "shape": ["N", channels, H, W], "role": "frame"}
        ],
        "outputs": [{"name": "score", "dtype": "float32", "shape": ["N", 1], "role": "score"}],
        "frame": {
            "channels": "luma",
            "resize": [W, H],
            "crop": None,
            "pooling": "mean",
            "temporal": temporal,
        },
        "output": {"target": "vmaf", "range": [0.0, 100.0], "clamp": False},
    }
    (out / "tdiff.json").write_text(json.dumps(side))
    return out / "tdiff.onnx"


def test_with_previous_pairs_each_frame_with_the_one_before() -> None:
    frames = [np.full((2, 3), v, np.float32) for v in (1.0, 2.0, 3.0)]
    got = list(with_previous(frames))
    assert [g.shape for g in got] == [(2, 2, 3)] * 3
    assert [(float(g[0, 0, 0]), float(g[1, 0, 0])) for g in got] == [(1, 1), (2, 1), (3, 2)]


def test_temporal_nr_scores_frame_differences(ffmpeg, tmp_path: Path) -> None:
    clip = lavfi_clip(ffmpeg, tmp_path / "c.y4m", size="128x72", frames=5)
    model = _tdiff_model(tmp_path / "m")
    res = score_nr(clip, model, backend="cpu")
    luma = np.stack(list(read_luma(clip, size=(W, H))))
    prev = np.concatenate([luma[:1], luma[:-1]])
    want = 100.0 * np.abs(luma - prev).mean(axis=(1, 2))
    np.testing.assert_allclose(res.frames, want, rtol=1e-4, atol=1e-4)
    assert res.frames[0] == 0.0 and (np.asarray(res.frames[1:]) > 0).all()  # testsrc2 moves


def test_temporal_sidecar_on_a_one_channel_input_is_refused(tmp_path: Path) -> None:
    model = _tdiff_model(tmp_path / "m", channels=1)
    with pytest.raises(VmafTinyError, match="2 channel"):
        load_model(model, backend="cpu")


def test_non_temporal_two_channel_input_is_refused(tmp_path: Path) -> None:
    model = _tdiff_model(tmp_path / "m", temporal="none")
    with pytest.raises(VmafTinyError, match="1 channel"):
        load_model(model, backend="cpu")


def test_subsample_keeps_the_previous_decoded_frame_as_the_pair(ffmpeg, tmp_path: Path) -> None:
    """--subsample drops scores, not decoded frames: frame 2's pair is frame 1 (as training's
    ``vmaf_train.nr_pixel.pairs`` over every decoded frame), on the one- and many-model paths."""
    import subprocess
    import sys

    clip = lavfi_clip(ffmpeg, tmp_path / "c.y4m", size="128x72", frames=5)
    model = _tdiff_model(tmp_path / "m")
    full = np.asarray(score_nr(clip, model, backend="cpu").frames)
    cli = Path(sys.executable).parent / "vmaf-tiny"
    for extra in ([], ["-m", "nr_metric_v2"]):
        out = tmp_path / "s.csv"
        args = [cli, "score", "--no-reference", "-d", clip, "-m", model, *extra]
        run = subprocess.run(
            [*map(str, args), "--subsample", "2", "-o", str(out)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
        rows = np.genfromtxt(out, delimiter=",", names=True)
        assert rows["frame"].tolist() == [0, 2, 4]
        np.testing.assert_allclose(rows["tdiff"], full[[0, 2, 4]], rtol=1e-5, atol=1e-5)
