"""Where a model came from: code commit, corpus manifest hash, features file hash."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from vmaf_tiny.fsutil import sha256_file

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
    the table's metadata, else ``"none"``."""
    man = Path(features_path).parent / "manifest.json"
    if man.is_file():
        try:
            value = json.loads(man.read_text()).get("manifest_sha256")
        except (ValueError, OSError, AttributeError):
            value = None
        if isinstance(value, str) and value:
            return value
    return str(table_meta.get("manifest_sha256", "none"))


def features_sha256(features_path: str | os.PathLike[str]) -> str:
    """sha256 of the features file's bytes."""
    return sha256_file(features_path)
