"""Model recipes: ``configs/models/<id>.toml`` loaded into a validated, frozen config.

A recipe names the model (id, kind, size class), its architecture (hidden widths, activation,
where the input standardisation lives, the codec block), what it predicts (target, clamp) and how
it is trained (seed, epochs, optimiser, split fractions). Unknown keys are errors, so a typo never
silently trains the default.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from vmaf_tiny.errors import BadInputError

__all__ = [
    "ArchConfig",
    "GoalsConfig",
    "ModelConfig",
    "OutputConfig",
    "SplitConfig",
    "TrainConfig",
    "config_from_dict",
    "config_sha256",
    "load_config",
]

_ID_RE = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
ACTIVATIONS = ("relu", "gelu", "gelu_tanh")
NORMALIZATIONS = ("baked", "sidecar")
CODEC_BLOCKS = ("", "v2", "v3")
TARGETS = ("vmaf", "mos")


@dataclass(frozen=True)
class ArchConfig:
    """Architecture of an FR MLP.

    Attributes:
        hidden: Hidden layer widths, e.g. ``[16, 8]``.
        activation: ``relu``, ``gelu`` (exact, exported as Erf) or ``gelu_tanh``.
        normalization: ``baked`` (Sub/Div in the graph) or ``sidecar`` (the runtime applies the
            sidecar's ``feature_mean``/``feature_std`` to the ``features`` input).
        codec_block: ``""`` (canonical-6 only), ``"v2"`` (8-d) or ``"v3"`` (18-d).
    """

    hidden: tuple[int, ...] = (16, 8)
    activation: str = "relu"
    normalization: str = "baked"
    codec_block: str = ""


@dataclass(frozen=True)
class OutputConfig:
    """What the model predicts.

    Attributes:
        target: Table column to learn: ``vmaf`` (the teacher) or ``mos``.
        clamp: Clip the output to ``range`` (in the graph and in the sidecar).
        range: Output range, ``[0, 100]`` for VMAF.
    """

    target: str = "vmaf"
    clamp: bool = False
    range: tuple[float, float] = (0.0, 100.0)


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (plain torch loop, AdamW + cosine decay, early stop on val RMSE)."""

    seed: int = 0
    epochs: int = 300
    batch_size: int = 256
    lr: float = 3e-3
    weight_decay: float = 0.0
    patience: int = 40
    min_epochs: int = 20
    loss: str = "mse"
    threads: int = 1


@dataclass(frozen=True)
class SplitConfig:
    """How sources are split (``vmaf_train.data.splits.split_keys`` over ``source_id``)."""

    val_frac: float = 0.1
    test_frac: float = 0.1
    salt: str = "vmaf-train-splits-v1"


@dataclass(frozen=True)
class GoalsConfig:
    """Targets the model card reports as met or not (0 / "" = no goal).

    Attributes:
        loso_plcc_min: Mean LOSO frame-level PLCC must be at least this.
        loso_rmse_max: Mean LOSO frame-level RMSE must be at most this.
        no_worse_than: Another model id whose mean LOSO RMSE this one must not exceed.
    """

    loso_plcc_min: float = 0.0
    loso_rmse_max: float = 0.0
    no_worse_than: str = ""


@dataclass(frozen=True)
class ModelConfig:
    """A complete model recipe."""

    id: str
    description: str
    kind: str = "fr"
    model_class: str = "C1"
    license: str = "BSD-2-Clause-Patent"
    opset: int = 17
    int8: bool = False
    arch: ArchConfig = field(default_factory=ArchConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    goals: GoalsConfig = field(default_factory=GoalsConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (the resolved ``config.json`` of a run)."""
        d = asdict(self)
        d["class"] = d.pop("model_class")
        for sec in ("arch", "output"):
            for k, v in d[sec].items():
                if isinstance(v, tuple):
                    d[sec][k] = list(v)
        return d

    def with_overrides(self, **sections: Mapping[str, Any]) -> ModelConfig:
        """Copy with some section fields replaced, e.g. ``with_overrides(train={"seed": 3})``."""
        changes: dict[str, Any] = {}
        for name, values in sections.items():
            values = {k: v for k, v in values.items() if v is not None}
            if not values:
                continue
            current = getattr(self, name)
            merged = {**asdict(current), **values}
            changes[name] = _section(type(current), merged, name)
        return replace(self, **changes)


def _section(cls: type, raw: Mapping[str, Any], where: str) -> Any:
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise BadInputError(f"config [{where}]: unknown key(s) {unknown}; known: {sorted(known)}")
    kwargs: dict[str, Any] = {}
    defaults = cls()
    for name, value in raw.items():
        default = getattr(defaults, name)
        if isinstance(default, tuple):
            if not isinstance(value, list | tuple):
                raise BadInputError(f"config [{where}].{name}: expected a list, got {value!r}")
            value = tuple(value)
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                raise BadInputError(f"config [{where}].{name}: expected true/false, got {value!r}")
        elif isinstance(default, int):
            if isinstance(value, bool) or not isinstance(value, int):
                raise BadInputError(f"config [{where}].{name}: expected an integer, got {value!r}")
        elif isinstance(default, float):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise BadInputError(f"config [{where}].{name}: expected a number, got {value!r}")
            value = float(value)
        elif isinstance(default, str) and not isinstance(value, str):
            raise BadInputError(f"config [{where}].{name}: expected a string, got {value!r}")
        kwargs[name] = value
    return cls(**kwargs)


def _validate(cfg: ModelConfig) -> ModelConfig:
    if not _ID_RE.match(cfg.id):
        raise BadInputError(f"config id {cfg.id!r} must match {_ID_RE.pattern}")
    if cfg.kind != "fr":
        raise BadInputError(f"config {cfg.id}: kind {cfg.kind!r} is not trainable here (only 'fr')")
    if cfg.model_class not in ("C1", "C2", "C3"):
        raise BadInputError(f"config {cfg.id}: class must be C1, C2 or C3")
    a = cfg.arch
    if not a.hidden or any((not isinstance(h, int)) or h < 1 for h in a.hidden):
        raise BadInputError(f"config {cfg.id}: arch.hidden must be positive integers")
    if a.activation not in ACTIVATIONS:
        raise BadInputError(f"config {cfg.id}: arch.activation must be one of {ACTIVATIONS}")
    if a.normalization not in NORMALIZATIONS:
        raise BadInputError(f"config {cfg.id}: arch.normalization must be one of {NORMALIZATIONS}")
    if a.codec_block not in CODEC_BLOCKS:
        raise BadInputError(f"config {cfg.id}: arch.codec_block must be one of {CODEC_BLOCKS}")
    if cfg.output.target not in TARGETS:
        raise BadInputError(f"config {cfg.id}: output.target must be one of {TARGETS}")
    lo, hi = cfg.output.range
    if not lo < hi:
        raise BadInputError(f"config {cfg.id}: output.range must be [low, high] with low < high")
    t = cfg.train
    if t.epochs < 1 or t.batch_size < 1 or t.lr <= 0 or t.threads < 1 or t.patience < 1:
        raise BadInputError(f"config {cfg.id}: train epochs/batch_size/lr/threads/patience > 0")
    if t.loss not in ("mse", "huber"):
        raise BadInputError(f"config {cfg.id}: train.loss must be 'mse' or 'huber'")
    s = cfg.split
    if s.val_frac <= 0 or s.test_frac <= 0 or s.val_frac + s.test_frac >= 1:
        raise BadInputError(
            f"config {cfg.id}: split fractions must be > 0 and sum to < 1 "
            f"(val {s.val_frac}, test {s.test_frac})"
        )
    if not 7 <= cfg.opset <= 30:
        raise BadInputError(f"config {cfg.id}: opset must be in [7, 30]")
    return cfg


def config_from_dict(raw: Mapping[str, Any]) -> ModelConfig:
    """Build and validate a config from a parsed TOML/JSON mapping.

    Raises:
        BadInputError: unknown keys, wrong types or invalid values (one line, naming the key).
    """
    top = dict(raw)
    sections = {
        "arch": ArchConfig,
        "output": OutputConfig,
        "train": TrainConfig,
        "split": SplitConfig,
        "goals": GoalsConfig,
    }
    kwargs: dict[str, Any] = {}
    for name, cls in sections.items():
        sec = top.pop(name, {})
        if not isinstance(sec, Mapping):
            raise BadInputError(f"config: [{name}] must be a table")
        kwargs[name] = _section(cls, sec, name)
    if "class" in top:
        top["model_class"] = top.pop("class")
    scalar = {f.name: f for f in fields(ModelConfig) if f.name not in sections}
    unknown = sorted(set(top) - set(scalar))
    if unknown:
        raise BadInputError(f"config: unknown key(s) {unknown}; known: {sorted(scalar)}")
    for req in ("id", "description"):
        if req not in top:
            raise BadInputError(f"config: missing required key {req!r}")
    types = {
        "id": str,
        "description": str,
        "kind": str,
        "model_class": str,
        "license": str,
        "opset": int,
        "int8": bool,
    }
    for k, v in top.items():
        want = types[k]
        if not isinstance(v, want) or (want is int and isinstance(v, bool)):
            raise BadInputError(f"config: {k!r} must be {want.__name__}, got {v!r}")
    return _validate(ModelConfig(**top, **kwargs))


def load_config(path: str | os.PathLike[str]) -> ModelConfig:
    """Load ``configs/models/<id>.toml``.

    Raises:
        BadInputError: missing file, bad TOML, unknown keys or invalid values.
    """
    p = Path(path)
    if not p.is_file():
        raise BadInputError(f"no such config file: {p}")
    try:
        raw = tomllib.loads(p.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BadInputError(f"{p.name}: not valid TOML ({exc})") from exc
    return config_from_dict(raw)


def config_sha256(cfg: ModelConfig) -> str:
    """sha256 of the resolved config's canonical JSON (recorded in every export)."""
    text = json.dumps(cfg.to_dict(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
