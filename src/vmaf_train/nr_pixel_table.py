"""The pixel NR statistics table (``python -m vmaf_train.nr_pixel table``): every frame of a
built corpus's natural clips, decoded at 640x360 and paired with the previous frame as the
runtime pairs it, through :class:`~vmaf_train.nr_pixel_stats.TemporalStats`, into
``corpus/pixel_nr_features.npz``; and reading that table back for the fit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from vmaf_tiny.errors import BadInputError
from vmaf_tiny.fsutil import atomic_write_bytes
from vmaf_tiny.nr import with_previous
from vmaf_tiny.video import read_luma
from vmaf_train.nr_pixel_stats import FEATURE_NAMES, TemporalStats
from vmaf_train.nr_stream_loso import StreamData, source_family

__all__ = ["SIZE", "build_table", "clip_features", "load_table", "pairs"]

#: The frame size the statistics are computed at (the runtime rescales to it, bicubic).
SIZE = (640, 360)


def pairs(frames: np.ndarray) -> np.ndarray:
    """[T, H, W] frames -> [T, 2, H, W] (frame, previous frame); frame 0 is its own previous.

    The runtime's own pairing (:func:`vmaf_tiny.nr.with_previous`, ``frame.temporal =
    "previous"``), so training and scoring cannot drift apart.
    """
    return np.stack(list(with_previous(frames)))


def clip_features(clip: Path, stats: TemporalStats, batch: int = 8) -> np.ndarray:
    """Decode every frame of ``clip`` at 640x360 (bicubic) and return its statistics,
    ``[T, len(FEATURE_NAMES)]``."""
    luma = np.stack(list(read_luma(clip, size=SIZE)))
    x = pairs(luma)
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            out.append(stats(torch.from_numpy(np.ascontiguousarray(x[i : i + batch]))).numpy())
    return np.concatenate(out).astype(np.float64)


def build_table(corpus: Path) -> Path:
    """Statistics of every frame of a built corpus -> ``corpus/pixel_nr_features.npz``."""
    from vmaf_train.data.frames import PixelCorpus

    pc = PixelCorpus.open(corpus)
    torch.set_num_threads(1)
    stats = TemporalStats().eval()
    cols: dict[str, list[Any]] = {k: [] for k in ("key", "source_id", "codec", "distortion")}
    xs, ys = [], []
    for c in pc.clips:
        if c.source_kind != "natural":
            continue
        f = clip_features(c.clip, stats)
        if f.shape[0] != c.n_frames:
            raise BadInputError(f"{c.key}: decoded {f.shape[0]} frames, the table has {c.n_frames}")
        xs.append(f)
        ys.append(c.vmaf)
        for k in cols:
            cols[k] += [getattr(c, k)] * c.n_frames
    if not xs:
        raise BadInputError(f"{corpus}: no natural clips")
    out = corpus / "pixel_nr_features.npz"
    buf = _npz_bytes(
        x=np.concatenate(xs),
        y=np.concatenate(ys),
        names=np.asarray(FEATURE_NAMES),
        manifest_sha256=np.asarray(pc.manifest_sha256),
        **{k: np.asarray(v) for k, v in cols.items()},
    )
    atomic_write_bytes(out, buf)
    return out


def _npz_bytes(**arrays: np.ndarray) -> bytes:
    import io

    b = io.BytesIO()
    np.savez(b, **arrays)  # type: ignore[arg-type]
    return b.getvalue()


def load_table(path: Path) -> tuple[StreamData, str]:
    """Read ``pixel_nr_features.npz`` as arrays (and the corpus manifest hash).

    Raises:
        BadInputError: missing or unreadable file, or statistics of another feature list.
    """
    if not path.is_file():
        raise BadInputError(f"{path}: no such pixel NR features table")
    try:
        z = np.load(path)
        names = tuple(str(n) for n in z["names"])
    except (OSError, ValueError, KeyError, EOFError) as e:  # not an npz / pickled / no "names"
        why = (str(e).splitlines() or [type(e).__name__])[0]
        raise BadInputError(f"{path}: not a pixel NR features table ({why})") from None
    if names != FEATURE_NAMES:
        raise BadInputError(f"{path}: built with another statistics list; rebuild it")
    src = z["source_id"].astype(str)
    data = StreamData(
        x=z["x"],
        y=z["y"],
        names=FEATURE_NAMES,
        key=z["key"].astype(str),
        source_id=src,
        family=np.asarray([source_family(s) for s in src]),
        codec=z["codec"].astype(str),
        distortion=z["distortion"].astype(str),
        kind=np.full(src.size, "natural"),  # build_table keeps natural clips only
    )
    return data, str(z["manifest_sha256"])
