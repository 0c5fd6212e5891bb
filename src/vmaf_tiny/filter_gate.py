"""The no-reference quality gate of a learned filter: filter where there is something to restore.

A restoration filter that helps badly coded frames hurts clean ones (it takes fine texture for
coding noise). A filter model whose sidecar has a ``gate`` block names a stream NR model and two
thresholds: each frame of an encoded input is scored by that model (no reference needed), and the
filter's correction is scaled per frame by

    ``s = clip((off_above - score) / (off_above - full_below), 0, 1)``

(1: the model as trained, at or below ``full_below``; 0: the frame unchanged, at or above
``off_above``), times the user's ``--strength``. Flat frames (black, one colour) are outside the
NR model's domain (their score says nothing about coding damage): the gate leaves them unchanged
and says so in a warning. Raw, y4m and lossless inputs carry no stream
facts, and a damaged stream cannot be scored frame by frame: :func:`filter_with_model` then
refuses (one line) unless the gate is turned off (``--no-gate``): ungated, a filter trained for
badly coded frames costs the clean ones.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vmaf_tiny.damage import ALLOW_HINT
from vmaf_tiny.errors import BadInputError, BadModelError, DamagedInputError
from vmaf_tiny.ffmpeg import FFmpeg, resolve_ffmpeg
from vmaf_tiny.filter_output import check_output
from vmaf_tiny.filtering import FilterResult, FrameRunner, filter_video, load_filter
from vmaf_tiny.session import LoadedModel
from vmaf_tiny.stream import is_encoded_stream
from vmaf_tiny.video import VideoSpec, as_spec, frames_to_read, probe

__all__ = ["Gate", "GatePlan", "GatedRunner", "filter_with_model", "plan_gate"]


@dataclass(frozen=True)
class Gate:
    """A filter's quality gate (its sidecar's ``gate`` block).

    Attributes:
        model: The stream NR model that scores each frame (registry id).
        full_below: Score at or below which the correction is applied in full.
        off_above: Score at or above which the frame is left unchanged.
    """

    model: str
    full_below: float
    off_above: float

    @classmethod
    def from_sidecar(cls, sidecar: Mapping[str, Any]) -> Gate | None:
        """The gate of a filter sidecar, or None when it has none."""
        g = sidecar.get("gate")
        if not g:
            return None
        return cls(str(g["model"]), float(g["full_below"]), float(g["off_above"]))

    def scale(self, scores: np.ndarray) -> np.ndarray:
        """Per-frame correction scale in [0, 1] for per-frame NR scores."""
        s = (self.off_above - np.asarray(scores, dtype=np.float64)) / (
            self.off_above - self.full_below
        )
        return np.clip(s, 0.0, 1.0)

    def to_dict(self) -> dict[str, Any]:
        """The sidecar form."""
        return {"model": self.model, "full_below": self.full_below, "off_above": self.off_above}


@dataclass
class GatePlan:
    """What the gate decided for one input.

    Attributes:
        gate: The gate (None: the model has none).
        scale: Per-frame correction scale (None: the gate is off; every frame at ``strength``).
        scores: The NR model's per-frame scores (None when off).
        note: Why the input cannot be gated (None when it can, or without a gate).
        seconds: Time spent scoring the input.
        flat: Per-frame flags of the flat frames the gate left unchanged (None when off).
        damaged: The input is a damaged stream the gate cannot score (``note`` says so).
        warnings: The NR model's notes on the input (flat frames, a codec outside training).
    """

    gate: Gate | None
    scale: np.ndarray | None = None
    scores: np.ndarray | None = None
    note: str | None = None
    seconds: float = 0.0
    flat: np.ndarray | None = None
    warnings: list[str] = field(default_factory=list)
    damaged: bool = False

    def summary(self, strength: float, n_frames: int | None = None) -> dict[str, Any] | None:
        """The ``--json`` block: model, thresholds and, over the first ``n_frames`` frames (the
        ones filtered), the mean NR score and strength and how many frames were left unchanged
        or filtered in full (None without a gate)."""
        if self.gate is None:
            return None
        out: dict[str, Any] = self.gate.to_dict() | {"active": self.scale is not None}
        if self.scale is not None and self.scores is not None and self.scale.size:
            scale, scores = self.scale[:n_frames], self.scores[:n_frames]
            s = strength * scale
            out |= {
                "nr_score_mean": float(np.mean(scores)),
                "strength_mean": float(np.mean(s)),
                "frames_unchanged": int(np.sum(s == 0)),
                "frames_full": int(np.sum((scale == 1) & (s > 0))),  # none at strength 0
            }
            if self.flat is not None:
                out["frames_flat"] = int(np.sum(self.flat[:n_frames]))
        if self.note:
            out["note"] = self.note
        return out


def plan_gate(
    video: VideoSpec | str | os.PathLike[str],
    gate: Gate | None,
    *,
    backend: str = "auto",
    threads: int = 1,
    ffmpeg: FFmpeg | None = None,
    allow_damaged: bool = False,
    max_frames: int | None = None,
    scorer: LoadedModel | None = None,
) -> GatePlan:
    """Score ``video`` (its first ``max_frames`` frames; None: all) with the gate's NR model
    (``scorer`` when already loaded) and return the per-frame correction scale.

    Raises:
        BadInputError: the input cannot be probed, is damaged (without ``allow_damaged``), or
            the NR model refuses it.
        BadModelError: the gate's model cannot be loaded.
    """
    import time

    if gate is None:
        return GatePlan(None)
    from vmaf_tiny.nr import flat_warning
    from vmaf_tiny.nr_stream import score_stream_frames

    ff = ffmpeg or resolve_ffmpeg()
    spec = as_spec(video)
    info = probe(spec, ff)
    name = spec.path.name
    if info.damage and not allow_damaged:
        try:
            frames_to_read(info, False)  # the damaged-input error comes first
        except DamagedInputError as e:
            raise _ungateable(e) from None
    if not is_encoded_stream(info):
        what = "raw yuv" if spec.is_raw else f"{info.decoder} ({spec.path.suffix or 'no suffix'})"
        return GatePlan(
            gate,
            note=f"{name}: {what} carries no stream facts for the quality gate ({gate.model})",
        )
    if info.damage and allow_damaged:
        return GatePlan(
            gate,
            note=f"{name}: damaged stream; the quality gate ({gate.model}) cannot score it frame "
            "by frame",
            damaged=True,
        )
    t0 = time.perf_counter()
    lm = scorer or _gate_model(gate.model, backend, threads)
    try:
        res, flat = score_stream_frames(
            spec, lm, backend=backend, threads=threads, ffmpeg=ff, max_frames=max_frames
        )
    except DamagedInputError as e:  # damage only the decoder saw (the probe's is handled above)
        if not allow_damaged:
            raise _ungateable(e) from None
        return GatePlan(
            gate,
            note=f"{name}: damaged stream; the quality gate ({gate.model}) cannot score it frame "
            "by frame",
            damaged=True,
        )
    scores = np.asarray(res.frames, dtype=np.float64)
    scale = gate.scale(scores)
    scale[flat] = 0.0  # an out-of-domain score must not switch the filter on
    said = flat_warning(name, lm.model_id, [bool(v) for v in flat])  # the scorer's wording
    warnings = [w for w in res.warnings if w != said]
    if k := int(flat.sum()):
        warnings.append(
            f"{name}: {k} of {flat.size} frames are flat (black or one colour), outside the "
            f"domain of the quality gate ({lm.model_id}): left unchanged"
        )
    return GatePlan(
        gate,
        scale=scale,
        scores=scores,
        seconds=time.perf_counter() - t0,
        flat=flat,
        warnings=warnings,
    )


def _ungateable(e: DamagedInputError) -> DamagedInputError:
    """The damaged-input error with advice that works for a gated filter: its gate cannot score a
    damaged stream, so using the clean frames takes --no-gate as well."""
    hint = (
        "rerun with --allow-damaged --no-gate to filter the clean frames only (the quality "
        "gate cannot score a damaged stream)"
    )
    said = e.hint or ALLOW_HINT
    if said not in str(e):  # no advice to swap (nothing comes before the damage)
        return e
    return DamagedInputError(str(e).replace(said, hint), hint)


def _gate_model(
    model: str, backend: str, threads: int, role: str = "its quality gate model"
) -> LoadedModel:
    """The gate's NR model: by id from the active zoo (``$VMAF_TINY_ZOO`` or the shipped one),
    else by id from the shipped zoo (a user's zoo need not carry it).

    Raises:
        BadModelError: it cannot be loaded or is not a stream NR model (the message names the
            gate: a user who passed a filter model never named this one).
    """
    from vmaf_tiny.nr_stream import is_stream_model
    from vmaf_tiny.registry import shipped_zoo
    from vmaf_tiny.session import load_model

    try:
        try:
            lm = load_model(model, backend=backend, threads=threads)
        except BadInputError:
            lm = load_model(model, backend=backend, threads=threads, zoo=shipped_zoo())
    except (BadInputError, BadModelError) as e:
        why = str(e).removesuffix("; or pass a path to an .onnx file")  # a gate takes an id
        raise BadModelError(f"{role} {model!r} cannot be loaded ({why})") from None
    if lm.kind != "nr" or not is_stream_model(lm):
        raise BadModelError(
            f"{role} {model!r} (kind {lm.kind}) is not a stream NR model (no "
            "input with role stream_features)"
        )
    return lm


class GatedRunner:
    """A filter runner whose correction is scaled per frame: ``x + strength * s_i * (f(x) - x)``.

    Frames are taken in order, as :func:`vmaf_tiny.filtering.filter_video` feeds them; frames
    past the end of ``scale`` (a decoder that yields more frames than the stream scorer counted)
    get the clip's mean scale.
    """

    def __init__(self, runner: FrameRunner, scale: np.ndarray, strength: float = 1.0) -> None:
        self._runner = runner
        self._scale = np.asarray(scale, dtype=np.float32) * np.float32(strength)
        self._fill = np.float32(self._scale.mean()) if self._scale.size else np.float32(strength)
        self._pos = 0

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``[N, 1, H, W]`` -> gated output (frames skipped at scale 0 cost no model call)."""
        n = x.shape[0]
        s = self._scale[self._pos : self._pos + n]
        if s.size < n:
            s = np.concatenate([s, np.full(n - s.size, self._fill, dtype=np.float32)])
        self._pos += n
        on = s > 0
        if not on.any():
            return x
        y = np.array(x, dtype=np.float32, copy=True)
        fx = self._runner(x[on])
        y[on] = x[on] + s[on][:, None, None, None] * (fx - x[on])
        return y


def filter_with_model(
    video: VideoSpec | str | os.PathLike[str],
    output: str | os.PathLike[str],
    model: str | os.PathLike[str],
    *,
    strength: float = 1.0,
    gate: bool = True,
    gate_model: str | os.PathLike[str] | None = None,
    codec: str | None = None,
    crf: float | None = None,
    preset: str | None = None,
    max_frames: int | None = None,
    backend: str = "auto",
    threads: int = 1,
    ffmpeg: FFmpeg | None = None,
    allow_damaged: bool = False,
) -> FilterResult:
    """``vmaf-tiny filter``: load a filter model, plan its quality gate, filter ``video``.

    Args:
        video: Input video (path or VideoSpec).
        output: Output file (see :func:`vmaf_tiny.filtering.filter_video`).
        model: Registry id or .onnx path of a ``kind: filter`` model.
        strength: Scale of the correction (0..2), times the gate's per-frame scale.
        gate: Use the model's quality gate (when it has one and the input is an encoded stream).
        gate_model: Score the gate with this NR model (id or .onnx path) instead of the one
            the filter names, keeping its thresholds (held-out evaluations).
        codec: Output encoder. crf: its CRF. preset: its preset.
        max_frames: Stop after this many frames.
        backend: Execution backend. threads: ONNX Runtime intra-op threads.
        ffmpeg: The binary (resolved if None).
        allow_damaged: Filter the clean frames of a damaged input (the gate is then off).

    Returns:
        The result with ``model_id``, ``provider``, ``strength`` and ``gate`` filled in.

    Raises:
        BadInputError: the model has a gate, ``gate`` is on and the input cannot be gated (raw,
            y4m, lossless or damaged input): ungated, the filter costs clean frames, so it
            takes ``gate=False`` (``--no-gate``) to filter such input. Otherwise as
            :func:`load_filter`, :func:`plan_gate` and :func:`filter_video`.
    """
    ff = ffmpeg or resolve_ffmpeg()
    spec = as_spec(video)
    runner, lm = load_filter(model, backend=backend, threads=threads, strength=strength)
    check_output(spec, Path(output), codec, crf, preset, ff)  # before the gate's scoring pass
    g = Gate.from_sidecar(lm.sidecar) if gate else None
    scorer = None
    if gate_model is not None:
        if g is None:
            why = f"{lm.model_id} has no quality gate" if gate else "--no-gate is set"
            raise BadInputError(f"--gate-scorer does nothing: {why}")
        g = Gate(str(gate_model), g.full_below, g.off_above)
        scorer = _gate_model(g.model, backend, threads, role="--gate-scorer")  # even for raw
    try:
        plan = plan_gate(
            spec,
            g,
            backend=backend,
            threads=threads,
            ffmpeg=ff,
            allow_damaged=allow_damaged,
            max_frames=max_frames,
            scorer=scorer,
        )
    except BadModelError as e:  # only the gate's model: name the filter, or the user's flag
        who = f"--gate-scorer {str(gate_model)!r}" if gate_model else f"filter {lm.model_id}"
        raise BadModelError(f"{who}: {e}") from None
    if plan.gate is not None and plan.scale is None:
        anyway = "drop --gate-scorer and pass --no-gate" if gate_model else "pass --no-gate"
        encoded = plan.damaged  # an encoded file already: only --no-gate helps
        raise BadInputError(
            f"{plan.note}; filtering every frame costs clean frames (see the card of "
            f"{lm.model_id}): {anyway} to filter anyway"
            + ("" if encoded else ", or give the encoded file")
        )
    run: FrameRunner = runner if plan.scale is None else GatedRunner(runner, plan.scale)
    try:
        res = filter_video(
            spec,
            output,
            run,
            codec=codec,
            crf=crf,
            preset=preset,
            max_frames=max_frames,
            ffmpeg=ff,
            allow_damaged=allow_damaged,
        )
    except DamagedInputError as e:  # damage the gate's own decode did not see (threaded decode)
        if plan.scale is None:
            raise
        raise _ungateable(e) from None
    res.model_id, res.provider, res.strength = lm.model_id, lm.provider, strength
    res.warnings = [*plan.warnings, *res.warnings]
    res.gate = plan.summary(strength, res.n_frames)
    if plan.scale is not None:
        res.seconds["gate"] = plan.seconds
        res.seconds["total"] += plan.seconds
    return res
