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
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, overload

from vmaf_tiny.errors import BadInputError
from vmaf_train.recipes.checks import (
    MAX_THREADS,
    check_opset,
    check_optimiser,
    check_split,
    supported_opsets,
)
from vmaf_train.recipes.fr import (
    ArchConfig,
    GoalsConfig,
    ModelConfig,
    OutputConfig,
    SplitConfig,
    TrainConfig,
    config_from_dict,
    config_sha256,
)
from vmaf_train.recipes.pixel import (
    INT8_DEFAULTS,
    PIXEL_SCHEMAS,
    PixelConfig,
    _pixel_config,
)

__all__ = [
    "INT8_DEFAULTS",
    "KINDS",
    "MAX_THREADS",
    "PIXEL_SCHEMAS",
    "ArchConfig",
    "GoalsConfig",
    "ModelConfig",
    "OutputConfig",
    "PixelConfig",
    "Recipe",
    "SplitConfig",
    "TrainConfig",
    "check_opset",
    "check_optimiser",
    "check_split",
    "config_from_dict",
    "config_sha256",
    "load_fr_recipe",
    "load_recipe",
    "parse_overrides",
    "read_recipe",
    "resolve_model_config",
    "supported_opsets",
]

#: Every recipe kind: ``fr`` (FR MLPs, codec-aware or not) and the pixel kinds.
KINDS = ("fr", *PIXEL_SCHEMAS)

Recipe = ModelConfig | PixelConfig


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
        elif isinstance(out.get(k), dict):
            raise BadInputError(
                f"{k} is a table in the recipe: override its keys ({k}.KEY=VALUE), not {v!r}"
            )
        else:
            out[k] = copy.deepcopy(v)
    return out


def resolve_model_config(name: str | os.PathLike[str]) -> Path:
    """``configs/models/NAME.toml`` of the checkout, or a path as given."""
    p = Path(name)
    if p.suffix == ".toml" or p.exists():
        return p
    return Path(__file__).resolve().parents[3] / "configs" / "models" / f"{name}.toml"


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
        if p.suffix.lower() == ".json":
            raise BadInputError(
                f"{p}: a recipe is a TOML file (configs/models/ID.toml or an id); a run's "
                "config.json records what a fit resolved and is not read back as a recipe"
            ) from exc
        raise BadInputError(f"{p.name}: not valid TOML ({exc})") from exc
    return p, _merge(raw, overrides or {})


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
