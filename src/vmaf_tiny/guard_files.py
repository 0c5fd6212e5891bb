"""The guard's file side: reading a model or sidecar safely, the model directory jail, size caps
and size classes, and external data (see :mod:`vmaf_tiny.guard` for the whole list of checks).

Files are read once into memory without blocking on FIFOs or devices; with
``VMAF_TINY_MODEL_DIR`` set, models and sidecars must lie inside that directory; external data
must be regular files in the model's own directory, and everything together stays under
:data:`MAX_MODEL_BYTES`.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from vmaf_tiny.errors import BadModelError
from vmaf_tiny.graph import all_tensors, external_info, parse_model

if TYPE_CHECKING:
    import onnx

    from vmaf_tiny.guard_report import Recorder

__all__ = [
    "ENV_MODEL_DIR",
    "MAX_MODEL_BYTES",
    "MAX_SIDECAR_BYTES",
    "SIZE_CLASSES",
    "SizeClassWarning",
    "check_size_class",
    "external_data",
    "fmt_bytes",
    "inside",
    "jail_dir",
    "read_regular",
    "regular_file_problem",
    "size_class_limit",
]

#: Hard cap on a model's bytes (the .onnx file plus any external data). No setting changes it.
MAX_MODEL_BYTES: int = 50 * 1024 * 1024
#: Cap on the sidecar JSON.
MAX_SIDECAR_BYTES: int = 1024 * 1024
#: Size-class limits (bytes): a warning when loading, an error when registering.
SIZE_CLASSES: Mapping[str, int] = {
    "C1": 100 * 1024,
    "C2": 5 * 1024 * 1024,
    "C3": 2 * 1024 * 1024,
}
#: With this environment variable set, models (and sidecars) must lie inside that directory.
ENV_MODEL_DIR = "VMAF_TINY_MODEL_DIR"


class SizeClassWarning(UserWarning):
    """A model is larger than its size class allows (an error at registration)."""


# ---------------------------------------------------------------------------- file access


def jail_dir() -> Path | None:
    raw = os.environ.get(ENV_MODEL_DIR)
    if not raw:
        return None
    jail = Path(os.path.realpath(raw))
    if not jail.is_dir():
        raise BadModelError(f"{ENV_MODEL_DIR}={raw} is not a directory")
    return jail


def inside(path: Path, root: Path) -> bool:
    try:
        return os.path.commonpath([str(path), str(root)]) == str(root)
    except ValueError:
        return False


def kind_of(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def regular_file_problem(path: Path) -> str | None:
    """None if ``path`` (following links) is a regular file, else why not."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return f"no such file: {path}"
    except OSError as exc:
        return f"cannot stat {path}: {exc.strerror}"
    if not stat.S_ISREG(st.st_mode):
        return f"{path} is {kind_of(st.st_mode)}, not a regular file"
    return None


def read_regular(path: Path, limit: int) -> bytes:
    """Read a regular file of at most ``limit`` bytes without blocking on FIFOs or devices.

    Raises:
        OSError / ValueError: with a one-line reason.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError(f"{path} is {kind_of(st.st_mode)}, not a regular file")
        if st.st_size > limit:
            raise ValueError(f"{st.st_size} bytes exceeds the cap of {limit} bytes")
        chunks = []
        left = limit + 1
        while left > 0:
            block = os.read(fd, min(left, 1 << 20))
            if not block:
                break
            chunks.append(block)
            left -= len(block)
        data = b"".join(chunks)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise ValueError(f"file grew past the cap of {limit} bytes while reading")
    return data


def fmt_bytes(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.2f} MiB"
    if n >= 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n} B"


# ---------------------------------------------------------------------------- size classes


def size_class_limit(cls: str) -> int:
    """Byte limit of a size class (``C1``, ``C2``, ``C3``)."""
    if cls not in SIZE_CLASSES:
        raise BadModelError(f"unknown size class {cls!r} (choose from {sorted(SIZE_CLASSES)})")
    return SIZE_CLASSES[cls]


def check_size_class(path_or_bytes: str | os.PathLike[str] | bytes, cls: str) -> int:
    """Registration check: raise if a model is larger than its size class allows.

    For a path, the size counts the .onnx file plus any external data files it references
    (each counted once).

    Args:
        path_or_bytes: The model file, or its serialized bytes.
        cls: ``C1`` (<= 100 KiB), ``C2`` (<= 5 MiB) or ``C3`` (<= 2 MiB).

    Returns:
        The size in bytes.

    Raises:
        BadModelError: over the class limit, over the 50 MiB cap, or unreadable.
    """
    limit = size_class_limit(cls)
    if isinstance(path_or_bytes, bytes | bytearray):
        size = len(path_or_bytes)
        name = "model"
    else:
        path = Path(path_or_bytes)
        name = path.name
        problem = regular_file_problem(path)
        if problem:
            raise BadModelError(problem)
        size = path.stat().st_size
        if size <= MAX_MODEL_BYTES:
            size += _external_bytes_for_size(path)
    if size > MAX_MODEL_BYTES:
        raise BadModelError(f"{name}: {fmt_bytes(size)} exceeds the 50 MiB cap")
    if size > limit:
        raise BadModelError(
            f"{name}: {fmt_bytes(size)} exceeds size class {cls} ({fmt_bytes(limit)})"
        )
    return size


def _external_bytes_for_size(path: Path) -> int:
    """External data bytes a model references (0 when none or unparsable)."""
    try:
        model = parse_model(path.read_bytes())
    except Exception:
        return 0
    total = 0
    seen: set[str] = set()
    for t in all_tensors(model):
        if t.data_location != 1:
            continue
        loc = external_info(t).get("location", "")
        if loc in seen:
            continue
        seen.add(loc)
        ext = path.parent / loc
        with contextlib.suppress(OSError):
            total += ext.stat().st_size
    return total


# ---------------------------------------------------------------------------- external data


def external_data(
    model: onnx.ModelProto, model_real: Path, own_bytes: int, rec: Recorder
) -> int | None:
    """Validate external data references and inline them into ``model``.

    Returns:
        The external bytes inlined (0 when none), or None if a reference was refused.
    """
    import onnx

    tensors = [t for t in all_tensors(model) if t.data_location == onnx.TensorProto.EXTERNAL]
    if not tensors:
        rec.ok("external_data", "none")
        return 0
    base = model_real.parent
    total = own_bytes
    files: dict[str, tuple[Path, int]] = {}
    plan: list[tuple[onnx.TensorProto, Path, int, int]] = []
    for t in tensors:
        info = external_info(t)
        loc = info.get("location", "")
        if not loc or os.path.isabs(loc) or "\x00" in loc:
            rec.fail("external_data", f"tensor {t.name!r}: bad external location {loc!r}")
            return None
        if loc not in files:
            target = Path(os.path.realpath(base / loc))
            if target.parent != base:
                rec.fail(
                    "external_data",
                    f"tensor {t.name!r}: external file {loc!r} is outside the model's directory",
                )
                return None
            problem = regular_file_problem(target)
            if problem:
                rec.fail("external_data", f"tensor {t.name!r}: {problem}")
                return None
            files[loc] = (target, target.stat().st_size)
        target, fsize = files[loc]
        try:
            offset = int(info.get("offset", "0") or 0)
            length = int(info["length"]) if info.get("length") else fsize - offset
        except ValueError:
            rec.fail("external_data", f"tensor {t.name!r}: bad offset/length")
            return None
        if offset < 0 or length < 0 or offset + length > fsize:
            rec.fail(
                "external_data",
                f"tensor {t.name!r}: offset {offset} + length {length} outside {loc!r} "
                f"({fsize} bytes)",
            )
            return None
        total += length
        if total > MAX_MODEL_BYTES:
            rec.fail(
                "external_data",
                f"model plus external data exceeds the 50 MiB cap ({fmt_bytes(total)} so far)",
            )
            return None
        plan.append((t, target, offset, length))
    for t, target, offset, length in plan:
        try:
            with open(target, "rb") as fh:
                fh.seek(offset)
                blob = fh.read(length)
        except OSError as exc:
            rec.fail("external_data", f"cannot read {target.name}: {exc.strerror}")
            return None
        if len(blob) != length:
            rec.fail("external_data", f"{target.name} shrank while reading")
            return None
        t.raw_data = blob
        del t.external_data[:]
        t.data_location = onnx.TensorProto.DEFAULT
    rec.ok(
        "external_data",
        f"{len(plan)} tensor(s) in {len(files)} file(s) beside the model, total {fmt_bytes(total)}",
    )
    return total - own_bytes
