"""Saliency: the spectral-residual teacher, map metrics, the student run, PNG maps."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.support.clips import lavfi_clip
from tests.support.pixels_helpers import files_in
from vmaf_tiny.errors import BadInputError, BadModelError
from vmaf_tiny.saliency import encode_png_gray, resize_bilinear, saliency_maps
from vmaf_train.data.teacher import TeacherParams, centre_prior, spectral_residual
from vmaf_train.evaluate.metrics import map_cc, top_iou
from vmaf_train.ship.onnx_io import ort_session


def _blob_frame(cy: int, cx: int, h: int = 144, w: int = 256) -> np.ndarray:
    rng = np.random.default_rng(0)
    img = 0.5 + 0.01 * rng.standard_normal((h, w))
    img[cy - 8 : cy + 8, cx - 8 : cx + 8] = 1.0
    return img.astype(np.float32)


def test_teacher_finds_an_odd_object_and_is_deterministic() -> None:
    no_bias = TeacherParams(centre_weight=0.0)
    m = spectral_residual(_blob_frame(40, 180), (36, 64), no_bias)
    assert m.shape == (36, 64) and m.dtype == np.float32
    assert m.min() == 0.0 and m.max() == pytest.approx(1.0)
    y, x = np.unravel_index(np.argmax(m), m.shape)
    assert abs(y - 10) <= 3 and abs(x - 45) <= 3  # the blob, at 1/4 scale
    assert np.array_equal(m, spectral_residual(_blob_frame(40, 180), (36, 64), no_bias))
    # the centre bias pulls mass towards the middle
    biased = spectral_residual(_blob_frame(40, 180), (36, 64), TeacherParams(centre_weight=1.0))
    prior = centre_prior(36, 64)
    assert map_cc(biased, prior) > map_cc(m, prior)


def test_map_metrics() -> None:
    a = np.arange(100, dtype=float).reshape(10, 10)
    assert map_cc(a, a) == pytest.approx(1.0)
    assert map_cc(a, -a) == pytest.approx(-1.0)
    assert top_iou(a, a, 0.2) == 1.0
    assert top_iou(a, -a, 0.2) == 0.0
    assert np.isnan(map_cc(a, np.ones_like(a)))
    with pytest.raises(BadInputError):
        top_iou(a, a, 1.5)


def test_png_encoder_roundtrips_through_ffmpeg(ffmpeg, tmp_path: Path) -> None:
    img = (np.arange(37 * 53) % 256).astype(np.uint8).reshape(37, 53)
    p = tmp_path / "m.png"
    p.write_bytes(encode_png_gray(img))
    out = subprocess.run(
        [ffmpeg.path, "-v", "error", "-i", str(p), "-f", "rawvideo", "-pix_fmt", "gray", "-"],
        capture_output=True,
        check=True,
    )
    assert np.array_equal(np.frombuffer(out.stdout, np.uint8).reshape(37, 53), img)
    up = resize_bilinear(np.full((9, 16), 0.25, np.float32), (90, 160))
    assert up.shape == (90, 160) and np.allclose(up, 0.25)


def test_student_run_is_complete_and_measured(sal_run: Path) -> None:
    assert {"model.onnx", "model.json", "metrics.json", "report.json"} <= files_in(sal_run)
    m = json.loads((sal_run / "metrics.json").read_text())
    t = m["test"]["frame"]
    assert t["n"] > 0 and -1.0 <= t["cc"] <= 1.0 and 0.0 <= t["iou_top"] <= 1.0
    sp = m["latency"]
    assert sp["teacher_ms_per_frame"] > 0 and sp["student_ms_per_frame_b1"] > 0
    side = json.loads((sal_run / "model.json").read_text())
    assert side["kind"] == "saliency" and side["outputs"][0]["role"] == "map"
    assert side["outputs"][0]["shape"] == ["N", 1, 16, 32]  # 1/4 of the 128x64 input
    assert m["export"]["max_abs_diff"] < 1e-4 and set(m["export"]["ops"]) >= {"Conv", "Resize"}


def test_saliency_maps_writes_one_png_per_frame(sal_run: Path, ffmpeg, tmp_path: Path) -> None:
    clip = lavfi_clip(ffmpeg, tmp_path / "in.y4m", size="160x90", frames=5)
    sess = ort_session(sal_run / "model.onnx")
    side = json.loads((sal_run / "model.json").read_text())

    def runner(x: np.ndarray) -> np.ndarray:
        return sess.run(None, {"frame": x})[0]

    out = tmp_path / "maps"
    res = saliency_maps(clip, out, runner, frame=side["frame"], ffmpeg=ffmpeg)
    assert res.n_frames == 5 and res.map_size == (160, 90)
    assert sorted(p.name for p in out.iterdir()) == [f"frame_{i:06d}.png" for i in range(5)]
    assert 0.0 <= res.mean_saliency <= 1.0
    small = saliency_maps(
        clip,
        tmp_path / "small",
        runner,
        frame=side["frame"],
        map_size="model",
        max_frames=2,
        ffmpeg=ffmpeg,
    )
    assert small.n_frames == 2 and small.map_size == (32, 16)
    with pytest.raises(BadInputError, match="not an empty directory"):
        saliency_maps(clip, out, runner, frame=side["frame"], ffmpeg=ffmpeg)

    def broken(x: np.ndarray) -> np.ndarray:
        return np.zeros((x.shape[0], 3), np.float32)

    with pytest.raises(BadModelError, match="expected"):
        saliency_maps(clip, tmp_path / "broken", broken, frame=side["frame"], ffmpeg=ffmpeg)
    assert not (tmp_path / "broken").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".broken")]


def test_lowres_student_sees_what_the_teacher_sees() -> None:
    """v2's student: its input stage is the teacher's area downscale, it is blind to global
    gain and offset (like the teacher), and its map is 1/4 of the input."""
    import torch

    from vmaf_train.data.teacher import resize_area
    from vmaf_train.models.saliency import LowResSaliencyStudent

    torch.manual_seed(0)
    m = LowResSaliencyStudent(input_size=(144, 256), width=4).eval()
    x = torch.rand(3, 1, 144, 256)
    pooled = m.pool(x)[0, 0].numpy()
    assert np.allclose(pooled, resize_area(x[0, 0].numpy(), (36, 64)), atol=1e-6)
    with torch.no_grad():
        y = m(x)
        y_affine = m(0.8 * x + 0.15)
    assert y.shape == (3, 1, 36, 64) and float(y.min()) >= 0.0 and float(y.max()) <= 1.0
    assert torch.allclose(y, y_affine, atol=2e-3)  # up to the norm's epsilon
    with pytest.raises(ValueError, match="divisible by 16"):
        LowResSaliencyStudent(input_size=(140, 256))


def test_saliency_recipe_names_a_known_student() -> None:
    from vmaf_train.fit.saliency import _student
    from vmaf_train.recipes import load_recipe

    repo = Path(__file__).resolve().parents[3]
    cfg = load_recipe(repo / "configs/models/saliency_student_v2.toml", kind="saliency")
    assert type(_student(cfg, (144, 256))).__name__ == "LowResSaliencyStudent"
    with pytest.raises(BadInputError, match=r"arch\.model must be encdec or lowres"):
        load_recipe(  # refused with the recipe, before any data is read
            repo / "configs/models/saliency_student_v2.toml",
            {"arch": {"model": "unet"}},
            kind="saliency",
        )
