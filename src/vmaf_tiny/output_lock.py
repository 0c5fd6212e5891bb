"""Exclusive, crash-safe output locks: one writer per corpus directory or features file.

A second process that tries to write the same output gets :class:`OutputLockedError` naming
the holder; a lock left by a killed build is taken over with a warning.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vmaf_tiny.errors import VmafTinyError

__all__ = ["OutputLock", "OutputLockedError"]


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
