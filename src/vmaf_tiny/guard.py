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
14. resource bounds (:mod:`vmaf_tiny.tensor_sizes`): with the dynamic input dimensions bound to one
    item of the largest input the runtime feeds, ONNX shape inference finds no tensor over
    :data:`~vmaf_tiny.bounds.MAX_TENSOR_BYTES` and every size-creating node (ConstantOfShape,
    Expand, Tile, Resize, Pad) has an output size fixed by constants or the input shapes; shape
    inference runs in a memory- and time-capped child process (:mod:`vmaf_tiny.shape_sandbox`),
    except for the shipped models (in the package's zoo, with the sha256 its registry lists).

:func:`check_model` runs all of them and reports each; :func:`guard_model` stops at the first
failure with a :class:`~vmaf_tiny.errors.BadModelError` whose one-line message names it. The file
side lives in :mod:`vmaf_tiny.guard_files`, the sidecar side (and :func:`read_sidecar`, the
sidecar checks alone) in :mod:`vmaf_tiny.guard_sidecar`.
"""

from __future__ import annotations

import functools
import hashlib
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vmaf_tiny.allowlist import ALLOWED_OPS, allowlist_markdown, write_allowlist_doc
from vmaf_tiny.errors import BadModelError
from vmaf_tiny.graph import DEFAULT_DOMAINS, GraphWalk, parse_model
from vmaf_tiny.guard_files import (
    ENV_MODEL_DIR,
    MAX_MODEL_BYTES,
    MAX_SIDECAR_BYTES,
    SIZE_CLASSES,
    SizeClassWarning,
    check_size_class,
    external_data,
    fmt_bytes,
    inside,
    jail_dir,
    read_regular,
    regular_file_problem,
)
from vmaf_tiny.guard_report import Check, CheckReport, GuardedModel, Recorder
from vmaf_tiny.guard_sidecar import check_sidecar_graph, load_sidecar, read_sidecar
from vmaf_tiny.sidecar import find_sidecar
from vmaf_tiny.tensor_sizes import tensor_size_problem

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

#: If/Loop subgraphs may nest this deep (the main graph is depth 0).
MAX_GRAPH_DEPTH: int = 8
#: Largest Loop trip count; nested Loops' trip counts multiply to at most this.
MAX_LOOP_TRIPS: int = 1024
#: Most nodes in a model, subgraphs included.
MAX_NODES: int = 65536

_MIN_OPSET = 7


# ---------------------------------------------------------------------------- graph walking


def _default_opset(model: onnx.ModelProto) -> int | None:
    for imp in model.opset_import:
        if imp.domain in DEFAULT_DOMAINS:
            return int(imp.version)
    return None


def _check_opset(model: onnx.ModelProto, rec: Recorder) -> int | None:
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


def _check_functions(model: onnx.ModelProto, rec: Recorder) -> None:
    if len(model.functions):
        names = sorted({f"{f.domain}:{f.name}" for f in model.functions})[:5]
        rec.fail("functions", f"model-local functions are not allowed ({', '.join(names)})")
    elif len(model.training_info):
        rec.fail("functions", "training_info graphs are not allowed")
    else:
        rec.ok("functions", "no local functions or training graphs")


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


def _is_shipped(real: Path, digest: str) -> bool:
    """Whether ``real`` lies in the zoo shipped inside the installed package and its bytes are
    those the shipped registry lists (models the project's own tests check): its size check may
    then skip the sandbox's start-up. A registry hash given by the caller grants nothing."""
    from vmaf_tiny.registry import shipped_zoo

    return digest in _shipped_digests() and inside(real, Path(os.path.realpath(shipped_zoo())))


@functools.lru_cache(maxsize=1)
def _shipped_digests() -> frozenset[str]:
    """The sha256 of every model file (fp32 and int8) the shipped registry lists."""
    from vmaf_tiny.registry import load_registry, shipped_zoo

    try:
        rows = load_registry(shipped_zoo()).rows
    except Exception:  # a damaged install: trust nothing
        return frozenset()
    digests = {str(r.get("sha256", "")) for r in rows}
    digests |= {str((r.get("int8") or {}).get("sha256", "")) for r in rows}
    return frozenset(d.lower() for d in digests if d)


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
    rec = Recorder(report, strict)
    jail = jail_dir()

    # 1-3: a regular file, inside the jail, under the cap; read once.
    problem = regular_file_problem(p)
    if problem:
        rec.fail("regular_file", problem)
        rec.skip(("jail", "size_cap", "sha256", "parse", *_AFTER_PARSE, *_SIDECAR), "no file")
        return report, None
    rec.ok("regular_file", "regular file")
    real = Path(os.path.realpath(p))
    if jail is None:
        rec.ok("jail", f"{ENV_MODEL_DIR} not set")
    elif inside(real, jail):
        rec.ok("jail", f"inside {ENV_MODEL_DIR}={jail}")
    else:
        rec.fail("jail", f"{p} resolves to {real}, outside {ENV_MODEL_DIR}={jail}")
        rec.skip(("size_cap", "sha256", "parse", *_AFTER_PARSE, *_SIDECAR), "outside the jail")
        return report, None
    try:
        data = read_regular(real, MAX_MODEL_BYTES)
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
    rec.ok("size_cap", f"{fmt_bytes(len(data))} <= 50 MiB")

    # 4: registry hash.
    digest = hashlib.sha256(data).hexdigest()
    if expected_sha256 is None:
        rec.add("sha256", "skip", f"{digest} (no registry hash to compare)")
    elif digest != expected_sha256.lower():
        rec.fail("sha256", f"sha256 {digest} does not match the registry's {expected_sha256}")
    else:
        rec.ok("sha256", f"{digest} matches the registry")
    shipped = _is_shipped(real, digest)

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
    ext_bytes = external_data(model, real, len(data), rec)

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
        sc = load_sidecar(sc_path, rec, jail)
        if sc is None:
            rec.skip(("sidecar_graph", "size_class", "tensor_sizes"), "sidecar unusable")
        else:
            check_sidecar_graph(model, sc, p, opset, rec)
    total = len(data) + (ext_bytes or 0)
    if sc is not None:
        cls = sc["class"]
        limit = SIZE_CLASSES[cls]
        if total > limit:
            msg = f"{fmt_bytes(total)} exceeds size class {cls} ({fmt_bytes(limit)})"
            rec.add("size_class", "warn", msg)
            if strict:
                warnings.warn(f"{p.name}: {msg}", SizeClassWarning, stacklevel=4)
        else:
            rec.ok("size_class", f"{fmt_bytes(total)} within {cls} ({fmt_bytes(limit)})")
        # 14: resource bounds, on a model that passed everything else.
        if not (report.ok and checked):
            rec.skip(("tensor_sizes",), "an earlier check failed")
        else:
            problem, summary = tensor_size_problem(model, sc, sandbox=not shipped)
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
