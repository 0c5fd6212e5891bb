"""Resource bounds: how much memory a model may ask for, how large a frame may be, which scores
are plausible.

The limits a model's tensors must keep (:data:`MAX_TENSOR_BYTES`, :data:`MAX_RANK`,
:data:`MAX_SHAPE_DATA`, :data:`SIZE_CREATING_OPS`) are checked at load time by
:func:`vmaf_tiny.tensor_sizes.tensor_size_problem`, which runs ONNX shape inference in a
memory- and time-capped child process (:mod:`vmaf_tiny.shape_sandbox`).

At run time ONNX Runtime allocates from one process-wide CPU arena capped at
:data:`SESSION_ARENA_BYTES` (:func:`vmaf_tiny.session.session_options`), which stops what
shape inference cannot see (an allocation over the cap fails the run with a one-line error).

Raw model outputs outside :func:`score_bounds` (the sidecar's ``output.range`` widened by
:data:`SCORE_MARGIN` of its width on each side; ``[0, 100]`` -> ``[-25, 125]``, also when none is
declared) are refused before any clamping, as are NaN/inf.

Thread and worker counts are capped at :data:`MAX_THREADS` and :data:`MAX_WORKERS`
(:func:`check_threads`, :func:`check_workers`): a typo like ``--threads 100000`` is an error, not
tens of thousands of threads.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from typing import Any

from vmaf_tiny.errors import BadInputError

__all__ = [
    "DEFAULT_SCORE_RANGE",
    "MAX_FRAME_HEIGHT",
    "MAX_FRAME_PIXELS",
    "MAX_FRAME_WIDTH",
    "MAX_RANK",
    "MAX_SHAPE_DATA",
    "MAX_TENSOR_BYTES",
    "MAX_THREADS",
    "MAX_WORKERS",
    "SCORE_MARGIN",
    "SESSION_ARENA_BYTES",
    "SIZE_CREATING_OPS",
    "check_threads",
    "check_workers",
    "frame_size_problem",
    "score_bounds",
]

#: Largest tensor a model may create for one item (batch axis bound to 1). The shipped
#: learned_filter_v1 on a 3840x2160 frame peaks at 0.5 GiB (16 channels of float32).
MAX_TENSOR_BYTES: int = 1024 * 1024 * 1024
#: Largest frame side a sidecar may declare (width or height; portrait allowed).
MAX_FRAME_WIDTH: int = 3840
MAX_FRAME_HEIGHT: int = 2160
#: Largest frame area a sidecar may declare (4K UHD).
MAX_FRAME_PIXELS: int = MAX_FRAME_WIDTH * MAX_FRAME_HEIGHT
#: Cap of the process-wide ONNX Runtime CPU arena all sessions allocate from.
SESSION_ARENA_BYTES: int = 4 * 1024 * 1024 * 1024
#: Score range assumed when a score model's sidecar declares none (the VMAF scale).
DEFAULT_SCORE_RANGE: tuple[float, float] = (0.0, 100.0)
#: How far past its declared range (as a fraction of the range's width, on each side) a raw
#: model output may fall and still count as a score: ``[0, 100]`` -> ``[-25, 125]`` (a regressor
#: fitted to a data range extrapolates somewhat past it; far beyond, it is broken).
SCORE_MARGIN: float = 0.25
#: Most threads one run may ask for (ONNX Runtime intra-op threads, libvmaf ``n_threads``,
#: ``train.threads``): a constant, not the machine's core count, so a command line is portable.
MAX_THREADS: int = 256
#: Most worker processes a local executor may start (``--workers``).
MAX_WORKERS: int = 256
#: Allowed operators whose output can be larger than their inputs by a factor read from a tensor.
SIZE_CREATING_OPS: frozenset[str] = frozenset(
    {"ConstantOfShape", "Expand", "Tile", "Resize", "Pad", "Range", "Upsample", "OneHot"}
)
#: Longest 1-D tensor computed from constants or shapes that a model may hold (shape vectors
#: have a handful of elements; the shipped models' longest is far below this).
MAX_SHAPE_DATA: int = 65536
#: Highest tensor rank a model may ask for (ONNX Runtime's kernels and the shipped models use at
#: most 6): shape inference holds every dimension of every tensor, so a constant shape of 65,536
#: ones costs megabytes per node before any size can be checked.
MAX_RANK: int = 32
_FRAME_ROLES = ("frame", "reference_frame", "distorted_frame")


def frame_size_problem(sidecar: Mapping[str, Any]) -> str | None:
    """Why a sidecar's declared frame size is too large, or None.

    Checks ``frame.resize``, ``frame.crop`` and the static H/W of 4-D frame inputs against
    :data:`MAX_FRAME_WIDTH` / :data:`MAX_FRAME_HEIGHT` (either orientation) and
    :data:`MAX_FRAME_PIXELS`.
    """
    sizes: list[tuple[str, int, int]] = []
    frame = sidecar.get("frame") or {}
    for key in ("resize", "crop"):
        size = frame.get(key)
        if size:
            sizes.append((f"frame.{key}", int(size[0]), int(size[1])))
    for t in sidecar.get("inputs", []):
        shape = t.get("shape") or []
        if len(shape) == 4 and (t.get("role") in _FRAME_ROLES or sidecar.get("kind") != "fr"):
            h, w = shape[2], shape[3]
            if isinstance(h, int) and isinstance(w, int):
                sizes.append((f"input {t['name']!r}", w, h))
    longest = max(MAX_FRAME_WIDTH, MAX_FRAME_HEIGHT)
    for where, w, h in sizes:
        if (
            max(w, h) > longest
            or min(w, h) > min(MAX_FRAME_WIDTH, MAX_FRAME_HEIGHT)
            or (w * h > MAX_FRAME_PIXELS)
        ):
            return (
                f"{where} declares {w}x{h} frames; the cap is {MAX_FRAME_WIDTH}x"
                f"{MAX_FRAME_HEIGHT} ({MAX_FRAME_PIXELS} pixels)"
            )
    return None


def score_bounds(sidecar: Mapping[str, Any]) -> tuple[float, float]:
    """The plausible interval for a score model's raw outputs (checked before any clamping).

    The sidecar's ``output.range`` (default :data:`DEFAULT_SCORE_RANGE`) widened by
    :data:`SCORE_MARGIN` of its width on each side: a VMAF-scale model may output -25..125
    (a regressor's small overshoot, which ``output.clamp`` then clips), never 150 or 1e30.
    """
    rng = (sidecar.get("output") or {}).get("range") or DEFAULT_SCORE_RANGE
    lo, hi = float(rng[0]), float(rng[1])
    margin = (hi - lo) * SCORE_MARGIN
    return lo - margin, hi + margin


def _as_count(value: object, high: int) -> int | None:
    """``value`` as an int if it is an integer (numpy's too, not bool) in ``1..high``."""
    if isinstance(value, bool):
        return None
    try:
        n = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        return None
    return n if 1 <= n <= high else None


def check_threads(threads: int, name: str = "--threads") -> int:
    """``threads`` if it is an integer in ``1..MAX_THREADS``.

    Raises:
        BadInputError: anything else (one line naming ``name``).
    """
    return _check_count(threads, MAX_THREADS, name)


def check_workers(workers: int, name: str = "--workers") -> int:
    """``workers`` if it is an integer in ``1..MAX_WORKERS``.

    Raises:
        BadInputError: anything else (one line naming ``name``).
    """
    return _check_count(workers, MAX_WORKERS, name)


def _check_count(value: int, high: int, name: str) -> int:
    n = _as_count(value, high)
    if n is None:
        raise BadInputError(f"{name} must be an integer in 1..{high}, got {value!r}")
    return n
