"""Where a model came from: code commit, corpus manifest hash, features file hash."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from vmaf_tiny.errors import BadInputError
from vmaf_tiny.fsutil import sha256_file
from vmaf_train.data.manifest import read_manifest

__all__ = ["features_sha256", "git_commit", "manifest_sha256"]


def git_commit(path: str | os.PathLike[str] | None = None) -> str:
    """``git rev-parse HEAD`` of the checkout holding this package (``-dirty`` if tracked files
    changed), or ``"unknown"`` outside a git checkout."""
    where = Path(path) if path else Path(__file__).resolve().parent
    try:
        head = subprocess.run(
            ["git", "-C", str(where), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if head.returncode != 0:
            return "unknown"
        dirty = subprocess.run(
            ["git", "-C", str(where), "diff", "--quiet", "HEAD", "--"],
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return head.stdout.strip() + ("-dirty" if dirty.returncode == 1 else "")


def manifest_sha256(features_path: str | os.PathLike[str], table_meta: Mapping[str, str]) -> str:
    """The corpus ``manifest_sha256``: from ``manifest.json`` beside the features file, else from
    the table's metadata, else ``"none"``.

    Raises:
        BadInputError: a ``manifest.json`` beside the features that is not a corpus manifest
            (unreadable, or its ``manifest_sha256`` does not match its content) or that lists
            another ``features.parquet`` (its sha256 differs): the model would record a
            provenance that is not its own.
    """
    feats = Path(features_path)
    man = feats.parent / "manifest.json"
    if not man.is_file():
        return str(table_meta.get("manifest_sha256", "none"))
    try:
        body = read_manifest(man)  # its hash must match its content
    except BadInputError as exc:
        raise BadInputError(f"{man.parent}: {exc} (not this corpus's manifest?)") from None
    value = str(body["manifest_sha256"])
    listed = {
        str(o.get("file")): o.get("sha256") for o in body.get("outputs", []) if isinstance(o, dict)
    }
    if feats.name in listed and listed[feats.name] != sha256_file(feats):
        raise BadInputError(
            f"{man} lists another {feats.name} (sha256 differs): the features were changed "
            "after the build, or the manifest belongs to another corpus"
        )
    return value


def features_sha256(features_path: str | os.PathLike[str]) -> str:
    """sha256 of the features file's bytes."""
    return sha256_file(features_path)
