"""Declare, export, verify: every model kind to one self-contained ONNX file.

One path for FR MLPs (plain and codec-aware), NR metrics, learned filters, saliency students and
the smoke checkpoints: a :class:`Contract` declares the graph's inputs and outputs (name, shape,
dtype, role) and the tolerance of the verification; :func:`export_onnx` runs the TorchScript
exporter (``dynamo=False``: plain default-domain ops at a pinned opset, the string axes of the
contract dynamic, BatchNorm folded by constant folding in eval mode), checks the file (one file,
no external data, default domain, ONNX checker), stamps provenance ``metadata_props`` and runs
it on ONNX Runtime against torch at several batch sizes (:func:`verify_onnx`).

Tolerances (per kind, :data:`TOLERANCES`): FR scores allow ``atol`` plus two float32 ulps of the
value (the ulp of a score near 100 is 7.6e-6); pixel models allow ``atol * max(1, |y|)``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import onnxruntime as ort
import torch

from vmaf_tiny.errors import BadModelError
from vmaf_tiny.fsutil import sha256_file
from vmaf_train.evaluate.predict import make_session
from vmaf_train.models.mlp import FRMLP
from vmaf_train.ship.onnx_io import finalize_export, graph_ops, ort_session, torch_to_proto

__all__ = [
    "FR_VERIFY_BATCHES",
    "OPSET",
    "TOLERANCES",
    "VERIFY_BATCHES",
    "Contract",
    "ExportInfo",
    "TensorSpec",
    "Tolerance",
    "export_fr_onnx",
    "export_onnx",
    "export_pixel_onnx",
    "fr_contract",
    "io_contract",
    "verify_onnx",
]

OPSET = 17
#: Batch sizes a pixel model is verified at (ORT vs torch).
VERIFY_BATCHES = (1, 2, 5)
#: Batch sizes an FR MLP is verified at.
FR_VERIFY_BATCHES = (1, 2, 7)
FEATURES_INPUT = "features"
CODEC_INPUT = "codec"
SCORE_OUTPUT = "score"


@dataclass(frozen=True)
class TensorSpec:
    """One graph input/output: name, shape (ints or axis names), role for the sidecar."""

    name: str
    shape: tuple[int | str, ...]
    role: str
    dtype: str = "float32"

    def sidecar(self) -> dict[str, Any]:
        """The sidecar's ``inputs``/``outputs`` entry."""
        return {
            "name": self.name,
            "dtype": self.dtype,
            "shape": list(self.shape),
            "role": self.role,
        }


@dataclass(frozen=True)
class Tolerance:
    """How far ONNX Runtime may be from torch.

    Attributes:
        atol: The absolute allowance.
        rule: ``"ulp"``: ``atol`` plus two float32 ulps of the value (FR scores);
            ``"scaled"``: ``atol * max(1, |y|)`` (pixel models).
    """

    atol: float
    rule: Literal["ulp", "scaled"]

    def allowed(self, want: np.ndarray) -> np.ndarray:
        """Per-element allowance for the torch output ``want``."""
        if self.rule == "ulp":
            ulp = np.spacing(np.abs(want).astype(np.float32)).astype(np.float64)
            return self.atol + 2.0 * ulp
        return self.atol * np.maximum(1.0, np.abs(want))


#: The verification tolerance of each model kind.
TOLERANCES: dict[str, Tolerance] = {
    "fr": Tolerance(1e-5, "ulp"),
    "nr": Tolerance(1e-4, "scaled"),
    "filter": Tolerance(1e-4, "scaled"),
    "saliency": Tolerance(1e-4, "scaled"),
    "smoke": Tolerance(1e-4, "scaled"),
}


@dataclass(frozen=True)
class Contract:
    """What an exported graph must look like and how closely it must follow torch.

    Attributes:
        inputs: Input tensors (string dims are dynamic axes).
        outputs: Output tensors.
        tolerance: The ORT vs torch allowance.
        verify_batches: Batch sizes run on ONNX Runtime against torch.
    """

    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    tolerance: Tolerance
    verify_batches: tuple[int, ...] = VERIFY_BATCHES

    def dynamic_axes(self) -> dict[str, dict[int, str]]:
        """``torch.onnx.export`` dynamic axes: every string dim of every tensor."""
        return {
            s.name: {i: d for i, d in enumerate(s.shape) if isinstance(d, str)}
            for s in (*self.inputs, *self.outputs)
        }


@dataclass(frozen=True)
class ExportInfo:
    """What an export produced and how it verified.

    Attributes:
        path: The ONNX file.
        sha256: Its sha256.
        bytes: Its size.
        opset: Default-domain opset.
        ops: Sorted distinct op types in the graph.
        max_abs_diff: Largest |ORT - torch| over the verification batches.
        batches: The verification batch sizes.
    """

    path: Path
    sha256: str
    bytes: int
    opset: int
    ops: tuple[str, ...]
    max_abs_diff: float
    batches: tuple[int, ...] = ()


def fr_contract(n_features: int, codec_width: int) -> Contract:
    """The contract of an FR MLP: ``features`` [N, F] (+ ``codec`` [N, C]) -> ``score`` [N, 1]."""
    inputs = [TensorSpec(FEATURES_INPUT, ("N", n_features), "features")]
    if codec_width:
        inputs.append(TensorSpec(CODEC_INPUT, ("N", codec_width), "codec"))
    return Contract(
        inputs=tuple(inputs),
        outputs=(TensorSpec(SCORE_OUTPUT, ("N", 1), "score"),),
        tolerance=TOLERANCES["fr"],
        verify_batches=FR_VERIFY_BATCHES,
    )


def io_contract(
    n_features: int, codec_width: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The sidecar ``inputs`` and ``outputs`` for an FR MLP."""
    c = fr_contract(n_features, codec_width)
    return [s.sidecar() for s in c.inputs], [s.sidecar() for s in c.outputs]


def verify_onnx(
    sess: ort.InferenceSession,
    model: torch.nn.Module,
    contract: Contract,
    example: Callable[[int], tuple[torch.Tensor, ...]],
    dest: Path,
) -> float:
    """Run ``sess`` against ``model`` at each of the contract's batch sizes.

    Returns:
        The largest |ORT - torch| seen.

    Raises:
        BadModelError: an output shape differs or a value is outside the tolerance (``dest``
            is removed first).
    """
    names_in = [s.name for s in contract.inputs]
    names_out = [s.name for s in contract.outputs]
    worst = 0.0
    for b in contract.verify_batches:
        ex = example(b)
        with torch.no_grad():
            want = model(*ex)
        want_t = want if isinstance(want, tuple) else (want,)
        feed = {n: t.numpy().astype(np.float32) for n, t in zip(names_in, ex, strict=True)}
        got = sess.run(names_out, feed)
        for g, w in zip(got, want_t, strict=True):
            wn = w.numpy()
            if np.shape(g) != wn.shape:
                dest.unlink(missing_ok=True)
                raise BadModelError(
                    f"ORT output shape {np.shape(g)} at batch {b}, torch {wn.shape}"
                )
            err = np.abs(np.asarray(g).astype(np.float64) - wn)
            diff = float(err.max())
            worst = max(worst, diff)
            if np.any(err > contract.tolerance.allowed(wn)):
                dest.unlink(missing_ok=True)
                raise BadModelError(
                    f"ORT differs from torch by {diff:.3g} at batch {b} "
                    f"(> {contract.tolerance.atol})"
                )
    return worst


def export_onnx(
    model: torch.nn.Module,
    path: str | os.PathLike[str],
    contract: Contract,
    example: Callable[[int], tuple[torch.Tensor, ...]],
    *,
    metadata: Mapping[str, Any] | None = None,
    opset: int = OPSET,
    session: Callable[[Path], ort.InferenceSession] = ort_session,
    trace_example: tuple[torch.Tensor, ...] | None = None,
) -> ExportInfo:
    """Export, check, stamp and verify a model of any kind against its contract.

    Args:
        model: The trained module (eval mode is set here).
        path: Destination ``.onnx`` (written atomically).
        contract: Inputs, outputs, tolerance and verification batch sizes.
        example: batch size -> example input tensors (seeded, in the input's value range);
            the graph is traced on ``example(2)``.
        metadata: ``metadata_props`` (values stringified).
        opset: Default-domain opset.
        session: Opens the written file on ONNX Runtime for the verification.
        trace_example: Inputs to trace on (default ``example(2)``).

    Raises:
        BadModelError: external data, a non-default op domain, checker failure, or ORT disagrees
            with torch.
    """
    model = model.eval()
    dest = Path(path)
    proto = torch_to_proto(
        model,
        trace_example if trace_example is not None else example(2),
        opset=opset,
        input_names=[s.name for s in contract.inputs],
        output_names=[s.name for s in contract.outputs],
        dynamic_axes=contract.dynamic_axes(),
    )
    finalize_export(proto, dest, metadata)
    worst = verify_onnx(session(dest), model, contract, example, dest)
    opset_v = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), opset)
    return ExportInfo(
        path=dest,
        sha256=sha256_file(dest),
        bytes=dest.stat().st_size,
        opset=int(opset_v),
        ops=tuple(op for _, op in graph_ops(proto)),
        max_abs_diff=worst,
        batches=tuple(int(b) for b in contract.verify_batches),
    )


def _fr_example(model: FRMLP, batch: int, seed: int) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    feats = torch.randn(batch, model.n_features, generator=g)
    if not model.bake_scaler:
        return (
            (feats,)
            if not model.codec_width
            else (feats, torch.rand(batch, model.codec_width, generator=g))
        )
    # Raw canonical-6 live around the scaler's mean; keep the example in that range.
    feats = feats * model.scaler.std + model.scaler.mean
    if model.codec_width:
        return feats, torch.rand(batch, model.codec_width, generator=g)
    return (feats,)


def export_fr_onnx(
    model: FRMLP,
    path: str | os.PathLike[str],
    *,
    opset: int = OPSET,
    metadata: Mapping[str, Any] | None = None,
    verify_batches: Sequence[int] = FR_VERIFY_BATCHES,
    atol: float = TOLERANCES["fr"].atol,
) -> ExportInfo:
    """:func:`export_onnx` of an FR MLP with its contract (:func:`fr_contract`), traced on a
    seed-0 batch of 2 and verified on seeded batches of ``verify_batches`` rows in the
    features' range; ``atol`` plus two float32 ulps of the value is allowed."""
    base = fr_contract(model.n_features, model.codec_width)
    contract = Contract(
        base.inputs, base.outputs, Tolerance(atol, "ulp"), tuple(int(b) for b in verify_batches)
    )
    return export_onnx(
        model,
        path,
        contract,
        lambda b: _fr_example(model, b, seed=100 + b),
        trace_example=_fr_example(model, 2, seed=0),
        metadata=metadata,
        opset=opset,
        session=make_session,
    )


def export_pixel_onnx(
    model: torch.nn.Module,
    path: str | os.PathLike[str],
    *,
    inputs: Sequence[TensorSpec],
    outputs: Sequence[TensorSpec],
    example: Callable[[int], tuple[torch.Tensor, ...]],
    metadata: Mapping[str, Any] | None = None,
    opset: int = OPSET,
    verify_batches: Sequence[int] = VERIFY_BATCHES,
    atol: float = TOLERANCES["nr"].atol,
) -> ExportInfo:
    """:func:`export_onnx` of a frame model (NR, filter, saliency, smoke) declared by its
    ``inputs``/``outputs`` (string dims are dynamic axes), allowing ``atol * max(1, |y|)``."""
    contract = Contract(
        tuple(inputs), tuple(outputs), Tolerance(atol, "scaled"), tuple(verify_batches)
    )
    return export_onnx(model, path, contract, example, metadata=metadata, opset=opset)
