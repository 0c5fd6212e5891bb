"""learned_filter_v2's pieces: the folding network, the recipe's arch switch, quality bands."""

from __future__ import annotations

import pytest
import torch

from vmaf_train.fit.filter import BANDS, make_filter, quality_band
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
