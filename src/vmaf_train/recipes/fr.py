"""FR recipes (kind ``fr``): MLPs over libvmaf features, with or without a codec block.

A frozen, strictly typed :class:`ModelConfig`: identity (id, kind, size class), architecture
(hidden widths, activation, where the input standardisation lives, the codec block), what it
predicts (target, clamp), how it is trained (seed, epochs, optimiser, split fractions) and goals.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from vmaf_tiny.errors import BadInputError
from vmaf_tiny.features import CANONICAL6, FEATURE_KEYS, TEACHER_COLUMNS
from vmaf_tiny.fsutil import canonical_json_sha256
from vmaf_train.recipes.checks import (
    _ID_RE,
    MAX_LAYERS,
    MAX_WIDTH,
    _finite,
    check_opset,
    check_optimiser,
    check_split,
)

__all__ = [
    "ArchConfig",
    "GoalsConfig",
    "ModelConfig",
    "OutputConfig",
    "SplitConfig",
    "TrainConfig",
    "config_from_dict",
    "config_sha256",
]

ACTIVATIONS = ("relu", "gelu", "gelu_tanh")
NORMALIZATIONS = ("baked", "sidecar")
CODEC_BLOCKS = ("", "v2", "v3")
#: table columns a recipe may learn: a teacher's per-frame scores (``vmaf``, ``vmaf_neg``, ...)
#: or ``mos``.
TARGETS = (*TEACHER_COLUMNS.values(), "mos")
#: target column -> the libvmaf model it holds
TARGET_TEACHERS: dict[str, str] = {col: t for t, col in TEACHER_COLUMNS.items()}


@dataclass(frozen=True)
class ArchConfig:
    """Architecture of an FR MLP.

    Attributes:
        hidden: Hidden layer widths, e.g. ``[16, 8]``.
        activation: ``relu``, ``gelu`` (exact, exported as Erf) or ``gelu_tanh``.
        normalization: ``baked`` (Sub/Div in the graph) or ``sidecar`` (the runtime applies the
            sidecar's ``feature_mean``/``feature_std`` to the ``features`` input).
        codec_block: ``""`` (canonical-6 only), ``"v2"`` (8-d) or ``"v3"`` (18-d).
        features: Input feature columns, in order (keys of
            :data:`vmaf_tiny.features.FEATURE_KEYS`): the canonical-6 by default, the NEG-mode
            :data:`vmaf_tiny.features.NEG_FEATURES` for a student of vmaf_v0.6.1neg.
    """

    hidden: tuple[int, ...] = (16, 8)
    activation: str = "relu"
    normalization: str = "baked"
    codec_block: str = ""
    features: tuple[str, ...] = CANONICAL6


@dataclass(frozen=True)
class OutputConfig:
    """What the model predicts.

    Attributes:
        target: Table column to learn: a teacher's scores (``vmaf``, ``vmaf_neg``,
            ``vmaf_4k``: see :data:`TARGETS`) or ``mos``.
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
        if self.arch.features == CANONICAL6:  # the default: absent, so older sha256s hold
            del d["arch"]["features"]
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
        return _validate(replace(self, **changes), f"{self.id} (with overrides)")


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


def _validate(cfg: ModelConfig, source: str = "") -> ModelConfig:
    where = f"config {source or cfg.id}"
    if not _ID_RE.match(cfg.id):
        raise BadInputError(f"{where}: id {cfg.id!r} must match {_ID_RE.pattern}")
    if cfg.kind != "fr":
        raise BadInputError(f"{where}: kind {cfg.kind!r} is not trainable here (only 'fr')")
    if cfg.model_class not in ("C1", "C2", "C3"):
        raise BadInputError(f"{where}: class must be C1, C2 or C3, got {cfg.model_class!r}")
    a = cfg.arch
    if (
        not a.hidden
        or len(a.hidden) > MAX_LAYERS
        or any(
            isinstance(h, bool) or not isinstance(h, int) or not 1 <= h <= MAX_WIDTH
            for h in a.hidden
        )
    ):
        raise BadInputError(
            f"{where}: arch.hidden must be 1..{MAX_LAYERS} integers in 1..{MAX_WIDTH}, "
            f"got {list(a.hidden)!r}"
        )
    if a.activation not in ACTIVATIONS:
        raise BadInputError(f"{where}: arch.activation must be one of {ACTIVATIONS}")
    if a.normalization not in NORMALIZATIONS:
        raise BadInputError(f"{where}: arch.normalization must be one of {NORMALIZATIONS}")
    if a.codec_block not in CODEC_BLOCKS:
        raise BadInputError(f"{where}: arch.codec_block must be one of {CODEC_BLOCKS}")
    bad = [f for f in a.features if f not in FEATURE_KEYS]
    if not a.features or bad or len(set(a.features)) != len(a.features):
        raise BadInputError(
            f"{where}: arch.features must be distinct names from {list(FEATURE_KEYS)}, "
            f"got {list(a.features)!r}"
        )
    if cfg.output.target not in TARGETS:
        raise BadInputError(f"{where}: output.target must be one of {TARGETS}")
    rng = cfg.output.range
    if len(rng) != 2 or not all(_finite(v) for v in rng) or not rng[0] < rng[1]:
        raise BadInputError(
            f"{where}: output.range must be [low, high], finite, low < high, got {list(rng)!r}"
        )
    t = cfg.train
    check_optimiser(where, asdict(t))
    if t.loss not in ("mse", "huber"):
        raise BadInputError(f"{where}: train.loss must be 'mse' or 'huber', got {t.loss!r}")
    check_split(where, cfg.split.val_frac, cfg.split.test_frac)
    g = cfg.goals
    if not (_finite(g.loso_plcc_min) and -1 <= g.loso_plcc_min <= 1):
        raise BadInputError(f"{where}: goals.loso_plcc_min must be in [-1, 1]")
    if not (_finite(g.loso_rmse_max) and g.loso_rmse_max >= 0):
        raise BadInputError(f"{where}: goals.loso_rmse_max must be a finite number >= 0")
    check_opset(where, cfg.opset)
    return cfg


def config_from_dict(raw: Mapping[str, Any], source: str = "") -> ModelConfig:
    """Build and validate a config from a parsed TOML/JSON mapping.

    Args:
        raw: The parsed recipe.
        source: File name for error messages (default: the recipe's id).

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
    scalar = {f.name: f for f in fields(ModelConfig) if f.name not in sections}
    spelled = {("class" if k == "model_class" else k) for k in scalar}
    unknown = sorted(set(top) - spelled)
    if unknown:
        known = sorted(spelled | {f"[{name}]" for name in sections})
        raise BadInputError(f"config: unknown key(s) {unknown}; known: {known}")
    if "class" in top:
        top["model_class"] = top.pop("class")
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
    return _validate(ModelConfig(**top, **kwargs), source)


def config_sha256(cfg: ModelConfig) -> str:
    """sha256 of the resolved config's canonical JSON (recorded in every export)."""
    return canonical_json_sha256(cfg.to_dict())
