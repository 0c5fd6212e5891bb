"""ONNX files of the toolkit: torch to one in-memory graph, checked and stamped files, sessions.

:func:`torch_to_proto` runs the TorchScript exporter (``dynamo=False``: plain default-domain ops at
a pinned opset, eval mode, constant folding); :func:`finalize_export` refuses external data and
non-default domains, stamps provenance ``metadata_props``, runs the full ONNX checker and writes
the file atomically. :func:`vmaf_train.ship.export.export_onnx` puts them together.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import onnx
import onnxruntime as ort
import torch

from vmaf_tiny.errors import BadModelError
from vmaf_tiny.fsutil import atomic_write_bytes

__all__ = ["finalize_export", "graph_ops", "ort_session", "torch_to_proto"]


def ort_session(path: str | Path | bytes, threads: int = 1) -> ort.InferenceSession:
    """A CPU ONNX Runtime session for training-side checks (sequential, ``threads`` threads)."""
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.log_severity_level = 3
    src = path if isinstance(path, bytes) else str(path)
    return ort.InferenceSession(src, sess_options=so, providers=["CPUExecutionProvider"])


def graph_ops(model: onnx.ModelProto) -> list[tuple[str, str]]:
    """(domain, op_type) of every node, sorted and distinct."""
    return sorted({(n.domain or "", n.op_type) for n in model.graph.node})


def torch_to_proto(
    model: torch.nn.Module,
    example: tuple[torch.Tensor, ...],
    *,
    opset: int,
    input_names: Sequence[str],
    output_names: Sequence[str],
    dynamic_axes: Mapping[str, Mapping[int, str]],
) -> onnx.ModelProto:
    """``torch.onnx.export`` (TorchScript path, eval mode, constant folding) of ``model`` traced on
    ``example``, read back as one in-memory graph.

    Raises:
        BadModelError: the exporter wrote external data files.
    """
    with tempfile.TemporaryDirectory(prefix="vmaf-train-export-") as tmp:
        tmp_path = Path(tmp) / "model.onnx"
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model,
                example,
                str(tmp_path),
                dynamo=False,
                opset_version=opset,
                input_names=list(input_names),
                output_names=list(output_names),
                dynamic_axes={k: dict(v) for k, v in dynamic_axes.items()},
                do_constant_folding=True,
                export_params=True,
                training=torch.onnx.TrainingMode.EVAL,
            )
        extra = sorted(p.name for p in Path(tmp).iterdir() if p.name != "model.onnx")
        if extra:
            raise BadModelError(f"export wrote external data files {extra}; expected one file")
        return onnx.load(str(tmp_path), load_external_data=False)


def finalize_export(
    proto: onnx.ModelProto, dest: Path, metadata: Mapping[str, Any] | None = None
) -> None:
    """Check an exported graph and write it atomically to ``dest``.

    Rejects external data and non-default operator domains, replaces the metadata with
    ``metadata`` (sorted), sets the producer, runs the full ONNX checker, then writes.

    Raises:
        BadModelError: any check fails (nothing is written).
    """
    for init in proto.graph.initializer:
        if init.data_location == onnx.TensorProto.EXTERNAL:
            raise BadModelError(f"initializer {init.name!r} uses external data")
    domains = sorted({d for d, _ in graph_ops(proto) if d not in ("", "ai.onnx")})
    if domains:
        raise BadModelError(f"exported graph uses non-default op domains {domains}")
    del proto.metadata_props[:]
    for k, v in sorted((metadata or {}).items()):
        entry = proto.metadata_props.add()
        entry.key, entry.value = str(k), str(v)
    proto.producer_name = "vmaf-train"
    try:
        onnx.checker.check_model(proto, full_check=True)
    except onnx.checker.ValidationError as exc:
        raise BadModelError(f"exported graph fails the ONNX checker: {exc}") from exc
    atomic_write_bytes(dest, proto.SerializeToString())
