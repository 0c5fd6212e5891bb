"""Locate the ffmpeg binary (with libvmaf) and run it.

The default is the binary that the PyPI package ``imageio-ffmpeg`` ships; ``VMAF_TINY_FFMPEG``
or an explicit path overrides it. On first use the binary is checked for the ``libvmaf`` filter.

The check runs ``ffmpeg -version`` and ``ffmpeg -filters`` (tens of milliseconds, on every
command). A passed check is remembered in the user cache (:mod:`vmaf_tiny.usercache`,
``ffmpeg.json``), keyed by the binary's resolved path, size, modification time and inode: a
binary that changes in any of these is checked again. Failures are never remembered.
"""

from __future__ import annotations

import functools
import json
import os
import re
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from vmaf_tiny import usercache
from vmaf_tiny.errors import BadInputError, MissingToolError

__all__ = ["ENV_FFMPEG", "FFmpeg", "encoder_options", "resolve_ffmpeg", "video_encoders"]

ENV_FFMPEG = "VMAF_TINY_FFMPEG"

_FIX_HINT = (
    "install the PyPI package 'imageio-ffmpeg' (its ffmpeg has libvmaf) or point "
    f"--ffmpeg / {ENV_FFMPEG} at an ffmpeg built with --enable-libvmaf"
)


@dataclass(frozen=True)
class FFmpeg:
    """A checked ffmpeg binary.

    Attributes:
        path: Absolute path of the executable.
        version_line: The first line of ``ffmpeg -version`` (recorded in every output).
    """

    path: str
    version_line: str

    @property
    def version(self) -> str:
        """The version token, e.g. ``n9.0.2-17-g2a571b6068-20260930``."""
        parts = self.version_line.split()
        return parts[2] if len(parts) > 2 else self.version_line

    def base_args(self) -> list[str]:
        return [self.path, "-hide_banner", "-nostdin", "-y"]

    def run(
        self,
        args: Sequence[str],
        *,
        what: str,
        env: dict[str, str] | None = None,
        timeout: float | None = None,
        capture_stdout: bool = False,
    ) -> subprocess.CompletedProcess[bytes]:
        """Run ffmpeg with ``args`` (after the common flags); raise BadInputError on failure.

        Args:
            args: Arguments after ``-hide_banner -nostdin -y``.
            what: Short description used in the error message (e.g. "encode x264 crf 30").
            env: Extra environment variables.
            timeout: Seconds before the process is killed.
            capture_stdout: Keep stdout (else it is discarded).

        Returns:
            The completed process (stderr captured).
        """
        full_env = None
        if env:
            full_env = dict(os.environ)
            full_env.update(env)
        proc = subprocess.run(
            [*self.base_args(), *args],
            stdout=subprocess.PIPE if capture_stdout else subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=full_env,
            timeout=timeout,
            check=False,
        )
        if proc.returncode != 0:
            raise BadInputError(f"ffmpeg failed ({what}): {last_error_line(proc.stderr)}")
        return proc


_LEVEL_TAG = re.compile(r"\[(?:panic|fatal|error|warning|info|verbose|debug)\] ?")


#: ffmpeg's generic lines when a thread gives up (an encoder that would not open, say): they
#: follow the line that gives the reason and say nothing about it.
_TEARDOWN = re.compile(
    r"Terminating thread with return code|Task finished with error code|Error sending frames to "
    r"consumers|Could not open encoder before EOF|Nothing was written into output file|Error "
    r"while opening encoder - maybe incorrect parameters"
)


_SIGNAL_HINTS = {"SIGXFSZ": "the file size limit (ulimit -f)", "SIGKILL": "killed (out of memory?)"}


def failure_reason(returncode: int, stderr: bytes) -> str:
    """Why an ffmpeg process failed: the signal that ended it (it leaves no message then, e.g.
    SIGXFSZ when a file size limit is reached), else :func:`last_error_line`."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        hint = _SIGNAL_HINTS.get(name)
        return f"ffmpeg ended by {name}" + (f": {hint}" if hint else "")
    return last_error_line(stderr)


def last_error_line(stderr: bytes) -> str:
    """The most informative line of an ffmpeg stderr dump (the last non-empty one)."""
    text = _LEVEL_TAG.sub("", stderr.decode("utf-8", "replace"))
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    # ffmpeg's threads tear down with generic lines after the one that says why; skip those
    lines = [ln for ln in lines if not _TEARDOWN.search(ln)] or lines
    if not lines:
        return "no error message"
    # ffmpeg often ends with a generic line; prefer the last line mentioning an error.
    for ln in reversed(lines):
        low = ln.lower()
        if any(w in low for w in ("error", "invalid", "no such file", "not found", "failed")):
            return ln[:300]
    return lines[-1][:300]


def _default_path() -> str:
    # imageio-ffmpeg's lookup imports the package and runs its binary (~50 ms); its answer is
    # remembered per package location and IMAGEIO_FFMPEG_EXE, and used while that file stands.
    import importlib.util

    try:
        spec = importlib.util.find_spec("imageio_ffmpeg")
    except (ImportError, ValueError):
        spec = None
    key = json.dumps([spec.origin if spec else None, os.environ.get("IMAGEIO_FFMPEG_EXE")])
    hit = usercache.lookup("ffmpeg", "default", key)
    if isinstance(hit, dict) and hit.get("stamp") == usercache.stamp(str(hit.get("path"))):
        return str(hit["path"])
    try:
        import imageio_ffmpeg
    except ImportError as exc:  # pragma: no cover - it is a runtime dependency
        raise MissingToolError(f"no ffmpeg found: {_FIX_HINT}") from exc
    try:
        path = str(imageio_ffmpeg.get_ffmpeg_exe())
    except RuntimeError as exc:
        raise MissingToolError(f"no ffmpeg found: {_FIX_HINT}") from exc
    stamp = usercache.stamp(path)
    if stamp is not None:
        usercache.remember("ffmpeg", "default", key, {"path": path, "stamp": stamp})
    return path


@functools.lru_cache(maxsize=8)
def _check(path: str) -> FFmpeg:
    exe = Path(path)
    if not exe.is_file() or not os.access(exe, os.X_OK):
        raise MissingToolError(f"ffmpeg not found or not executable at {path}: {_FIX_HINT}")
    real = str(exe.resolve())
    stamp = usercache.stamp(real)
    hit = usercache.lookup("ffmpeg", "checked", real)
    if isinstance(hit, dict) and stamp is not None and hit.get("stamp") == stamp:
        return FFmpeg(path=real, version_line=str(hit["version_line"]))
    try:
        ver = subprocess.run(
            [path, "-hide_banner", "-version"], capture_output=True, timeout=30, check=False
        )
        filters = subprocess.run(
            [path, "-hide_banner", "-filters"], capture_output=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise MissingToolError(f"cannot run ffmpeg at {path} ({exc}): {_FIX_HINT}") from exc
    version_line = ver.stdout.decode("utf-8", "replace").splitlines()[0:1]
    if ver.returncode != 0 or not version_line:
        raise MissingToolError(f"{path} does not look like ffmpeg: {_FIX_HINT}")
    has_vmaf = any(
        line.split()[1:2] == ["libvmaf"]
        for line in filters.stdout.decode("utf-8", "replace").splitlines()
        if line.strip()
    )
    if not has_vmaf:
        raise MissingToolError(f"ffmpeg at {path} has no libvmaf filter: {_FIX_HINT}")
    checked = FFmpeg(path=real, version_line=version_line[0].strip())
    if stamp is not None and stamp == usercache.stamp(real):  # unchanged while it was checked
        usercache.remember(
            "ffmpeg", "checked", real, {"stamp": stamp, "version_line": checked.version_line}
        )
    return checked


@functools.lru_cache(maxsize=8)
def _video_encoders(path: str) -> frozenset[str]:
    proc = subprocess.run(
        [path, "-hide_banner", "-nostdin", "-encoders"], capture_output=True, check=False
    )
    names = set()
    for line in proc.stdout.decode("utf-8", "replace").splitlines():
        cols = line.split()
        # " V....D libx264   ..." after the legend and its "------" rule
        if len(cols) >= 2 and len(cols[0]) == 6 and cols[0][0] == "V" and cols[0] != "V.....":
            names.add(cols[1])
    return frozenset(names)


def video_encoders(ff: FFmpeg) -> frozenset[str]:
    """Names of the video encoders ``ff`` was built with (``ffmpeg -encoders``, cached)."""
    return _video_encoders(ff.path)


@functools.lru_cache(maxsize=32)
def _encoder_options(path: str, encoder: str) -> tuple[tuple[str, str], ...]:
    proc = subprocess.run(
        [path, "-hide_banner", "-nostdin", "-h", f"encoder={encoder}"],
        capture_output=True,
        check=False,
    )
    found = []
    for line in proc.stdout.decode("utf-8", "replace").splitlines():
        # "  -crf               <float>      E..V....... Select the quality ..."
        cols = line.split()
        if line.startswith("  -") and len(cols) >= 2 and cols[1].startswith("<"):
            found.append((cols[0][1:], cols[1].strip("<>")))
    return tuple(found)


def encoder_options(ff: FFmpeg, encoder: str) -> dict[str, str]:
    """The private options an encoder of ``ff`` takes, name -> value type (``crf`` -> ``float``
    for x264, ``int`` for libaom; ``preset``, ``cpu-used``...), from ``ffmpeg -h encoder=NAME``
    (cached); empty for an unknown encoder."""
    return dict(_encoder_options(ff.path, encoder))


def resolve_ffmpeg(override: str | os.PathLike[str] | None = None) -> FFmpeg:
    """Find and check ffmpeg: ``override``, else ``$VMAF_TINY_FFMPEG``, else imageio-ffmpeg's.

    Raises:
        MissingToolError: no usable binary, or it lacks the libvmaf filter.
    """
    if override:
        return _check(str(override))
    env = os.environ.get(ENV_FFMPEG)
    if env:
        return _check(env)
    return _check(_default_path())
