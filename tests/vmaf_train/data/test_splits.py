"""Property tests for deterministic hash splits and source folds."""

from __future__ import annotations

import hashlib
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vmaf_tiny.errors import BadInputError
from vmaf_train.data.splits import bucket, kfold_groups, loso_folds, split_keys

keys_st = st.lists(st.text(min_size=1, max_size=20), min_size=0, max_size=200, unique=True)


@given(keys_st)
def test_disjoint_and_covering(keys: list[str]) -> None:
    s = split_keys(keys)
    tr, va, te = set(s.train), set(s.val), set(s.test)
    assert not (tr & va) and not (tr & te) and not (va & te)
    assert tr | va | te == set(keys)
    assert s.train == sorted(s.train) and s.val == sorted(s.val) and s.test == sorted(s.test)


@given(keys_st, st.randoms())
def test_independent_of_order_and_deterministic(keys: list[str], rnd: random.Random) -> None:
    shuffled = list(keys)
    rnd.shuffle(shuffled)
    assert split_keys(keys) == split_keys(shuffled) == split_keys(list(keys))


@given(keys_st, keys_st)
def test_a_key_never_moves_when_others_are_added(a: list[str], b: list[str]) -> None:
    s1 = split_keys(a)
    s2 = split_keys(a + [k for k in b if k not in a])
    for k in a:
        assert s1.of(k) == s2.of(k)


@settings(max_examples=5, deadline=None)
@given(st.integers(min_value=0, max_value=10_000))
def test_fractions_within_tolerance(offset: int) -> None:
    keys = [f"clip-{offset + i}" for i in range(10_000)]
    s = split_keys(keys, val_frac=0.1, test_frac=0.1)
    assert abs(len(s.test) / 10_000 - 0.1) <= 0.015
    assert abs(len(s.val) / 10_000 - 0.1) <= 0.015


def test_bucket_definition() -> None:
    d = hashlib.sha256(b"vmaf-train-splits-v1:abc").digest()
    assert bucket("abc") == int.from_bytes(d[:8], "big") / 2**64
    assert bucket("abc", salt="other") != bucket("abc")


@pytest.mark.parametrize(("v", "t"), [(0.5, 0.5), (0.9, 0.2), (-0.1, 0.1), (float("nan"), 0.1)])
def test_bad_fractions(v: float, t: float) -> None:
    with pytest.raises(BadInputError, match="split fractions"):
        split_keys(["a"], val_frac=v, test_frac=t)


def test_loso_keeps_non_held_out_sources_in_training() -> None:
    folds = loso_folds(["a", "b", "syn1", "c"], held_out=["a", "b", "c"])
    assert [f.name for f in folds] == ["a", "b", "c"]
    for f in folds:
        assert f.test == [f.name]
        assert "syn1" in f.train and f.name not in f.train


def test_kfold_groups_partition_sources() -> None:
    src = [f"s{i}" for i in range(11)]
    folds = kfold_groups(src, 3)
    tested = sorted(s for f in folds for s in f.test)
    assert tested == sorted(src)
    for f in folds:
        assert not set(f.train) & set(f.test)
    with pytest.raises(ValueError):
        kfold_groups(src, 1)
