"""Parsers of ffmpeg's text output for the stream facts of an encoded video.

Pure functions over the text of three ffmpeg outputs that :func:`vmaf_tiny.stream.extract_stream`
reads: the ``-f framecrc`` listing of the copy pass (packet sizes), the ``trace_headers`` log of
the same pass (the quantiser of every frame/slice header) and the decode pass's ``showinfo`` log
(frame types and exported QPs).
"""

from __future__ import annotations

import re

__all__ = [
    "parse_framecrc_sizes",
    "parse_showinfo",
    "parse_trace_qp",
    "parse_trace_qp_packets",
]

_SHOWINFO_FRAME = re.compile(r"\bn:\s*(\d+)\b.*?\bpts_time:\s*(\S+).*?\btype:([A-Z?])")
_SHOWINFO_QP = re.compile(r"\btype \d+; qp=(-?\d+)")  # its line can be split after "parameters:"


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
