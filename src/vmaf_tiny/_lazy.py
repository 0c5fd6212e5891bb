"""numpy, imported on first use: ``from vmaf_tiny._lazy import numpy as np``.

numpy costs 70-150 ms to import. The modules on ``vmaf-tiny score``'s path to its libvmaf pass
(scoring, session, codec, video, features, nr, framepair) only need it once frames or features
exist, so they take this stand-in: the first attribute read imports numpy (in whichever thread
gets there first: ``vmaf_tiny.scoring`` loads the model beside the pass) and copies its names in,
so that later reads are plain attribute lookups. Type checkers see the real module.
"""

from __future__ import annotations

import importlib
import types
from typing import TYPE_CHECKING, Any

__all__ = ["numpy"]


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
