"""Checks every recipe kind shares: id, opset, optimiser fields, split fractions, sanity caps."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from vmaf_tiny.bounds import MAX_THREADS as RUNTIME_MAX_THREADS
from vmaf_tiny.errors import BadInputError

__all__ = [
    "MAX_BATCH",
    "MAX_EPOCHS",
    "MAX_LAYERS",
    "MAX_THREADS",
    "MAX_WIDTH",
    "check_opset",
    "check_optimiser",
    "check_split",
    "supported_opsets",
]

MAX_THREADS = RUNTIME_MAX_THREADS
#: Sanity caps that keep a typo from asking for a run that cannot finish.
MAX_EPOCHS = 100_000
MAX_BATCH = 1 << 20
MAX_WIDTH = 65_536
MAX_LAYERS = 64

_ID_RE = re.compile(r"^[a-z][a-z0-9_]{1,63}$")


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
