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

The text of ffmpeg's outputs is parsed by :mod:`vmaf_tiny.stream_parse`; the model's per-frame
input (:func:`stream_feature_matrix`, :data:`STREAM_FEATURES`) is computed by
:mod:`vmaf_tiny.stream_features`. Both are re-exported here.
"""

from __future__ import annotations

import os
import subprocess
import threading
from dataclasses import dataclass, field

from vmaf_tiny._lazy import numpy as np  # numpy on first use (start-up)
from vmaf_tiny.damage import scan_log
from vmaf_tiny.errors import BadInputError
from vmaf_tiny.ffmpeg import FFmpeg, last_error_line, resolve_ffmpeg
from vmaf_tiny.stream_content import ContentStats
from vmaf_tiny.stream_features import (
    CODEC_FAMILIES,
    STREAM_FEATURES,
    feature_dict,
    stream_feature_matrix,
)
from vmaf_tiny.stream_order import display_ranks
from vmaf_tiny.stream_parse import (
    parse_framecrc_sizes,
    parse_showinfo,
    parse_trace_qp,
    parse_trace_qp_packets,
)
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

#: Smallest coded width/height the content statistics are defined for (half size: 5 pixels, one
#: line of the 4-pixel coding grid); 8x8 gave NaN statistics.
MIN_STREAM_SIDE = 10
#: Codecs ffmpeg's ``trace_headers`` bitstream filter reads (others: no header quantiser).
_TRACEABLE = frozenset({"h264", "hevc", "vp9", "av1", "vp8", "mpeg2video", "mjpeg", "vvc"})
#: Decoders whose output is not a lossy stream: scoring falls back to the pixel model.
_NOT_STREAMS = frozenset({"rawvideo", "ffv1", "huffyuv", "ffvhuff", "utvideo", "v210", "png"})

#: The pts ``-f framecrc`` writes for a packet without one (INT64_MIN).
_NO_PTS = -(2**63)


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
