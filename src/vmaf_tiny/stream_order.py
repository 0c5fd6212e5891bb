"""Display order of a raw H.264 / HEVC stream's packets, from its picture order counts.

A raw Annex B file (``.264``, ``.h264``, ``.265``, ``.hevc``: what the x264 and x265 command-line
encoders write by default) carries no timestamps, so ffmpeg lists its packets in decode order
with no pts. With B-frames, decode order is not display order: pairing packet sizes with decoded
frames in list order would give a B-frame the size of the reference frame coded before it.

The order is in the slice headers. ``trace_headers`` logs, for each packet, the NAL unit types
and each picture's ``pic_order_cnt_lsb`` (H.264, ``pic_order_cnt_type`` 0) or
``slice_pic_order_cnt_lsb`` (HEVC); the most significant part is rebuilt as the standards do
(an IDR picture starts again at 0; a jump of more than half the lsb range is a wrap). Each packet's
rank in (IDR period, picture order count) is its display position.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["display_ranks"]

_FIELDS = (
    "nal_unit_type",
    "pic_order_cnt_type",
    "log2_max_pic_order_cnt_lsb_minus4",
    "first_mb_in_slice",
    "first_slice_segment_in_pic_flag",
    "pic_order_cnt_lsb",
    "slice_pic_order_cnt_lsb",
)
_LINE = re.compile(rf"\b({'|'.join(_FIELDS)})\s+[01]+ = (-?\d+)|(?P<packet>Packet: \d+ bytes)")
_IDR = {"h264": {5}, "hevc": {19, 20}}  # IDR_W_RADL, IDR_N_LP
_HEVC_IRAP = range(16, 24)  # BLA / IDR / CRA: a new coded video sequence may start here


def display_ranks(trace: str, codec: str) -> tuple[list[int], list[bool]] | None:
    """Display position of each packet (decode order) of an H.264 or HEVC stream.

    Each picture is ordered with the sequence parameters in force when it was coded, so a file
    made of joined streams is ordered segment by segment, and what follows a picture never
    changes its place.

    Args:
        trace: The ``trace_headers`` log of a ``-c copy`` pass over the stream.
        codec: ffmpeg's decoder name; other codecs give None.

    Returns:
        One rank per packet and, per packet, whether its place is known: False for pictures of
        an H.264 sequence with ``pic_order_cnt_type`` 1 or without an lsb range, kept in decode
        order. None when the log cannot be used at all (another codec, a packet without a
        picture, a picture without its count).
    """
    if codec not in _IDR:
        return None
    pictures: list[_Picture] = []  # per packet, its first picture
    log2_max: int | None = None
    poc_type = 0  # HEVC has only the lsb scheme
    nal = -1
    packet = -1
    want_lsb = False
    for m in _LINE.finditer(trace):
        if m.group("packet") is not None:
            packet += 1
            continue
        name, value = m.group(1), int(m.group(2))
        if name == "nal_unit_type":
            nal = value
        elif name == "pic_order_cnt_type":
            poc_type = value
        elif name == "log2_max_pic_order_cnt_lsb_minus4":
            log2_max = value + 4
        elif name in ("first_mb_in_slice", "first_slice_segment_in_pic_flag"):
            first = value == 0 if name == "first_mb_in_slice" else value == 1
            want_lsb = first and packet >= 0 and len(pictures) == packet
            if want_lsb:
                pictures.append(_Picture(nal, None, poc_type, log2_max))
        elif want_lsb and packet >= 0 and len(pictures) == packet + 1:
            pictures[-1].lsb = value
            want_lsb = False
    if packet < 0 or len(pictures) != packet + 1:
        return None
    return _ranks(pictures, codec)


@dataclass
class _Picture:
    nal: int
    lsb: int | None
    poc_type: int
    log2_max: int | None


def _ranks(pictures: list[_Picture], codec: str) -> tuple[list[int], list[bool]] | None:
    keys: list[tuple[int, int]] = []
    known: list[bool] = []
    period = prev_lsb = msb = 0
    for i, pic in enumerate(pictures):
        if pic.nal in _IDR[codec]:
            period += 1
            prev_lsb = msb = 0
        if pic.poc_type != 0 or pic.log2_max is None:
            # type 2: display order is decode order; type 1 (or no range): not read here
            keys.append((period, i))
            known.append(pic.poc_type == 2)
            continue
        if pic.lsb is None:
            if pic.nal not in _IDR[codec]:
                return None
            keys.append((period, 0))  # an HEVC IDR picture: count 0, no lsb coded
            known.append(True)
            continue
        max_lsb = 1 << pic.log2_max
        if codec == "hevc" and pic.nal in _HEVC_IRAP and not keys:  # a stream opening on a CRA
            prev_lsb = pic.lsb
        if pic.lsb < prev_lsb and prev_lsb - pic.lsb >= max_lsb // 2:
            msb += max_lsb
        elif pic.lsb > prev_lsb and pic.lsb - prev_lsb > max_lsb // 2:
            msb -= max_lsb
        prev_lsb = pic.lsb
        keys.append((period, msb + pic.lsb))
        known.append(True)
    order = sorted(range(len(keys)), key=lambda i: (keys[i], i))
    ranks = [0] * len(keys)
    for r, i in enumerate(order):
        ranks[i] = r
    return ranks, known
