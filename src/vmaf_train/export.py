"""Declare, export, verify: FR MLPs to one self-contained ONNX file.

The TorchScript exporter (``dynamo=False``) writes plain standard-domain ops (Gemm, Relu, Erf/Tanh
for GELU, Sub/Div, Mul/Add, Clip) at a pinned opset with a dynamic batch axis traced from an
example batch of 2+. The file is then checked (no external data, ONNX checker), stamped with
provenance ``metadata_props`` and verified on ONNX Runtime against torch at batch 1, 2 and 7.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch

from vmaf_tiny.errors import BadModelError
from vmaf_tiny.fsutil import atomic_write_bytes, sha256_file
from vmaf_train.evaluate.predict import make_session
from vmaf_train.models.mlp import FRMLP

__all__ = [
    "VERIFY_BATCHES",
    "ExportInfo",
    "export_fr_onnx",
    "finalize_export",
    "graph_ops",
    "io_contract",
    "torch_to_proto",
]

VERIFY_BATCHES = (1, 2, 7)
FEATURES_INPUT = "features"
CODEC_INPUT = "codec"
SCORE_OUTPUT = "score"


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
    """

    path: Path
    sha256: str
    bytes: int
    opset: int
    ops: tuple[str, ...]
    max_abs_diff: float


def io_contract(
    n_features: int, codec_width: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The sidecar ``inputs`` and ``outputs`` for an FR MLP."""
    inputs = [
        {"name": FEATURES_INPUT, "dtype": "float32", "shape": ["N", n_features], "role": "features"}
    ]
    if codec_width:
        inputs.append(
            {"name": CODEC_INPUT, "dtype": "float32", "shape": ["N", codec_width], "role": "codec"}
        )
    outputs = [{"name": SCORE_OUTPUT, "dtype": "float32", "shape": ["N", 1], "role": "score"}]
    return inputs, outputs


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


def _example(model: FRMLP, batch: int, seed: int) -> tuple[torch.Tensor, ...]:
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
    opset: int = 17,
    metadata: Mapping[str, Any] | None = None,
    verify_batches: Sequence[int] = VERIFY_BATCHES,
    atol: float = 1e-5,
) -> ExportInfo:
    """Export, check, stamp and verify an FR MLP.

    Args:
        model: The trained module (eval mode is set here).
        path: Destination ``.onnx`` (written atomically).
        opset: Default-domain opset to pin.
        metadata: ``metadata_props`` (values are stringified).
        verify_batches: Batch sizes run on ONNX Runtime against torch.
        atol: Allowed |ORT - torch| (plus two float32 ulps of the value: the float32 ulp
            of a score near 100 is 7.6e-6).

    Raises:
        BadModelError: external data was written, the checker failed, a non-standard op domain
            appeared, or ORT disagrees with torch beyond ``atol``.
    """
    model = model.eval()
    dest = Path(path)
    inputs = [FEATURES_INPUT] + ([CODEC_INPUT] if model.codec_width else [])
    axes = {name: {0: "N"} for name in [*inputs, SCORE_OUTPUT]}
    proto = torch_to_proto(
        model,
        _example(model, 2, seed=0),
        opset=opset,
        input_names=inputs,
        output_names=[SCORE_OUTPUT],
        dynamic_axes=axes,
    )
    finalize_export(proto, dest, metadata)
    sess = make_session(dest)
    worst = 0.0
    for b in verify_batches:
        ex = _example(model, b, seed=100 + b)
        with torch.no_grad():
            want = model(*ex).numpy().reshape(-1)
        feed = {name: t.numpy().astype(np.float32) for name, t in zip(inputs, ex, strict=True)}
        got = np.asarray(sess.run([SCORE_OUTPUT], feed)[0]).reshape(-1)
        if got.shape != want.shape:
            raise BadModelError(f"ORT output shape {got.shape} at batch {b}, torch {want.shape}")
        err = np.abs(got.astype(np.float64) - want)
        diff = float(np.max(err))
        worst = max(worst, diff)
        # atol, plus two float32 ulps of the value: scores near 100 have an ulp of 7.6e-6.
        allowed = atol + 2.0 * np.spacing(np.abs(want).astype(np.float32)).astype(np.float64)
        if np.any(err > allowed):
            dest.unlink(missing_ok=True)
            raise BadModelError(f"ORT differs from torch by {diff:.3g} at batch {b} (> {atol})")
    opset_v = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), opset)
    return ExportInfo(
        path=dest,
        sha256=sha256_file(dest),
        bytes=dest.stat().st_size,
        opset=int(opset_v),
        ops=tuple(op for _, op in graph_ops(proto)),
        max_abs_diff=worst,
    )
