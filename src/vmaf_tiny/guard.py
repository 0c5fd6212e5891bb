"""Load-time checks on a model file and its sidecar, before ONNX Runtime ever sees them.

Every model the runtime runs passes :func:`guard_model` first. The file is opened once, read
once into memory, and every check runs on those bytes; ONNX Runtime later gets the same bytes
(with any external data inlined), never the path. The checks, in order:

1. the path is a regular file (no FIFO, device or directory);
2. with ``VMAF_TINY_MODEL_DIR`` set, its real path lies inside that directory;
3. it is non-empty and at most :data:`MAX_MODEL_BYTES` (a constant: no setting changes it);
4. when loaded by registry id, its sha256 matches the registry;
5. it parses as an ONNX protobuf;
6. it imports only the default ONNX domain, at a supported opset, and has no local functions
   or training info;
7. every node, including those in If/Loop subgraphs (nested at most :data:`MAX_GRAPH_DEPTH`
   deep), is in :data:`ALLOWED_OPS` and in the default domain; at most :data:`MAX_NODES` nodes;
8. every Loop has a constant trip count (an initializer or a Constant node) and nested trip
   counts multiply to at most :data:`MAX_LOOP_TRIPS`;
9. external data, if any, lies in the model's own directory (regular files) and the model plus
   its external data stays under the cap;
10. ``onnx.checker`` accepts the model (with external data inlined);
11. the sidecar JSON is a regular file of at most :data:`MAX_SIDECAR_BYTES` beside the model,
    valid against ``schemas/sidecar.schema.json``;
12. the sidecar agrees with the graph: file name, opset, input and output names, order, dtypes and
    static dimensions, feature/codec widths and normalisation lengths;
13. the size class (C1/C2/C3) limit: a warning at load, an error at registration
    (:func:`check_size_class`);
14. resource bounds (:mod:`vmaf_tiny.bounds`): with the dynamic input dimensions bound to one
    item of the largest input the runtime feeds, ONNX shape inference finds no tensor over
    :data:`~vmaf_tiny.bounds.MAX_TENSOR_BYTES` and every size-creating node (ConstantOfShape,
    Expand, Tile, Resize, Pad) has an output size fixed by constants or the input shapes.

:func:`check_model` runs all of them and reports each; :func:`guard_model` stops at the first
failure with a :class:`~vmaf_tiny.errors.BadModelError` whose one-line message names it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vmaf_tiny.allowlist import ALLOWED_OPS, allowlist_markdown, write_allowlist_doc
from vmaf_tiny.bounds import tensor_size_problem
from vmaf_tiny.errors import BadModelError
from vmaf_tiny.graph import (
    DEFAULT_DOMAINS,
    GraphWalk,
    all_tensors,
    external_info,
    parse_model,
)
from vmaf_tiny.sidecar import find_sidecar, sidecar_graph_problem, validate_sidecar

if TYPE_CHECKING:
    import onnx

__all__ = [
    "ALLOWED_OPS",
    "ENV_MODEL_DIR",
    "MAX_GRAPH_DEPTH",
    "MAX_LOOP_TRIPS",
    "MAX_MODEL_BYTES",
    "MAX_NODES",
    "MAX_SIDECAR_BYTES",
    "SIZE_CLASSES",
    "Check",
    "CheckReport",
    "GuardedModel",
    "SizeClassWarning",
    "allowlist_markdown",
    "check_model",
    "check_size_class",
    "guard_model",
    "read_sidecar",
    "write_allowlist_doc",
]

#: Hard cap on a model's bytes (the .onnx file plus any external data). No setting changes it.
MAX_MODEL_BYTES: int = 50 * 1024 * 1024
#: Cap on the sidecar JSON.
MAX_SIDECAR_BYTES: int = 1024 * 1024
#: If/Loop subgraphs may nest this deep (the main graph is depth 0).
MAX_GRAPH_DEPTH: int = 8
#: Largest Loop trip count; nested Loops' trip counts multiply to at most this.
MAX_LOOP_TRIPS: int = 1024
#: Most nodes in a model, subgraphs included.
MAX_NODES: int = 65536
#: Size-class limits (bytes): a warning when loading, an error when registering.
SIZE_CLASSES: Mapping[str, int] = {
    "C1": 100 * 1024,
    "C2": 5 * 1024 * 1024,
    "C3": 2 * 1024 * 1024,
}
#: With this environment variable set, models (and sidecars) must lie inside that directory.
ENV_MODEL_DIR = "VMAF_TINY_MODEL_DIR"

_MIN_OPSET = 7


class SizeClassWarning(UserWarning):
    """A model is larger than its size class allows (an error at registration)."""


@dataclass(frozen=True)
class Check:
    """One load-time check.

    Attributes:
        name: Short name (``regular_file``, ``operators``, ...).
        status: ``pass``, ``fail``, ``warn`` or ``skip`` (an earlier failure made it moot).
        detail: One line saying what was found.
    """

    name: str
    status: str
    detail: str

    @property
    def ok(self) -> bool:
        return self.status in ("pass", "warn", "skip")

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status, "detail": self.detail}


@dataclass
class CheckReport:
    """Every check run on one model, in order.

    Attributes:
        path: The model file.
        sidecar_path: The sidecar checked (None if none was found).
        checks: The checks, in the order they ran.
    """

    path: Path
    sidecar_path: Path | None = None
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no check failed (warnings and skips allowed)."""
        return all(c.status != "fail" for c in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if c.status == "fail"]

    @property
    def warnings(self) -> list[str]:
        return [c.detail for c in self.checks if c.status == "warn"]

    def raise_if_failed(self) -> None:
        """Raise BadModelError naming the first failed check."""
        if self.failures:
            first = self.failures[0]
            raise BadModelError(f"{self.path.name}: {first.name}: {first.detail}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "sidecar": str(self.sidecar_path) if self.sidecar_path else None,
            "ok": self.ok,
            "checks": [c.to_dict() for c in self.checks],
        }


@dataclass(frozen=True)
class GuardedModel:
    """A model that passed every check, held in memory.

    Attributes:
        path: The model file as given.
        model_bytes: The serialized model for ONNX Runtime (external data inlined).
        sha256: sha256 of the .onnx file's bytes as read.
        total_bytes: The .onnx file plus its external data.
        sidecar: The validated sidecar.
        sidecar_path: Where it came from.
        opset: The default-domain opset.
        report: The checks that ran.
    """

    path: Path
    model_bytes: bytes
    sha256: str
    total_bytes: int
    sidecar: dict[str, Any]
    sidecar_path: Path
    opset: int
    report: CheckReport

    @property
    def warnings(self) -> list[str]:
        return self.report.warnings


class _Recorder:
    """Collects checks; in strict mode the first failure raises BadModelError."""

    def __init__(self, report: CheckReport, strict: bool) -> None:
        self.report = report
        self.strict = strict

    def add(self, name: str, status: str, detail: str) -> None:
        detail = " ".join(detail.split())[:400]
        self.report.checks.append(Check(name, status, detail))
        if status == "fail" and self.strict:
            self.report.raise_if_failed()

    def ok(self, name: str, detail: str) -> None:
        self.add(name, "pass", detail)

    def fail(self, name: str, detail: str) -> None:
        self.add(name, "fail", detail)

    def skip(self, names: tuple[str, ...], why: str) -> None:
        for n in names:
            self.add(n, "skip", why)


# ---------------------------------------------------------------------------- file access


def _jail_dir() -> Path | None:
    raw = os.environ.get(ENV_MODEL_DIR)
    if not raw:
        return None
    jail = Path(os.path.realpath(raw))
    if not jail.is_dir():
        raise BadModelError(f"{ENV_MODEL_DIR}={raw} is not a directory")
    return jail


def _inside(path: Path, root: Path) -> bool:
    try:
        return os.path.commonpath([str(path), str(root)]) == str(root)
    except ValueError:
        return False


def _kind_of(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _regular_file_problem(path: Path) -> str | None:
    """None if ``path`` (following links) is a regular file, else why not."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return f"no such file: {path}"
    except OSError as exc:
        return f"cannot stat {path}: {exc.strerror}"
    if not stat.S_ISREG(st.st_mode):
        return f"{path} is {_kind_of(st.st_mode)}, not a regular file"
    return None


def _read_regular(path: Path, limit: int) -> bytes:
    """Read a regular file of at most ``limit`` bytes without blocking on FIFOs or devices.

    Raises:
        OSError / ValueError: with a one-line reason.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError(f"{path} is {_kind_of(st.st_mode)}, not a regular file")
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


def _fmt_bytes(n: int) -> str:
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
        problem = _regular_file_problem(path)
        if problem:
            raise BadModelError(problem)
        size = path.stat().st_size
        if size <= MAX_MODEL_BYTES:
            size += _external_bytes_for_size(path)
    if size > MAX_MODEL_BYTES:
        raise BadModelError(f"{name}: {_fmt_bytes(size)} exceeds the 50 MiB cap")
    if size > limit:
        raise BadModelError(
            f"{name}: {_fmt_bytes(size)} exceeds size class {cls} ({_fmt_bytes(limit)})"
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


# ---------------------------------------------------------------------------- graph walking


def _default_opset(model: onnx.ModelProto) -> int | None:
    for imp in model.opset_import:
        if imp.domain in DEFAULT_DOMAINS:
            return int(imp.version)
    return None


def _check_opset(model: onnx.ModelProto, rec: _Recorder) -> int | None:
    import onnx

    others = sorted({imp.domain for imp in model.opset_import} - DEFAULT_DOMAINS)
    opset = _default_opset(model)
    newest = onnx.defs.onnx_opset_version()
    if others:
        rec.fail("opset", f"imports non-default operator domain(s) {others}")
    elif opset is None:
        rec.fail("opset", "no default-domain opset import")
    elif not _MIN_OPSET <= opset <= newest:
        rec.fail("opset", f"opset {opset} outside the supported range {_MIN_OPSET}..{newest}")
    else:
        rec.ok("opset", f"default domain only, opset {opset}")
        return opset
    return None


def _check_functions(model: onnx.ModelProto, rec: _Recorder) -> None:
    if len(model.functions):
        names = sorted({f"{f.domain}:{f.name}" for f in model.functions})[:5]
        rec.fail("functions", f"model-local functions are not allowed ({', '.join(names)})")
    elif len(model.training_info):
        rec.fail("functions", "training_info graphs are not allowed")
    else:
        rec.ok("functions", "no local functions or training graphs")


# ---------------------------------------------------------------------------- external data


def _external_data(
    model: onnx.ModelProto, model_real: Path, own_bytes: int, rec: _Recorder
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
            problem = _regular_file_problem(target)
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
                f"model plus external data exceeds the 50 MiB cap ({_fmt_bytes(total)} so far)",
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
        f"{len(plan)} tensor(s) in {len(files)} file(s) beside the model, "
        f"total {_fmt_bytes(total)}",
    )
    return total - own_bytes


# ---------------------------------------------------------------------------- sidecar


def _load_sidecar(path: Path, rec: _Recorder, jail: Path | None) -> dict[str, Any] | None:
    real = Path(os.path.realpath(path))
    if jail is not None and not _inside(real, jail):
        rec.fail("sidecar_file", f"sidecar {path.name} resolves outside {ENV_MODEL_DIR}")
        return None
    problem = _regular_file_problem(path)
    if problem:
        rec.fail("sidecar_file", problem)
        return None
    try:
        raw = _read_regular(real, MAX_SIDECAR_BYTES)
    except (OSError, ValueError) as exc:
        rec.fail("sidecar_file", f"sidecar {path.name}: {getattr(exc, 'strerror', None) or exc}")
        return None
    rec.ok("sidecar_file", f"{path.name}, {_fmt_bytes(len(raw))}")
    try:
        obj = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        rec.fail("sidecar_schema", f"sidecar {path.name} is not valid JSON ({exc})")
        return None
    try:
        sidecar = validate_sidecar(obj, f"sidecar {path.name}")
    except BadModelError as exc:
        rec.fail("sidecar_schema", str(exc))
        return None
    except RecursionError:
        rec.fail("sidecar_schema", f"sidecar {path.name} is nested too deeply")
        return None
    rec.ok("sidecar_schema", "valid against sidecar.schema.json")
    return sidecar


def _check_sidecar_graph(
    model: onnx.ModelProto,
    sidecar: dict[str, Any],
    path: Path,
    opset: int | None,
    rec: _Recorder,
) -> None:
    problem = sidecar_graph_problem(model, sidecar, path.name, opset)
    if problem:
        rec.fail("sidecar_graph", problem)
    else:
        ins = ", ".join(i["name"] for i in sidecar["inputs"])
        rec.ok("sidecar_graph", f"inputs [{ins}], outputs and static dims match the graph")


# ---------------------------------------------------------------------------- the checks

_AFTER_PARSE = (
    "opset",
    "functions",
    "operators",
    "loop_bounds",
    "external_data",
    "onnx_checker",
)
_SIDECAR = ("sidecar_file", "sidecar_schema", "sidecar_graph", "size_class", "tensor_sizes")


def _inspect(
    path: str | os.PathLike[str],
    *,
    sidecar: str | os.PathLike[str] | None,
    expected_sha256: str | None,
    strict: bool,
) -> tuple[CheckReport, GuardedModel | None]:
    import onnx

    p = Path(path)
    report = CheckReport(path=p)
    rec = _Recorder(report, strict)
    jail = _jail_dir()

    # 1-3: a regular file, inside the jail, under the cap; read once.
    problem = _regular_file_problem(p)
    if problem:
        rec.fail("regular_file", problem)
        rec.skip(("jail", "size_cap", "sha256", "parse", *_AFTER_PARSE, *_SIDECAR), "no file")
        return report, None
    rec.ok("regular_file", "regular file")
    real = Path(os.path.realpath(p))
    if jail is None:
        rec.ok("jail", f"{ENV_MODEL_DIR} not set")
    elif _inside(real, jail):
        rec.ok("jail", f"inside {ENV_MODEL_DIR}={jail}")
    else:
        rec.fail("jail", f"{p} resolves to {real}, outside {ENV_MODEL_DIR}={jail}")
        rec.skip(("size_cap", "sha256", "parse", *_AFTER_PARSE, *_SIDECAR), "outside the jail")
        return report, None
    try:
        data = _read_regular(real, MAX_MODEL_BYTES)
    except ValueError as exc:
        rec.fail("size_cap", f"{exc} (50 MiB)" if "cap" in str(exc) else str(exc))
        rec.skip(("sha256", "parse", *_AFTER_PARSE, *_SIDECAR), "not read")
        return report, None
    except OSError as exc:
        rec.fail("size_cap", f"cannot read {p}: {exc.strerror}")
        rec.skip(("sha256", "parse", *_AFTER_PARSE, *_SIDECAR), "not read")
        return report, None
    if not data:
        rec.fail("size_cap", "file is empty (0 bytes)")
        rec.skip(("sha256", "parse", *_AFTER_PARSE, *_SIDECAR), "empty file")
        return report, None
    rec.ok("size_cap", f"{_fmt_bytes(len(data))} <= 50 MiB")

    # 4: registry hash.
    digest = hashlib.sha256(data).hexdigest()
    if expected_sha256 is None:
        rec.add("sha256", "skip", f"{digest} (no registry hash to compare)")
    elif digest != expected_sha256.lower():
        rec.fail("sha256", f"sha256 {digest} does not match the registry's {expected_sha256}")
    else:
        rec.ok("sha256", f"{digest} matches the registry")

    # 5: parse.
    try:
        model = parse_model(data)
    except Exception as exc:
        rec.fail("parse", f"not an ONNX model ({type(exc).__name__}: {exc})")
        rec.skip((*_AFTER_PARSE, *_SIDECAR), "not parsed")
        return report, None
    if not model.HasField("graph"):
        rec.fail("parse", "not an ONNX model (no graph)")
        rec.skip((*_AFTER_PARSE, *_SIDECAR), "not parsed")
        return report, None
    rec.ok("parse", f"ONNX IR version {model.ir_version}, {len(model.graph.node)} top-level nodes")

    # 6-8: domains, functions, operators, Loop bounds.
    opset = _check_opset(model, rec)
    _check_functions(model, rec)
    walk = GraphWalk(ALLOWED_OPS, MAX_GRAPH_DEPTH, MAX_NODES, MAX_LOOP_TRIPS)
    walk.run(model)
    if walk.op_problems:
        more = f" (+{len(walk.op_problems) - 1} more)" if len(walk.op_problems) > 1 else ""
        rec.fail("operators", walk.op_problems[0] + more)
    else:
        rec.ok(
            "operators",
            f"{walk.n_nodes} node(s), all allowed, subgraph depth {walk.max_depth}",
        )
    if walk.loop_problems:
        rec.fail("loop_bounds", walk.loop_problems[0])
    else:
        rec.ok("loop_bounds", f"{walk.n_loops} Loop(s), constant trip counts")

    # 9: external data (inlined into `model` when valid).
    ext_bytes = _external_data(model, real, len(data), rec)

    # 10: the ONNX checker, on the complete model.
    checked = False
    if not report.ok:
        rec.skip(("onnx_checker",), "an earlier check failed")
    else:
        try:
            onnx.checker.check_model(model)
            rec.ok("onnx_checker", "onnx.checker accepts the model")
            checked = True
        except Exception as exc:
            rec.fail("onnx_checker", f"onnx.checker: {exc}")

    # 11-13: sidecar.
    sc_path = Path(sidecar) if sidecar is not None else find_sidecar(p)
    report.sidecar_path = sc_path
    sc: dict[str, Any] | None = None
    if sc_path is None:
        rec.fail("sidecar_file", f"no sidecar beside {p.name} (expected {p.stem}.json)")
        rec.skip(("sidecar_schema", "sidecar_graph", "size_class", "tensor_sizes"), "no sidecar")
    else:
        sc = _load_sidecar(sc_path, rec, jail)
        if sc is None:
            rec.skip(("sidecar_graph", "size_class", "tensor_sizes"), "sidecar unusable")
        else:
            _check_sidecar_graph(model, sc, p, opset, rec)
    total = len(data) + (ext_bytes or 0)
    if sc is not None:
        cls = sc["class"]
        limit = SIZE_CLASSES[cls]
        if total > limit:
            msg = f"{_fmt_bytes(total)} exceeds size class {cls} ({_fmt_bytes(limit)})"
            rec.add("size_class", "warn", msg)
            if strict:
                warnings.warn(f"{p.name}: {msg}", SizeClassWarning, stacklevel=4)
        else:
            rec.ok("size_class", f"{_fmt_bytes(total)} within {cls} ({_fmt_bytes(limit)})")
        # 14: resource bounds, on a model that passed everything else.
        if not (report.ok and checked):
            rec.skip(("tensor_sizes",), "an earlier check failed")
        else:
            problem, summary = tensor_size_problem(model, sc)
            if problem:
                rec.fail("tensor_sizes", problem)
            else:
                rec.ok("tensor_sizes", summary)

    if not (report.ok and checked and sc is not None and sc_path is not None and opset):
        return report, None
    return report, GuardedModel(
        path=p,
        model_bytes=model.SerializeToString() if ext_bytes else data,
        sha256=digest,
        total_bytes=total,
        sidecar=sc,
        sidecar_path=sc_path,
        opset=opset,
        report=report,
    )


def read_sidecar(
    path: str | os.PathLike[str], *, sidecar: str | os.PathLike[str] | None = None
) -> dict[str, Any]:
    """A model's sidecar through the guard's sidecar checks only (no ONNX parsing).

    The checks are the ones :func:`guard_model` runs on the sidecar (a regular file, inside
    ``VMAF_TINY_MODEL_DIR`` when set, under the size cap, JSON, valid against the schema); it
    costs milliseconds, so a caller can route on the sidecar (kind, inputs, codec block) and fail
    early before it runs the full guard. It is no substitute for :func:`guard_model`.

    Args:
        path: The .onnx file.
        sidecar: The sidecar JSON (default: found beside the model).

    Raises:
        BadModelError: no sidecar, or it fails a check (one line).
    """
    p = Path(path)
    report = CheckReport(path=p)
    rec = _Recorder(report, strict=True)
    jail = _jail_dir()
    # The model file's first checks, so that errors come in the guard's order.
    problem = _regular_file_problem(p)
    if problem:
        rec.fail("regular_file", problem)
    real = Path(os.path.realpath(p))
    if jail is not None and not _inside(real, jail):
        rec.fail("jail", f"{p} resolves to {real}, outside {ENV_MODEL_DIR}={jail}")
    sc_path = Path(sidecar) if sidecar is not None else find_sidecar(p)
    if sc_path is None:
        detail = f"no sidecar beside {p.name} (expected {p.stem}.json)"
        raise BadModelError(f"{p.name}: sidecar_file: {detail}")
    sc = _load_sidecar(sc_path, rec, jail)
    if sc is None:  # pragma: no cover - strict mode raises first
        report.raise_if_failed()
        raise BadModelError(f"{p.name}: sidecar unusable")
    return sc


def check_model(
    path: str | os.PathLike[str],
    *,
    sidecar: str | os.PathLike[str] | None = None,
    expected_sha256: str | None = None,
) -> CheckReport:
    """Run every load-time check and report each one (for ``vmaf-tiny check``).

    Never raises for a bad model: failures are in the report.

    Args:
        path: The .onnx file.
        sidecar: The sidecar JSON (default: found beside the model, see :func:`find_sidecar`).
        expected_sha256: The registry's hash, when checking a registered model.

    Returns:
        The report; ``report.ok`` is False if any check failed.
    """
    report, _ = _inspect(path, sidecar=sidecar, expected_sha256=expected_sha256, strict=False)
    return report


def guard_model(
    path: str | os.PathLike[str],
    *,
    sidecar: str | os.PathLike[str] | None = None,
    expected_sha256: str | None = None,
) -> GuardedModel:
    """Run every load-time check; return the model in memory or raise at the first failure.

    A size-class overrun is a :class:`SizeClassWarning` (``warnings.warn``), not an error.

    Args:
        path: The .onnx file.
        sidecar: The sidecar JSON (default: found beside the model).
        expected_sha256: The registry's hash, when loading by registry id.

    Returns:
        The guarded model (bytes for ONNX Runtime, sidecar, report).

    Raises:
        BadModelError: one line: the file, the failed check and why.
    """
    report, guarded = _inspect(path, sidecar=sidecar, expected_sha256=expected_sha256, strict=True)
    if guarded is None:  # pragma: no cover - strict mode raises first
        report.raise_if_failed()
        raise BadModelError(f"{Path(path).name}: failed a load-time check")
    return guarded
