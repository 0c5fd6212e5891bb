"""Raw H.264 / HEVC streams (no timestamps): packet sizes paired with frames in display order.

The x264 and x265 command-line encoders write raw Annex B by default, with B-frames; ffmpeg lists
such packets in decode order without a pts. The same encode muxed by ffmpeg into Matroska carries
the order, so its packet sizes in presentation order are the reference.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.support.clips import lavfi_clip
from vmaf_tiny.ffmpeg import FFmpeg
from vmaf_tiny.stream import extract_stream
from vmaf_tiny.stream_order import display_ranks

X265 = ["-x265-params", "log-level=error:pools=1:frame-threads=1:keyint=24"]
ENCODERS = {
    "h264": ["-c:v", "libx264", "-preset", "veryfast", "-crf", "30", "-threads", "1", "-g", "24"],
    "hevc": ["-c:v", "libx265", "-preset", "ultrafast", "-crf", "30", *X265],
}


@pytest.mark.parametrize("codec", ["h264", "hevc"])
def test_raw_stream_sizes_follow_display_order(ffmpeg: FFmpeg, tmp_path: Path, codec: str) -> None:
    """70 frames at 64x64 with key frames every 24 (three IDR periods) and B-frames; the lsb
    range of x264 and x265 at these settings wraps within the clip."""
    args = dict(graph="testsrc2", size="64x64", frames=70, codec=ENCODERS[codec])
    raw = extract_stream(lavfi_clip(ffmpeg, tmp_path / f"c.{codec}", **args))
    muxed = extract_stream(lavfi_clip(ffmpeg, tmp_path / "c.mkv", **args))
    assert raw.n_frames == muxed.n_frames == 70
    assert "B" in raw.frame_type and raw.decode_order is False
    assert raw.frame_type == muxed.frame_type
    # key frames of the raw stream also hold the parameter sets, which Matroska keeps apart
    key = np.asarray(raw.frame_type) == "I"
    assert key.sum() == 3
    np.testing.assert_array_equal(raw.packet_bytes[~key], muxed.packet_bytes[~key])
    assert np.all(np.abs(raw.packet_bytes[key] - muxed.packet_bytes[key]) < 3000)
    assert raw.header_qp is not None and muxed.header_qp is not None
    assert sorted(raw.header_qp.tolist()) == sorted(muxed.header_qp.tolist())
    part = extract_stream(lavfi_clip(ffmpeg, tmp_path / f"p.{codec}", **args), max_frames=10)
    np.testing.assert_array_equal(part.packet_bytes, raw.packet_bytes[:10])


def test_what_follows_a_raw_stream_does_not_reorder_it(ffmpeg: FFmpeg, tmp_path: Path) -> None:
    """A stream with B-frames joined to one coded as all-IDR without B-frames (whose sequence
    parameters say "display order is decode order"): the first part keeps its own order."""
    head = lavfi_clip(ffmpeg, tmp_path / "h.264", size="64x64", frames=15, codec=ENCODERS["h264"])
    tail_args = ["-c:v", "libx264", "-crf", "20", "-threads", "1", "-x264-params",
                 "bframes=0:keyint=1"]  # fmt: skip
    tail = lavfi_clip(ffmpeg, tmp_path / "t.264", graph="mandelbrot", size="64x64", frames=15,
                      codec=tail_args)  # fmt: skip
    joined = tmp_path / "j.264"
    joined.write_bytes(head.read_bytes() + tail.read_bytes())
    alone, both = extract_stream(head, max_frames=8), extract_stream(joined, max_frames=8)
    assert "B" in alone.frame_type and both.decode_order is False
    np.testing.assert_array_equal(both.packet_bytes, alone.packet_bytes)


def _log(*pictures: tuple[int, int | None], poc_type: int = 0, log2: int = 4) -> str:
    lines = [
        f"[t] 41 pic_order_cnt_type 1 = {poc_type}",
        f"[t] 42 log2_max_pic_order_cnt_lsb_minus4 011 = {log2 - 4}",
    ]
    for nal, lsb in pictures:
        lines += ["[t] Packet: 100 bytes, no pts, dts 0.", f"[t] 3 nal_unit_type 00101 = {nal}"]
        lines.append("[t] 8 first_mb_in_slice 1 = 0")
        if lsb is not None:
            lines.append(f"[t] 19 pic_order_cnt_lsb 001000 = {lsb}")
    return "\n".join(lines)


def test_display_ranks_rebuild_the_count_across_a_wrap_and_an_idr() -> None:
    # lsb range 16: I0 P6 B2 B4 | P12 B8 B10 | P(18=2) B(14) B(16=0) | IDR0 P4 B2
    log = _log((5, 0), (1, 6), (1, 2), (1, 4), (1, 12), (1, 8), (1, 10), (1, 2), (1, 14), (1, 0),
               (5, 0), (1, 4), (1, 2))  # fmt: skip
    assert display_ranks(log, "h264") == ([0, 3, 1, 2, 6, 4, 5, 9, 7, 8, 10, 12, 11], [True] * 13)


def test_display_ranks_say_when_they_cannot_tell() -> None:
    two = _log((5, 0), (1, 2), poc_type=2)
    assert display_ranks(two, "h264") == ([0, 1], [True, True])  # display order = decode order
    one = _log((5, 0), (1, 2), poc_type=1)
    assert display_ranks(one, "h264") == ([0, 1], [False, False])  # kept, marked unknown
    assert display_ranks(_log((5, 0), (1, None)), "h264") is None  # a picture without its count
    assert display_ranks(_log((5, 0)), "vp9") is None
    assert display_ranks("no packets here", "h264") is None
