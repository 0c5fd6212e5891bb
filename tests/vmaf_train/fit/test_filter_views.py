"""``arch.views``: a filter exported as a test-time ensemble over symmetries of the frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from tests.support.pixels_helpers import export_filter
from vmaf_tiny.allowlist import ALLOWED_OPS
from vmaf_tiny.errors import BadInputError
from vmaf_train.data.frames import PixelCorpus
from vmaf_train.fit.filter import fit_filter, load_filter_weights, make_filter
from vmaf_train.models.filter import FilterViews
from vmaf_train.recipes import load_recipe

ARCH = {"model": "unshuffle", "scale": 2, "width": 8, "depth": 1, "center": 4.0}


def _random_filter(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    m = make_filter(ARCH)
    with torch.no_grad():
        for p in m.parameters():
            p.normal_(std=0.2)
    return m.eval()


def test_views_average_the_filter_over_the_frame_and_its_transpose() -> None:
    m = _random_filter()
    x = torch.rand(2, 1, 12, 20)
    with torch.no_grad():
        assert torch.equal(FilterViews(m, 1)(x), m(x))
        want = (m(x) + m(x.transpose(2, 3)).transpose(2, 3)) / 2
        assert torch.allclose(FilterViews(m, 2)(x), want, atol=1e-6)
        assert not torch.allclose(FilterViews(m, 2)(x), m(x), atol=1e-4)  # it is not a no-op


@pytest.mark.parametrize("views", [2, 8])
def test_an_ensemble_over_a_group_of_symmetries_commutes_with_them(views: int) -> None:
    m = FilterViews(_random_filter(1), views)
    x = torch.rand(1, 1, 10, 14)
    with torch.no_grad():
        # the transpose is in both groups: filtering the transposed frame = transposing the output
        assert torch.allclose(m(x.transpose(2, 3)), m(x).transpose(2, 3), atol=1e-6)
        plain = _random_filter(1)
        assert not torch.allclose(plain(x.transpose(2, 3)), plain(x).transpose(2, 3), atol=1e-4)
        if views == 8:  # every mirror too
            assert torch.allclose(m(x.flip(3)), m(x).flip(3), atol=1e-6)
            assert torch.allclose(m(x.flip(2)), m(x).flip(2), atol=1e-6)


def test_views_export_to_allowed_operators_and_reload_as_the_plain_filter(tmp_path: Path) -> None:
    plain = _random_filter(2)
    path = tmp_path / "views.onnx"
    export_filter(FilterViews(plain, 4).eval(), path)
    assert {n.op_type for n in onnx.load(str(path)).graph.node} <= ALLOWED_OPS
    x = np.random.default_rng(0).random((1, 1, 30, 44), dtype=np.float32)  # not the example size
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        want = FilterViews(plain, 4)(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(sess.run(None, {"frame": x})[0], want, atol=1e-5)
    # train.init from an ensemble's export starts the plain network from the same weights
    again = make_filter(ARCH)
    load_filter_weights(again, str(path))
    for a, b in zip(again.state_dict().values(), plain.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_recipe_views_are_checked_and_quiet_at_their_default() -> None:
    v3 = load_recipe("learned_filter_v3", kind="filter")
    assert v3.arch["views"] == 1 and "views" not in v3.resolved()["arch"]  # v3's sha256 holds
    assert load_recipe("learned_filter_v6", kind="filter").resolved()["arch"]["views"] == 2
    for bad in (3, 0, True, 2.0):
        with pytest.raises(BadInputError, match=r"views"):
            load_recipe("learned_filter_v3", {"arch": {"views": bad}}, kind="filter")


def test_a_bad_train_init_fails_before_any_decoding(smoke_corpus: Path, tmp_path: Path) -> None:
    (tmp_path / "garbage.onnx").write_bytes(b"garbage\n")
    for init, fragment in [
        (str(tmp_path / "garbage.onnx"), "not a readable ONNX model"),
        ("learned_filter_v1", "do not fit"),  # another architecture
        (str(tmp_path / "none.onnx"), "no such file"),
    ]:
        cfg = load_recipe("learned_filter_v6", {"train": {"init": init}}, kind="filter")
        with pytest.raises(BadInputError, match=fragment):
            fit_filter(cfg, PixelCorpus.open(smoke_corpus), tmp_path / "run", progress=False)
        assert not (tmp_path / "run").exists()  # not even the sample cache
