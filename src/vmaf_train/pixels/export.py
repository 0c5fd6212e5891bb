"""Declare, export, verify: pixel models to one self-contained ONNX file.

The TorchScript exporter (``dynamo=False``, the same path as the FR export) writes default-domain
ops only at a pinned opset, with the batch axis (and, for fully convolutional models, the
spatial axes) dynamic; BatchNorm is folded into the convolutions because the model is exported
in eval mode with constant folding. The file is checked (one file, no external data, default
domain, ONNX checker), stamped with provenance ``metadata_props`` and run on ONNX Runtime against
torch at several batch sizes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import torch

from vmaf_tiny.errors import BadModelError
from vmaf_tiny.fsutil import sha256_file
from vmaf_train.export import finalize_export, graph_ops, torch_to_proto

__all__ = [
    "VERIFY_BATCHES",
    "PixelExport",
    "TensorSpec",
    "export_pixel_onnx",
    "graph_ops",
    "ort_session",
]

VERIFY_BATCHES = (1, 2, 5)
OPSET = 17


@dataclass(frozen=True)
class TensorSpec:
    """One graph input/output: name, shape (ints or axis names), role for the sidecar."""

    name: str
    shape: tuple[int | str, ...]
    role: str

    def sidecar(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": "float32", "shape": list(self.shape), "role": self.role}


@dataclass(frozen=True)
class PixelExport:
    """What an export produced and how it verified."""

    path: Path
    sha256: str
    bytes: int
    opset: int
    ops: tuple[str, ...]
    max_abs_diff: float
    batches: tuple[int, ...]


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


def _dynamic_axes(specs: Sequence[TensorSpec]) -> dict[str, dict[int, str]]:
    return {s.name: {i: d for i, d in enumerate(s.shape) if isinstance(d, str)} for s in specs}


def export_pixel_onnx(
    model: torch.nn.Module,
    path: str | Path,
    *,
    inputs: Sequence[TensorSpec],
    outputs: Sequence[TensorSpec],
    example: Callable[[int], tuple[torch.Tensor, ...]],
    metadata: Mapping[str, Any] | None = None,
    opset: int = OPSET,
    verify_batches: Sequence[int] = VERIFY_BATCHES,
    atol: float = 1e-4,
) -> PixelExport:
    """Export, check, stamp and verify a pixel model.

    Args:
        model: The trained module (eval mode is set here).
        path: Destination ``.onnx`` (written atomically).
        inputs: Input contract (dynamic axes are the string dims).
        outputs: Output contract.
        example: batch size -> example input tensors (seeded, in the input's value range).
        metadata: ``metadata_props`` (values stringified).
        opset: Default-domain opset.
        verify_batches: Batch sizes run on ONNX Runtime against torch.
        atol: Allowed |ORT - torch| relative to the output scale (``atol * max(1, |y|)``).

    Raises:
        BadModelError: external data, a non-default op domain, checker failure, or ORT disagrees
            with torch.
    """
    model = model.eval()
    dest = Path(path)
    names_in = [s.name for s in inputs]
    names_out = [s.name for s in outputs]
    proto = torch_to_proto(
        model,
        example(2),
        opset=opset,
        input_names=names_in,
        output_names=names_out,
        dynamic_axes=_dynamic_axes([*inputs, *outputs]),
    )
    finalize_export(proto, dest, metadata)
    sess = ort_session(dest)
    worst = 0.0
    for b in verify_batches:
        ex = example(b)
        with torch.no_grad():
            want = model(*ex)
        want_t = want if isinstance(want, tuple) else (want,)
        feed = {n: t.numpy().astype(np.float32) for n, t in zip(names_in, ex, strict=True)}
        got = sess.run(names_out, feed)
        for g, w in zip(got, want_t, strict=True):
            wn = w.numpy()
            if g.shape != wn.shape:
                dest.unlink(missing_ok=True)
                raise BadModelError(f"ORT output shape {g.shape} at batch {b}, torch {wn.shape}")
            err = np.abs(g.astype(np.float64) - wn)
            worst = max(worst, float(err.max()))
            if np.any(err > atol * np.maximum(1.0, np.abs(wn))):
                dest.unlink(missing_ok=True)
                raise BadModelError(
                    f"ORT differs from torch by {float(err.max()):.3g} at batch {b} (> {atol})"
                )
    opset_v = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), opset)
    return PixelExport(
        path=dest,
        sha256=sha256_file(dest),
        bytes=dest.stat().st_size,
        opset=int(opset_v),
        ops=tuple(op for _, op in graph_ops(proto)),
        max_abs_diff=worst,
        batches=tuple(int(b) for b in verify_batches),
    )
