"""Imports on first use: numpy (``from vmaf_tiny._lazy import numpy as np``) and the public
names of a package (:func:`lazy_exports`, PEP 562).

numpy costs 70-150 ms to import. The modules on ``vmaf-tiny score``'s path to its libvmaf pass
(scoring, session, codec, video, features, nr, framepair) only need it once frames or features
exist, so they take this stand-in: the first attribute read imports numpy (in whichever thread
gets there first: ``vmaf_tiny.scoring`` loads the model beside the pass) and copies its names in,
so that later reads are plain attribute lookups. Type checkers see the real module.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

__all__ = ["lazy_exports", "numpy"]


class _LazyModule(types.ModuleType):
    """A module that imports ``name`` on the first attribute read and then mirrors it."""

    def __init__(self, name: str) -> None:
        super().__init__(name)

    def __getattr__(self, attr: str) -> Any:
        module = importlib.import_module(self.__name__)
        if "_lazy_mirrored" not in self.__dict__:  # first use: mirror the namespace
            self.__dict__.update(
                {k: v for k, v in vars(module).items() if not k.startswith("__")},
                _lazy_mirrored=True,
            )
        value = getattr(module, attr)  # also numpy's own lazy attributes (np.ma, ...)
        self.__dict__[attr] = value
        return value


if TYPE_CHECKING:
    import numpy
else:
    numpy = _LazyModule("numpy")


def lazy_exports(
    package: str, names: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A package's ``__getattr__`` and ``__dir__`` for names loaded from their module on first use.

    Args:
        package: The package's ``__name__``.
        names: Public name -> the module that defines it.

    Returns:
        ``(__getattr__, __dir__)``; a loaded name is cached in the package's namespace, and
        ``dir()`` lists the package's ``__all__`` (not its imports).
    """

    def getattr_(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def dir_() -> list[str]:
        return sorted(set(getattr(sys.modules[package], "__all__", ())) | set(names))

    return getattr_, dir_
