"""One dispatch by a model's sidecar: which runtime path runs it, and the refusal of a wrong kind.

A sidecar's ``kind`` (``fr``, ``nr``, ``filter``, ``saliency``) and, for ``fr``, its input roles
choose the path:

========== ====== ==================================================================
path       kind   what runs it
========== ====== ==================================================================
features   fr     :func:`vmaf_tiny.scoring.score`: one libvmaf pass, the model per frame
frame_pair fr     :func:`vmaf_tiny.framepair.score_frame_pair`: reference + distorted luma
fast       fr     :func:`vmaf_tiny.fast.score_fast`: libvmaf on a sample (sidecar ``fast``)
nr         nr     :func:`vmaf_tiny.nr.score_nr`: distorted luma only
filter     filter :func:`vmaf_tiny.filtering.filter_video`: luma in, luma out
saliency   sal.   :func:`vmaf_tiny.saliency.saliency_maps`: one map per frame
========== ====== ==================================================================

Every entry point refuses a model of another kind through :func:`require_kind`, so the message
(and its error type: a wrong model for a scoring command is bad input, for filter/saliency a bad
model) is decided in one table. Imports nothing heavy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vmaf_tiny.errors import BadInputError, BadModelError, VmafTinyError
from vmaf_tiny.sidecar import input_roles

__all__ = ["FRAME_PAIR_ROLES", "PATHS", "require_kind", "runtime_path"]

#: Input roles of a full-reference model over (reference, distorted) luma frames.
FRAME_PAIR_ROLES = ("reference_frame", "distorted_frame")
#: runtime path -> the sidecar kind it runs.
PATHS: Mapping[str, str] = {
    "features": "fr",
    "frame_pair": "fr",
    "fast": "fr",
    "nr": "nr",
    "filter": "filter",
    "saliency": "saliency",
}
#: wanted kind -> (error type, what follows "model X is kind 'K'" when the kind is another).
_REFUSALS: Mapping[str, tuple[type[VmafTinyError], str]] = {
    "fr": (BadInputError, ", not a full-reference model"),
    "nr": (BadInputError, "; --no-reference needs NR"),
    "filter": (BadModelError, ", not a filter"),
    "saliency": (BadModelError, ", not a saliency model"),
}
#: (wanted kind, actual kind) -> a more helpful ending.
_HINTS: Mapping[tuple[str, str], str] = {("fr", "nr"): "; use --no-reference for NR models"}


def runtime_path(sidecar: Mapping[str, Any]) -> str | None:
    """The runtime path that runs a model with this sidecar (a key of :data:`PATHS`), or None
    for a kind the runtime does not run."""
    kind = sidecar.get("kind")
    if kind == "fr":
        if isinstance(sidecar.get("fast"), Mapping):
            return "fast"
        roles = input_roles(sidecar)
        return "frame_pair" if all(r in roles for r in FRAME_PAIR_ROLES) else "features"
    return str(kind) if kind in PATHS else None


def require_kind(kind: str, model_id: str, wanted: str) -> None:
    """Refuse a model whose kind is not ``wanted``, with the one message for that case.

    Raises:
        BadInputError: a scoring path (``fr``, ``nr``) was given another kind of model.
        BadModelError: ``filter`` or ``saliency`` was given another kind of model.
    """
    if kind == wanted:
        return
    error, ending = _REFUSALS[wanted]
    raise error(f"model {model_id} is kind {kind!r}{_HINTS.get((wanted, kind), ending)}")
