"""Stream facts and cheap content statistics of an encoded video, without its reference.

One ffmpeg decode pass (after the usual no-decode probe), beside a no-decode ``-c copy`` pass
run at the same time, gives everything a stream-aware no-reference model (``nr_stream_v1``,
``nr_stream_v2``) reads:

* the packet size of every frame (the copy pass's framecrc output), matched to frames in
  presentation order;
* the frame type (I/P/B) and, where the decoder exports it (H.264, VP9), the frame QP
  (``-export_side_data venc_params`` + ``showinfo``, parsed from the log);
* the quantiser of every frame/slice header, for all four codecs (the ``trace_headers``
  bitstream filter on the copy pass: H.264/HEVC slice QP, VP9/AV1 ``base_q_idx``);
* coded size, frame rate and codec from the probe;
* per-frame content statistics of the decoded luma, which ffmpeg hands over at half size (area
  average, 8 bit): gradient energy at 1/8 and 1/16 scale, temporal difference at 1/16 scale,
  mean and spread, all of which compression changes little, and every ``fine_stride``-th frame
  the half-scale gradient energy and the coding-grid blockiness, which it does change.

:func:`stream_feature_matrix` turns that into the model's per-frame input, column by column as
the sidecar's ``feature_order`` names them (:data:`STREAM_FEATURES`); an unknown name is a
BadModelError, so a model can never run on features the runtime does not compute.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from vmaf_tiny._lazy import numpy as np  # numpy on first use (start-up)
from vmaf_tiny.damage import scan_log
from vmaf_tiny.errors import BadInputError, BadModelError
from vmaf_tiny.ffmpeg import FFmpeg, last_error_line, resolve_ffmpeg
from vmaf_tiny.stream_content import ContentStats
from vmaf_tiny.stream_order import display_ranks
from vmaf_tiny.video import VideoInfo, VideoSpec, as_spec, probe

__all__ = [
    "CODEC_FAMILIES",
    "STREAM_FEATURES",
    "StreamFrames",
    "extract_stream",
    "feature_dict",
    "is_encoded_stream",
    "parse_framecrc_sizes",
    "parse_showinfo",
    "parse_trace_qp",
    "parse_trace_qp_packets",
    "stream_feature_matrix",
]

#: ffmpeg decoder name -> codec family used by the features (one-hot columns).
CODEC_FAMILIES: dict[str, str] = {"h264": "h264", "hevc": "hevc", "vp9": "vp9", "av1": "av1"}
#: Largest QP each exporting decoder reports (H.264 0..51, VP9 base q_index 0..255).
_QP_MAX = {"h264": 51.0, "vp9": 255.0}
#: Smallest coded width/height the content statistics are defined for (half size: 5 pixels, one
#: line of the 4-pixel coding grid); 8x8 gave NaN statistics.
MIN_STREAM_SIDE = 10
#: Codecs ffmpeg's ``trace_headers`` bitstream filter reads (others: no header quantiser).
_TRACEABLE = frozenset({"h264", "hevc", "vp9", "av1", "vp8", "mpeg2video", "mjpeg", "vvc"})
#: Decoders whose output is not a lossy stream: scoring falls back to the pixel model.
_NOT_STREAMS = frozenset({"rawvideo", "ffv1", "huffyuv", "ffvhuff", "utvideo", "v210", "png"})

#: The pts ``-f framecrc`` writes for a packet without one (INT64_MIN).
_NO_PTS = -(2**63)
_SHOWINFO_FRAME = re.compile(r"\bn:\s*(\d+)\b.*?\bpts_time:\s*(\S+).*?\btype:([A-Z?])")
_SHOWINFO_QP = re.compile(r"\btype \d+; qp=(-?\d+)")  # its line can be split after "parameters:"


@dataclass(frozen=True)
class StreamFrames:
    """What one decode pass found, per frame in presentation order.

    Attributes:
        codec: ffmpeg's decoder name (``h264``, ``hevc``, ``vp9``, ``av1``, ...).
        width: Coded width.
        height: Coded height.
        fps: Nominal frame rate.
        packet_bytes: Bytes of each frame's packet (float64, length n).
        frame_type: ``I``, ``P`` or ``B`` (``?`` when the decoder does not say) per frame.
        qp: Frame QP where the decoder exports it, NaN elsewhere.
        content: Per-frame content statistics, name -> float64 array of length n.
        crf: The CRF the encoder wrote into the stream (x264/x265 option SEI), else None.
        header_qp: Quantiser of every frame/slice header (``trace_headers``) of the scored
            frames' packets (not a cut's hidden pre-roll, not packets past ``max_frames``),
            decode order; empty for a codec ``trace_headers`` cannot read.
        damage: What the decoder reported as damaged during the pass (empty when clean).
        decode_order: The packets carry no timestamps and their display order could not be read
            from the slice headers (:mod:`vmaf_tiny.stream_order`; raw H.264 / HEVC streams are
            put in order) and the stream has B-frames: ``packet_bytes`` are paired with frames
            in decode order, so a B-frame may carry a reference frame's size.
    """

    codec: str
    width: int
    height: int
    fps: float
    packet_bytes: np.ndarray
    frame_type: tuple[str, ...]
    qp: np.ndarray
    content: dict[str, np.ndarray] = field(default_factory=dict)
    crf: float | None = None
    header_qp: np.ndarray | None = None
    damage: tuple[str, ...] = ()
    decode_order: bool = False

    @property
    def n_frames(self) -> int:
        return int(self.packet_bytes.shape[0])


def is_encoded_stream(info: VideoInfo) -> bool:
    """True for a lossy coded stream (H.264, HEVC, VP9, AV1, ...); False for raw, y4m, FFV1."""
    return info.decoder not in _NOT_STREAMS and info.path.suffix.lower() not in (".y4m", ".yuv")


def parse_framecrc_sizes(text: str) -> list[tuple[int, int]]:
    """(pts, size in bytes) of every packet in an ``-f framecrc`` listing, in decode order."""
    out: list[tuple[int, int]] = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        cols = [c.strip() for c in line.split(",")]
        if len(cols) < 6:
            continue
        try:
            out.append((int(cols[2]), int(cols[4])))
        except ValueError:
            continue
    return out


#: A syntax element line of ``trace_headers``: bit position, name, bits, ``= value``. Only the
#: name, bits and value are matched: ffmpeg's threads log concurrently, and another filter's
#: line prefix can land in front of the bit position (seen with ``showinfo``).
_TRACE = re.compile(
    r"\b(pic_init_qp_minus26|init_qp_minus26|slice_qp_delta|base_q_idx)\s+[01]+ = (-?\d+)"
)
#: :data:`_TRACE`, or the line ``trace_headers`` writes before each packet's headers.
_TRACE_OR_PACKET = re.compile(
    rf"{_TRACE.pattern}|(?P<packet>Packet: \d+ bytes)(?:[^\n]*?, pts (?P<pts>-?\d+))?"
)


def parse_trace_qp(text: str) -> list[float]:
    """Quantiser of every frame/slice header in a ``trace_headers`` log, in decode order.

    H.264 and HEVC: ``26 + (pic_)init_qp_minus26 + slice_qp_delta`` per slice (0..51); VP9 and
    AV1: ``base_q_idx`` per frame header (0..255).
    """
    return [q for _, _, q in parse_trace_qp_packets(text)]


def parse_trace_qp_packets(text: str) -> list[tuple[int, int | None, float]]:
    """:func:`parse_trace_qp` with the packet each header is in: (packet index in decode order,
    its pts, quantiser), from the ``Packet: ... pts P`` line the log writes before each packet's
    headers (index -1 before the first packet; pts None for a packet without one, e.g. raw
    Annex B)."""
    out: list[tuple[int, int | None, float]] = []
    init = 0
    index, pts = -1, None
    for m in _TRACE_OR_PACKET.finditer(text):
        if m.group("packet") is not None:
            index += 1
            pts = None if m.group("pts") is None else int(m.group("pts"))
            continue
        name, value = m.group(1), int(m.group(2))
        if name.endswith("init_qp_minus26"):
            init = value
        elif name == "slice_qp_delta":
            out.append((index, pts, float(26 + init + value)))
        else:
            out.append((index, pts, float(value)))
    return out


def _shown_header_qp(
    hdr: list[tuple[int, int | None, float]], shown: list[tuple[int, int]]
) -> list[float]:
    """The header quantisers of the packets whose sizes are used (``shown``: their (pts, size)):
    a cut's hidden pre-roll and, with ``max_frames``, the packets after the last scored frame
    are left out. Packets without a pts (raw Annex B) are matched by decode order, as their
    sizes are."""
    if any(p is None for _, p, _ in hdr):
        return [q for i, _, q in hdr if i < len(shown)]
    keep = {p for p, _ in shown}
    return [q for _, p, q in hdr if p in keep]


def parse_showinfo(text: str) -> tuple[list[str], list[float]]:
    """Frame types and QPs (NaN when absent) from a ``showinfo`` log, one entry per frame."""
    types: list[str] = []
    qps: list[float] = []
    for line in text.splitlines():
        if "Parsed_showinfo" in line:  # cheap test first: most lines are trace_headers output
            m = _SHOWINFO_FRAME.search(line)
            if m is not None:
                types.append(m.group(3))
                qps.append(float("nan"))
                continue
        if "qp=" not in line:
            continue
        q = _SHOWINFO_QP.search(line)
        if q is not None and qps:
            qps[-1] = float(q.group(1))
    return types, qps


def _shown_packets(by_pts: list[tuple[int, int]], n_shown: int) -> list[tuple[int, int]]:
    """The packets of the frames the decoder shows, from all packets in presentation order.

    A cut without re-encoding (``ffmpeg -ss T -c copy``) keeps the pre-roll from the last key
    frame and hides it with an edit list: those packets come out with negative pts and no
    frame of theirs is shown. Left in, every packet size would belong to a frame earlier than
    the one it is paired with.
    """
    if len(by_pts) <= n_shown:
        return by_pts
    shown = [p for p in by_pts if p[0] >= 0]
    return shown if len(shown) >= n_shown else by_pts


def _restamp(
    packets: list[tuple[int, int]],
    hdr: list[tuple[int, int | None, float]],
    trace: str,
    codec: str,
) -> tuple[list[tuple[int, int]], list[tuple[int, int | None, float]], set[int]]:
    """Packets of a stream without timestamps (raw H.264 / HEVC) stamped with their display
    position from the slice headers (:mod:`vmaf_tiny.stream_order`), their header quantisers
    with them; also the stamps whose place is not known (decode order kept). Streams with
    timestamps come back as they are."""
    if not packets or any(p != _NO_PTS for p, _ in packets):
        return packets, hdr, set()
    order = display_ranks(trace, codec)
    if order is None or len(order[0]) != len(packets):
        return packets, hdr, {_NO_PTS}
    ranks, known = order
    stamped = [(r, size) for r, (_, size) in zip(ranks, packets, strict=True)]
    hdr = [(i, ranks[i] if 0 <= i < len(ranks) else None, q) for i, _, q in hdr]
    return stamped, hdr, {r for r, k in zip(ranks, known, strict=True) if not k}


def _drain(pipe: object, sink: list[bytes]) -> None:
    sink.append(pipe.read())  # type: ignore[attr-defined]


def extract_stream(
    video: VideoSpec | str | os.PathLike[str],
    *,
    ffmpeg: FFmpeg | None = None,
    info: VideoInfo | None = None,
    fine_stride: int = 4,
    max_frames: int | None = None,
) -> StreamFrames:
    """Read the stream facts and content statistics of an encoded video in one decode pass.

    Args:
        video: The encoded file.
        ffmpeg: ffmpeg binary (resolved if None).
        info: Its probe result (probed if None).
        fine_stride: Full-resolution statistics every this many frames.
        max_frames: Stop after this many frames (None: all).

    Returns:
        Per-frame packet sizes, frame types, QPs and content statistics.

    Raises:
        BadInputError: not an encoded stream, undecodable, smaller than
            :data:`MIN_STREAM_SIDE` on a side, or no frame decoded.
    """
    spec = as_spec(video)
    ff = ffmpeg or resolve_ffmpeg()
    vi = info or probe(spec, ff)
    if not is_encoded_stream(vi):
        raise BadInputError(f"{spec.path.name}: not an encoded stream ({vi.decoder})")
    if vi.damage:
        raise BadInputError(f"{spec.path.name}: damaged stream ({'; '.join(vi.damage[:2])})")
    if min(vi.width, vi.height) < MIN_STREAM_SIDE:  # the half-size 4-pixel coding grid needs 5
        raise BadInputError(
            f"{spec.path.name}: {vi.width}x{vi.height} is too small for the stream content "
            f"statistics (each side at least {MIN_STREAM_SIDE} pixels)"
        )
    w, h = max(1, vi.width // 2), max(1, vi.height // 2)
    limit = ["-frames:v", str(max_frames)] if max_frames else []
    stats = ContentStats(fine_stride)
    head = [*ff.base_args(), "-nostats", "-loglevel", "level+info"]
    # Two processes, not one with two outputs: ffmpeg logs the copy output's bitstream filter
    # and the decode's showinfo from different threads, and their lines interleave mid-line
    # (a frame's QP was lost now and then under load). The copy pass reads every packet even
    # with max_frames: its -frames:v would count packets in decode order (B-frames, a cut's
    # hidden pre-roll), not the first shown frames; it decodes nothing, so it costs little.
    copy_cmd = [*head, *spec.input_args(), "-map", "0:v:0", "-c", "copy"]
    if vi.decoder in _TRACEABLE:
        copy_cmd += ["-bsf:v", "trace_headers"]
    copy_cmd += ["-f", "framecrc", "pipe:1"]
    copy = subprocess.Popen(copy_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    copied: list[tuple[bytes, bytes]] = []
    tc = threading.Thread(target=lambda: copied.append(copy.communicate()), daemon=True)
    tc.start()
    cmd = [*head, "-export_side_data", "venc_params", *spec.input_args(), "-map", "0:v:0"]
    cmd += ["-vf", f"showinfo=checksum=0,scale={w}:{h}:flags=area,format=gray"]
    cmd += ["-fps_mode", "passthrough", *limit, "-f", "rawvideo", "pipe:1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    err: list[bytes] = []
    t = threading.Thread(target=_drain, args=(proc.stderr, err), daemon=True)
    t.start()
    size = w * h
    pipe_out = proc.stdout
    if pipe_out is None:  # pragma: no cover - Popen with PIPE always has it
        raise BadInputError("ffmpeg gave no output pipe")
    while True:
        buf = pipe_out.read(size)
        if len(buf) < size:
            break
        stats.add(np.frombuffer(buf, dtype=np.uint8).reshape(h, w))
    rc = proc.wait()
    t.join()
    tc.join()
    log = b"".join(err)
    if rc != 0:
        raise BadInputError(f"{spec.path.name}: cannot decode ({last_error_line(log)})")
    crc_out, trace_log = copied[0] if copied else (b"", b"")
    if copy.returncode != 0:
        raise BadInputError(f"{spec.path.name}: cannot read packets ({last_error_line(trace_log)})")
    packets = parse_framecrc_sizes(crc_out.decode("ascii", "replace"))
    text = log.decode("utf-8", "replace")
    types, qps = parse_showinfo(text)
    damage, _ = scan_log(text, decoder=vi.decoder)
    trace = trace_log.decode("utf-8", "replace")
    packets, hdr, unsure = _restamp(packets, parse_trace_qp_packets(trace), trace, vi.decoder)
    content = stats.arrays()
    by_pts = _shown_packets(sorted(packets, key=lambda p: p[0]), len(stats.rows))
    n = min(len(stats.rows), len(by_pts), len(types))
    if n == 0:
        raise BadInputError(f"{spec.path.name}: no frames decoded")
    sizes = np.asarray([s for _, s in by_pts][:n], dtype=np.float64)
    coded = (vi.height, vi.width) if vi.turned else (vi.width, vi.height)
    return StreamFrames(
        codec=vi.decoder,
        width=coded[0],
        height=coded[1],
        fps=float(vi.fps),
        packet_bytes=sizes,
        frame_type=tuple(types[:n]),
        qp=np.asarray(qps[:n], dtype=np.float64),
        content={k: v[:n] for k, v in content.items()},
        crf=vi.crf,
        header_qp=np.asarray(_shown_header_qp(hdr, by_pts[:n]), dtype=np.float64),
        damage=tuple(damage),
        decode_order="B" in types[:n] and any(p in unsure for p, _ in by_pts[:n]),
    )


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
    unknown = [n for n in names if not _known(n)]
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
