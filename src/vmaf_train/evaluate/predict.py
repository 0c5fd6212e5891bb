"""Score features tables with an exported FR model (ONNX + sidecar) through the runtime.

This is the path every reported number takes: the model is loaded by the runtime
(:func:`vmaf_tiny.session.load_model`: load-time checks, CPU execution provider, one thread),
fed exactly as the sidecar says (feature order, sidecar standardisation when not baked, the codec
block from :mod:`vmaf_tiny.codec`) and its scores finished as the runtime finishes them (clamp
when the sidecar asks). The only difference from ``vmaf-tiny score`` is that features come from a
table, with codec fields per row, instead of from a libvmaf pass over one pair.

Pixel NR models are scored the same way on decoded corpus clips (:func:`predict_clips`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pyarrow as pa

from vmaf_tiny.console import make_progress
from vmaf_tiny.errors import BadInputError, BadModelError
from vmaf_tiny.ffmpeg import resolve_ffmpeg
from vmaf_tiny.registry import zoo_dir
from vmaf_tiny.scoring import finish_scores
from vmaf_tiny.session import LoadedModel, load_model, session_options
from vmaf_tiny.sidecar import input_roles, validate_sidecar
from vmaf_train.data.frames import ClipRecord, decode
from vmaf_train.models.codec import codec_matrix

__all__ = [
    "FRModel",
    "default_zoo",
    "load_sidecar",
    "make_session",
    "normalise_features",
    "open_fr_model",
    "per_row_latency",
    "predict_clips",
]


def default_zoo() -> Path:
    """``$VMAF_TINY_ZOO`` if set, else the shipped zoo (as the runtime)."""
    return zoo_dir()


def load_sidecar(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and schema-validate a sidecar (the runtime's validator).

    Raises:
        BadModelError: missing, not JSON, or not valid against the sidecar schema.
    """
    import json

    p = Path(path)
    if not p.is_file():
        raise BadModelError(f"no sidecar {p.name} beside the model (expected {p})")
    try:
        obj = json.loads(p.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadModelError(f"{p.name}: not valid JSON ({exc})") from exc
    return validate_sidecar(obj, p.name)


def normalise_features(x: np.ndarray, sidecar: dict[str, Any]) -> np.ndarray:
    """Apply the sidecar's standardisation to the features input when it is not baked.

    Same arithmetic as the runtime (``vmaf_tiny.scoring.fr_inputs``): float64, then float32.
    """
    norm = sidecar.get("normalization") or {"baked": True}
    if norm.get("baked", True):
        return np.ascontiguousarray(x, dtype=np.float32)
    mean = np.asarray(norm["feature_mean"], dtype=np.float64)
    std = np.asarray(norm["feature_std"], dtype=np.float64)
    if mean.shape[0] != x.shape[1] or std.shape[0] != x.shape[1]:
        raise BadModelError(
            f"sidecar normalisation has {mean.shape[0]} values for {x.shape[1]} features"
        )
    return np.ascontiguousarray(((np.asarray(x, dtype=np.float64) - mean) / std), np.float32)


def make_session(path: Path, threads: int = 1) -> ort.InferenceSession:
    """A plain CPU session with the runtime's options, for files not (yet) loadable through the
    runtime's guard (an int8 candidate before its gate and registration)."""
    try:
        return ort.InferenceSession(
            str(path), sess_options=session_options(threads), providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own exception types
        msg = " ".join(str(exc).split())[:300]
        raise BadModelError(f"{path.name}: ONNX Runtime cannot load it ({msg})") from exc


@dataclass
class FRModel:
    """An opened FR model: its sidecar and an ONNX Runtime session.

    Attributes:
        onnx_path: The ONNX file.
        sidecar: The validated sidecar.
        session: ONNX Runtime session (CPU execution provider).
        loaded: The runtime's loaded model (None for a bare session, see :func:`make_session`).
    """

    onnx_path: Path
    sidecar: dict[str, Any]
    session: ort.InferenceSession
    loaded: LoadedModel | None = None

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
        """Feed dict from raw features (and the codec block, for codec-aware models).

        Raises:
            BadInputError: the data's width does not match the model's inputs.
        """
        roles = input_roles(self.sidecar)
        feats = roles.get("features")
        if feats is None:
            raise BadModelError(f"{self.id}: sidecar declares no 'features' input")
        want = feats["shape"][-1]
        if isinstance(want, int) and features.shape[1] != want:
            raise BadInputError(
                f"model {self.id} expects {want} features per row, the data has {features.shape[1]}"
            )
        feed: dict[str, Any] = {feats["name"]: normalise_features(features, self.sidecar)}
        cin = roles.get("codec")
        if cin is not None:
            if codec is None:
                raise BadInputError(f"model {self.id} needs the codec block (codec, preset, crf)")
            cw = cin["shape"][-1]
            if isinstance(cw, int) and codec.shape[1] != cw:
                raise BadInputError(
                    f"model {self.id} expects a {cw}-wide codec block, got {codec.shape[1]}"
                )
            feed[cin["name"]] = np.ascontiguousarray(codec, dtype=np.float32)
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
        ).astype(np.float64)
        block = self.sidecar.get("codec_block")
        codec = codec_matrix(table, block) if block else None
        return self.inputs_from_arrays(x, codec)

    def run(self, feed: dict[str, Any], batch: int = 65536) -> np.ndarray:
        """Scores for a feed dict (in batches): (n,) float64, finished as the runtime does
        (clamped when the sidecar says so).

        Raises:
            BadModelError: the model fails or produces NaN/inf.
        """
        n = int(next(iter(feed.values())).shape[0])
        out_name = self.session.get_outputs()[0].name
        parts = []
        for i in range(0, n, batch):
            chunk = {k: v[i : i + batch] for k, v in feed.items()}
            if self.loaded is not None:
                outs = self.loaded.run(chunk)
                parts.append(np.asarray(outs[0]).reshape(-1))
            else:
                parts.append(np.asarray(self.session.run([out_name], chunk)[0]).reshape(-1))
        y = np.concatenate(parts).astype(np.float64) if parts else np.zeros(0)
        if not np.isfinite(y).all():
            raise BadModelError(f"model {self.id} produced NaN/inf scores")
        return finish_scores(self.sidecar, y)

    def predict_table(self, table: pa.Table) -> np.ndarray:
        """Scores for every row of a features table."""
        return self.run(self.inputs_from_table(table))


def open_fr_model(
    model: str | os.PathLike[str],
    *,
    zoo: str | os.PathLike[str] | None = None,
    int8: bool = False,
    threads: int = 1,
) -> FRModel:
    """Open a model by ``.onnx`` path or registered id through the runtime's load-time checks.

    Raises:
        BadInputError: unknown id (the message lists close matches) or missing file.
        BadModelError: a load-time check failed (allowlist, size cap, sidecar/graph mismatch,
            e.g. an input width that disagrees with the sidecar), or a non-FR model.
    """
    text = str(model)
    if text.endswith(".onnx") and not Path(text).is_file():
        raise BadInputError(f"no such model file: {text}")
    lm = load_model(text, backend="cpu", threads=threads, int8=int8, zoo=zoo)
    if lm.kind != "fr":
        raise BadModelError(f"{lm.model_id} is a {lm.kind} model, not an FR model")
    return FRModel(
        onnx_path=Path(lm.guarded.path), sidecar=lm.sidecar, session=lm.session, loaded=lm
    )


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


def predict_clips(
    clips: Sequence[ClipRecord],
    sessions: Mapping[str, ort.InferenceSession],
    *,
    size: tuple[int, int],
    max_frames: int = 0,
    clamp: tuple[float, float] | None = (0.0, 100.0),
    batch: int = 8,
    progress: bool = True,
) -> dict[str, Any]:
    """Score every frame of every clip with each ONNX session (as the runtime prepares frames).

    Returns:
        ``key``, ``source_id``, ``codec``, ``frame``, ``target`` arrays and ``pred`` (name ->
        per-frame predictions, clamped to ``clamp`` like the runtime does).
    """
    ff = resolve_ffmpeg()
    keys: list[str] = []
    srcs: list[str] = []
    codecs: list[str] = []
    frames_idx: list[np.ndarray] = []
    target: list[np.ndarray] = []
    preds: dict[str, list[np.ndarray]] = {n: [] for n in sessions}
    with make_progress(enabled=progress) as bar:
        task = bar.add_task("nr eval", total=len(clips))
        for c in clips:
            frames = decode(c.clip, size=size, max_frames=max_frames or None, ffmpeg=ff)
            n = min(len(frames), c.n_frames)
            x = frames[:n, None].astype(np.float32)
            for name, sess in sessions.items():
                iname = sess.get_inputs()[0].name
                out = [
                    np.asarray(sess.run(None, {iname: x[i : i + batch]})[0]).reshape(-1)
                    for i in range(0, n, batch)
                ]
                p = np.concatenate(out).astype(np.float64)
                preds[name].append(np.clip(p, *clamp) if clamp else p)
            keys += [c.key] * n
            srcs += [c.source_id] * n
            codecs += [c.codec] * n
            frames_idx.append(np.arange(n))
            target.append(c.vmaf[:n])
            bar.advance(task)
    return {
        "key": np.asarray(keys),
        "source_id": np.asarray(srcs),
        "codec": np.asarray(codecs),
        "frame": np.concatenate(frames_idx),
        "target": np.concatenate(target),
        "pred": {k: np.concatenate(v) for k, v in preds.items()},
    }
