"""Notes on how a reference/distorted pair is paired: sizes, aspect ratios, frame rates.

A pair whose distorted video is larger than the reference, has another aspect ratio or another
frame rate still scores, perhaps not as the user meant: :func:`pairing_notes` says so in the
result's warnings, and :func:`rates_differ` tells a frame-count mismatch from a frame-rate one.
"""

from __future__ import annotations

from fractions import Fraction

from vmaf_tiny.video import VideoInfo

__all__ = ["pairing_notes", "rates_differ"]


def pairing_notes(rinfo: VideoInfo, dinfo: VideoInfo, resampled: float | None = None) -> list[str]:
    """Warnings for a pair that scores, but perhaps not as the user meant."""
    notes = []
    if dinfo.width * dinfo.height > rinfo.width * rinfo.height:
        notes.append(
            f"distorted {dinfo.path.name} ({dinfo.width}x{dinfo.height}) is larger than the "
            f"reference ({rinfo.width}x{rinfo.height}); it was scaled down to the reference"
        )
    raspect, daspect = rinfo.width / rinfo.height, dinfo.width / dinfo.height
    if abs(raspect - daspect) > 0.01 * raspect:
        notes.append(
            f"aspect ratios differ: distorted {dinfo.path.name} is "
            f"{_ratio(dinfo.width, dinfo.height)} ({dinfo.width}x{dinfo.height}), the reference "
            f"{_ratio(rinfo.width, rinfo.height)} ({rinfo.width}x{rinfo.height}); the distorted "
            "video is stretched to the reference's size"
        )
    if resampled is None and rates_differ(rinfo, dinfo):
        notes.append(
            f"frame rates differ (reference {rinfo.fps:g} fps, distorted {dinfo.fps:g} fps): "
            "frames are paired by index, not by time (--fps N resamples both)"
        )
    return notes


def _ratio(w: int, h: int) -> str:
    f = Fraction(w, h)
    return f"{f.numerator}:{f.denominator}"


def rates_differ(rinfo: VideoInfo, dinfo: VideoInfo) -> bool:
    """True when both frame rates are known and differ by more than 1% of the reference's."""
    return rinfo.fps > 0 and dinfo.fps > 0 and abs(rinfo.fps - dinfo.fps) > 0.01 * rinfo.fps
