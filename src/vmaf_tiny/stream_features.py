"""Per-frame and per-clip features of an encoded stream, the input of a stream-aware NR model.

:func:`stream_feature_matrix` turns what :func:`vmaf_tiny.stream.extract_stream` found (packet
sizes, frame types, quantisers, content statistics) into the model's per-frame input, column by
column as the sidecar's ``feature_order`` names them (:data:`STREAM_FEATURES`); an unknown name is
a BadModelError, so a model can never run on features the runtime does not compute.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from vmaf_tiny._lazy import numpy as np  # numpy on first use (start-up)
from vmaf_tiny.errors import BadInputError, BadModelError

if TYPE_CHECKING:
    from vmaf_tiny.stream import StreamFrames

__all__ = [
    "CODEC_FAMILIES",
    "STREAM_FEATURES",
    "feature_dict",
    "stream_feature_matrix",
    "unknown_features",
]

#: ffmpeg decoder name -> codec family used by the features (one-hot columns).
CODEC_FAMILIES: dict[str, str] = {"h264": "h264", "hevc": "hevc", "vp9": "vp9", "av1": "av1"}
#: Largest QP each exporting decoder reports (H.264 0..51, VP9 base q_index 0..255).
_QP_MAX = {"h264": 51.0, "vp9": 255.0}


def _window_mean(x: np.ndarray, radius: int) -> np.ndarray:
    k = np.ones(2 * radius + 1)
    num = np.convolve(np.pad(x, radius, mode="edge"), k, mode="valid")
    return num / k.size


def _features(sf: StreamFrames, display: tuple[int, int] | None) -> dict[str, np.ndarray]:
    n = sf.n_frames
    one = np.ones(n)
    pixels = float(sf.width * sf.height)
    bpp = sf.packet_bytes * 8.0 / pixels
    eps = 1e-4
    ftype = np.asarray(sf.frame_type)
    is_i = (ftype == "I").astype(np.float64)
    is_b = (ftype == "B").astype(np.float64)
    fam = CODEC_FAMILIES.get(sf.codec, "other")
    qmax = _QP_MAX.get(sf.codec)
    has_qp = qmax is not None and bool(np.isfinite(sf.qp).any())
    if has_qp and qmax is not None:
        qn = np.nan_to_num(sf.qp / qmax, nan=float(np.nanmean(sf.qp / qmax)))
    else:
        qn = np.zeros(n)
    # One quantiser scale per clip: the CRF the encoder wrote (x264/x265), else the exported QP.
    if sf.crf is not None and fam in ("h264", "hevc"):
        clip_q, has_q = sf.crf / 51.0, 1.0
    elif has_qp:
        clip_q, has_q = float(qn.mean()), 1.0
    else:
        clip_q, has_q = 0.0, 0.0
    hq = sf.header_qp
    hq_max = {"h264": 51.0, "hevc": 51.0, "vp9": 255.0, "av1": 255.0}.get(fam)
    if hq is not None and hq.size and hq_max is not None:
        clip_hq, has_hq = float(hq.mean()) / hq_max, 1.0
    else:
        clip_hq, has_hq = 0.0, 0.0
    non_i = bpp[is_i == 0] if (is_i == 0).any() else bpp
    dw, dh = display or (sf.width, sf.height)
    c = sf.content
    g8 = float(np.mean(c["grad_c8"]))
    g16 = float(np.mean(c["grad_c16"]))
    td = float(np.mean(c["tdiff_c16"]))
    g2 = float(np.nanmean(c["grad_c2"]))
    feats: dict[str, np.ndarray] = {
        "log_bpp": np.log(bpp + eps),
        "log_bpp_win": np.log(_window_mean(bpp, 4) + eps),
        "is_intra": is_i,
        "is_b": is_b,
        "qp_norm": qn,
        "clip_log_bpp": np.log(float(bpp.mean()) + eps) * one,
        "clip_log_bpp_nonintra": np.log(float(non_i.mean()) + eps) * one,
        "clip_log_bpp_intra": np.log(
            float(bpp[is_i == 1].mean() if is_i.any() else bpp.max()) + eps
        )
        * one,
        "clip_qp_norm": float(qn.mean()) * one,
        "has_qp": float(has_qp) * one,
        "clip_q_norm": clip_q * one,
        "has_q": has_q * one,
        "clip_hdr_q": clip_hq * one,
        "has_hdr_q": has_hq * one,
        "codec_h264": float(fam == "h264") * one,
        "codec_hevc": float(fam == "hevc") * one,
        "codec_vp9": float(fam == "vp9") * one,
        "codec_av1": float(fam == "av1") * one,
        "log2_height": np.log2(sf.height / 360.0) * one,
        "log2_upscale": np.log2(max(dh / sf.height, dw / sf.width, 1.0)) * one,
        "fps_norm": sf.fps / 30.0 * one,
        "log_grad_c8": np.log(c["grad_c8"] + 0.1),
        "log_grad_c16": np.log(c["grad_c16"] + 0.1),
        "log_tdiff_c16": np.log(c["tdiff_c16"] + 0.1),
        "luma_std": c["luma_std"] / 64.0,
        "luma_mean": c["luma_mean"] / 255.0,
        "log_grad_c2": np.log(np.nan_to_num(c["grad_c2"], nan=g2) + 0.1),
        "blocky": np.nan_to_num(c["blocky"], nan=1.0),
        "clip_log_grad_c8": np.log(g8 + 0.1) * one,
        "clip_log_grad_c16": np.log(g16 + 0.1) * one,
        "clip_log_tdiff_c16": np.log(td + 0.1) * one,
        "clip_log_grad_c2": np.log(g2 + 0.1) * one,
        "clip_blocky": float(np.nanmean(c["blocky"])) * one,
        "clip_sharpness": np.log((g2 + 0.1) / (g8 + 0.1)) * one,
    }
    g32 = float(np.mean(c["grad_c32"]))
    td2 = float(np.mean(c["tdiff_c2"]))
    feats["log_grad_c32"] = np.log(c["grad_c32"] + 0.1)
    feats["log_tdiff_c2"] = np.log(c["tdiff_c2"] + 0.1)
    feats["flat"] = np.nan_to_num(c["flat"], nan=0.0)
    feats["clip_log_grad_c32"] = np.log(g32 + 0.1) * one
    feats["clip_log_tdiff_c2"] = np.log(td2 + 0.1) * one
    feats["clip_flat"] = float(np.nanmean(c["flat"])) * one
    # Spectral slope (coarse), fine temporal change against coarse (grain/noise vs motion).
    feats["clip_slope"] = np.log((g8 + 0.1) / (g32 + 0.1)) * one
    feats["clip_noise"] = np.log((td2 + 0.1) / (td + 0.1)) * one
    feats["clip_rate_vs_fine"] = feats["clip_log_bpp"] - feats["clip_log_grad_c2"]
    # Rate against content: bits per pixel relative to the content's coarse activity.
    feats["clip_rate_vs_detail"] = feats["clip_log_bpp"] - feats["clip_log_grad_c16"]
    feats["clip_rate_vs_motion"] = feats["clip_log_bpp_nonintra"] - feats["clip_log_tdiff_c16"]
    return feats


#: Every feature the runtime can compute, in a stable order (sidecars pick from these).
STREAM_FEATURES: tuple[str, ...] = (
    "log_bpp",
    "log_bpp_win",
    "is_intra",
    "is_b",
    "qp_norm",
    "clip_log_bpp",
    "clip_log_bpp_nonintra",
    "clip_log_bpp_intra",
    "clip_qp_norm",
    "has_qp",
    "clip_q_norm",
    "has_q",
    "clip_hdr_q",
    "has_hdr_q",
    "codec_h264",
    "codec_hevc",
    "codec_vp9",
    "codec_av1",
    "log2_height",
    "log2_upscale",
    "fps_norm",
    "log_grad_c8",
    "log_grad_c16",
    "log_tdiff_c16",
    "luma_std",
    "luma_mean",
    "log_grad_c2",
    "blocky",
    "clip_log_grad_c8",
    "clip_log_grad_c16",
    "clip_log_tdiff_c16",
    "clip_log_grad_c2",
    "clip_blocky",
    "clip_sharpness",
    "clip_rate_vs_detail",
    "clip_rate_vs_motion",
    "log_grad_c32",
    "log_tdiff_c2",
    "flat",
    "clip_log_grad_c32",
    "clip_log_tdiff_c2",
    "clip_flat",
    "clip_slope",
    "clip_noise",
    "clip_rate_vs_fine",
)


def _known(name: str) -> bool:
    parts = name.split("__")
    return len(parts) <= 2 and all(p in STREAM_FEATURES for p in parts)


def unknown_features(names: Sequence[str]) -> list[str]:
    """The names that the runtime does not compute (see :func:`stream_feature_matrix`)."""
    return [n for n in names if not _known(n)]


def stream_feature_matrix(
    sf: StreamFrames,
    names: Sequence[str],
    *,
    display: tuple[int, int] | None = None,
) -> np.ndarray:
    """The model input: one row per frame, the columns ``names`` (float32, finite).

    A name is one of :data:`STREAM_FEATURES` or the product of two of them, ``a__b``.

    Args:
        sf: What :func:`extract_stream` found.
        names: Feature names in input order (a sidecar's ``feature_order``).
        display: (width, height) the video is watched at, when larger than the coded size
            (a ladder rung upscaled for display); None: the coded size.

    Raises:
        BadModelError: a name the runtime does not compute.
        BadInputError: the features are not finite (a broken stream).
    """
    unknown = unknown_features(names)
    if unknown:
        raise BadModelError(f"unknown stream feature(s) {unknown}; known: {list(STREAM_FEATURES)}")
    feats = _features(sf, display)
    cols = []
    for n in names:
        a, _, b = n.partition("__")
        cols.append(feats[a] * feats[b] if b else feats[a])
    x = np.stack(cols, axis=1).astype(np.float32)
    if not np.isfinite(x).all():
        raise BadInputError("stream features are not finite (broken stream?)")
    return x


def feature_dict(
    sf: StreamFrames, display: tuple[int, int] | None = None
) -> Mapping[str, np.ndarray]:
    """Every feature of :data:`STREAM_FEATURES` by name (for building training tables)."""
    return _features(sf, display)
