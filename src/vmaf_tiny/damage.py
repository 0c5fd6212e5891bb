"""Damaged input: read what ffmpeg says about a stream; refuse (or drop) what it could not decode.

Every pass that reads a video already runs ffmpeg; its stderr (at ``-loglevel level+warning``,
each line tagged ``[error]``/``[warning]``) is scanned here instead of being thrown away, so the
checks cost no second decode. A stream is damaged when the demuxer or decoder logs an error, a
warning about corrupt/truncated data, or when the decoded frame count disagrees with the
container's packet count or a y4m header. Damaged input is a one-line error (exit 2) unless the
caller opts in with ``allow_damaged`` (``--allow-damaged``): then the frames that cannot be trusted
are dropped and the result says how many.

The frames kept after a truncation are the longest display-order prefix that has no frame missing
in front of it: a packet that arrived complete has all its references before it in decode order,
but a frame shown after one whose packet was lost (a B-frame reordered past the cut) would pair
with the wrong reference frame, so it is dropped as well.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from vmaf_tiny.errors import DamagedInputError

__all__ = [
    "ALLOW_HINT",
    "OWN_CHECKS",
    "DecodeLog",
    "clean_prefix",
    "damaged_error",
    "scan_log",
]

ALLOW_HINT = "rerun with --allow-damaged to use the clean frames only"
#: Prefixes of the damage messages vmaf-tiny's own checks write (not ffmpeg's words).
OWN_CHECKS = ("y4m size check:", "frame count:")

# Warnings that mean the data is damaged (errors always do).
_DAMAGE_WARNINGS = re.compile(
    r"corrupt|conceal|partial file|truncat|missing picture|invalid data|ended prematurely|"
    r"error while decoding|decode error|packet too small|invalid nal|exceeds containing|"
    r"reference picture missing|overread",
    re.IGNORECASE,
)
# Error-level lines that say nothing about the stream itself: empty ones, and the raw output
# pipe's muxer complaining about the input's (repeated) timestamps, which passthrough timing keeps.
_BENIGN = re.compile(r"^\s*$|dts to muxer in stream")
_LEVEL_RE = re.compile(r"\[(fatal|error|warning|panic)\]\s*(.*)$")
_PREFIX_RE = re.compile(r"^(?:\[[^\]]*@ 0x[0-9a-f]+\]\s*)+")
_SOURCE_RE = re.compile(r"\[(?:in#|vist#)(\d+)")
_COMPONENT_RE = re.compile(r"^\[(\w+) @ 0x")
_CONCEAL_RE = re.compile(r"corrupt decoded frame|concealing", re.IGNORECASE)
#: Decoder damage messages found even when another thread's log line (e.g. ``showinfo``) was
#: written into the middle of theirs, so that their level tag lies on another line.
_TORN_RE = re.compile(r"corrupt decoded frame|error while decoding MB [^\n]*")


@dataclass
class DecodeLog:
    """What one decode pass reported (filled in by the readers).

    Attributes:
        frames: Frames the pass delivered.
        messages: Damage messages from ffmpeg (tag and address prefixes removed, de-duplicated).
        concealed: Frames the decoder reported as concealed/corrupt (kept: ffmpeg cannot single
            them out in its output).
        dropped: Frames left out because of damage (lost, undecodable, or after a gap).
    """

    frames: int = 0
    messages: list[str] = field(default_factory=list)
    concealed: int = 0
    dropped: int = 0


def scan_log(
    text: str, source: int | None = None, decoder: str | None = None, untagged: bool = True
) -> tuple[list[str], int]:
    """Damage messages in an ffmpeg stderr dump written with ``-loglevel level+warning``.

    Args:
        text: The stderr text.
        source: Only lines of this input index (``in#N`` / ``vist#N:``) plus lines that name no
            input; None for all.
        decoder: With ``source``: of the lines that name no input, keep only those of this
            decoder (``[h264 @ ...]``) or of no component.
        untagged: With ``source``: keep lines that name neither an input nor a component.

    Returns:
        (unique messages in order, count of "corrupt decoded frame"/"concealing" lines).
    """
    out: list[str] = []
    concealed = 0
    for line in text.splitlines():
        m = _LEVEL_RE.search(line)
        if m is None:
            torn = _TORN_RE.search(line)
            if torn is None:
                continue
            level, msg = "warning", torn.group(0).strip()
        else:
            level, msg = m.group(1), _PREFIX_RE.sub("", m.group(2)).strip()
        if _BENIGN.search(msg):
            continue
        if level == "warning" and not _DAMAGE_WARNINGS.search(msg):
            continue
        src = _SOURCE_RE.search(line)
        if source is not None:
            if src is not None and int(src.group(1)) != source:
                continue
            comp = _COMPONENT_RE.match(line)
            if src is None and decoder and comp is not None and comp.group(1) != decoder:
                continue
            if src is None and comp is None and not untagged:
                continue
        if _CONCEAL_RE.search(msg):
            concealed += 1
        if msg not in out:
            out.append(msg)
    return out, concealed


def clean_prefix(packets: list[tuple[int | None, int | None, bool]]) -> int:
    """Frames safe to use from a damaged stream's packets (decode order).

    Args:
        packets: (dts, pts, corrupt flag) per packet, in decode order, as demuxed.

    Returns:
        The number of frames, in display order, before the first one that may be missing: the
        packets before the first corrupt one whose pts is not after the last good dts (a frame
        with a later pts may follow a frame whose packet was lost). Without timestamps, all good
        packets but the last.
    """
    good: list[tuple[int | None, int | None, bool]] = []
    for p in packets:
        if p[2]:
            break
        good.append(p)
    if not good:
        return 0
    last_dts = good[-1][0]
    if last_dts is None or any(p[1] is None for p in good):
        return len(good) - 1
    return sum(1 for _, pts, _c in good if pts is not None and pts <= last_dts)


def damaged_error(
    name: str, messages: list[str], detail: str, hint: str = ALLOW_HINT
) -> DamagedInputError:
    """The one-line error for a damaged input: what ffmpeg said, what decoded, what to do."""
    if not messages:
        said = "no ffmpeg message"
    elif messages[0].startswith(OWN_CHECKS):
        said = messages[0]
    else:
        said = f'ffmpeg: "{messages[0]}"'
    if len(messages) > 1:
        said += f" and {len(messages) - 1} more"
    return DamagedInputError(f"{name}: damaged stream ({said}; {detail}); {hint}", hint)
