"""Score features tables with an exported FR model (ONNX + sidecar) on ONNX Runtime.

This is the path every reported number takes: the exported graph, fed exactly as the sidecar
says (feature order, sidecar normalisation when not baked, codec block from
:mod:`vmaf_tiny.codec`, clamp when the sidecar asks), on an explicit CPU execution provider.
"""

from __future__ import annotations

import difflib
import json
import os
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import onnxruntime as ort
import pyarrow as pa

from vmaf_tiny.errors import BadInputError, BadModelError
from vmaf_train.models.codec import codec_matrix

__all__ = [
    "FRModel",
    "default_zoo",
    "load_sidecar",
    "make_session",
    "normalise_features",
    "open_fr_model",
    "per_row_latency",
    "resolve_model",
    "sidecar_schema",
]

ENV_ZOO = "VMAF_TINY_ZOO"


def default_zoo() -> Path:
    """``$VMAF_TINY_ZOO`` if set, else ``model/tiny`` of the checkout this package runs from."""
    env = os.environ.get(ENV_ZOO)
    return Path(env) if env else Path(__file__).resolve().parents[2] / "model" / "tiny"


MAX_MODEL_BYTES = 50 * 1024 * 1024


def sidecar_schema() -> dict[str, Any]:
    """The sidecar JSON Schema shipped with the runtime package."""
    text = resources.files("vmaf_tiny").joinpath("schemas", "sidecar.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


def load_sidecar(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and schema-validate a sidecar.

    Raises:
        BadModelError: missing, not JSON, or not valid against the sidecar schema.
    """
    p = Path(path)
    if not p.is_file():
        raise BadModelError(f"no sidecar {p.name} beside the model (expected {p})")
    try:
        obj = json.loads(p.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadModelError(f"{p.name}: not valid JSON ({exc})") from exc
    err = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(sidecar_schema()).iter_errors(obj)
    )
    if err is not None:
        where = "/".join(str(x) for x in err.absolute_path) or "(top)"
        raise BadModelError(f"{p.name}: sidecar invalid at {where}: {err.message}")
    return dict(obj)


def _registry_ids(zoo: Path) -> dict[str, dict[str, Any]]:
    reg = zoo / "registry.json"
    if not reg.is_file():
        return {}
    try:
        rows = json.loads(reg.read_text()).get("models", [])
    except (ValueError, AttributeError) as exc:
        raise BadModelError(f"{reg}: not a valid registry ({exc})") from exc
    return {str(r["id"]): r for r in rows if isinstance(r, dict) and "id" in r}


def resolve_model(
    model: str | os.PathLike[str], zoo: str | os.PathLike[str] | None = None, *, int8: bool = False
) -> tuple[Path, Path]:
    """Find (onnx path, sidecar path) for a ``.onnx`` path or a registered model id.

    A path ``M.onnx`` uses the sidecar ``M.json`` beside it. An id is looked up in
    ``<zoo>/registry.json``.

    Raises:
        BadInputError: a path that does not exist, or an unknown id (the message lists close
            matches).
    """
    text = str(model)
    p = Path(text)
    if text.endswith(".onnx"):
        if not p.is_file():
            raise BadInputError(f"no such model file: {p}")
        return p, p.with_suffix(".json")
    zdir = Path(zoo) if zoo is not None else default_zoo()
    rows = _registry_ids(zdir)
    if text not in rows:
        close = difflib.get_close_matches(text, list(rows), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        known = f" (registered: {', '.join(sorted(rows))})" if rows and not close else ""
        raise BadInputError(f"unknown model id {text!r} in {zdir / 'registry.json'}{hint}{known}")
    row = rows[text]
    onnx_name = row["onnx"]
    if int8:
        if not row.get("int8"):
            raise BadInputError(f"model {text!r} ships no int8 file (quant_mode fp32)")
        onnx_name = row["int8"]["onnx"]
    return zdir / onnx_name, zdir / row["sidecar"]


def normalise_features(x: np.ndarray, sidecar: dict[str, Any]) -> np.ndarray:
    """Apply the sidecar's standardisation to the features input when it is not baked."""
    norm = sidecar.get("normalization") or {"baked": True}
    x = np.asarray(x, dtype=np.float32)
    if norm.get("baked", True):
        return x
    mean = np.asarray(norm["feature_mean"], dtype=np.float32)
    std = np.asarray(norm["feature_std"], dtype=np.float32)
    if mean.shape[0] != x.shape[1] or std.shape[0] != x.shape[1]:
        raise BadModelError(
            f"sidecar normalisation has {mean.shape[0]} values for {x.shape[1]} features"
        )
    return ((x - mean) / std).astype(np.float32)


def _by_role(tensors: list[dict[str, Any]], role: str) -> dict[str, Any] | None:
    for t in tensors:
        if t.get("role") == role:
            return t
    return None


@dataclass
class FRModel:
    """An opened FR model: ONNX Runtime session + its sidecar.

    Attributes:
        onnx_path: The ONNX file.
        sidecar: The validated sidecar.
        session: ONNX Runtime session on the CPU execution provider.
    """

    onnx_path: Path
    sidecar: dict[str, Any]
    session: ort.InferenceSession

    @property
    def id(self) -> str:
        return str(self.sidecar["id"])

    @property
    def target(self) -> str:
        return str(self.sidecar["output"]["target"])

    @property
    def feature_order(self) -> list[str]:
        return list(self.sidecar.get("feature_order") or [])

    def inputs_from_arrays(self, features: np.ndarray, codec: np.ndarray | None) -> dict[str, Any]:
        """Feed dict from raw features (and the codec block, for codec-aware models)."""
        feats = _by_role(self.sidecar["inputs"], "features")
        if feats is None:
            raise BadModelError(f"{self.id}: sidecar declares no 'features' input")
        want = feats["shape"][-1]
        if isinstance(want, int) and features.shape[1] != want:
            raise BadInputError(
                f"model {self.id} expects {want} features per row, the data has {features.shape[1]}"
            )
        feed: dict[str, Any] = {feats["name"]: normalise_features(features, self.sidecar)}
        cin = _by_role(self.sidecar["inputs"], "codec")
        if cin is not None:
            if codec is None:
                raise BadInputError(f"model {self.id} needs the codec block (codec, preset, crf)")
            cw = cin["shape"][-1]
            if isinstance(cw, int) and codec.shape[1] != cw:
                raise BadInputError(
                    f"model {self.id} expects a {cw}-wide codec block, got {codec.shape[1]}"
                )
            feed[cin["name"]] = np.asarray(codec, dtype=np.float32)
        return feed

    def inputs_from_table(self, table: pa.Table) -> dict[str, Any]:
        """Feed dict built from a features table's columns, as the sidecar describes."""
        order = self.feature_order
        missing = [c for c in order if c not in table.column_names]
        if missing:
            raise BadInputError(
                f"model {self.id} needs feature column {missing[0]!r}, missing in the table "
                f"({table.num_rows} rows)"
            )
        x = np.stack(
            [table.column(c).to_numpy(zero_copy_only=False) for c in order], axis=1
        ).astype(np.float32)
        block = self.sidecar.get("codec_block")
        codec = codec_matrix(table, block) if block else None
        return self.inputs_from_arrays(x, codec)

    def run(self, feed: dict[str, Any], batch: int = 65536) -> np.ndarray:
        """Run the session over a feed dict in batches; returns (n,) float64, clamped if the
        sidecar says so."""
        names = list(feed)
        n = int(next(iter(feed.values())).shape[0])
        out_name = self.session.get_outputs()[0].name
        parts = []
        for i in range(0, n, batch):
            chunk = {k: feed[k][i : i + batch] for k in names}
            parts.append(np.asarray(self.session.run([out_name], chunk)[0]).reshape(-1))
        y = np.concatenate(parts).astype(np.float64) if parts else np.zeros(0)
        out = self.sidecar["output"]
        if out.get("clamp") and out.get("range"):
            y = np.clip(y, out["range"][0], out["range"][1])
        if not np.isfinite(y).all():
            raise BadModelError(f"model {self.id} produced NaN/inf scores")
        return y

    def predict_table(self, table: pa.Table) -> np.ndarray:
        """Scores for every row of a features table."""
        return self.run(self.inputs_from_table(table))


def make_session(path: Path, threads: int = 1) -> ort.InferenceSession:
    """An ONNX Runtime session on the CPU execution provider with a fixed thread count."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(
            str(path), sess_options=opts, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own exception types
        msg = " ".join(str(exc).split())[:300]
        raise BadModelError(f"{path.name}: ONNX Runtime cannot load it ({msg})") from exc


def open_fr_model(
    model: str | os.PathLike[str],
    *,
    zoo: str | os.PathLike[str] | None = None,
    int8: bool = False,
    threads: int = 1,
) -> FRModel:
    """Open a model by ``.onnx`` path or registered id and check it against its sidecar.

    Raises:
        BadInputError: unknown id or missing file.
        BadModelError: oversize file, bad sidecar, a graph whose inputs do not match the
            sidecar, or a non-FR model.
    """
    onnx_path, sidecar_path = resolve_model(model, zoo, int8=int8)
    size = onnx_path.stat().st_size
    if size > MAX_MODEL_BYTES:
        raise BadModelError(f"{onnx_path.name} is {size} bytes, over the 50 MiB cap")
    sidecar = load_sidecar(sidecar_path)
    if sidecar["kind"] != "fr":
        raise BadModelError(f"{sidecar['id']} is a {sidecar['kind']} model, not an FR model")
    sess = make_session(onnx_path, threads)
    graph_inputs = {i.name: i.shape for i in sess.get_inputs()}
    for t in sidecar["inputs"]:
        if t["name"] not in graph_inputs:
            raise BadModelError(
                f"{onnx_path.name}: sidecar input {t['name']!r} is not a graph input "
                f"(graph has {sorted(graph_inputs)})"
            )
        gshape, sshape = graph_inputs[t["name"]], t["shape"]
        if len(gshape) != len(sshape) or any(
            isinstance(g, int) and isinstance(s, int) and g != s
            for g, s in zip(gshape, sshape, strict=False)
        ):
            raise BadModelError(
                f"{onnx_path.name}: input {t['name']!r} has shape {gshape} in the graph but "
                f"{sshape} in the sidecar"
            )
    feats = _by_role(sidecar["inputs"], "features")
    order = sidecar.get("feature_order") or []
    if (
        feats is not None
        and isinstance(feats["shape"][-1], int)
        and len(order) != feats["shape"][-1]
    ):
        raise BadModelError(
            f"{onnx_path.name}: feature_order has {len(order)} names for a "
            f"{feats['shape'][-1]}-wide features input"
        )
    return FRModel(onnx_path=onnx_path, sidecar=sidecar, session=sess)


def per_row_latency(
    model: FRModel,
    feed: dict[str, Any],
    *,
    batch_sizes: tuple[int, ...] = (1, 1024),
    repeats: int = 200,
    warmup: int = 20,
) -> dict[str, float]:
    """Median per-row latency (microseconds) of ``session.run`` at each batch size.

    Rows are taken (cycled) from ``feed``; returns ``{"us_per_row_b1": ..., ...}``.
    """
    n = int(next(iter(feed.values())).shape[0])
    out_name = model.session.get_outputs()[0].name
    res: dict[str, float] = {}
    for b in batch_sizes:
        idx = np.arange(b) % n
        chunk = {k: np.ascontiguousarray(v[idx]) for k, v in feed.items()}
        reps = max(5, repeats if b <= 64 else repeats // 10)
        for _ in range(warmup):
            model.session.run([out_name], chunk)
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            model.session.run([out_name], chunk)
            times.append(time.perf_counter() - t0)
        res[f"us_per_row_b{b}"] = float(np.median(times) / b * 1e6)
    return res
