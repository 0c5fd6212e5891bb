"""``arch.grid``: a filter that knows where each pixel sits in the codec's block grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from tests.support.pixels_helpers import FILTER_TINY, export_filter
from vmaf_tiny.allowlist import ALLOWED_OPS
from vmaf_tiny.errors import BadInputError
from vmaf_tiny.filtering import load_filter
from vmaf_train.data.frames import PixelCorpus
from vmaf_train.fit.filter import fit_filter, load_filter_weights, make_filter
from vmaf_train.recipes import load_recipe

ARCH = {"model": "unshuffle", "scale": 2, "width": 8, "depth": 2, "center": 4.0}


def _random(arch: dict, seed: int = 0, *, grid_bias: bool = True) -> torch.nn.Module:
    torch.manual_seed(seed)
    m = make_filter(arch)
    with torch.no_grad():
        for name, p in m.named_parameters():
            if grid_bias or not name.startswith("grid_bias."):
                p.normal_(std=0.2)
    return m.eval()


@pytest.mark.parametrize("model", ["unshuffle", "plain"])
def test_zero_grid_biases_leave_the_filter_as_it_was(model: str) -> None:
    arch = {**ARCH, "model": model}
    plain = _random(arch)
    grid = make_filter({**arch, "grid": 8, "grid_layers": 3})
    missing = grid.load_state_dict(plain.state_dict(), strict=False).missing_keys
    assert missing == ["grid_bias.bias.0", "grid_bias.bias.1", "grid_bias.bias.2"]
    x = torch.rand(2, 1, 30, 46)
    with torch.no_grad():
        assert torch.equal(grid.eval()(x), plain(x))


@pytest.mark.parametrize("layers", [1, 3])
def test_the_filter_commutes_with_shifts_by_the_grid_and_only_those(layers: int) -> None:
    m = _random({**ARCH, "grid": 8, "grid_layers": layers})
    x = torch.rand(1, 1, 64, 72)
    inner = (slice(None), slice(None), slice(16, -16), slice(16, -16))  # clear of the edges
    with torch.no_grad():
        y = m(x)
        by_grid = m(x[:, :, 8:, 8:]) - y[:, :, 8:, 8:]
        assert by_grid[inner].abs().max() == 0
        for dy, dx in [(2, 0), (0, 4), (2, 2)]:  # the fold's own period, but not the grid's
            moved = m(x[:, :, dy:, dx:]) - y[:, :, dy:, dx:]
            assert moved[inner].abs().max() > 1e-3
        plain = _random(ARCH, grid_bias=False)  # the same network without a grid cannot tell
        assert (plain(x[:, :, 2:, 2:]) - plain(x)[:, :, 2:, 2:])[inner].abs().max() == 0


def test_grid_filters_export_for_any_even_frame_size(tmp_path: Path) -> None:
    m = _random({**ARCH, "grid": 8, "grid_layers": 2})
    path = tmp_path / "grid.onnx"
    export_filter(m, path)
    assert {n.op_type for n in onnx.load(str(path)).graph.node} <= ALLOWED_OPS
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    for h, w in [(30, 46), (8, 2), (360, 640)]:  # half sizes 15x23 and 1x1: the last tile is cut
        x = rng.random((1, 1, h, w), dtype=np.float32)
        with torch.no_grad():
            want = m(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(sess.run(None, {"frame": x})[0], want, atol=1e-5)
    again = make_filter({**ARCH, "grid": 8, "grid_layers": 2})
    load_filter_weights(again, str(path))  # the biases come back with the rest
    for a, b in zip(again.state_dict().values(), m.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    with pytest.raises(BadInputError, match="knows the block grid"):  # its biases would be lost
        load_filter_weights(make_filter(ARCH), str(path))


def test_grid_biases_ask_no_more_memory_than_a_hidden_layer() -> None:
    """Tiled one layer at a time: at the runtime's largest frame, the largest tensor of a grid
    filter is the one of the same filter without a grid (one hidden layer's activations)."""
    import io
    import re

    from vmaf_tiny.tensor_sizes import tensor_size_problem

    def largest(arch: dict) -> str:
        buf = io.BytesIO()
        torch.onnx.export(
            make_filter(arch).eval(),
            (torch.rand(1, 1, 32, 48),),
            buf,
            input_names=["frame"],
            output_names=["restored"],
            dynamic_axes={"frame": {0: "N", 2: "H", 3: "W"}, "restored": {0: "N", 2: "H", 3: "W"}},
            opset_version=17,
            dynamo=False,
        )
        problem, summary = tensor_size_problem(onnx.load_from_string(buf.getvalue()), {})
        assert problem is None, problem
        size = re.search(r"([\d.]+ \w+) per item", summary)
        assert size, summary
        return size.group(1)  # e.g. "379.7 MiB"

    wide = {**ARCH, "width": 48, "depth": 3}
    assert largest({**wide, "grid": 8, "grid_layers": 4}) == largest(wide)


def test_recipe_grid_is_checked_and_quiet_at_its_default() -> None:
    v3 = load_recipe("learned_filter_v3", kind="filter")
    assert v3.arch["grid"] == 0 and "grid" not in v3.resolved()["arch"]  # v3's sha256 holds
    assert "grid_layers" not in v3.resolved()["arch"]
    v8 = load_recipe("learned_filter_v8", kind="filter").resolved()
    assert (v8["arch"]["grid"], v8["arch"]["grid_layers"]) == (8, 4)
    for bad, fragment in [
        ({"arch": {"grid": -8}}, "grid"),
        ({"arch": {"grid": True}}, "grid"),
        ({"arch": {"grid": 8.0}}, "grid"),
        ({"arch": {"grid": 3}}, "multiple of arch.scale"),
        ({"arch": {"views": 2}}, "views 1"),
        ({"data": {"patch": 100}}, "data.patch"),
        ({"data": {"align": 4}}, "data.align"),
        ({"arch": {"grid_layers": 0}}, "grid_layers"),
        ({"arch": {"grid_layers": 5}}, "grid_layers"),
        ({"arch": {"grid_layers": "all"}}, "grid_layers"),
    ]:
        with pytest.raises(BadInputError, match=fragment):
            load_recipe("learned_filter_v8", bad, kind="filter")


def test_a_grid_filter_trains_from_a_plain_one_and_runs_in_the_runtime(
    smoke_corpus: Path, tmp_path: Path
) -> None:
    tiny = {**FILTER_TINY, "train": {**FILTER_TINY["train"], "epochs": 1, "lr": 0.01}}
    cfg = load_recipe("learned_filter_v8", tiny, kind="filter")
    assert cfg.train["init"] == "learned_filter_v6"  # a zoo filter without a grid
    metrics = fit_filter(cfg, PixelCorpus.open(smoke_corpus), tmp_path / "run", progress=False)
    assert metrics["init"]["model"] == "learned_filter_v6"
    graph = onnx.load(str(tmp_path / "run" / "model.onnx")).graph
    biases = [i for i in graph.initializer if i.name.startswith("grid_bias.bias.")]
    assert len(biases) == 4  # one per hidden layer, each trained away from zero
    assert all(np.abs(onnx.numpy_helper.to_array(b)).max() > 0 for b in biases)
    run, _ = load_filter(tmp_path / "run" / "model.onnx")
    out = run(np.full((1, 1, 45, 63), 0.5, dtype=np.float32))  # odd: padded, then cropped
    assert out.shape == (1, 1, 45, 63) and np.isfinite(out).all()


def test_a_filter_the_runtime_would_refuse_fails_before_any_decoding(
    smoke_corpus: Path, tmp_path: Path
) -> None:
    """A plain filter 48 channels wide holds 1.5 GiB per hidden layer at 3840x2160, past the
    runtime's per-tensor cap: refused in seconds, not after training."""
    wide = {"arch": {"model": "plain", "width": 48}, "train": {"init": ""}}
    cfg = load_recipe("learned_filter_v7", wide, kind="filter")
    with pytest.raises(BadInputError, match="the runtime would refuse"):
        fit_filter(cfg, PixelCorpus.open(smoke_corpus), tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()
