"""What one libvmaf pass gives back: :class:`FeatureResult`, read from libvmaf's JSON log.

:func:`parse_log` takes the per-frame log (``log_fmt=json``) of the pass
:func:`vmaf_tiny.features.extract_features` runs and returns the columns it asked for: the
canonical-6, ``vmaf``, the teachers' scores, the extra features and any extras.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from vmaf_tiny._lazy import numpy as np  # numpy on first use (start-up)
from vmaf_tiny.errors import BadInputError
from vmaf_tiny.features_names import (
    CANONICAL6,
    EXTRAS,
    FEATURE_KEYS,
    TEACHER_COLUMNS,
    TEACHER_MODEL,
)
from vmaf_tiny.ffmpeg import FFmpeg
from vmaf_tiny.video import VideoInfo

__all__ = ["FeatureResult", "parse_log"]


@dataclass(frozen=True)
class FeatureResult:
    """Per-frame features of one pair.

    Attributes:
        columns: name -> float64 array of length ``n_frames``: the canonical-6, ``vmaf`` and any
            requested extras (NaN where libvmaf could not compute an extra, e.g. MS-SSIM on
            frames too small for its five scales).
        n_frames: Frames scored.
        reference: Probe of the reference.
        distorted: Probe of the distorted video.
        ffmpeg_version: ffmpeg's version line.
        libvmaf_version: libvmaf's version string from its log.
        model_version: The teacher model (``vmaf_v0.6.1``).
        warnings: Non-fatal notes (e.g. an extra that could not be computed, damage accepted
            with ``allow_damaged``).
        damaged_frames_dropped: Frames left out because an input was damaged.
        frame_index: Index of each scored frame in the (resampled) pair, as libvmaf numbers it
            (``0, N, 2N, ...`` with ``subsample`` N).
        fps: Frame rate of the scored pair (the reference's, or ``--fps``): ``time_s`` of a
            frame is ``frame_index / fps``.
        subsample: libvmaf's ``n_subsample`` (1: every frame).
        n_frames_total: Frames in the pair before subsampling.
        teacher: The libvmaf model of the column ``teacher`` (``vmaf`` is always vmaf_v0.6.1).
    """

    columns: dict[str, np.ndarray]
    n_frames: int
    reference: VideoInfo
    distorted: VideoInfo
    ffmpeg_version: str
    libvmaf_version: str
    model_version: str = TEACHER_MODEL
    warnings: tuple[str, ...] = field(default_factory=tuple)
    damaged_frames_dropped: int = 0
    frame_index: np.ndarray | None = None
    fps: float = 25.0
    subsample: int = 1
    n_frames_total: int = 0
    teacher: str = TEACHER_MODEL

    def matrix(self, names: Sequence[str] = CANONICAL6) -> np.ndarray:
        """Stack the named columns into an (n_frames, len(names)) float32 array."""
        return np.stack([self.columns[n] for n in names], axis=1).astype(np.float32)

    @property
    def vmaf(self) -> np.ndarray:
        return self.columns["vmaf"]

    @property
    def teacher_scores(self) -> np.ndarray:
        """Per-frame scores of :attr:`teacher` (``vmaf`` for vmaf_v0.6.1)."""
        return self.columns.get("teacher", self.columns["vmaf"])

    @property
    def frames(self) -> np.ndarray:
        """Index of each scored frame (``0..n-1`` when not subsampled)."""
        if self.frame_index is None:
            return np.arange(self.n_frames, dtype=np.int64)
        return self.frame_index

    @property
    def time_s(self) -> np.ndarray:
        """Time of each scored frame in seconds (frame index over the pair's frame rate)."""
        return self.frames.astype(np.float64) / (self.fps if self.fps > 0 else 25.0)


def parse_log(
    log: dict,
    *,
    rinfo: VideoInfo,
    dinfo: VideoInfo,
    n_expected: int,
    extras: Sequence[str],
    ff: FFmpeg,
    teacher: str = TEACHER_MODEL,
    teachers: Sequence[str] = (),
    features: Sequence[str] = (),
) -> FeatureResult:
    """The per-frame columns of a libvmaf JSON log, one row per frame scored.

    Args:
        log: libvmaf's log (``log_fmt=json``), already read.
        rinfo: Probe of the reference.
        dinfo: Probe of the distorted video.
        n_expected: Frames the log must hold.
        extras: Extras asked for (NaN where libvmaf could not compute one; a warning when
            it computed none).
        ff: The ffmpeg that ran the pass (its version line goes into the result).
        teacher: The teacher of the column ``teacher`` (none for vmaf_v0.6.1).
        teachers: More teachers, each a column named by ``TEACHER_COLUMNS``.
        features: Feature columns beside the canonical-6 (keys of ``FEATURE_KEYS``).

    Raises:
        BadInputError: the log holds another number of frames, or lacks a required column.
    """
    frames = log.get("frames") or []
    if len(frames) != n_expected:
        raise BadInputError(
            f"libvmaf scored {len(frames)} of {n_expected} frames of {dinfo.path.name} "
            "(corrupt or truncated video?)"
        )
    wanted = {name: FEATURE_KEYS[name][0] for name in dict.fromkeys([*CANONICAL6, *features])}
    wanted["vmaf"] = "vmaf"
    for t in teachers:
        wanted[TEACHER_COLUMNS[t]] = TEACHER_COLUMNS[t]
    if teacher != TEACHER_MODEL:
        wanted["teacher"] = TEACHER_COLUMNS[teacher]
    required = list(wanted)
    for e in extras:
        wanted[e] = EXTRAS[e][1]
    cols = {name: np.full(n_expected, np.nan, dtype=np.float64) for name in wanted}
    for i, fr in enumerate(frames):
        metrics = fr.get("metrics", {})
        for name, key in wanted.items():
            if key in metrics:
                cols[name][i] = float(metrics[key])
    missing = [n for n in required if np.isnan(cols[n]).any()]
    if missing:
        raise BadInputError(f"libvmaf log lacks {missing} for {dinfo.path.name}")
    warns = tuple(
        f"extra {e!r} unavailable for {dinfo.path.name} at {rinfo.width}x{rinfo.height}"
        for e in extras
        if np.isnan(cols[e]).all()
    )
    return FeatureResult(
        columns=cols,
        n_frames=n_expected,
        reference=rinfo,
        distorted=dinfo,
        ffmpeg_version=ff.version_line,
        libvmaf_version=str(log.get("version", "unknown")),
        warnings=warns,
    )
