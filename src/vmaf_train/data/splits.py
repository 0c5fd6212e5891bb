"""Deterministic splits: hash buckets by key, and leave-one-source-out folds.

A key's split depends only on the key and the salt, never on the other keys or their order, so
adding content never moves existing content between splits. Training and evaluation split on
``source_id``: one content never sits in two splits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from vmaf_tiny.errors import BadInputError

__all__ = [
    "DEFAULT_SALT",
    "Fold",
    "Splits",
    "bucket",
    "kfold_groups",
    "loso_folds",
    "split_keys",
]

DEFAULT_SALT = "vmaf-train-splits-v1"


@dataclass(frozen=True)
class Splits:
    """Sorted, disjoint lists of keys."""

    train: list[str]
    val: list[str]
    test: list[str]

    def of(self, key: str) -> str:
        """Which split a key is in ("train", "val" or "test")."""
        for name in ("train", "val", "test"):
            if key in getattr(self, name):
                return name
        raise KeyError(key)


def bucket(key: str, salt: str = DEFAULT_SALT) -> float:
    """First 8 bytes (big-endian) of sha256(f"{salt}:{key}") divided by 2**64: in [0, 1)."""
    digest = hashlib.sha256(f"{salt}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_keys(
    keys: Iterable[str],
    *,
    val_frac: float = 0.1,
    test_frac: float = 0.1,
    salt: str = DEFAULT_SALT,
) -> Splits:
    """Assign each key to train/val/test by its hash bucket.

    bucket < test_frac -> test; < test_frac + val_frac -> val; else train.

    Raises:
        BadInputError: a fraction is negative or NaN, or they sum to >= 1.
    """
    if not (val_frac >= 0 and test_frac >= 0 and val_frac + test_frac < 1):  # NaN fails too
        raise BadInputError(
            f"split fractions must be >= 0 and sum to < 1 (val {val_frac!r}, test {test_frac!r})"
        )
    train: set[str] = set()
    val: set[str] = set()
    test: set[str] = set()
    for k in keys:
        b = bucket(k, salt)
        if b < test_frac:
            test.add(k)
        elif b < test_frac + val_frac:
            val.add(k)
        else:
            train.add(k)
    return Splits(sorted(train), sorted(val), sorted(test))


@dataclass(frozen=True)
class Fold:
    """One cross-validation fold over sources."""

    name: str
    train: list[str]
    test: list[str]


def loso_folds(sources: Sequence[str], *, held_out: Sequence[str] | None = None) -> list[Fold]:
    """Leave-one-source-out: one fold per held-out source, trained on all the others.

    Args:
        sources: Every source id.
        held_out: The sources that get a fold (default: all). Sources not in ``held_out``
            (for example synthetic content) stay in training in every fold.
    """
    all_src = sorted(set(sources))
    targets = sorted(set(held_out)) if held_out is not None else all_src
    missing = [s for s in targets if s not in all_src]
    if missing:
        raise ValueError(f"held-out sources not present: {missing}")
    return [Fold(s, [o for o in all_src if o != s], [s]) for s in targets]


def kfold_groups(sources: Sequence[str], k: int, *, salt: str = DEFAULT_SALT) -> list[Fold]:
    """K folds grouped by source: sources ordered by hash bucket, dealt round-robin."""
    all_src = sorted(set(sources))
    if k < 2 or k > len(all_src):
        raise ValueError(f"k must be in [2, {len(all_src)}], got {k}")
    ordered = sorted(all_src, key=lambda s: bucket(s, salt))
    groups = [ordered[i::k] for i in range(k)]
    return [
        Fold(f"fold{i}", sorted(s for s in all_src if s not in g), sorted(g))
        for i, g in enumerate(groups)
    ]
