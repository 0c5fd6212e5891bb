"""A small per-user cache of facts that are slow to establish and cheap to re-key.

Each command would otherwise re-learn the same facts: that an ffmpeg binary runs and has
libvmaf (two subprocesses), where imageio-ffmpeg keeps its binary (an import and a subprocess),
that a registry or sidecar is valid against its JSON schema (importing jsonschema and walking
the document). Every entry is keyed by what it depends on (a file's size, modification time and
inode; the sha256 of the exact bytes validated), so a change to any of them misses the cache and
the full check runs again. Only passes are remembered, never failures.

The cache lives in ``$XDG_CACHE_HOME/vmaf-tiny/`` (default ``~/.cache/vmaf-tiny/``), one JSON
file per purpose, written atomically; ``VMAF_TINY_CACHE=0`` turns it off. An unreadable or
unwritable cache is ignored.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

__all__ = ["ENV_CACHE", "cache_dir", "default_dir", "lookup", "remember", "schema_key", "stamp"]

ENV_CACHE = "VMAF_TINY_CACHE"
_FORMAT = 1
_MAX_ENTRIES = 256  # per section; beyond it, entries are dropped (the file stays small)


def default_dir() -> Path:
    """``$XDG_CACHE_HOME/vmaf-tiny``, else ``~/.cache/vmaf-tiny`` (never the working directory)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "vmaf-tiny"


def cache_dir() -> Path | None:
    """The cache directory: ``$VMAF_TINY_CACHE`` if it names one, else :func:`default_dir`.

    None when ``VMAF_TINY_CACHE`` is 0/false/no/off (nothing is remembered then).
    """
    env = os.environ.get(ENV_CACHE, "").strip()
    if env.lower() in ("0", "false", "no", "off"):
        return None
    return Path(env).expanduser() if env else default_dir()


def _read(name: str) -> dict[str, Any]:
    d = cache_dir()
    if d is None:
        return {}
    try:
        data = json.loads((d / f"{name}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != _FORMAT:
        return {}
    return data


def lookup(name: str, section: str, key: str) -> Any:
    """The remembered value, or None."""
    entries = _read(name).get(section)
    return entries.get(key) if isinstance(entries, dict) else None


def remember(name: str, section: str, key: str, value: Any) -> None:
    """Remember ``value`` (JSON-serialisable) under ``key``; silently skipped if unwritable."""
    d = cache_dir()
    if d is None:
        return
    data = _read(name) or {"format": _FORMAT}
    entries = data.get(section)
    if not isinstance(entries, dict):
        entries = data[section] = {}
    entries.pop(key, None)
    entries[key] = value
    while len(entries) > _MAX_ENTRIES:
        entries.pop(next(iter(entries)))
    try:
        from vmaf_tiny.fsutil import atomic_write_json

        d.mkdir(parents=True, exist_ok=True)
        atomic_write_json(d / f"{name}.json", data)
    except OSError:  # e.g. a read-only home: run uncached
        pass


def stamp(path: str | os.PathLike[str]) -> list[int] | None:
    """[size, mtime_ns, inode] of a file (following links), None if it cannot be read."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def schema_key(schema: bytes, obj: Any) -> str | None:
    """Key of "``obj`` is valid against ``schema``": sha256 of the schema's bytes and of ``obj``
    as canonical JSON (None if ``obj`` is not plain JSON data)."""
    try:
        text = json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):
        return None
    h_schema = hashlib.sha256(schema).hexdigest()
    return f"{h_schema}:{hashlib.sha256(text.encode('utf-8')).hexdigest()}"
