"""``data.augment``: the symmetries a filter's training patches are drawn under."""

from __future__ import annotations

import numpy as np
import pytest

from vmaf_tiny.errors import BadInputError
from vmaf_train.fit.filter import patch_batches
from vmaf_train.recipes import load_recipe

#: The square's eight symmetries, as maps of an (H, W) patch.
SYMMETRIES = {
    "identity": lambda a: a,
    "hflip": lambda a: a[:, ::-1],
    "vflip": lambda a: a[::-1],
    "rot180": lambda a: a[::-1, ::-1],
    "transpose": lambda a: a.T,
    "rot90": lambda a: a.T[:, ::-1],
    "rot270": lambda a: a.T[::-1],
    "antitranspose": lambda a: a[::-1, ::-1].T,
}


def _data(n: int = 48, p: int = 8) -> dict[str, np.ndarray]:
    x = np.random.default_rng(3).integers(0, 256, (n, p, p), dtype=np.uint8)
    return {"x": x, "y": 255 - x}  # a reference tied to its patch, to check the pairing


def _seen(augment: str, epochs: int = 3) -> set[str]:
    cfg = load_recipe(
        "learned_filter_v3",
        {"data": {"augment": augment}, "train": {"batch_size": 16}},
        kind="filter",
    )
    data = _data()
    seen: set[str] = set()
    n = 0
    for epoch in range(epochs):
        for xb, yb in patch_batches(data, cfg, epoch):
            x = np.rint(xb.numpy()[:, 0] * 255).astype(np.int64)
            y = np.rint(yb.numpy()[:, 0] * 255).astype(np.int64)
            assert np.array_equal(y, 255 - x)  # distorted and reference moved together
            for patch in x:
                hits = [
                    name
                    for name, f in SYMMETRIES.items()
                    if any(np.array_equal(f(src.astype(np.int64)), patch) for src in data["x"])
                ]
                assert hits, "a batch patch is no symmetry of any training patch"
                seen.update(hits)
                n += 1
    assert n == epochs * len(data["x"])  # every patch once per epoch
    return seen


def test_hflip_draws_only_horizontal_mirrors() -> None:
    assert _seen("hflip") == {"identity", "hflip"}


def test_none_draws_the_patches_as_decoded() -> None:
    assert _seen("none") == {"identity"}


def test_dihedral_draws_all_eight_symmetries_with_the_pairs_intact() -> None:
    assert _seen("dihedral") == set(SYMMETRIES)


def test_recipe_augment_is_checked_and_quiet_at_its_default() -> None:
    v3 = load_recipe("learned_filter_v3", kind="filter")
    assert v3.data["augment"] == "hflip" and "augment" not in v3.resolved()["data"]
    cfg = load_recipe("learned_filter_v3", {"data": {"augment": "dihedral"}}, kind="filter")
    assert cfg.resolved()["data"]["augment"] == "dihedral"
    for bad in ("vflip", "", 1, None):
        with pytest.raises(BadInputError, match=r"augment"):
            load_recipe("learned_filter_v3", {"data": {"augment": bad}}, kind="filter")


def test_recipe_patch_must_fit_the_fold() -> None:
    """A patch the 2x2 fold cannot split, or none at all, is refused at load (it once crashed
    training after decoding)."""
    assert load_recipe("learned_filter_v3", {"data": {"patch": 32}}, kind="filter").data["patch"]
    for bad in (0, 4, 33, -96):
        with pytest.raises(BadInputError, match=r"data\.patch"):
            load_recipe("learned_filter_v3", {"data": {"patch": bad}}, kind="filter")
    for bad in (0, -8):  # 0 once crashed training (ZeroDivisionError)
        with pytest.raises(BadInputError, match=r"data\.align: -?\d+ \(integers 1\.\.65536\)"):
            load_recipe("learned_filter_v7", {"data": {"align": bad}}, kind="filter")
