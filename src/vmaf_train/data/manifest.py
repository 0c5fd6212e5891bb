"""The corpus manifest: every input and output with its sha256, the config and tool versions.

The manifest holds no timestamps or timings, so the same config on the same machine gives the
same bytes; ``manifest_sha256`` is the sha256 of the canonical JSON of everything else.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

from vmaf_tiny.errors import BadInputError
from vmaf_tiny.fsutil import atomic_write_json, canonical_json_sha256

__all__ = ["finalize_manifest", "read_manifest", "tool_versions", "write_manifest"]


def tool_versions(ffmpeg_version: str, libvmaf_version: str, model_version: str) -> dict[str, str]:
    """Versions of everything that can change the numbers."""
    import numpy
    import pyarrow

    import vmaf_tiny

    return {
        "ffmpeg": ffmpeg_version,
        "libvmaf": libvmaf_version,
        "vmaf_model": model_version,
        "vmaf_tiny": vmaf_tiny.__version__,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "pyarrow": pyarrow.__version__,
    }


def _digest(body: dict[str, Any]) -> str:
    return canonical_json_sha256(body, ensure_ascii=False)


def finalize_manifest(body: dict[str, Any]) -> dict[str, Any]:
    """Return ``body`` with ``manifest_sha256`` added."""
    out = {k: v for k, v in body.items() if k != "manifest_sha256"}
    out["manifest_sha256"] = _digest(out)
    return out


def write_manifest(path: str | Path, body: dict[str, Any]) -> dict[str, Any]:
    """Finalize and write atomically; return the written manifest."""
    man = finalize_manifest(body)
    atomic_write_json(path, man)
    return man


def read_manifest(path: str | Path) -> dict[str, Any]:
    """Read a manifest and check its ``manifest_sha256``.

    Raises:
        BadInputError: missing, not JSON, or its hash does not match its content.
    """
    p = Path(path)
    if not p.is_file():
        raise BadInputError(f"no such manifest: {p}")
    try:
        man: dict[str, Any] = json.loads(p.read_text())
    except json.JSONDecodeError as exc:
        raise BadInputError(f"{p.name}: not JSON ({exc})") from exc
    want = man.get("manifest_sha256")
    if want != _digest({k: v for k, v in man.items() if k != "manifest_sha256"}):
        raise BadInputError(f"{p.name}: manifest_sha256 does not match its content")
    return man
