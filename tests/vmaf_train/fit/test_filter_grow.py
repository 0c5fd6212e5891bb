"""``train.grow``: a deeper filter started from an exported one computes exactly its function,
then trains its new layers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from vmaf_tiny.errors import BadInputError
from vmaf_tiny.registry import shipped_zoo
from vmaf_train.fit.filter import load_filter_weights, make_filter
from vmaf_train.recipes import load_recipe
from vmaf_train.ship.export import TensorSpec, export_pixel_onnx

V11 = "learned_filter_v11"
ARCH = {"model": "unshuffle", "scale": 2, "width": 16, "depth": 3, "center": 4.0}


def _onnx_out(path: Path, x: np.ndarray) -> np.ndarray:
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return np.asarray(sess.run(None, {sess.get_inputs()[0].name: x})[0])


@pytest.mark.parametrize("depth", [3, 4, 5])
def test_grown_filter_is_exactly_the_init(depth: int) -> None:
    m = make_filter(ARCH | {"depth": depth})
    load_filter_weights(m, V11, grow=True)
    # content with coding-like structure and values near 0 and 1 (the ReLUs' edges)
    x = np.random.default_rng(depth).random((2, 1, 64, 96), dtype=np.float32)
    x[:, :, :8] = 0.0
    x[:, :, -8:] = 1.0
    with torch.no_grad():
        got = m(torch.from_numpy(x)).numpy()
    want = _onnx_out(shipped_zoo() / f"{V11}.onnx", x)
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert float(np.abs(got - x).max()) > 1e-3  # the init is not the identity: a real check


def test_grown_layers_train() -> None:
    m = make_filter(ARCH | {"depth": 5})
    load_filter_weights(m, V11, grow=True)
    x = torch.rand(2, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    loss = ((m(x) - x.flip(3)) ** 2).mean()
    loss.backward()
    body = m.body
    assert isinstance(body, torch.nn.Sequential)
    added = body[9]  # the first added layer (v11's output convolution sat here)
    assert isinstance(added, torch.nn.Conv2d)
    new = added.weight.grad
    assert new is not None and float(new.abs().sum()) > 0


def test_grow_refusals(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match=r"do not fit.*train\.grow = true"):  # not asked for
        load_filter_weights(make_filter(ARCH | {"depth": 5}), V11)
    with pytest.raises(BadInputError, match="do not fit") as shallower:  # shallower: no hint
        load_filter_weights(make_filter(ARCH | {"depth": 2}), V11)
    assert "train.grow" not in str(shallower.value)
    with pytest.raises(BadInputError, match=r"cannot shrink.*arch\.depth is 3, this recipe's 2"):
        load_filter_weights(make_filter(ARCH | {"depth": 2}), V11, grow=True)
    with pytest.raises(BadInputError, match="do not fit"):  # not a filter at all
        load_filter_weights(make_filter(ARCH | {"depth": 5}), "nr_stream_v2", grow=True)
    with pytest.raises(BadInputError, match="do not fit"):  # another width
        load_filter_weights(make_filter(ARCH | {"depth": 5, "width": 8}), V11, grow=True)


def test_recipe_grow_field() -> None:
    cfg = load_recipe("learned_filter_v13", kind="filter")
    assert cfg.train["grow"] is True and cfg.arch["depth"] == 5
    assert cfg.resolved()["train"]["grow"] is True
    # older recipes resolve as before (their sha256s hold): no grow key at its default
    assert "grow" not in load_recipe("learned_filter_v11", kind="filter").resolved()["train"]
    with pytest.raises(BadInputError, match=r"grow: expected bool"):
        load_recipe("learned_filter_v13", {"train": {"grow": "yes"}}, kind="filter")
    with pytest.raises(BadInputError, match=r"needs train\.init"):
        load_recipe("learned_filter_v13", {"train": {"init": ""}}, kind="filter")


def test_grow_a_full_resolution_filter(tmp_path: Path) -> None:
    """The plain network (no fold) grows the same way, from any exported filter."""
    plain = {"model": "plain", "width": 8, "depth": 1, "center": 4.0}
    small = make_filter(plain)
    torch.manual_seed(3)
    for p in small.parameters():  # a trained-looking filter, not the zero-initialised identity
        torch.nn.init.normal_(p, std=0.2)
    path = tmp_path / "small.onnx"
    export_pixel_onnx(
        small.eval(),
        path,
        inputs=[TensorSpec("frame", ("N", 1, "H", "W"), "frame")],
        outputs=[TensorSpec("restored", ("N", 1, "H", "W"), "frame")],
        example=lambda n: (torch.rand(n, 1, 32, 32),),
    )
    big = make_filter(plain | {"depth": 4})
    load_filter_weights(big, str(path), grow=True)
    x = np.random.default_rng(5).random((1, 1, 32, 32), dtype=np.float32)
    with torch.no_grad():
        got = big(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, _onnx_out(path, x), atol=1e-5)
    assert float(np.abs(got - x).max()) > 1e-2
