"""The run directory of ``vmaf-train fit``: refused before any work when it cannot be written,
and replaced (``--force``) only when it is a finished run.

FR and fast runs are built in a hidden sibling folder and renamed into place, replacing the
old run with ``--force``; pixel runs write into ``RUN`` and reuse its sample cache. Neither
may take the current folder (or one above it) as ``RUN``, and ``--force`` never deletes a
folder that is not a finished run (one with ``metrics.json``): a typo must not wipe a folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from vmaf_tiny.errors import BadInputError
from vmaf_tiny.fsutil import check_folder

__all__ = ["check_run_dir"]


def check_run_dir(out: str | os.PathLike[str], *, force: bool, replaces: bool = True) -> None:
    """Refuse a run directory before any work.

    Args:
        out: The run directory.
        force: ``--force`` was given.
        replaces: The run replaces ``out`` as a whole (FR, fast); False for pixel runs, which
            write into an existing ``out`` and reuse its cache.

    Raises:
        BadInputError: ``out`` is the current folder or above it, is or sits under a file, or
            cannot be written; or (``replaces``) exists without ``force``, or with ``force``
            is a non-empty folder that is not a finished run.
    """
    p = Path(out)
    here = Path.cwd().resolve()
    resolved = p.resolve()
    if resolved == here or resolved in here.parents:
        raise BadInputError(
            f"--out {str(out) or repr('')}: a run needs a folder of its own, not the current "
            "folder or one above it"
        )
    check_folder(p, "--out")
    if not replaces or not p.exists():
        return
    if not force:
        raise BadInputError(f"run directory {p} exists (use --force to replace it)")
    if any(p.iterdir()) and not (p / "metrics.json").is_file():
        raise BadInputError(
            f"--force replaces only a finished run: {p} has no metrics.json (not a run folder, "
            "or an unfinished one); remove it yourself if it can go"
        )
