"""Model recipes: ONE loader and validator for every ``configs/models/<id>.toml``.

Every recipe declares its ``kind``: ``fr`` (FR MLPs over the canonical-6, with or without a codec
block) loads into the frozen :class:`ModelConfig`; ``nr``, ``filter`` and ``saliency`` (pixel
models) into :class:`PixelConfig`, whose ``[arch]`` and ``[data]`` keys and defaults are declared
per kind here (:data:`PIXEL_SCHEMAS`). :func:`load_recipe` reads the file once, applies
``--set key=value`` overrides and dispatches on the kind. Unknown keys and bad values are
BadInputError naming the file and field, so a typo never silently trains the default.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, overload

from vmaf_tiny.bounds import MAX_THREADS as RUNTIME_MAX_THREADS
from vmaf_tiny.errors import BadInputError
from vmaf_train.data.splits import DEFAULT_SALT

__all__ = [
    "INT8_DEFAULTS",
    "KINDS",
    "PIXEL_SCHEMAS",
    "ArchConfig",
    "GoalsConfig",
    "ModelConfig",
    "OutputConfig",
    "PixelConfig",
    "Recipe",
    "SplitConfig",
    "TrainConfig",
    "check_optimiser",
    "config_from_dict",
    "config_sha256",
    "load_fr_recipe",
    "load_recipe",
    "parse_overrides",
    "read_recipe",
    "resolve_model_config",
    "supported_opsets",
]

#: Most intra-op threads a recipe may ask for (a recipe is portable, so a constant, not cpu_count);
#: the runtime's cap (``--threads``), one constant for both.
MAX_THREADS = RUNTIME_MAX_THREADS
#: Sanity caps that keep a typo from asking for a run that cannot finish.
MAX_EPOCHS = 100_000
MAX_BATCH = 1 << 20
MAX_WIDTH = 65_536
MAX_LAYERS = 64

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


@lru_cache(maxsize=1)
def supported_opsets() -> tuple[int, int]:
    """(lowest, highest) default-domain opset the installed exporter and ``onnx`` both support.

    The export uses torch's TorchScript exporter (``dynamo=False``), so its own maximum counts,
    not the newer dynamo exporter's; the runtime's guard accepts up to ``onnx``'s newest opset.
    """
    import onnx
    from torch.onnx import _constants as tc

    lo = max(7, int(getattr(tc, "ONNX_MIN_OPSET", 7)))
    hi = int(getattr(tc, "ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET", getattr(tc, "ONNX_MAX_OPSET", 17)))
    return lo, min(hi, int(onnx.defs.onnx_opset_version()))


def check_opset(where: str, opset: Any) -> None:
    """Raise BadInputError unless ``opset`` is one the exporter and onnx support."""
    lo, hi = supported_opsets()
    if isinstance(opset, bool) or not isinstance(opset, int) or not lo <= opset <= hi:
        raise BadInputError(
            f"{where}: opset must be an integer in {lo}..{hi} (what the installed torch.onnx "
            f"exporter and onnx support), got {opset!r}"
        )


def _finite(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def check_optimiser(where: str, t: Mapping[str, Any]) -> None:
    """Validate the optimisation fields every recipe shares (FR and pixel models).

    ``t`` may hold ``seed``, ``epochs``, ``batch_size``, ``lr``, ``weight_decay``, ``threads``,
    ``patience``, ``min_epochs``, ``max_steps``, ``max_minutes``; each present one is checked.

    Raises:
        BadInputError: one line naming the file (``where``) and the field.
    """

    def bad(key: str, rule: str) -> BadInputError:
        return BadInputError(f"{where}: train.{key} must be {rule}, got {t[key]!r}")

    def integer(key: str, lo: int, hi: int) -> None:
        v = t.get(key)
        if key in t and (isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi):
            raise bad(key, f"an integer in {lo}..{hi}")

    integer("seed", 0, 2**63 - 1)
    integer("epochs", 1, MAX_EPOCHS)
    integer("batch_size", 1, MAX_BATCH)
    integer("threads", 1, MAX_THREADS)
    integer("patience", 1, MAX_EPOCHS)
    integer("min_epochs", 0, MAX_EPOCHS)
    integer("max_steps", 0, 2**31)
    if "lr" in t and not (_finite(t["lr"]) and t["lr"] > 0):
        raise bad("lr", "a finite number > 0")
    if "weight_decay" in t and not (_finite(t["weight_decay"]) and t["weight_decay"] >= 0):
        raise bad("weight_decay", "a finite number >= 0")
    if "max_minutes" in t and not (_finite(t["max_minutes"]) and t["max_minutes"] >= 0):
        raise bad("max_minutes", "a finite number >= 0 (0: no limit)")


def check_split(where: str, val_frac: Any, test_frac: Any) -> None:
    """Both fractions finite, > 0, and summing to < 1."""
    if not (_finite(val_frac) and _finite(test_frac)) or (
        val_frac <= 0 or test_frac <= 0 or val_frac + test_frac >= 1
    ):
        raise BadInputError(
            f"{where}: split fractions must be finite, > 0 and sum to < 1 "
            f"(val {val_frac!r}, test {test_frac!r})"
        )


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
    return _validate(ModelConfig(**top, **kwargs), source)


def config_sha256(cfg: ModelConfig) -> str:
    """sha256 of the resolved config's canonical JSON (recorded in every export)."""
    text = json.dumps(cfg.to_dict(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


_TOP = ("id", "description", "kind", "class", "license", "opset")
_TABLES = ("arch", "data", "train", "split", "int8", "output", "goals")
TRAIN_DEFAULTS: dict[str, Any] = {
    "seed": 0,
    "epochs": 10,
    "batch_size": 16,
    "lr": 0.003,
    "weight_decay": 0.0,
    "threads": 2,
    "max_steps": 0,
    "max_minutes": 0.0,
}
SPLIT_DEFAULTS: dict[str, Any] = {"val_frac": 0.1, "test_frac": 0.2, "salt": DEFAULT_SALT}
INT8_DEFAULTS: dict[str, Any] = {
    "enabled": False,
    "calib_frames": 64,
    "op_types": ["Conv", "Gemm", "MatMul"],  # operator types quantised (weights + activations)
    # Gate limits (vmaf_train.quantize.gate_verdict): PLCC drop, RMSE rise in VMAF points.
    "max_plcc_drop": 0.005,
    "max_rmse_rise": 0.5,
}


def take(table: Mapping[str, Any], defaults: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``defaults`` updated with ``table``; unknown keys or wrong types raise BadInputError."""
    unknown = sorted(set(table) - set(defaults))
    if unknown:
        raise BadInputError(f"{where}: unknown key(s) {unknown} (known: {sorted(defaults)})")
    out = dict(defaults)
    for k, v in table.items():
        d = defaults[k]
        if d is not None and not _same_type(d, v):
            raise BadInputError(f"{where}.{k}: expected {type(d).__name__}, got {v!r}")
        out[k] = v
    return out


def _same_type(d: Any, v: Any) -> bool:
    if isinstance(d, bool):
        return isinstance(v, bool)
    if isinstance(d, float):
        return isinstance(v, int | float) and not isinstance(v, bool)
    if isinstance(d, int):
        return isinstance(v, int) and not isinstance(v, bool)
    if isinstance(d, list):
        return isinstance(v, list)
    return isinstance(v, type(d))


@dataclass(frozen=True)
class PixelConfig:
    """A resolved recipe.

    Attributes:
        id: Model id.
        description: One paragraph for the registry and the card.
        kind: nr | filter | saliency | fr.
        model_class: C1 | C2 | C3.
        license: Licence of the weights.
        opset: ONNX opset to export at.
        arch: Architecture parameters (model-specific keys).
        data: Sampling parameters (model-specific keys).
        train: Optimisation parameters (seed, epochs, batch_size, lr, ...).
        split: val_frac, test_frac, salt (splits by source_id).
        int8: enabled, calib_frames, op_types, max_plcc_drop, max_rmse_rise (gate limits).
        output: target, range, clamp.
        goals: Targets reported in the card (met or not).
        path: Where the recipe came from.
    """

    id: str
    description: str
    kind: str
    model_class: str
    license: str
    opset: int
    arch: dict[str, Any]
    data: dict[str, Any]
    train: dict[str, Any]
    split: dict[str, Any]
    int8: dict[str, Any]
    output: dict[str, Any]
    goals: dict[str, Any] = field(default_factory=dict)
    path: str = ""

    def resolved(self) -> dict[str, Any]:
        """The recipe as plain data (what ``config.json`` of a run holds)."""
        return {
            "id": self.id,
            "description": self.description,
            "kind": self.kind,
            "class": self.model_class,
            "license": self.license,
            "opset": self.opset,
            "arch": self.arch,
            "data": self.data,
            "train": self.train,
            "split": self.split,
            "int8": self.int8,
            "output": self.output,
            "goals": self.goals,
        }

    def sha256(self) -> str:
        text = json.dumps(self.resolved(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    """``["train.epochs=2", "data.size=[64, 64]"]`` -> nested dict (values parsed as TOML)."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise BadInputError(f"--set expects KEY=VALUE, got {item!r}")
        try:
            value = tomllib.loads(f"v = {raw.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw.strip()
        node = out
        parts = key.strip().split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return out


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def resolve_model_config(name: str | os.PathLike[str]) -> Path:
    """``configs/models/NAME.toml`` of the checkout, or a path as given."""
    p = Path(name)
    if p.suffix == ".toml" or p.exists():
        return p
    return Path(__file__).resolve().parents[2] / "configs" / "models" / f"{name}.toml"


def _numbers_problem(value: Any, key: str, in_list: bool = False) -> str | None:
    """Why a number (or list of numbers) in [arch]/[data] is unusable, or None.

    Floats must be finite and >= 0; integers 0..MAX_WIDTH, and >= 1 inside lists (widths,
    strides, sizes).
    """
    if isinstance(value, list):
        for v in value:
            problem = _numbers_problem(v, key, True)
            if problem:
                return problem
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) and value >= 0 else f"{key}: {value!r} (finite, >= 0)"
    lo = 1 if in_list else 0
    if not lo <= value <= MAX_WIDTH:
        return f"{key}: {value!r} (integers {lo}..{MAX_WIDTH})"
    return None


def _validate_pixel(cfg: PixelConfig, name: str) -> None:
    """Every field of a pixel recipe, one line naming the file and the field."""
    if not _ID_RE.match(cfg.id):
        raise BadInputError(f"{name}: id {cfg.id!r} must match {_ID_RE.pattern}")
    if cfg.model_class not in ("C1", "C2", "C3"):
        raise BadInputError(f"{name}: class must be C1, C2 or C3, got {cfg.model_class!r}")
    check_opset(name, cfg.opset)
    check_optimiser(name, cfg.train)
    check_split(name, cfg.split["val_frac"], cfg.split["test_frac"])
    calib = cfg.int8["calib_frames"]
    if not 1 <= calib <= MAX_WIDTH:
        raise BadInputError(f"{name}: int8.calib_frames must be in 1..{MAX_WIDTH}, got {calib!r}")
    for table in ("arch", "data"):
        for key, value in getattr(cfg, table).items():
            problem = _numbers_problem(value, f"{table}.{key}")
            if problem:
                raise BadInputError(f"{name}: {problem}")
    rng = cfg.output.get("range")
    if rng is not None and (
        not isinstance(rng, list)
        or len(rng) != 2
        or not all(isinstance(v, int | float) and math.isfinite(v) for v in rng)
        or not rng[0] < rng[1]
    ):
        raise BadInputError(f"{name}: output.range must be [low, high], finite, low < high")


#: ``[arch]`` and ``[data]`` keys (and defaults) of each pixel-model kind.
PIXEL_SCHEMAS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "nr": (
        {
            "model": "cnn",  # cnn (NRNet) | stats (StatsNRNet)
            "channels": [16, 32, 48, 64, 96],
            "strides": [2, 2, 2, 1],
            "stem": 4,
            "front": "none",
            "scales": [1, 2, 4],  # stats: pooling factors of the statistics
            "hidden": 16,  # stats: hidden width of each head
            "heads": 5,  # stats: heads averaged
            "dropout": 0.1,  # stats: dropout before each head's output layer
            "clip": 2.0,  # stats: clip of the standardised statistics
        },
        {
            "size": [640, 360],  # frame.resize: [width, height]
            "frames_per_clip": 4,  # training frames sampled per training clip
            "val_frames_per_clip": 2,  # whole frames per validation clip
            "crop": [320, 192],  # training crop [width, height]; [] = whole frames
            "flip": True,
            "eval_frames": 0,  # test frames per clip (0: all)
        },
    ),
    "filter": (
        {"width": 16, "depth": 3},
        {
            "patch": 64,
            "frames_per_clip": 3,
            "patches_per_frame": 8,
            "val_patches_per_frame": 4,
            "eval_frames": 10,  # frames per test clip filtered and scored (0: all)
            "distortions": ["encode"],
        },
    ),
    "saliency": (
        {"width": 24},
        {
            "size": [256, 144],  # frame.resize [width, height]; the map is 1/4 of it
            "ref_frames_per_source": 12,
            "frames_per_clip": 1,
            "eval_ref_frames_per_source": 30,
            "top_frac": 0.2,
            "teacher_avg_size": 3,
            "teacher_sigma": 2.0,
            "teacher_centre_sigma": 0.3,
            "teacher_centre_weight": 0.7,
        },
    ),
}
#: Every recipe kind: ``fr`` (FR MLPs, codec-aware or not) and the pixel kinds.
KINDS = ("fr", *PIXEL_SCHEMAS)

Recipe = ModelConfig | PixelConfig


def read_recipe(
    path: str | os.PathLike[str], overrides: Mapping[str, Any] | None = None
) -> tuple[Path, dict[str, Any]]:
    """The parsed TOML of a recipe (NAME or path) with ``overrides`` merged in.

    Raises:
        BadInputError: missing file or not valid TOML.
    """
    p = resolve_model_config(path)
    if not p.is_file():
        raise BadInputError(f"no such model config: {p}")
    try:
        raw = tomllib.loads(p.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BadInputError(f"{p.name}: not valid TOML ({exc})") from exc
    return p, _merge(raw, overrides or {})


def _pixel_config(raw: Mapping[str, Any], p: Path) -> PixelConfig:
    unknown = sorted(set(raw) - set(_TOP) - set(_TABLES))
    if unknown:
        raise BadInputError(f"{p.name}: unknown key(s) {unknown}")
    for k in ("id", "kind", "class"):
        if not isinstance(raw.get(k), str):
            raise BadInputError(f"{p.name}: {k!r} is required (a string)")
    arch_defaults, data_defaults = PIXEL_SCHEMAS[raw["kind"]]
    cfg = PixelConfig(
        id=raw["id"],
        description=str(raw.get("description", raw["id"])),
        kind=raw["kind"],
        model_class=raw["class"],
        license=str(raw.get("license", "BSD-2-Clause-Patent")),
        opset=raw.get("opset", 17),
        arch=take(raw.get("arch", {}), arch_defaults, f"{p.name} [arch]"),
        data=take(raw.get("data", {}), data_defaults, f"{p.name} [data]"),
        train=take(raw.get("train", {}), TRAIN_DEFAULTS, f"{p.name} [train]"),
        split=take(raw.get("split", {}), SPLIT_DEFAULTS, f"{p.name} [split]"),
        int8=take(raw.get("int8", {}), INT8_DEFAULTS, f"{p.name} [int8]"),
        output=dict(raw.get("output", {})),
        goals=dict(raw.get("goals", {})),
        path=str(p),
    )
    _validate_pixel(cfg, p.name)
    return cfg


@overload
def load_recipe(
    path: str | os.PathLike[str],
    overrides: Mapping[str, Any] | None = None,
    *,
    kind: Literal["fr"],
) -> ModelConfig: ...
@overload
def load_recipe(
    path: str | os.PathLike[str],
    overrides: Mapping[str, Any] | None = None,
    *,
    kind: Literal["nr", "filter", "saliency"],
) -> PixelConfig: ...
@overload
def load_recipe(
    path: str | os.PathLike[str],
    overrides: Mapping[str, Any] | None = None,
    *,
    kind: None = None,
) -> Recipe: ...
def load_recipe(
    path: str | os.PathLike[str],
    overrides: Mapping[str, Any] | None = None,
    *,
    kind: str | None = None,
) -> Recipe:
    """Read any model recipe, apply ``overrides`` and validate every key for its kind.

    Args:
        path: ``configs/models/<id>.toml`` or a recipe NAME of the checkout.
        overrides: Nested values merged over the file (``parse_overrides(["train.epochs=2"])``).
        kind: When given, the recipe must be of this kind.

    Returns:
        A :class:`ModelConfig` (kind ``fr``) or a :class:`PixelConfig` (nr, filter, saliency).

    Raises:
        BadInputError: missing file, bad TOML, unknown kind or keys, wrong types, out-of-range
            values (lr, weight decay, opset, threads, sizes...): one line naming the file and field.
    """
    p, raw = read_recipe(path, overrides)
    k = raw.get("kind", "fr")
    if k not in KINDS:
        raise BadInputError(f"{p.name}: kind must be one of {', '.join(KINDS)}, got {k!r}")
    if kind is not None and k != kind:
        raise BadInputError(f"{p.name}: a {k!r} recipe, expected kind {kind!r}")
    if k == "fr":
        return config_from_dict(raw, p.name)
    return _pixel_config(raw, p)


def load_fr_recipe(
    path: str | os.PathLike[str], overrides: Mapping[str, Any] | None = None
) -> ModelConfig:
    """:func:`load_recipe` of a recipe that must be of kind ``fr`` (typed for FR callers)."""
    return load_recipe(path, overrides, kind="fr")
