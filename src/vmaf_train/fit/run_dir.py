"""The run directory of ``vmaf-train fit``: refused before any work when it cannot be written,
and replaced (``--force``) only when it is a finished run.

FR and fast runs are built in a hidden sibling folder and renamed into place, replacing the
old run with ``--force``; pixel runs write into ``RUN`` and reuse its sample cache. Neither
may take the current folder (or one above it) as ``RUN``, and ``--force`` never deletes a
folder that is not a finished run (:data:`RUN_FILES`), a symbolic link, or a run that holds the
data being trained on: a typo must not wipe a folder.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from vmaf_tiny.errors import BadInputError
from vmaf_tiny.fsutil import check_folder

__all__ = ["RUN_FILES", "check_run_dir"]


#: The files every finished FR or fast run has (``metrics.json`` is written last).
RUN_FILES = ("metrics.json", "config.json", "model.onnx")


def check_run_dir(
    out: str | os.PathLike[str],
    *,
    force: bool,
    replaces: bool = True,
    inputs: Mapping[str, str | os.PathLike[str] | None] | None = None,
) -> None:
    """Refuse a run directory before any work.

    Args:
        out: The run directory.
        force: ``--force`` was given.
        replaces: The run replaces ``out`` as a whole (FR, fast); False for pixel runs, which
            write into an existing ``out`` and reuse its cache.
        inputs: Flag -> path the run reads (``--features``): none may lie inside a run that
            ``--force`` would delete.

    Raises:
        BadInputError: ``out`` is the current folder or above it, is or sits under a file, or
            cannot be written; or (``replaces``) exists without ``force``, or with ``force``
            is a symbolic link, a non-empty folder that is not a finished run (``RUN_FILES``),
            or holds one of ``inputs``.
    """
    p = Path(out)
    inputs = inputs or {}
    here = Path.cwd().resolve()
    resolved = p.resolve()
    if resolved == here or resolved in here.parents:
        raise BadInputError(
            f"--out {str(out) or repr('')}: a run needs a folder of its own, not the current "
            "folder or one above it"
        )
    check_folder(p, "--out")
    if not replaces or not (p.exists() or p.is_symlink()):
        return
    if not force:
        raise BadInputError(f"run directory {p} exists (use --force to replace it)")
    if p.is_symlink():
        raise BadInputError(f"--out {p} is a symbolic link: give the run folder itself")
    missing = [n for n in RUN_FILES if not (p / n).is_file()]
    if any(p.iterdir()) and missing:
        raise BadInputError(
            f"--force replaces only a finished run: {p} has no {missing[0]} (not a run folder, "
            "or an unfinished one); remove it yourself if it can go"
        )
    for name, given in inputs.items():
        if given is not None and Path(given).resolve().is_relative_to(p.resolve()):
            raise BadInputError(f"{name} {given} is inside the run --force would replace")
