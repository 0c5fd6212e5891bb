"""Atomic file writes (a reader never sees a half-written file) and exclusive output locks."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from vmaf_tiny.errors import BadInputError, VmafTinyError

__all__ = [
    "OutputLock",
    "OutputLockedError",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_json",
    "canonical_json_sha256",
    "check_writable",
    "output_error",
    "replace_block",
    "sha256_file",
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
    for parent in p.parents:
        if not parent.exists():
            continue
        if not parent.is_dir():
            raise BadInputError(f"cannot write {p}: {parent} is not a directory")
        try:
            fd, probe = tempfile.mkstemp(dir=parent, prefix=".vmaf-tiny-probe-")
        except OSError as exc:
            raise BadInputError(
                f"cannot write {p}: {parent}: {exc.strerror or type(exc).__name__}"
            ) from None
        os.close(fd)
        os.unlink(probe)
        return


def _terminate(signum: int, frame: FrameType | None) -> None:
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


# ---------------------------------------------------------------------------- output locks


class OutputLockedError(VmafTinyError):
    """Another live process holds the lock on an output (exit code 2)."""


def _stderr_warning(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


class OutputLock:
    """An exclusive, crash-safe lock on one output (a corpus directory or a features file).

    The lock is ``fcntl.flock`` on a lock file (``OUT/.lock`` for a directory, ``.NAME.lock``
    beside a file) that also records the holder (pid, host, start time, command) for the error
    message. The kernel drops a flock when its process dies, so a lock file left by a killed
    build is stale by construction: the next build takes it over and says so
    (:attr:`stale_holder`). Without ``fcntl`` (Windows) the file is created with ``O_EXCL`` and
    a lock whose pid is dead on this host counts as stale.

    Use as a context manager around the whole build, temp-file cleanup included::

        with OutputLock(out, command="corpus build smoke", directory=True):
            ...

    Args:
        target: The output path being written.
        command: What the holder is doing (shown to a second process).
        directory: True: ``target`` is a directory and the lock is ``target/.lock``.
        warn: Called with a one-line note when a stale lock is taken over (default: printed
            on stderr as ``warning: ...``).

    Raises:
        OutputLockedError: (on entry) a live process holds the lock; the message names it.
    """

    def __init__(
        self,
        target: str | os.PathLike[str],
        *,
        command: str,
        directory: bool,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.target = Path(target)
        self.command = command
        self.warn = warn or _stderr_warning
        if directory:
            self.path = self.target / ".lock"
        else:
            self.path = self.target.parent / f".{self.target.name}.lock"
        self.stale_holder: dict[str, Any] | None = None
        self._fd: int | None = None

    def _holder(self) -> dict[str, Any]:
        try:
            obj = json.loads(self.path.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError):
            return {}
        return obj if isinstance(obj, dict) else {}

    def _live_holder(self, patience: float = 1.0) -> dict[str, Any]:
        """The holder's info, waiting up to ``patience`` s for a holder that just took the lock.

        A process that has just won the flock writes its info a moment later; until then the
        file is empty (a new lock) or names the previous, dead holder (a stale lock being taken
        over). Either way the loser reads again until the info names a live process.
        """
        deadline = time.monotonic() + patience
        while True:
            holder = self._holder()
            pid = holder.get("pid")
            dead = (
                isinstance(pid, int)
                and holder.get("host") == socket.gethostname()
                and not _pid_alive(pid)
            )
            if (pid and not dead) or time.monotonic() >= deadline:
                return holder
            time.sleep(0.02)

    def _locked_error(self, holder: dict[str, Any]) -> OutputLockedError:
        who = (
            f"pid {holder.get('pid', '?')} on host {holder.get('host', '?')} "
            f"(started {holder.get('started', '?')}: {holder.get('command', '?')})"
        )
        return OutputLockedError(
            f"{self.target} is being built by {who}; wait for it to finish, or if that process "
            f"is gone remove the stale lock {self.path}"
        )

    def acquire(self) -> OutputLock:
        """Take the lock (non-blocking); see the class docstring."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            return self._acquire_excl()
        for _ in range(20):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                raise self._locked_error(self._live_holder()) from None
            # The holder may have unlinked the file between our open and flock: retry on the
            # current file so two processes never hold locks on two different inodes.
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                self._fd = fd
                break
            os.close(fd)
        else:  # pragma: no cover - pathological churn
            raise OutputLockedError(f"{self.target}: could not take the lock {self.path}")
        previous = self._holder()
        if previous.get("pid"):
            self.stale_holder = previous
            self._note_stale()
        self._write_holder(fd)
        return self

    def _note_stale(self) -> None:
        h = self.stale_holder or {}
        self.warn(
            f"took over the stale lock {self.path} left by pid {h.get('pid', '?')} on host "
            f"{h.get('host', '?')} (started {h.get('started', '?')}); that build did not finish "
            "and this one resumes it"
        )

    def _acquire_excl(self) -> OutputLock:  # pragma: no cover - Windows
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                holder = self._holder()
                pid = int(holder.get("pid") or 0)
                if holder.get("host") == socket.gethostname() and pid and not _pid_alive(pid):
                    self.stale_holder = holder
                    self._note_stale()
                    self.path.unlink(missing_ok=True)
                    continue
                raise self._locked_error(holder) from None
            self._fd = fd
            self._write_holder(fd)
            return self
        raise OutputLockedError(f"{self.target}: could not take the lock {self.path}")

    def _write_holder(self, fd: int) -> None:
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "command": self.command or " ".join(sys.argv),
        }
        data = (json.dumps(info, sort_keys=True) + "\n").encode("utf-8")
        # Overwrite, then cut: a reader sees the old info, a mix that is not JSON, or the new
        # info; never an empty file (see _live_holder for the moment before this write).
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, data)
        os.ftruncate(fd, len(data))
        os.fsync(fd)

    @property
    def held(self) -> bool:
        """Whether this object holds the lock now."""
        return self._fd is not None

    def release(self) -> None:
        """Drop the lock and remove the lock file (unlinked while still held)."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> OutputLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


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
