"""The guard's sidecar side: reading a model's sidecar safely and checking it against the graph.

:func:`load_sidecar` runs check 11 (a regular file of at most
:data:`~vmaf_tiny.guard_files.MAX_SIDECAR_BYTES`, inside ``VMAF_TINY_MODEL_DIR`` when set, JSON,
valid against ``schemas/sidecar.schema.json``) and :func:`check_sidecar_graph` check 12 (the
sidecar agrees with the graph) of :mod:`vmaf_tiny.guard`; :func:`read_sidecar` is the sidecar
checks alone, for routing on a sidecar before the full guard runs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vmaf_tiny.errors import BadModelError
from vmaf_tiny.guard_files import (
    ENV_MODEL_DIR,
    MAX_SIDECAR_BYTES,
    fmt_bytes,
    inside,
    jail_dir,
    read_regular,
    regular_file_problem,
)
from vmaf_tiny.guard_report import CheckReport, Recorder
from vmaf_tiny.sidecar import find_sidecar, sidecar_graph_problem, validate_sidecar

if TYPE_CHECKING:
    import onnx

__all__ = ["check_sidecar_graph", "load_sidecar", "read_sidecar"]


def load_sidecar(path: Path, rec: Recorder, jail: Path | None) -> dict[str, Any] | None:
    """Read and validate the sidecar at ``path``, recording ``sidecar_file`` and ``sidecar_schema``.

    Args:
        path: The sidecar JSON.
        rec: Where each check's outcome goes (raises on a failure in strict mode).
        jail: ``VMAF_TINY_MODEL_DIR`` when set (the sidecar must resolve inside it), else None.

    Returns:
        The validated sidecar, or None when a check failed.
    """
    real = Path(os.path.realpath(path))
    if jail is not None and not inside(real, jail):
        rec.fail("sidecar_file", f"sidecar {path.name} resolves outside {ENV_MODEL_DIR}")
        return None
    problem = regular_file_problem(path)
    if problem:
        rec.fail("sidecar_file", problem)
        return None
    try:
        raw = read_regular(real, MAX_SIDECAR_BYTES)
    except (OSError, ValueError) as exc:
        rec.fail("sidecar_file", f"sidecar {path.name}: {getattr(exc, 'strerror', None) or exc}")
        return None
    rec.ok("sidecar_file", f"{path.name}, {fmt_bytes(len(raw))}")
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


def check_sidecar_graph(
    model: onnx.ModelProto,
    sidecar: dict[str, Any],
    path: Path,
    opset: int | None,
    rec: Recorder,
) -> None:
    """Record ``sidecar_graph``: whether the sidecar agrees with the graph (names, dtypes, dims).

    Args:
        model: The parsed model.
        sidecar: The validated sidecar.
        path: The .onnx file (its name must match the sidecar's).
        opset: The model's default-domain opset, when known.
        rec: Where the outcome goes.
    """
    problem = sidecar_graph_problem(model, sidecar, path.name, opset)
    if problem:
        rec.fail("sidecar_graph", problem)
    else:
        ins = ", ".join(i["name"] for i in sidecar["inputs"])
        rec.ok("sidecar_graph", f"inputs [{ins}], outputs and static dims match the graph")


def read_sidecar(
    path: str | os.PathLike[str], *, sidecar: str | os.PathLike[str] | None = None
) -> dict[str, Any]:
    """A model's sidecar through the guard's sidecar checks only (no ONNX parsing).

    The checks are the ones :func:`~vmaf_tiny.guard.guard_model` runs on the sidecar (a regular
    file, inside ``VMAF_TINY_MODEL_DIR`` when set, under the size cap, JSON, valid against the
    schema); it costs milliseconds, so a caller can route on the sidecar (kind, inputs, codec
    block) and fail early before it runs the full guard. It is no substitute for
    :func:`~vmaf_tiny.guard.guard_model`.

    Args:
        path: The .onnx file.
        sidecar: The sidecar JSON (default: found beside the model).

    Raises:
        BadModelError: no sidecar, or it fails a check (one line).
    """
    p = Path(path)
    report = CheckReport(path=p)
    rec = Recorder(report, strict=True)
    jail = jail_dir()
    # The model file's first checks, so that errors come in the guard's order.
    problem = regular_file_problem(p)
    if problem:
        rec.fail("regular_file", problem)
    real = Path(os.path.realpath(p))
    if jail is not None and not inside(real, jail):
        rec.fail("jail", f"{p} resolves to {real}, outside {ENV_MODEL_DIR}={jail}")
    sc_path = Path(sidecar) if sidecar is not None else find_sidecar(p)
    if sc_path is None:
        detail = f"no sidecar beside {p.name} (expected {p.stem}.json)"
        raise BadModelError(f"{p.name}: sidecar_file: {detail}")
    sc = load_sidecar(sc_path, rec, jail)
    if sc is None:  # pragma: no cover - strict mode raises first
        report.raise_if_failed()
        raise BadModelError(f"{p.name}: sidecar unusable")
    return sc
