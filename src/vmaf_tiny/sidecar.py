"""The sidecar contract: schema validation and agreement with the ONNX graph it describes.

A sidecar (``<id>.json`` beside ``<id>.onnx``) carries everything the runtime needs to feed a
model: its inputs and outputs, feature order, normalisation, codec block, frame preparation and
output range. :mod:`vmaf_tiny.guard` refuses a model whose sidecar is invalid or disagrees with
the graph, so a sidecar that lies about input names or shapes never reaches ONNX Runtime.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vmaf_tiny import usercache
from vmaf_tiny.errors import BadModelError

if TYPE_CHECKING:
    import onnx

__all__ = [
    "compare_tensors",
    "find_sidecar",
    "graph_io",
    "input_roles",
    "sidecar_contract",
    "sidecar_graph_problem",
    "validate_sidecar",
]

_DTYPES = {1: "float32", 10: "float16", 7: "int64", 6: "int32", 2: "uint8"}


@lru_cache(maxsize=1)
def _schema_bytes() -> bytes:
    return resources.files("vmaf_tiny").joinpath("schemas", "sidecar.schema.json").read_bytes()


@lru_cache(maxsize=1)
def _sidecar_validator() -> Any:
    import jsonschema

    schema = json.loads(_schema_bytes())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def validate_sidecar(obj: Any, name: str = "sidecar") -> dict[str, Any]:
    """Validate a parsed sidecar against ``schemas/sidecar.schema.json``.

    A sidecar that passed before (the same content against the same schema bytes) passes again
    without jsonschema: the pass is remembered per content (:mod:`vmaf_tiny.usercache`).

    Returns:
        The sidecar (a dict).

    Raises:
        BadModelError: one line naming the first offending field.
    """
    key = usercache.schema_key(_schema_bytes(), obj) if isinstance(obj, dict) else None
    if key is not None and usercache.lookup("schemas", "sidecar", key):
        return dict(obj)
    import jsonschema

    validator = _sidecar_validator()
    err = jsonschema.exceptions.best_match(validator.iter_errors(obj))
    if err is not None:
        where = "/".join(str(p) for p in err.absolute_path) or "(top level)"
        raise BadModelError(f"{name}: {where}: {err.message[:200]}")
    if key is not None:
        usercache.remember("schemas", "sidecar", key, True)
    return dict(obj)


def find_sidecar(model_path: str | os.PathLike[str]) -> Path | None:
    """The sidecar beside a model: ``<stem>.json``, or for ``<id>.int8.onnx`` the ``<id>.json``."""
    p = Path(model_path)
    candidates = [p.with_suffix(".json")]
    stem = p.name[: -len(".onnx")] if p.name.endswith(".onnx") else p.stem
    for suffix in (".int8", "_int8", ".fp32"):
        if stem.endswith(suffix):
            candidates.append(p.with_name(stem[: -len(suffix)] + ".json"))
    for c in candidates:
        if os.path.lexists(c):
            return c
    return None


def graph_io(model: onnx.ModelProto, which: str) -> list[tuple[str, str | None, list[Any]]]:
    """(name, dtype, dims) of the graph's real inputs or its outputs; dims int/str/None."""
    graph = model.graph
    inits = {i.name for i in graph.initializer}
    values = graph.input if which == "inputs" else graph.output
    out = []
    for v in values:
        if which == "inputs" and v.name in inits:
            continue
        tt = v.type.tensor_type if v.type.HasField("tensor_type") else None
        dtype = _DTYPES.get(tt.elem_type, f"onnx type {tt.elem_type}") if tt else None
        dims: list[Any] = []
        if tt is not None and tt.HasField("shape"):
            for d in tt.shape.dim:
                if d.HasField("dim_value"):
                    dims.append(int(d.dim_value))
                elif d.HasField("dim_param"):
                    dims.append(d.dim_param)
                else:
                    dims.append(None)
        out.append((v.name, dtype, dims))
    return out


def compare_tensors(
    which: str, graph_side: list[tuple[str, str | None, list[Any]]], declared: list[dict]
) -> str | None:
    """Why the declared inputs/outputs disagree with the graph's, or None.

    Names, order and dtypes must be equal; ranks must agree; every static graph dimension must
    be declared with the same integer.
    """
    g_names = [g[0] for g in graph_side]
    s_names = [d["name"] for d in declared]
    if g_names != s_names:
        return f"sidecar {which} {s_names} do not match the graph's {g_names}"
    for (name, dtype, dims), d in zip(graph_side, declared, strict=True):
        if dtype is None:
            return f"graph {which[:-1]} {name!r} is not a tensor"
        if dtype != d["dtype"]:
            return f"{which[:-1]} {name!r}: sidecar dtype {d['dtype']} but graph has {dtype}"
        if dims and len(dims) != len(d["shape"]):
            return (
                f"{which[:-1]} {name!r}: sidecar shape {d['shape']} has rank "
                f"{len(d['shape'])} but the graph's is {len(dims)}"
            )
        for axis, (gd, sd) in enumerate(zip(dims, d["shape"], strict=False)):
            if isinstance(gd, int) and sd != gd:
                return (
                    f"{which[:-1]} {name!r}: axis {axis} is {gd} in the graph but the sidecar "
                    f"declares {sd!r}"
                )
    return None


def input_roles(sidecar: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """role -> input spec; a lone input without a role is ``features`` (FR) or ``frame``."""
    inputs = list(sidecar["inputs"])
    roles = {str(i["role"]): i for i in inputs if i.get("role")}
    if len(inputs) == 1 and not roles:
        default = "features" if sidecar["kind"] == "fr" else "frame"
        roles[default] = inputs[0]
    return roles


def _last_dim(t: Mapping[str, Any]) -> int | None:
    shape = t["shape"]
    return shape[-1] if shape and isinstance(shape[-1], int) else None


def sidecar_contract(sidecar: Mapping[str, Any]) -> str | None:
    """Why a sidecar's runtime contract is inconsistent (beyond the JSON schema), or None."""
    from vmaf_tiny.bounds import frame_size_problem

    too_big = frame_size_problem(sidecar)
    if too_big:
        return too_big
    roles = input_roles(sidecar)
    kind = sidecar["kind"]
    gate = sidecar.get("gate")
    if gate is not None and kind != "filter":
        return f"only a filter model takes a gate, not a {kind!r} model"
    if gate is not None and not gate["full_below"] < gate["off_above"]:
        return "gate full_below must be below off_above"
    if kind == "fr" and ("reference_frame" in roles or "distorted_frame" in roles):
        return _frame_pair_contract(sidecar, roles)
    if kind == "fr":
        order = sidecar.get("feature_order")
        if not order:
            return "FR sidecar has no feature_order"
        feats = roles.get("features")
        if feats is None:
            return "FR sidecar has no input with role 'features'"
        block = sidecar.get("codec_block")
        width = len(order)
        if block is not None:
            if len(block["slots"]) + 2 != block["width"]:
                return "codec_block width must be len(slots) + 2"
            if block["other_slot"] not in block["slots"]:
                return "codec_block other_slot is not among its slots"
            codec_in = roles.get("codec")
            if codec_in is None:
                width += int(block["width"])  # block appended to the features input
            elif _last_dim(codec_in) not in (None, block["width"]):
                return (
                    f"codec input {codec_in['name']!r} has width {_last_dim(codec_in)} but "
                    f"codec_block width is {block['width']}"
                )
        elif "codec" in roles:
            return "an input has role 'codec' but the sidecar has no codec_block"
        if _last_dim(feats) not in (None, width):
            return (
                f"features input {feats['name']!r} has width {_last_dim(feats)} but "
                f"feature_order{' + codec_block' if block and 'codec' not in roles else ''} "
                f"gives {width}"
            )
        norm = sidecar.get("normalization")
        if norm is not None and not norm["baked"]:
            mean, std = norm.get("feature_mean"), norm.get("feature_std")
            if mean is None or std is None:
                return "normalization is not baked but feature_mean/feature_std are missing"
            if len(mean) != len(order) or len(std) != len(order):
                return (
                    f"normalization has {len(mean)} means and {len(std)} stds for "
                    f"{len(order)} features"
                )
    elif kind == "nr" and "stream_features" in roles:
        return _stream_contract(sidecar, roles["stream_features"])
    elif kind == "nr":
        frame_in = roles.get("frame") or roles.get("distorted_frame")
        if frame_in is None:
            return "NR sidecar has no input with role 'frame'"
        shape = frame_in["shape"]
        frame = sidecar.get("frame") or {}
        # temporal "previous": each frame comes with the one before it as a second channel
        chans = 2 if frame.get("temporal") == "previous" else 1
        if len(shape) != 4:
            return f"NR frame input {frame_in['name']!r} must be [N, {chans}, H, W], got {shape}"
        if isinstance(shape[1], int) and shape[1] != chans:
            what = "luma, previous luma (frame.temporal)" if chans == 2 else "luma"
            return f"NR frame input {frame_in['name']!r} must have {chans} channel(s) ({what})"
        size = frame.get("crop") or frame.get("resize")
        h, w = shape[2], shape[3]
        if size is not None:
            fw, fh = size
            if (isinstance(h, int) and h != fh) or (isinstance(w, int) and w != fw):
                return (
                    f"sidecar frame size {fw}x{fh} (width x height) does not match the input's "
                    f"{w}x{h}"
                )
    return None


def _stream_contract(sidecar: Mapping[str, Any], feats: Mapping[str, Any]) -> str | None:
    """Contract of a stream-features NR model: [N, F] with F = len(feature_order)."""
    order = sidecar.get("feature_order")
    if not order:
        return "a stream-features NR sidecar has no feature_order"
    if len(feats["shape"]) != 2:
        return f"stream_features input {feats['name']!r} must be [N, F], got {feats['shape']}"
    if _last_dim(feats) not in (None, len(order)):
        return (
            f"stream_features input {feats['name']!r} has width {_last_dim(feats)} but "
            f"feature_order gives {len(order)}"
        )
    from vmaf_tiny.stream_features import unknown_features

    if unknown := unknown_features(order):
        return f"feature_order names stream feature(s) the runtime does not compute: {unknown}"
    return None


def _frame_pair_contract(
    sidecar: Mapping[str, Any], roles: Mapping[str, Mapping[str, Any]]
) -> str | None:
    """Contract of a frame-pair FR model: two [N, 1, H, W] luma inputs of one size."""
    ref, dis = roles.get("reference_frame"), roles.get("distorted_frame")
    if ref is None or dis is None:
        return "a frame-pair FR sidecar needs inputs with roles reference_frame and distorted_frame"
    for t in (ref, dis):
        shape = t["shape"]
        if len(shape) != 4 or (isinstance(shape[1], int) and shape[1] != 1):
            return f"frame input {t['name']!r} must be [N, 1, H, W] luma, got {shape}"
    if ref["shape"][2:] != dis["shape"][2:]:
        return "reference_frame and distorted_frame inputs must have the same height and width"
    frame = sidecar.get("frame")
    if frame is None:
        return "a frame-pair FR sidecar needs a frame block (how to prepare frames)"
    size = frame.get("crop") or frame.get("resize")
    h, w = ref["shape"][2], ref["shape"][3]
    if size is not None:
        fw, fh = size
        if (isinstance(h, int) and h != fh) or (isinstance(w, int) and w != fw):
            return (
                f"sidecar frame size {fw}x{fh} (width x height) does not match the input's {w}x{h}"
            )
    return None


def sidecar_graph_problem(
    model: onnx.ModelProto, sidecar: Mapping[str, Any], filename: str, opset: int | None
) -> str | None:
    """Why a (schema-valid) sidecar does not describe this model, or None.

    Checks the file name, the opset, the input and output names/order/dtypes/static dims, and
    the sidecar's own contract (feature/codec widths, normalisation lengths, NR frame size).
    """
    names = {sidecar["onnx"]}
    if sidecar.get("int8"):
        names.add(sidecar["int8"]["onnx"])
    if filename not in names:
        return f"sidecar describes {sorted(names)}, not {filename}"
    if opset is not None and sidecar["opset"] != opset:
        return f"sidecar opset {sidecar['opset']} but the model's is {opset}"
    return (
        compare_tensors("inputs", graph_io(model, "inputs"), sidecar["inputs"])
        or compare_tensors("outputs", graph_io(model, "outputs"), sidecar["outputs"])
        or sidecar_contract(sidecar)
    )
