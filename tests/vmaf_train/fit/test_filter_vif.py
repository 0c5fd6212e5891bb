"""The filter's VIF training term (:mod:`vmaf_train.fit.vif`) against libvmaf, and
``train.init`` (starting a filter from an exported one)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from tests.support.clips import lavfi_clip, x264
from vmaf_tiny.errors import BadInputError
from vmaf_tiny.features import extract_features
from vmaf_tiny.ffmpeg import FFmpeg
from vmaf_tiny.registry import shipped_zoo
from vmaf_train.data.frames import decode
from vmaf_train.fit.filter import load_filter_weights, make_filter
from vmaf_train.fit.vif import vif_loss, vif_scales

V2_ARCH = {"model": "unshuffle", "scale": 2, "width": 16, "depth": 3, "center": 4.0}


def _vif(ref: torch.Tensor, dis: torch.Tensor) -> list[float]:
    return [float(n.sum() / d.sum()) for n, d in vif_scales(ref, dis)]


def test_vif_tracks_libvmaf_vif_scales(ffmpeg: FFmpeg, tmp_path: Path) -> None:
    graph = "testsrc2=size=320x192:rate=25,noise=alls=12:allf=t:all_seed=3"
    ref = lavfi_clip(ffmpeg, tmp_path / "ref.y4m", graph=graph, frames=3)
    for crf in (26, 44):
        dis = lavfi_clip(ffmpeg, tmp_path / f"d{crf}.mp4", graph=graph, frames=3, codec=x264(crf))
        lib = extract_features(ref, dis, n_threads=1, ffmpeg=ffmpeg).columns
        r = torch.from_numpy(decode(ref))[:, None]
        d = torch.from_numpy(decode(dis))[:, None]
        for i in range(3):
            mine = _vif(r[i : i + 1], d[i : i + 1])
            theirs = [float(lib[f"vif_scale{s}"][i]) for s in range(4)]
            assert np.allclose(mine, theirs, atol=0.04), (crf, i, mine, theirs)


def test_vif_is_one_for_the_reference_and_falls_with_loss_of_detail() -> None:
    g = torch.Generator().manual_seed(0)
    y = torch.rand(2, 1, 96, 96, generator=g)
    assert np.allclose(_vif(y, y), 1.0, atol=1e-6)
    blur = torch.nn.functional.avg_pool2d(y, 3, 1, 1, count_include_pad=False)
    noisy = (y + 0.2 * torch.randn(y.shape, generator=g)).clamp(0, 1)
    assert _vif(y, blur)[0] < 0.5 and _vif(y, noisy)[0] < 0.5  # the finest scale sees both
    # the loss is 1 for the distorted input itself, lower when detail comes back, and has a
    # gradient toward the reference
    out = blur.clone().requires_grad_(True)
    loss = vif_loss(out, blur, y)
    assert abs(float(loss.detach()) - 1.0) < 1e-6
    loss.backward()
    assert out.grad is not None and float(out.grad.abs().sum()) > 0
    assert float(vif_loss(0.5 * (blur + y), blur, y)) < 0.9


def test_enhancement_beyond_the_reference_earns_nothing() -> None:
    g = torch.Generator().manual_seed(1)
    y = 0.25 + 0.5 * torch.rand(1, 1, 96, 96, generator=g)
    boosted = (0.5 + 1.3 * (y - 0.5)).clamp(0, 1)  # more contrast: VIF > 1
    blur = torch.nn.functional.avg_pool2d(y, 3, 1, 1, count_include_pad=False)
    assert _vif(y, boosted)[0] > 1.0
    # a filter that boosts contrast scores about as well as one that gives the reference back
    assert float(vif_loss(boosted, blur, y)) == pytest.approx(float(vif_loss(y, blur, y)), rel=0.01)


def test_train_init_starts_from_an_exported_filter(tmp_path: Path) -> None:
    onnx_path = shipped_zoo() / "learned_filter_v2.onnx"
    m = make_filter(V2_ARCH)
    load_filter_weights(m, str(onnx_path))
    x = np.random.default_rng(0).random((1, 1, 64, 96), dtype=np.float32)
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    want = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    with torch.no_grad():
        got = m(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, want, atol=1e-5)
    with pytest.raises(BadInputError, match="do not fit"):
        load_filter_weights(make_filter(V2_ARCH | {"width": 8}), str(onnx_path))
    with pytest.raises(BadInputError):
        load_filter_weights(m, str(tmp_path / "none.onnx"))
    (tmp_path / "garbage.onnx").write_bytes(b"garbage\n")
    with pytest.raises(BadInputError, match="not a readable ONNX model"):
        load_filter_weights(m, str(tmp_path / "garbage.onnx"))


def test_small_patches_use_the_scales_that_fit() -> None:
    g = torch.Generator().manual_seed(2)
    y = torch.rand(2, 1, 40, 40, generator=g)
    x = torch.nn.functional.avg_pool2d(y, 3, 1, 1, count_include_pad=False)
    assert len(vif_scales(y, x)) == 3  # 40 px: scales 0..2 fit (16, then 6 px), scale 3 (2 px) not
    assert len(vif_scales(y[..., :16, :16], x[..., :16, :16])) == 0
    assert float(vif_loss(x[..., :16, :16], x[..., :16, :16], y[..., :16, :16])) == 1.0
    assert float(vif_loss(y, x, y)) < 1.0
