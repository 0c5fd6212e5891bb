"""Atomic file writes (a reader never sees a half-written file), output errors, and file hashes.

The exclusive output locks (:class:`OutputLock`) live in :mod:`vmaf_tiny.output_lock`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from vmaf_tiny.errors import BadInputError
from vmaf_tiny.output_lock import OutputLock, OutputLockedError

__all__ = [
    "OutputLock",
    "OutputLockedError",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_json",
    "canonical_json_sha256",
    "check_folder",
    "check_writable",
    "output_error",
    "read_json_object",
    "replace_block",
    "sha256_file",
    "signals_ignored",
    "sigterm_cleans_up",
    "writing_output",
]

#: Exit status after SIGTERM during a write (128 + 15, as if the signal had killed the process).
SIGTERM_EXIT = 143


def output_error(path: str | os.PathLike[str], exc: OSError) -> BadInputError:
    """The one-line error for an OS error writing ``path`` (the user's path, not a temp file)."""
    p = Path(path)
    for parent in p.parents:
        if parent.exists():
            if not parent.is_dir():
                return BadInputError(f"cannot write {p}: {parent} is not a directory")
            break
    reason = exc.strerror or type(exc).__name__
    return BadInputError(f"cannot write {p}: {reason}")


def read_json_object(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A JSON file whose top level is an object.

    Raises:
        BadInputError: unreadable, not valid JSON, or not an object (one line naming the file).
    """
    p = Path(path)
    try:
        obj = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BadInputError(f"cannot read {p}: {exc.strerror or type(exc).__name__}") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise BadInputError(f"{p}: not valid JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise BadInputError(f"{p}: expected a JSON object, got {type(obj).__name__}")
    return obj


def check_folder(path: str | os.PathLike[str], what: str = "") -> None:
    """Refuse, before any work, a folder path that cannot be created or written: a file, a
    parent that is a file, or a nearest existing folder where no file can be created.

    Args:
        path: The folder (it may not exist yet).
        what: The flag it came from (``--out``), named in the message.

    Raises:
        BadInputError: one line naming the path and the reason.
    """
    p = Path(path)
    _probe_nearest((p, *p.parents), f"{what} {p}:" if what else f"{p}:", "is a file, not a folder")


def _probe_nearest(chain: tuple[Path, ...], lead: str, not_dir: str) -> None:
    """The first existing path of ``chain`` must be a folder where a file can be created
    (probed with a temporary file, removed at once); else one line, ``lead`` first."""
    for q in chain:
        if not q.exists():
            continue
        if not q.is_dir():
            raise BadInputError(f"{lead} {q} {not_dir}")
        try:
            fd, probe = tempfile.mkstemp(dir=q, prefix=".vmaf-tiny-probe-")
        except OSError as exc:
            raise BadInputError(f"{lead} {q}: {exc.strerror or type(exc).__name__}") from None
        os.close(fd)
        os.unlink(probe)
        return


def check_writable(path: str | os.PathLike[str]) -> None:
    """Refuse, before any work, an output path that cannot be written: a directory, a parent
    that is a file, or a nearest existing folder where no file can be created (probed with a
    temporary file, removed at once; missing folders below it are created by the writer).

    Raises:
        BadInputError: one line naming the path and the reason.
    """
    p = Path(path)
    if p.is_dir():
        raise BadInputError(f"cannot write {p}: it is a directory")
    _probe_nearest(tuple(p.parents), f"cannot write {p}:", "is not a directory")


def _terminate(signum: int, frame: FrameType | None) -> None:
    import multiprocessing  # here: only on a signal (it costs start-up time otherwise)

    if multiprocessing.parent_process() is None:  # said once, by the command, not its workers
        sys.stderr.write("terminated\n")
    raise SystemExit(SIGTERM_EXIT)


@contextlib.contextmanager
def sigterm_cleans_up() -> Iterator[None]:
    """While the block runs, SIGTERM unwinds like Ctrl-C: temp files are removed, then exit 143.

    The handler raises ``SystemExit(143)``, so every ``finally``/``except BaseException`` cleanup
    on the way out runs. Outside the main thread (where Python cannot set handlers) this is a
    no-op.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


@contextlib.contextmanager
def signals_ignored() -> Iterator[None]:
    """While the block runs, SIGINT and SIGTERM are ignored (for clean-up that must finish once
    a first signal has started it); a no-op outside the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    sigs = (signal.SIGINT, signal.SIGTERM)
    old = [signal.getsignal(s) for s in sigs]
    for s in sigs:
        signal.signal(s, signal.SIG_IGN)
    try:
        yield
    finally:
        for s, handler in zip(sigs, old, strict=True):
            if handler is not None:  # None: set outside Python, nothing to restore to
                signal.signal(s, handler)


@contextlib.contextmanager
def writing_output(path: str | os.PathLike[str]) -> Iterator[None]:
    """The block writes the user's ``path``: SIGTERM cleans up (:func:`sigterm_cleans_up`) and
    an OS error becomes the one-line :func:`output_error` naming ``path``."""
    try:
        with sigterm_cleans_up():
            yield
    except OSError as exc:
        raise output_error(path, exc) from exc


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike[str], suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``dest``; rename it onto ``dest`` only if the block succeeds.

    The temporary name keeps ``dest``'s suffix (or ``suffix``) so tools that look at file
    extensions (ffmpeg muxers) still work. On any exception the temporary file is removed, and so
    are the missing parent directories this call created (when still empty).
    """
    dest = Path(dest)
    made = [d for d in (dest.parent, *dest.parent.parents) if not d.exists()]
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{dest.name}.", suffix=f".tmp{suffix or dest.suffix}", dir=dest.parent
    )
    os.close(fd)
    tmp_path = Path(tmp)
    os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; finished files get the usual mode
    try:
        yield tmp_path
        os.replace(tmp_path, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        for d in made:  # deepest first; a directory something else wrote into stays
            with contextlib.suppress(OSError):
                d.rmdir()
        raise


def atomic_write_bytes(dest: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``dest`` atomically."""
    with atomic_path(dest) as tmp:
        tmp.write_bytes(data)


def atomic_write_json(dest: str | os.PathLike[str], obj: Any, *, strict: bool = False) -> None:
    """Write ``obj`` as stable, indented JSON (sorted keys, trailing newline) atomically.

    With ``strict``, NaN/inf raise ValueError instead of being written as the non-standard
    ``NaN``/``Infinity`` tokens (strict JSON, readable by any parser).
    """
    text = json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=not strict)
    text += "\n"
    atomic_write_bytes(dest, text.encode("utf-8"))


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def replace_block(
    path: str | os.PathLike[str], name: str, body: str, *, create: bool = True
) -> None:
    """Rewrite only the text between ``<!-- NAME:begin -->`` and ``<!-- NAME:end -->`` in a file.

    Generated figures live in such blocks so that code can refresh them while hand-written prose
    around them stays. The block is appended (with the file created) if absent and ``create``.
    """
    p = Path(path)
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    text = p.read_text() if p.exists() else ""
    block = f"{begin}\n{body.rstrip()}\n{end}"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        new = head + block + tail
    elif create:
        new = (text.rstrip() + "\n\n" if text.strip() else "") + block + "\n"
    else:
        raise FileNotFoundError(f"{p}: no {begin} block")
    atomic_write_bytes(p, new.encode("utf-8"))


def canonical_json_sha256(
    obj: Any, *, ensure_ascii: bool = True, default: Callable[[Any], Any] | None = None
) -> str:
    """Hex sha256 of ``obj`` as canonical JSON: sorted keys, no whitespace, UTF-8.

    The one content hash of configs, recipes, corpus specs and manifests.

    Args:
        obj: Plain JSON data.
        ensure_ascii: Escape non-ASCII characters (``json.dumps``'s default); the corpus manifest
            hashes them as UTF-8 instead.
        default: ``json.dumps``'s fallback for objects it cannot serialise (e.g. ``str``).
    """
    text = json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=ensure_ascii, default=default
    )
    return hashlib.sha256(text.encode()).hexdigest()
