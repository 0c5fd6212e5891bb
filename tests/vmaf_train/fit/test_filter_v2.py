"""learned_filter_v2's pieces: the folding network, the recipe's arch switch, quality bands."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vmaf_train.fit.filter import (
    BANDS,
    detail_errors,
    detail_loss,
    make_filter,
    quality_band,
    relative_loss,
)
from vmaf_train.fit.filter_losses import patch_scores, unfiltered_mse
from vmaf_train.models.filter import ResidualFilter, UnshuffleFilter


@pytest.mark.parametrize("scale", [2, 4])
def test_unshuffle_filter_starts_as_identity_and_keeps_the_shape(scale: int) -> None:
    torch.manual_seed(0)
    m = UnshuffleFilter(width=8, depth=1, scale=scale)
    x = torch.rand(2, 1, 32, 48)
    assert torch.equal(m(x), x)  # zero-initialised last layer: the identity
    with torch.no_grad():
        m.body[-2].weight.normal_(std=0.1)
    y = m(x)
    assert y.shape == x.shape and not torch.allclose(y, x)
    # the correction is local: a change in one corner leaves the far corner untouched
    x2 = x.clone()
    x2[:, :, :4, :4] += 0.5
    assert torch.equal(m(x2)[:, :, -8:, -8:], y[:, :, -8:, -8:])


def test_make_filter_follows_the_recipe_arch() -> None:
    assert isinstance(make_filter({"width": 8, "depth": 1}), ResidualFilter)
    m = make_filter({"model": "unshuffle", "width": 8, "depth": 2, "scale": 4})
    assert isinstance(m, UnshuffleFilter) and (m.scale, m.depth) == (4, 2)
    with pytest.raises(ValueError, match=r"arch\.model"):
        make_filter({"model": "transformer", "width": 8, "depth": 1})


def test_quality_bands_cover_every_score_once() -> None:
    assert quality_band(0.0) == "vmaf<70" and quality_band(69.99) == "vmaf<70"
    assert quality_band(70.0) == "70<=vmaf<85" and quality_band(100.0) == "vmaf>=85"
    edges = [lo for _, lo, _ in BANDS[1:]]
    assert edges == [hi for _, _, hi in BANDS[:-1]]


@pytest.mark.parametrize("cls", [ResidualFilter, UnshuffleFilter])
def test_centred_filter_scales_the_body_in_and_out(cls: type) -> None:
    torch.manual_seed(0)
    m = cls(width=8, depth=1, center=4.0)
    x = torch.rand(2, 1, 16, 24)
    assert torch.equal(m(x), x)  # still the identity at the start
    with torch.no_grad():
        for p in m.parameters():
            p.normal_(std=0.2)
    want = x + m.body((x - 0.5) * 4.0) / 4.0
    assert torch.allclose(m(x), want, atol=1e-6)
    plain = cls(width=8, depth=1)
    plain.load_state_dict(m.state_dict())
    assert not torch.allclose(plain(x), m(x))  # the centring is part of the graph


def test_relative_loss_weighs_every_patch_by_its_own_error() -> None:
    y = torch.rand(2, 1, 8, 8)
    x = y.clone()
    x[0] += 0.1  # a badly coded patch
    x[1] += 0.001  # a nearly clean one
    assert float(relative_loss(x, x, y, 0.0)) == pytest.approx(1.0)  # identity
    assert float(relative_loss(y, x, y, 0.0)) == pytest.approx(0.0)
    # halving the big error alone gains what halving the small one alone gains
    a, b = x.clone(), x.clone()
    a[0] = y[0] + 0.05
    b[1] = y[1] + 0.0005
    assert float(relative_loss(a, x, y, 0.0)) == pytest.approx(
        float(relative_loss(b, x, y, 0.0)), rel=1e-4
    )
    # plain MSE sees only the big patch
    assert float(((b - y) ** 2).mean()) > 0.99 * float(((x - y) ** 2).mean())


def test_centred_relative_training_removes_a_coding_pattern() -> None:
    """80 Adam steps on a fixed 2x2 coding pattern: the v2 recipe's centred arch and relative
    loss take most of it out (a sign or scale slip in the centring would not)."""
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    pattern = 0.01 * torch.sign(torch.randn(1, 1, 2, 2, generator=gen)).repeat(1, 1, 8, 8)

    def batch() -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.nn.functional.interpolate(torch.rand(8, 1, 4, 4, generator=gen), size=16)
        return (y + pattern).clamp(0, 1), y

    def gain(center: float) -> float:  # PSNR gain (dB) on a fresh batch
        m = make_filter({"model": "unshuffle", "width": 8, "depth": 1, "scale": 2,
                         "center": center})  # fmt: skip
        opt = torch.optim.Adam(m.parameters(), 1e-3)
        for _ in range(80):
            x, y = batch()
            out = m(x)
            loss = relative_loss(out, x, y, 1e-5)
            opt.zero_grad()
            loss.backward()
            opt.step()
        x, y = batch()
        with torch.no_grad():
            return float(10 * torch.log10(((x - y) ** 2).mean() / ((m(x) - y) ** 2).mean()))

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        v2 = gain(4.0)
    finally:
        torch.set_num_threads(threads)
    assert v2 > 6.0, v2


def test_filter_recipe_keys_default_to_v1_behaviour(tmp_path) -> None:
    from vmaf_tiny.errors import BadInputError
    from vmaf_train.recipes import load_recipe

    v1, v2 = (
        load_recipe("learned_filter_v1", kind="filter"),
        load_recipe("learned_filter_v2", kind="filter"),
    )
    assert (v1.arch["center"], v1.train["loss"]) == (0.0, "mse")
    assert "center" not in v1.resolved()["arch"] and "loss" not in v1.resolved()["train"]
    assert (v2.arch["center"], v2.train["loss"]) == (4.0, "relative")
    assert v2.resolved()["train"]["loss"] == "relative"
    assert make_filter(v2.arch).center == 4.0 and make_filter(v1.arch).center == 0.0
    with pytest.raises(BadInputError, match=r"train\.loss"):
        load_recipe("learned_filter_v1", {"train": {"loss": "l1"}})
    with pytest.raises(BadInputError, match=r"unknown key"):
        load_recipe("nr_metric_v1", {"train": {"loss": "relative"}})  # filter-only key


def test_detail_loss_asks_for_the_reference_texture_strength() -> None:
    gen = torch.Generator().manual_seed(3)
    y = torch.rand(2, 1, 16, 16, generator=gen)
    blur = torch.nn.functional.avg_pool2d(y, 3, 1, 1, count_include_pad=False)
    assert float(detail_loss(blur, blur, y, 0.0)) == pytest.approx(1.0)  # identity
    assert float(detail_loss(y, blur, y, 0.0)) == pytest.approx(0.0, abs=1e-6)
    # smoothing the coded patch further loses texture: worse than the identity
    blur2 = torch.nn.functional.avg_pool2d(blur, 3, 1, 1, count_include_pad=False)
    assert float(detail_loss(blur2, blur, y, 0.0)) > 1.0
    # the magnitude counts, not the sign: a mirrored texture of the right strength beats the blur
    assert float(detail_loss(1.0 - y, blur, y, 0.0)) < 0.05
    e = detail_errors(y, blur, y)
    assert e.shape == (2, 2) and torch.all(e[:, 1] > 0)


def test_filter_recipe_gate_and_detail_are_checked() -> None:
    from vmaf_tiny.errors import BadInputError
    from vmaf_train.fit.filter import filter_sidecar
    from vmaf_train.recipes import load_recipe

    v1 = load_recipe("learned_filter_v1", kind="filter")
    assert not v1.gate and "gate" not in v1.resolved() and "gate" not in filter_sidecar(v1, 17)
    assert "detail" not in v1.resolved()["train"]
    gated = load_recipe(
        "learned_filter_v1",
        {"gate": {"model": "nr_stream_v2"}, "train": {"loss": "relative", "detail": 0.5}},
        kind="filter",
    )
    side = filter_sidecar(gated, 17)
    assert side["gate"] == {"model": "nr_stream_v2", "full_below": 70.0, "off_above": 90.0}
    assert gated.resolved()["gate"]["eval_model"] == ""
    bad = [
        ({"gate": {"model": "nr_stream_v2", "full_below": 90.0, "off_above": 80.0}}, "full_below"),
        ({"gate": {"model": "nr_stream_v2", "off_above": 120.0}}, "off_above"),
        ({"gate": {"model": ""}}, "gate.model"),
        ({"gate": {"model": "nr_stream_v2", "mode": "x"}}, "unknown key"),
        ({"train": {"detail": -1.0, "loss": "relative"}}, "train.detail"),
        ({"train": {"detail": 0.5}}, "needs train.loss"),
    ]
    for change, fragment in bad:
        with pytest.raises(BadInputError, match=fragment):
            load_recipe("learned_filter_v1", change, kind="filter")
    with pytest.raises(BadInputError, match="filter recipes"):
        load_recipe("nr_metric_v1", {"gate": {"model": "nr_stream_v2"}})


def test_patch_scores_report_the_filtered_mse_and_the_per_patch_gain() -> None:
    """The selection report: the identity keeps the unfiltered MSE at 0 dB; a filter that halves
    every pixel's error gains 10 log10 4 (6.02) dB on each (both figures from one model pass)."""
    gen = np.random.default_rng(0)
    y = gen.integers(40, 200, (6, 16, 16)).astype(np.uint8)
    x = (y.astype(np.int16) + gen.choice([-4, 4], y.shape)).astype(np.uint8)
    data = {"x": x, "y": y}

    class Halve(torch.nn.Module):  # moves each pixel halfway to its reference
        def forward(self, t: torch.Tensor) -> torch.Tensor:
            ref = torch.from_numpy(y.astype(np.float32) / 255.0)[:, None]
            return (t + ref) / 2

    ident = patch_scores(torch.nn.Identity(), data)
    assert ident["patch_gain_db"] == pytest.approx(0.0, abs=1e-6)
    assert ident["patch_mse"] == pytest.approx(unfiltered_mse(data), rel=1e-5)
    half = patch_scores(Halve(), data)
    assert half["patch_gain_db"] == pytest.approx(10 * np.log10(4.0), abs=1e-3)
    assert half["patch_mse"] == pytest.approx(unfiltered_mse(data) / 4, rel=1e-4)
    assert patch_scores(Halve(), {"x": x[:0], "y": y[:0]}) == {
        "patch_mse": 0.0,
        "patch_gain_db": 0.0,
    }


@pytest.mark.parametrize(
    ("recipe", "kind", "overrides", "fragment"),
    [
        ("learned_filter_v16", "filter", ["arch.model=residual"], "plain or unshuffle"),
        ("nr_metric_v1", "nr", ["arch.model=transformer"], "cnn or stats"),
        ("saliency_student_v2", "saliency", ["arch.model=unet"], "encdec or lowres"),
        ("learned_filter_v16", "filter", ["train=1"], "train is a table"),
        ("learned_filter_v16", "filter", ["goals=2"], "goals is a table"),
        ("learned_filter_v1", "filter", ["int8=1"], r"\[int8\]: must be a table"),
    ],
)
def test_recipe_refuses_an_unknown_network_and_a_table_set_to_a_value(
    recipe: str, kind: str, overrides: list[str], fragment: str
) -> None:
    """Found by a hostile pass: these reached the fit as a ValueError/TypeError (exit 1), or, for
    an NR recipe, trained the CNN for any name that was not "stats"."""
    from vmaf_tiny.errors import BadInputError
    from vmaf_train.recipes import load_recipe, parse_overrides

    with pytest.raises(BadInputError, match=fragment):
        load_recipe(recipe, parse_overrides(overrides), kind=kind)
