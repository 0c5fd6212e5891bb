"""Fast model recipes (``configs/models/vmaf_tiny_fast_*.toml``, ``kind = "fast"``): reading
and validating them. Training is :mod:`vmaf_train.fit.fast`."""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vmaf_tiny.errors import BadInputError
from vmaf_tiny.fast import FAST_FEATURES, OperatingPoint

__all__ = ["MODELS", "FastRecipe", "is_fast_recipe", "load_fast_recipe"]

_FAST_KEYS = {"bands", "fraction", "subsample"}
_ARCH_KEYS = {"features", "hidden", "model", "alpha"}
MODELS = ("ridge_residual", "mlp")
_TRAIN_KEYS = {"seed", "epochs", "batch_size", "lr", "weight_decay", "threads"}
_RECIPE_KEYS = {"id", "description", "kind", "class", "license", "level", "fast", "arch", "train"}


@dataclass(frozen=True)
class FastRecipe:
    """A fast model recipe (``configs/models/vmaf_tiny_fast_*.toml``).

    Attributes:
        id: Model id.
        description: One line for the sidecar and card.
        level: ``--fast-level`` number.
        op: Operating point (``[fast]``: bands, fraction, subsample).
        features: Input columns, a subset of :data:`vmaf_tiny.fast.FAST_FEATURES`.
        hidden: Hidden layer widths (``mlp``).
        model: ``ridge_residual`` (the sample's own vmaf_v0.6.1 plus a ridge correction fitted
            to the residual: one Gemm) or ``mlp``.
        alpha: Ridge penalty on the standardised features (``ridge_residual``).
        seed: Training seed.
        epochs: Epochs (no early stopping: the result does not depend on machine load).
        batch_size: Mini-batch size.
        lr: Adam learning rate (cosine decay to 0).
        weight_decay: AdamW weight decay.
        threads: torch threads.
        raw: The parsed TOML.
    """

    id: str
    description: str
    level: int
    op: OperatingPoint
    features: tuple[str, ...] = FAST_FEATURES
    hidden: tuple[int, ...] = (16, 8)
    model: str = "ridge_residual"
    alpha: float = 1000.0
    seed: int = 0
    epochs: int = 200
    batch_size: int = 256
    lr: float = 0.003
    weight_decay: float = 0.0
    threads: int = 1
    raw: dict[str, Any] = field(default_factory=dict)

    def sha256(self) -> str:
        body = json.dumps(self.raw, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(body.encode()).hexdigest()


def is_fast_recipe(path: str | os.PathLike[str]) -> bool:
    """True if the TOML at ``path`` declares ``kind = "fast"`` (False if unreadable)."""
    try:
        return tomllib.loads(Path(path).read_text()).get("kind") == "fast"
    except (OSError, tomllib.TOMLDecodeError):
        return False


def load_fast_recipe(path: str | os.PathLike[str]) -> FastRecipe:
    """Read and validate a fast recipe.

    Raises:
        BadInputError: unreadable file, unknown keys or out-of-range values (one line).
    """
    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise BadInputError(f"{p.name}: cannot read recipe ({exc})") from None
    unknown = sorted(set(raw) - _RECIPE_KEYS)
    if unknown:
        raise BadInputError(f"{p.name}: unknown key(s) {unknown}")
    if raw.get("kind") != "fast":
        raise BadInputError(f"{p.name}: kind must be 'fast' for a fast recipe")
    fast, arch, train = raw.get("fast", {}), raw.get("arch", {}), raw.get("train", {})
    for name, table, allowed in (
        ("fast", fast, _FAST_KEYS),
        ("arch", arch, _ARCH_KEYS),
        ("train", train, _TRAIN_KEYS),
    ):
        extra = sorted(set(table) - allowed)
        if extra:
            raise BadInputError(f"{p.name}: unknown key(s) in [{name}]: {extra}")
    try:
        op = OperatingPoint(int(fast["bands"]), float(fast["fraction"]), int(fast["subsample"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise BadInputError(f"{p.name}: [fast] needs bands, fraction, subsample ({exc})") from None
    except Exception as exc:  # BadModelError from the range checks
        raise BadInputError(f"{p.name}: [fast] {exc}") from None
    feats = tuple(arch.get("features", FAST_FEATURES))
    bad = [f for f in feats if f not in FAST_FEATURES]
    if bad or not feats:
        raise BadInputError(f"{p.name}: arch.features {bad} not in {list(FAST_FEATURES)}")
    hidden = tuple(int(h) for h in arch.get("hidden", (16, 8)))
    if not hidden or any(h < 1 or h > 64 for h in hidden) or len(hidden) > 4:
        raise BadInputError(f"{p.name}: arch.hidden must be 1..4 widths in 1..64")
    model = str(arch.get("model", "ridge_residual"))
    if model not in MODELS:
        raise BadInputError(f"{p.name}: arch.model must be one of {list(MODELS)}, got {model!r}")
    alpha = float(arch.get("alpha", 1000.0))
    if not (alpha >= 0 and np.isfinite(alpha)):
        raise BadInputError(f"{p.name}: arch.alpha must be finite and >= 0")
    if model == "ridge_residual" and "sample_vmaf" not in feats:
        raise BadInputError(f"{p.name}: ridge_residual needs 'sample_vmaf' among arch.features")
    rec = FastRecipe(
        id=str(raw["id"]),
        description=str(raw.get("description", raw["id"])),
        level=int(raw.get("level", 1)),
        op=op,
        features=feats,
        hidden=hidden,
        model=model,
        alpha=alpha,
        seed=int(train.get("seed", 0)),
        epochs=int(train.get("epochs", 200)),
        batch_size=int(train.get("batch_size", 256)),
        lr=float(train.get("lr", 0.003)),
        weight_decay=float(train.get("weight_decay", 0.0)),
        threads=int(train.get("threads", 1)),
        raw=raw,
    )
    if not (rec.epochs >= 1 and rec.batch_size >= 1 and 0 < rec.lr < 1 and rec.threads >= 1):
        raise BadInputError(f"{p.name}: [train] epochs/batch_size >= 1, 0 < lr < 1, threads >= 1")
    return rec
