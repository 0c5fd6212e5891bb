"""The codec block of codec-aware FR models: encoder one-hot + normalised preset and CRF.

Training (vmaf_train) and scoring (vmaf_tiny) build the block with the same functions here, driven
by the model's sidecar ``codec_block`` (vocabulary name, slots, other slot, width).

* One-hot: the encoder's slot; an encoder not in the vocabulary maps to the ``other`` slot.
* ``preset_norm`` in [0, 1]: 0 = the encoder's slowest preset, 1 = its fastest; 0.5 when unknown.
* ``crf_norm`` in [0, 1]: CRF divided by the encoder's maximum CRF; 0 for ``none`` (no encode,
  pure scaling); 0.5 when unknown.

:func:`check_codec_fields` refuses what a user can pass that no encoder takes (``--crf nan``,
``--crf 1e30``, ``--preset turbo`` for x264) before it silently becomes a block value.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import lru_cache
from importlib import resources
from typing import Any

from vmaf_tiny._lazy import numpy as np  # numpy on first use (start-up)
from vmaf_tiny.errors import BadInputError, BadModelError

__all__ = [
    "CODEC_BLOCK_V2_SLOTS",
    "CRF_RANGE",
    "check_codec_fields",
    "codec_block_spec",
    "codec_columns",
    "codec_notes",
    "crf_norm",
    "load_vocabulary",
    "preset_norm",
]

# fr_regressor_v2's fixed one-hot: the corpus's five encoders plus the catch-all.
CODEC_BLOCK_V2_SLOTS: tuple[str, ...] = (
    "libx264",
    "libx265",
    "libvpx-vp9",
    "libsvtav1",
    "libaom-av1",
    "other",
)

_X26X_PRESETS = (
    "placebo",
    "veryslow",
    "slower",
    "slow",
    "medium",
    "fast",
    "faster",
    "veryfast",
    "superfast",
    "ultrafast",
)
# encoder -> numeric preset range (lo = slowest, hi = fastest)
_NUMERIC_PRESETS = {"libsvtav1": (0, 13), "libvpx-vp9": (0, 8), "libaom-av1": (0, 10)}
_CRF_MAX = {
    "libx264": 51.0,
    "libx265": 51.0,
    "libvpx-vp9": 63.0,
    "libsvtav1": 63.0,
    "libaom-av1": 63.0,
}

#: Widest CRF any encoder takes: x264 goes down to -12 (high bit depth), VP9/AV1 up to 63.
CRF_RANGE: tuple[float, float] = (-12.0, 63.0)
# encoder -> its own CRF range, where it is narrower than CRF_RANGE
_CRF_RANGE_BY_ENCODER = {
    "libx264": (-12.0, 51.0),
    "libx265": (0.0, 51.0),
    "libvpx-vp9": (0.0, 63.0),
    "libsvtav1": (0.0, 63.0),
    "libaom-av1": (0.0, 63.0),
}


def check_codec_fields(
    codec: str, preset: str | None, crf: float | None, *, source: str = "flag"
) -> None:
    """Refuse a CRF or preset the encoder does not take.

    The CRF must be a finite number in the encoder's range (x264 -12..51, x265 0..51, VP9 and
    AV1 encoders 0..63, any other encoder :data:`CRF_RANGE`). The preset, for encoders whose
    presets the codec block knows, must be one of them: an x264/x265 preset name, or an integer
    speed in the encoder's range for libvpx-vp9 (0..8), libaom-av1 (0..10) and libsvtav1 (0..13).
    Other encoders' presets are not checked (the block uses its "unknown" value for them).
    ``codec == "none"`` (no encode) takes neither and ignores both.

    Args:
        codec: Encoder name.
        preset: Preset as given to the encoder, None when unknown.
        crf: CRF, None when unknown.
        source: Where the values came from, for the message: ``flag`` (``--crf``/``--preset``)
            or a description such as ``the stream of dis.mp4``.

    Raises:
        BadInputError: one line naming the value and the accepted range.
    """
    if codec == "none":
        return
    crf_name = "--crf" if source == "flag" else f"the CRF read from {source}"
    preset_name = "--preset" if source == "flag" else f"the preset read from {source}"
    if crf is not None:
        lo, hi = _CRF_RANGE_BY_ENCODER.get(codec, CRF_RANGE)
        try:
            value = float(crf)
        except (TypeError, ValueError):
            value = float("nan")
        if not lo <= value <= hi:  # NaN fails too
            raise BadInputError(
                f"{crf_name} for {codec} must be a finite number in {lo:g}..{hi:g}, got {crf!r}"
            )
    if preset is None or preset == "":
        return
    p = str(preset).strip().lower()
    if codec in ("libx264", "libx265"):
        if p not in _X26X_PRESETS:
            raise BadInputError(
                f"{preset_name} for {codec} must be one of {', '.join(_X26X_PRESETS)}, "
                f"got {preset!r}"
            )
    elif codec in _NUMERIC_PRESETS:
        lo_p, hi_p = _NUMERIC_PRESETS[codec]
        try:
            speed: int | None = int(p)
        except ValueError:
            speed = None
        if speed is None or not lo_p <= speed <= hi_p:
            raise BadInputError(
                f"{preset_name} for {codec} must be an integer speed in {lo_p}..{hi_p}, "
                f"got {preset!r}"
            )


@lru_cache(maxsize=4)
def load_vocabulary(name: str = "codec_vocab_v1") -> dict[str, Any]:
    """Load a committed encoder vocabulary (``src/vmaf_tiny/vocab/<name>.json``)."""
    if not name.replace("_", "").isalnum():
        raise BadModelError(f"bad vocabulary name {name!r}")
    try:
        text = resources.files("vmaf_tiny").joinpath("vocab", f"{name}.json").read_text()
    except FileNotFoundError as exc:
        raise BadModelError(f"unknown codec vocabulary {name!r}") from exc
    vocab: dict[str, Any] = json.loads(text)
    return vocab


def preset_norm(codec: str, preset: str | None) -> float:
    """Normalised preset speed in [0, 1] (0 slowest, 1 fastest); 0.5 when unknown."""
    if codec == "none":
        return 0.0
    if not preset:
        return 0.5
    p = str(preset).strip().lower()
    if codec in ("libx264", "libx265") and p in _X26X_PRESETS:
        return _X26X_PRESETS.index(p) / (len(_X26X_PRESETS) - 1)
    if codec in _NUMERIC_PRESETS:
        try:
            v = float(p)
        except ValueError:
            return 0.5
        lo, hi = _NUMERIC_PRESETS[codec]
        return float(min(max((v - lo) / (hi - lo), 0.0), 1.0))
    return 0.5


def crf_norm(codec: str, crf: float | None) -> float:
    """CRF over the encoder's maximum, clipped to [0, 1]; 0 for ``none``, 0.5 when unknown."""
    if codec == "none":
        return 0.0
    if crf is None or not np.isfinite(crf):
        return 0.5
    return float(min(max(float(crf) / _CRF_MAX.get(codec, 63.0), 0.0), 1.0))


def codec_block_spec(version: str) -> dict[str, Any]:
    """The sidecar ``codec_block`` for a block version: ``"v2"`` (8-d) or ``"v3"`` (18-d)."""
    if version == "v2":
        slots = list(CODEC_BLOCK_V2_SLOTS)
        vocab_name = "codec_block_v2_fixed"
    elif version == "v3":
        vocab = load_vocabulary("codec_vocab_v1")
        slots = list(vocab["slots"])
        vocab_name = vocab["name"]
    else:
        raise BadModelError(f"unknown codec block version {version!r}")
    return {
        "vocabulary": vocab_name,
        "slots": slots,
        "other_slot": "other",
        "width": len(slots) + 2,
        "preset_norm": True,
        "crf_norm": True,
    }


def codec_columns(
    block: Mapping[str, Any],
    codec: Sequence[str] | str,
    preset: Sequence[str | None] | str | None,
    crf: Sequence[float | None] | float | None,
    n: int | None = None,
) -> np.ndarray:
    """Build the (n, width) float32 codec block for rows (or one value broadcast to n rows).

    Args:
        block: The sidecar's ``codec_block``.
        codec: Encoder name(s).
        preset: Preset(s) as given to the encoder (None/'' when unknown).
        crf: CRF value(s) (None when unknown).
        n: Row count when scalars are given.
    """
    slots = list(block["slots"])
    other = block.get("other_slot", "other")
    if other not in slots:
        raise BadModelError(f"codec block: other slot {other!r} is not among its slots")
    if int(block["width"]) != len(slots) + 2:
        raise BadModelError("codec block: width must be len(slots) + 2")
    codecs: list[str]
    presets: list[str | None]
    crfs: list[float | None]
    if isinstance(codec, str):
        if n is None:
            raise BadInputError("codec_columns: n is required with scalar codec fields")
        codecs = [codec] * n
    else:
        codecs = list(codec)
    presets = [preset] * len(codecs) if preset is None or isinstance(preset, str) else list(preset)
    if crf is None or isinstance(crf, int | float | np.number):  # numpy scalars too
        crfs = [None if crf is None else float(crf)] * len(codecs)
    else:
        crfs = list(crf)
    out = np.zeros((len(codecs), len(slots) + 2), dtype=np.float32)
    index = {s: i for i, s in enumerate(slots)}
    for r, (c, p, q) in enumerate(zip(codecs, presets, crfs, strict=True)):
        c = c or "other"
        out[r, index.get(c, index[other])] = 1.0
        out[r, len(slots)] = preset_norm(c, p)
        out[r, len(slots) + 1] = crf_norm(c, None if q is None else float(q))
    return out


#: ffmpeg decoder name of the bitstream each known encoder writes.
_ENCODER_BITSTREAM = {
    "libx264": "h264",
    "libx265": "hevc",
    "libvpx-vp9": "vp9",
    "libvpx": "vp8",
    "libaom-av1": "av1",
    "libsvtav1": "av1",
    "librav1e": "av1",
}


def codec_notes(block: Mapping[str, Any], codec: str, decoder: str | None) -> list[str]:
    """Warnings about a codec-aware model's encoder field: an encoder outside the block's slots
    (scored with its catch-all slot), or one that cannot have written the stream (``decoder``,
    the distorted stream's codec as ffmpeg decodes it; None when unknown)."""
    if codec == "none":
        return []
    notes = []
    other = block.get("other_slot", "other")
    if codec not in block["slots"]:
        known = ", ".join(str(c) for c in block["slots"] if c != other)
        notes.append(
            f"codec {codec!r} is not one the model was trained on ({known}): scored with its "
            f"{other!r} slot"
        )
    bitstreams = set(_ENCODER_BITSTREAM.values())
    prefix = codec.split("_", 1)[0]  # hardware encoders: h264_nvenc, hevc_qsv, av1_vaapi...
    written = _ENCODER_BITSTREAM.get(codec) or (prefix if prefix in bitstreams else None)
    if written and decoder in bitstreams and decoder != written:
        notes.append(
            f"codec {codec!r} writes {written}, but the distorted stream is {decoder}: "
            "check --codec"
        )
    return notes
