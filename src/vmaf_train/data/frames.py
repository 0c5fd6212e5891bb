"""Luma frames from a built corpus: clip records, source splits, decoding and seeded sampling.

A corpus directory (``vmaf-train corpus build``) holds ``manifest.json`` (references and distorted
clips, paths relative to the directory), ``features.parquet`` (per-frame teacher scores) and the
``cache/`` with the videos. :class:`PixelCorpus` joins them into one :class:`ClipRecord` per
distorted clip. Frames are decoded through the project's ffmpeg (:func:`vmaf_tiny.read_luma`:
8- and 10-bit luma as float32 in [0, 1], optional bicubic rescale).

Sampling is deterministic: which frames and which crop windows a clip contributes depends only on
the seed and the clip key (:func:`clip_rng`), never on the order clips are visited or on what
else is in the corpus. Splits are by ``source_id`` (:func:`vmaf_train.data.splits.split_keys`),
so a held-out source is never trained on.

Per-clip samples can be cached (:func:`gather`): each clip's arrays go to one ``.npz`` named by
the hash of everything that determines them, written atomically, so a killed run resumes.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vmaf_tiny.console import make_progress
from vmaf_tiny.errors import BadInputError
from vmaf_tiny.ffmpeg import FFmpeg, resolve_ffmpeg
from vmaf_tiny.fsutil import atomic_write_bytes
from vmaf_tiny.video import read_luma
from vmaf_train.data.dataset import SPLITS
from vmaf_train.data.manifest import read_manifest
from vmaf_train.data.splits import DEFAULT_SALT, split_keys
from vmaf_train.data.table import read_features

__all__ = [
    "ClipRecord",
    "PixelCorpus",
    "clip_rng",
    "crop_boxes",
    "decode",
    "gather",
    "sample_indices",
    "to_uint8",
]


@dataclass(frozen=True)
class ClipRecord:
    """One distorted clip of a corpus with its reference and per-frame teacher scores.

    Attributes:
        key: Distorted clip id.
        source_id: Content id (the split unit).
        source_kind: natural | synthetic | user.
        distortion: encode | ladder | scale.
        codec: Encoder (``none`` for pure scaling).
        crf: CRF, None if not applicable.
        clip: Path of the distorted video.
        reference: Path of the reference y4m.
        width: Reference (scoring) width.
        height: Reference (scoring) height.
        encode_width: Width the clip was encoded at.
        encode_height: Height the clip was encoded at.
        vmaf: Per-frame teacher VMAF (float64).
        psnr_y: Per-frame PSNR-Y of the unfiltered clip when the corpus has it, else None.
    """

    key: str
    source_id: str
    source_kind: str
    distortion: str
    codec: str
    crf: float | None
    clip: Path
    reference: Path
    width: int
    height: int
    encode_width: int
    encode_height: int
    vmaf: np.ndarray = field(compare=False, repr=False)
    psnr_y: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def n_frames(self) -> int:
        return int(self.vmaf.shape[0])


@dataclass
class PixelCorpus:
    """A built corpus seen as videos: clips with their references and teacher scores.

    Attributes:
        root: The corpus directory.
        manifest_sha256: The manifest's hash (provenance of every model trained on it).
        clips: One record per distorted clip, sorted by key.
        source_kinds: source_id -> kind.
        table_metadata: The features table's ``vmaf_tiny.*`` metadata.
    """

    root: Path
    manifest_sha256: str
    clips: list[ClipRecord]
    source_kinds: dict[str, str]
    table_metadata: dict[str, str] = field(default_factory=dict)

    @classmethod
    def open(cls, root: str | Path) -> PixelCorpus:
        """Read ``manifest.json`` and ``features.parquet`` of a built corpus.

        Raises:
            BadInputError: not a corpus directory, a missing video, or clips whose frame rows
                are missing from the features table.
        """
        from vmaf_train.data.table import table_metadata

        root = Path(root)
        if not (root / "manifest.json").is_file():
            raise BadInputError(f"{root}: not a built corpus (no manifest.json)")
        man = read_manifest(root / "manifest.json")
        table = read_features(root / "features.parquet")
        refs = {r["source_id"]: r for r in man.get("references", [])}
        files = {c["key"]: c for c in man.get("clips", [])}
        cols = {
            n: table.column(n).to_pylist()
            for n in (
                "key",
                "source_id",
                "source_kind",
                "distortion",
                "codec",
                "crf",
                "frame",
                "width",
                "height",
                "encode_width",
                "encode_height",
            )
        }
        vmaf = table.column("vmaf").to_numpy()
        psnr = (
            table.column("psnr_y").to_numpy(zero_copy_only=False).astype(np.float64)
            if "psnr_y" in table.column_names
            else None
        )
        rows: dict[str, list[int]] = {}
        for i, k in enumerate(cols["key"]):
            rows.setdefault(k, []).append(i)
        clips: list[ClipRecord] = []
        kinds: dict[str, str] = {}
        for key in sorted(rows):
            idx = sorted(rows[key], key=lambda i: cols["frame"][i])
            i0 = idx[0]
            src = cols["source_id"][i0]
            if key not in files:
                raise BadInputError(
                    f"{root.name}: clip {key} is in features.parquet, not in the manifest"
                )
            if src not in refs:
                raise BadInputError(f"{root.name}: source {src} has no reference in the manifest")
            clip_path, ref_path = root / files[key]["file"], root / refs[src]["file"]
            for p in (clip_path, ref_path):
                if not p.is_file():
                    raise BadInputError(f"{root.name}: missing video {p}")
            frames = [cols["frame"][i] for i in idx]
            if frames != list(range(len(idx))):
                raise BadInputError(f"{root.name}: clip {key} has non-contiguous frame rows")
            ps = psnr[idx] if psnr is not None else None
            kinds[src] = cols["source_kind"][i0]
            clips.append(
                ClipRecord(
                    key=key,
                    source_id=src,
                    source_kind=cols["source_kind"][i0],
                    distortion=cols["distortion"][i0],
                    codec=cols["codec"][i0],
                    crf=cols["crf"][i0],
                    clip=clip_path,
                    reference=ref_path,
                    width=int(cols["width"][i0]),
                    height=int(cols["height"][i0]),
                    encode_width=int(cols["encode_width"][i0]),
                    encode_height=int(cols["encode_height"][i0]),
                    vmaf=np.asarray(vmaf[idx], dtype=np.float64),
                    psnr_y=None if ps is None or not np.isfinite(ps).all() else ps,
                )
            )
        if not clips:
            raise BadInputError(f"{root.name}: the corpus has no clips")
        return cls(
            root=root,
            manifest_sha256=str(man["manifest_sha256"]),
            clips=clips,
            source_kinds=dict(sorted(kinds.items())),
            table_metadata=table_metadata(table),
        )

    @property
    def sources(self) -> list[str]:
        return sorted(self.source_kinds)

    def split_sources(
        self, *, val_frac: float, test_frac: float, salt: str = DEFAULT_SALT
    ) -> dict[str, list[str]]:
        """Sources per split (hash buckets of ``source_id``)."""
        s = split_keys(self.sources, val_frac=val_frac, test_frac=test_frac, salt=salt)
        return {"train": s.train, "val": s.val, "test": s.test}

    def split(
        self, *, val_frac: float, test_frac: float, salt: str = DEFAULT_SALT
    ) -> dict[str, list[ClipRecord]]:
        """Clips per split; every clip of a source lands in its source's split.

        Raises:
            BadInputError: the training split would be empty.
        """
        by = self.split_sources(val_frac=val_frac, test_frac=test_frac, salt=salt)
        where = {s: name for name, srcs in by.items() for s in srcs}
        out: dict[str, list[ClipRecord]] = {name: [] for name in SPLITS}
        for c in self.clips:
            out[where[c.source_id]].append(c)
        if not out["train"]:
            raise BadInputError("the training split has no clips (too few sources?)")
        return out


def clip_rng(seed: int, key: str, purpose: str = "") -> np.random.Generator:
    """A generator that depends only on ``seed``, the clip ``key`` and a purpose tag."""
    digest = hashlib.sha256(f"{purpose}:{key}".encode()).digest()
    return np.random.default_rng([int(seed), int.from_bytes(digest[:8], "big")])


def sample_indices(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """``min(k, n)`` distinct frame indices in [0, n), sorted (all of them when ``k <= 0``)."""
    if n <= 0:
        raise BadInputError("cannot sample frames from an empty clip")
    if k <= 0 or k >= n:
        return np.arange(n)
    return np.sort(rng.choice(n, size=k, replace=False))


def crop_boxes(
    height: int, width: int, size: tuple[int, int], n: int, rng: np.random.Generator
) -> list[tuple[int, int]]:
    """``n`` random top-left corners (y, x) of ``size`` = (h, w) windows inside the frame.

    Raises:
        BadInputError: the window is larger than the frame.
    """
    ch, cw = size
    if ch > height or cw > width:
        raise BadInputError(f"crop {cw}x{ch} does not fit in a {width}x{height} frame")
    ys = rng.integers(0, height - ch + 1, size=n)
    xs = rng.integers(0, width - cw + 1, size=n)
    return [(int(y), int(x)) for y, x in zip(ys, xs, strict=True)]


def to_uint8(x: np.ndarray) -> np.ndarray:
    """[0, 1] float luma -> uint8 code values (round half to even)."""
    return np.clip(np.rint(np.asarray(x, dtype=np.float32) * 255.0), 0, 255).astype(np.uint8)


def decode(
    path: str | Path,
    *,
    size: tuple[int, int] | None = None,
    max_frames: int | None = None,
    ffmpeg: FFmpeg | None = None,
) -> np.ndarray:
    """All luma frames of a video as one float32 array (T, H, W) in [0, 1].

    Args:
        path: The video.
        size: (width, height) to rescale to (bicubic, as libvmaf's scoring path does).
        max_frames: Stop after this many frames.
        ffmpeg: The binary (resolved if None).
    """
    ff = ffmpeg or resolve_ffmpeg()
    frames = list(read_luma(path, ffmpeg=ff, size=size, max_frames=max_frames))
    if not frames:
        raise BadInputError(f"{Path(path).name}: no frames decoded")
    return np.stack(frames)


def _cache_name(tag: str, clip: ClipRecord, params: dict[str, Any]) -> str:
    text = json.dumps([tag, clip.key, clip.clip.name, params], sort_keys=True, default=str)
    return f"{clip.key}-{hashlib.sha256(text.encode()).hexdigest()[:16]}.npz"


def gather(
    clips: Sequence[ClipRecord],
    work: Callable[[ClipRecord], dict[str, np.ndarray]],
    *,
    tag: str,
    params: dict[str, Any],
    cache: Path | None = None,
    progress: bool = True,
) -> dict[str, np.ndarray]:
    """Run ``work`` on every clip and concatenate its arrays along axis 0.

    Adds a ``clip`` array (the position of the clip in ``clips``) so rows map back to clips.

    Args:
        clips: The clips.
        work: clip -> name -> array (all arrays the same length).
        tag: What is being gathered (part of the cache name).
        params: Everything else that determines ``work``'s output (part of the cache name).
        cache: Directory for per-clip ``.npz`` files (None: no cache).
        progress: Show a progress bar on stderr.
    """
    parts: list[dict[str, np.ndarray]] = []
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
    with make_progress(enabled=progress) as bar:
        task = bar.add_task(tag, total=len(clips))
        for i, c in enumerate(clips):
            out: dict[str, np.ndarray] | None = None
            path = cache / _cache_name(tag, c, params) if cache is not None else None
            if path is not None and path.is_file():
                with np.load(path) as z:
                    out = {k: z[k] for k in z.files}
            if out is None:
                out = work(c)
                if path is not None:
                    buf = io.BytesIO()
                    np.savez(buf, **out)  # type: ignore[arg-type]
                    atomic_write_bytes(path, buf.getvalue())
            n = {len(v) for v in out.values()}
            if len(n) != 1:
                raise ValueError(f"{tag}: arrays of different lengths for {c.key}")
            out["clip"] = np.full(n.pop(), i, dtype=np.int32)
            parts.append(out)
            bar.advance(task)
    if not parts:
        raise BadInputError(f"{tag}: no clips to sample")
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
