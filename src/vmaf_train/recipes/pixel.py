"""Pixel-model recipes (kinds ``nr``, ``filter``, ``saliency``): :class:`PixelConfig`.

Top-level identity keys (id, description, kind, class, license, opset) and the tables
``[arch]``, ``[data]``, ``[train]``, ``[split]``, ``[int8]``, ``[output]``, ``[goals]`` and
(filters) ``[gate]``. The keys (and defaults) of ``[arch]`` and ``[data]`` are declared per kind
in :data:`PIXEL_SCHEMAS`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vmaf_tiny.errors import BadInputError
from vmaf_tiny.fsutil import canonical_json_sha256
from vmaf_train.data.splits import DEFAULT_SALT
from vmaf_train.recipes.checks import _ID_RE, MAX_WIDTH, check_opset, check_optimiser, check_split

__all__ = [
    "INT8_DEFAULTS",
    "PIXEL_SCHEMAS",
    "SPLIT_DEFAULTS",
    "TRAIN_DEFAULTS",
    "PixelConfig",
    "take",
]

_TOP = ("id", "description", "kind", "class", "license", "opset")
_TABLES = ("arch", "data", "train", "split", "int8", "output", "goals", "gate")
#: ``[gate]`` of a filter recipe (the runtime's no-reference quality gate,
#: :mod:`vmaf_tiny.filter_gate`): the stream NR model, its thresholds, and the model the held-out
#: evaluation scores with (``eval_model``: a path or id; "" = ``model``). An evaluation should use
#: an NR model that never saw the test sources: the shipped one may have.
GATE_DEFAULTS: dict[str, Any] = {
    "model": "",
    "full_below": 70.0,
    "off_above": 90.0,
    "eval_model": "",
}
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
#: Extra ``[train]`` keys (and defaults) of one pixel-model kind.
TRAIN_EXTRAS: dict[str, dict[str, Any]] = {
    # loss: mse (to the reference) | relative (each patch's MSE over its unfiltered MSE + rel_eps)
    # detail: weight of the relative gradient-magnitude term (0: none; see fit.filter.detail_loss)
    # vif: weight of the relative VIF term (0: none; see fit.vif.vif_loss)
    # init: start from this filter's weights (zoo id or .onnx path; "": the identity)
    # grow: the network may be deeper than init's (the layers it lacks start as identities)
    "filter": {
        "loss": "mse",
        "rel_eps": 1e-5,
        "detail": 0.0,
        "vif": 0.0,
        "init": "",
        "grow": False,
    },
}
#: Keys left out of :meth:`PixelConfig.resolved` at their default (older recipes' sha256s hold).
_QUIET_DEFAULTS: dict[tuple[str, str], Any] = {
    ("arch", "center"): 0.0,
    ("arch", "views"): 1,
    ("arch", "grid"): 0,
    ("arch", "grid_layers"): 1,
    ("data", "augment"): "hflip",
    ("train", "loss"): "mse",
    ("train", "rel_eps"): 1e-5,
    ("train", "detail"): 0.0,
    ("train", "vif"): 0.0,
    ("train", "init"): "",
    ("train", "grow"): False,
}
#: ``arch.views`` of a filter: how many symmetries of the frame its exported graph averages over
#: (:class:`vmaf_train.models.filter.FilterViews`).
FILTER_VIEWS: tuple[int, ...] = (1, 2, 4, 8)
#: ``data.augment`` of a filter: the symmetries training patches are drawn under (``none``: as
#: decoded; ``hflip``: random horizontal mirrors; ``dihedral``: any of the square's eight mirrors
#: and rotations)
FILTER_AUGMENTS: tuple[str, ...] = ("none", "hflip", "dihedral")
SPLIT_DEFAULTS: dict[str, Any] = {"val_frac": 0.1, "test_frac": 0.2, "salt": DEFAULT_SALT}
INT8_DEFAULTS: dict[str, Any] = {
    "enabled": False,
    "calib_frames": 64,
    "op_types": ["Conv", "Gemm", "MatMul"],  # operator types quantised (weights + activations)
    # Gate limits (vmaf_train.ship.quantize.gate_verdict): PLCC drop, RMSE rise in VMAF points.
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
        gate: Filters: the runtime quality gate (:data:`GATE_DEFAULTS`); empty: none.
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
    gate: dict[str, Any] = field(default_factory=dict)
    path: str = ""

    def resolved(self) -> dict[str, Any]:
        """The recipe as plain data (what ``config.json`` of a run holds)."""
        out = {
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
        if self.gate:  # only recipes with a gate carry the table (older sha256s hold)
            out["gate"] = self.gate
        for (table, key), default in _QUIET_DEFAULTS.items():
            section = out[table]
            if isinstance(section, dict) and key in section and section[key] == default:
                out[table] = {k: v for k, v in section.items() if k != key}
        return out

    def sha256(self) -> str:
        return canonical_json_sha256(self.resolved())


#: Integer keys whose 0 means nothing (a patch grid of 0 pixels): 1..MAX_WIDTH like list items.
_AT_LEAST_ONE: frozenset[str] = frozenset({"data.align"})


def _numbers_problem(value: Any, key: str, in_list: bool = False) -> str | None:
    """Why a number (or list of numbers) in [arch]/[data] is unusable, or None.

    Floats must be finite and >= 0; integers 0..MAX_WIDTH, and >= 1 inside lists (widths,
    strides, sizes) and for :data:`_AT_LEAST_ONE`.
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
    lo = 1 if in_list or key in _AT_LEAST_ONE else 0
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
    models = ARCH_MODELS[cfg.kind]
    if cfg.arch["model"] not in models:
        raise BadInputError(
            f"{name}: arch.model must be {' or '.join(models)} for a {cfg.kind} recipe, "
            f"got {cfg.arch['model']!r}"
        )
    for table in ("arch", "data"):
        for key, value in getattr(cfg, table).items():
            problem = _numbers_problem(value, f"{table}.{key}")
            if problem:
                raise BadInputError(f"{name}: {problem}")
    loss = cfg.train.get("loss", "mse")
    if loss not in ("mse", "relative"):
        raise BadInputError(f"{name}: train.loss must be 'mse' or 'relative', got {loss!r}")
    detail = cfg.train.get("detail", 0.0)
    if not (isinstance(detail, int | float) and math.isfinite(detail) and detail >= 0):
        raise BadInputError(f"{name}: train.detail must be a number >= 0, got {detail!r}")
    if detail and loss != "relative":
        raise BadInputError(f"{name}: train.detail needs train.loss = 'relative'")
    vif = cfg.train.get("vif", 0.0)
    if not (isinstance(vif, int | float) and math.isfinite(vif) and vif >= 0):
        raise BadInputError(f"{name}: train.vif must be a number >= 0, got {vif!r}")
    if vif and loss != "relative":
        raise BadInputError(f"{name}: train.vif needs train.loss = 'relative'")
    if cfg.kind == "filter":
        _check_filter(cfg, name)
    if not isinstance(cfg.train.get("init", ""), str):
        raise BadInputError(f"{name}: train.init must be a zoo id or an .onnx path (a string)")
    if cfg.train.get("grow", False) and not cfg.train.get("init"):
        raise BadInputError(f"{name}: train.grow needs train.init (the filter to grow from)")
    if cfg.gate:
        _check_gate(cfg, name)
    rng = cfg.output.get("range")
    if rng is not None and (
        not isinstance(rng, list)
        or len(rng) != 2
        or not all(isinstance(v, int | float) and math.isfinite(v) for v in rng)
        or not rng[0] < rng[1]
    ):
        raise BadInputError(f"{name}: output.range must be [low, high], finite, low < high")


def _check_filter(cfg: PixelConfig, name: str) -> None:
    """A filter recipe's views, patch size (the fold must split it), augmentation and grid."""
    views = cfg.arch["views"]
    if views not in FILTER_VIEWS:
        raise BadInputError(f"{name}: arch.views must be 1, 2, 4 or 8, got {views!r}")
    scale = int(cfg.arch["scale"]) if cfg.arch["model"] == "unshuffle" else 1
    patch = cfg.data["patch"]
    if not (isinstance(patch, int) and patch >= 8 and patch % scale == 0):
        raise BadInputError(
            f"{name}: data.patch must be an integer >= 8 and a multiple of arch.scale "
            f"({scale}), got {patch!r}"
        )
    augment = cfg.data["augment"]
    if augment not in FILTER_AUGMENTS:
        raise BadInputError(
            f"{name}: data.augment must be 'none', 'hflip' or 'dihedral', got {augment!r}"
        )
    grid = cfg.arch["grid"]  # an int >= 0, as the schema checks
    if grid and (grid % scale or views != 1 or patch % grid or cfg.data["align"] % grid):
        raise BadInputError(
            f"{name}: arch.grid {grid} needs arch.views 1 and a grid that is a multiple of "
            f"arch.scale ({scale}) and divides data.patch ({patch}) and data.align "
            f"({cfg.data['align']!r}): training patches must sit on the block grid"
        )
    layers, depth = cfg.arch["grid_layers"], cfg.arch["depth"]
    if not 1 <= layers <= depth + 1:
        raise BadInputError(f"{name}: arch.grid_layers must be in 1..arch.depth + 1, got {layers}")


def _check_gate(cfg: PixelConfig, name: str) -> None:
    g = cfg.gate
    if cfg.kind != "filter":
        raise BadInputError(f"{name}: [gate] is for filter recipes, not {cfg.kind!r}")
    if not (isinstance(g["model"], str) and g["model"]):
        raise BadInputError(f"{name}: gate.model must name a stream NR model")
    if not isinstance(g["eval_model"], str):
        raise BadInputError(f"{name}: gate.eval_model must be a string (path or id)")
    lo, hi = g["full_below"], g["off_above"]
    if not all(isinstance(v, int | float) and 0 <= v <= 100 for v in (lo, hi)) or not lo < hi:
        raise BadInputError(
            f"{name}: gate.full_below < gate.off_above, both in [0, 100]; got {lo!r}, {hi!r}"
        )


#: The networks ``arch.model`` may name, per pixel-model kind.
ARCH_MODELS: dict[str, tuple[str, ...]] = {
    "nr": ("cnn", "stats"),
    "filter": ("plain", "unshuffle"),
    "saliency": ("encdec", "lowres"),
}

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
        {
            "model": "plain",  # plain (ResidualFilter) | unshuffle (UnshuffleFilter)
            "width": 16,
            "depth": 3,
            "scale": 2,  # unshuffle: fold factor
            # > 0: the net sees (x - 0.5) * center and its correction is divided by it (v2: 4.0)
            "center": 0.0,
            # test-time views averaged in the exported graph (models.filter.FilterViews): 1
            # (none), 2 (+ the transpose), 4 (+ the two mirrors) or 8 (every symmetry)
            "views": 1,
            # > 0: the codec's block grid in pixels (8); the first grid_layers hidden layers add
            # a learned bias per position in it (models.filter.GridBias). Needs views 1 and
            # patch and align multiples of it.
            "grid": 0,
            "grid_layers": 1,  # 1 .. depth + 1
        },
        {
            "patch": 64,
            "align": 1,  # patch corners on multiples of this (8: the coding-block grid)
            # none | hflip | dihedral (all eight symmetries of a square patch)
            "augment": "hflip",
            "max_vmaf": 101.0,  # train/val clips whose mean teacher VMAF is below this
            "frames_per_clip": 3,
            "patches_per_frame": 8,
            "val_patches_per_frame": 4,
            "eval_frames": 10,  # frames per test clip filtered and scored (0: all)
            "distortions": ["encode"],
        },
    ),
    "saliency": (
        # encdec (SaliencyStudent, v1) | lowres (LowResSaliencyStudent: works at the map size)
        {"width": 24, "model": "encdec", "context_norm": False},  # context_norm: lowres only
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
            "val_ref_frames_per_source": 4,  # validation frames per val source reference
            "cc_loss_weight": 0.1,  # loss = MSE + weight x (1 - CC)
            "vflip": False,  # also flip training frames upside down (the teacher is symmetric)
        },
    ),
}


def _pixel_config(raw: Mapping[str, Any], p: Path) -> PixelConfig:
    unknown = sorted(set(raw) - set(_TOP) - set(_TABLES))
    if unknown:
        raise BadInputError(f"{p.name}: unknown key(s) {unknown}")
    for k in ("id", "kind", "class"):
        if not isinstance(raw.get(k), str):
            raise BadInputError(f"{p.name}: {k!r} is required (a string)")
    for t in _TABLES:
        if t in raw and not isinstance(raw[t], Mapping):
            raise BadInputError(f"{p.name} [{t}]: must be a table of keys, got {raw[t]!r}")
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
        train=take(
            raw.get("train", {}),
            TRAIN_DEFAULTS | TRAIN_EXTRAS.get(raw["kind"], {}),
            f"{p.name} [train]",
        ),
        split=take(raw.get("split", {}), SPLIT_DEFAULTS, f"{p.name} [split]"),
        int8=take(raw.get("int8", {}), INT8_DEFAULTS, f"{p.name} [int8]"),
        output=dict(raw.get("output", {})),
        goals=dict(raw.get("goals", {})),
        gate=take(raw["gate"], GATE_DEFAULTS, f"{p.name} [gate]") if "gate" in raw else {},
        path=str(p),
    )
    _validate_pixel(cfg, p.name)
    return cfg
