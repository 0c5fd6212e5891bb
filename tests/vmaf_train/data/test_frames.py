"""Corpus clips as videos: records, source splits, decoding, seeded sampling, the sample cache."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vmaf_tiny.errors import BadInputError
from vmaf_train.data.frames import (
    PixelCorpus,
    clip_rng,
    crop_boxes,
    decode,
    gather,
    sample_indices,
    to_uint8,
)
from vmaf_train.recipes import load_recipe, parse_overrides


def test_corpus_records_match_manifest_and_table(smoke_corpus: Path, pixel_corpus) -> None:
    man = json.loads((smoke_corpus / "manifest.json").read_text())
    assert sorted(c.key for c in pixel_corpus.clips) == sorted(c["key"] for c in man["clips"])
    assert pixel_corpus.manifest_sha256 == man["manifest_sha256"]
    for c in pixel_corpus.clips:
        assert c.clip.is_file() and c.reference.is_file()
        assert c.n_frames == 8 and np.isfinite(c.vmaf).all()
    ladder = next(c for c in pixel_corpus.clips if c.distortion == "ladder")
    assert (ladder.encode_width, ladder.encode_height) != (ladder.width, ladder.height)


def test_split_is_by_source_and_disjoint(pixel_corpus) -> None:
    parts = pixel_corpus.split(val_frac=0.34, test_frac=0.33)
    srcs = {k: {c.source_id for c in v} for k, v in parts.items()}
    assert srcs["train"] and srcs["val"] and srcs["test"]
    assert not (srcs["train"] & srcs["val"]) and not (srcs["train"] & srcs["test"])
    assert not (srcs["val"] & srcs["test"])
    assert sum(len(v) for v in parts.values()) == len(pixel_corpus.clips)
    # the same fractions give the same split: it depends on the source ids only
    again = pixel_corpus.split(val_frac=0.34, test_frac=0.33)
    assert [c.key for c in again["test"]] == [c.key for c in parts["test"]]


def test_decode_ladder_at_reference_size(pixel_corpus) -> None:
    ladder = next(c for c in pixel_corpus.clips if c.distortion == "ladder")
    frames = decode(ladder.clip, size=(ladder.width, ladder.height), max_frames=3)
    assert frames.shape == (3, ladder.height, ladder.width)
    assert frames.dtype == np.float32 and frames.min() >= 0.0 and frames.max() <= 1.0
    native = decode(ladder.clip, max_frames=1)
    assert native.shape == (1, ladder.encode_height, ladder.encode_width)


def test_seeded_sampling_is_deterministic_and_keyed() -> None:
    a = sample_indices(30, 4, clip_rng(0, "clip_a", "train"))
    b = sample_indices(30, 4, clip_rng(0, "clip_a", "train"))
    c = sample_indices(30, 4, clip_rng(1, "clip_a", "train"))
    d = sample_indices(30, 4, clip_rng(0, "clip_b", "train"))
    assert np.array_equal(a, b)
    assert len(set(a.tolist())) == 4 and list(a) == sorted(a)
    assert not (np.array_equal(a, c) and np.array_equal(a, d))
    assert np.array_equal(sample_indices(5, 0, clip_rng(0, "x")), np.arange(5))
    boxes = crop_boxes(108, 192, (64, 96), 50, clip_rng(3, "k"))
    assert all(0 <= y <= 108 - 64 and 0 <= x <= 192 - 96 for y, x in boxes)
    with pytest.raises(BadInputError, match="does not fit"):
        crop_boxes(10, 10, (20, 5), 1, clip_rng(0, "k"))


def test_gather_caches_per_clip(pixel_corpus, tmp_path: Path) -> None:
    clips = pixel_corpus.clips[:3]
    calls: list[str] = []

    def work(c):
        calls.append(c.key)
        x = decode(c.clip, size=(64, 36), max_frames=2)
        return {"x": to_uint8(x), "y": c.vmaf[:2].astype(np.float32)}

    first = gather(clips, work, tag="t", params={"p": 1}, cache=tmp_path, progress=False)
    second = gather(clips, work, tag="t", params={"p": 1}, cache=tmp_path, progress=False)
    assert len(calls) == 3  # the second pass read the cache
    for k in ("x", "y", "clip"):
        assert np.array_equal(first[k], second[k])
    assert first["x"].shape == (6, 36, 64) and list(first["clip"]) == [0, 0, 1, 1, 2, 2]
    gather(clips, work, tag="t", params={"p": 2}, cache=tmp_path, progress=False)
    assert len(calls) == 6  # other parameters never reuse a stale file


def test_not_a_corpus_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="not a built corpus"):
        PixelCorpus.open(tmp_path)


def test_recipes_are_strict(tmp_path: Path) -> None:
    cfg = load_recipe("nr_metric_v1")
    assert cfg.id == "nr_metric_v1" and cfg.kind == "nr" and cfg.model_class == "C2"
    with pytest.raises(BadInputError, match="unknown key"):
        load_recipe("nr_metric_v1", {"train": {"epohcs": 3}})
    with pytest.raises(BadInputError, match="expected int"):
        load_recipe("nr_metric_v1", {"train": {"epochs": "many"}})
    bad = tmp_path / "bad.toml"
    bad.write_text('id = "x"\nkind = "nr"\nclass = "C2"\nwhatever = 1\n')
    with pytest.raises(BadInputError, match="unknown key"):
        load_recipe(bad)
    assert parse_overrides(["train.epochs=3", "data.size=[64, 36]", "split.salt=abc"]) == {
        "train": {"epochs": 3},
        "data": {"size": [64, 36]},
        "split": {"salt": "abc"},
    }
    with pytest.raises(BadInputError, match="KEY=VALUE"):
        parse_overrides(["nope"])
