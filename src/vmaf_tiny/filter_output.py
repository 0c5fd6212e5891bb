"""What ``vmaf-tiny filter`` writes: the output checks made before any work, and the encoder's
command line.

:func:`check_output` refuses, in one line, an output that could not be written: the input
itself, a directory, a suffix without an encoder, encoder flags that would be ignored, an encoder
this ffmpeg lacks or an option it does not take; then :func:`trial_encode` pipes two tiny frames
through the writer's own command line (:func:`writer_args`), so what only the encoder or the
muxer knows (a codec the container cannot hold, a hardware encoder without its device, an odd
4:2:0 size) fails before the quality gate's pass and the model's work, not after.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from vmaf_tiny.codec import check_codec_fields
from vmaf_tiny.errors import BadInputError
from vmaf_tiny.ffmpeg import (
    FFmpeg,
    encoder_options,
    last_error_line,
    resolve_ffmpeg,
    video_encoders,
)
from vmaf_tiny.fsutil import check_writable
from vmaf_tiny.video import PIX_FMTS, VideoInfo, VideoSpec, probe

__all__ = [
    "InputTags",
    "check_output",
    "frame_rate",
    "input_tags",
    "output_args",
    "plane_sizes",
    "preset_option",
    "strip_context",
    "trial_encode",
    "writer_args",
]

RAW_SUFFIXES = (".yuv", ".raw")
# ffmpeg's "[out#0/webm @ 0x55ca65d5c900] " in front of a message
_CONTEXT = re.compile(r"\[[^\]]* @ 0x[0-9a-f]+\] ")
# encoders whose speed preset is the ``cpu-used`` option
_SPEED_OPTION = {"libvpx": "cpu-used", "libvpx-vp9": "cpu-used", "libaom-av1": "cpu-used"}


def strip_context(line: str) -> str:
    """An ffmpeg message without its ``[name @ 0x...]`` prefixes."""
    return _CONTEXT.sub("", line)


def plane_sizes(info: VideoInfo) -> tuple[int, int]:
    """(luma bytes, chroma bytes) of one frame."""
    depth, sx, sy = PIX_FMTS[info.pix_fmt]
    bps = 2 if depth > 8 else 1
    cw = -(-info.width // (1 << sx))
    ch = -(-info.height // (1 << sy))
    return info.width * info.height * bps, 2 * cw * ch * bps


def output_args(dest: Path, codec: str | None, crf: float | None, preset: str | None) -> list[str]:
    """ffmpeg's output options for ``dest`` (the user's path: errors name it, never a temp file).

    Raises:
        BadInputError: no ``codec`` for a suffix that is not lossless raw video, or a CRF or
            preset the encoder does not take.
    """
    suffix = dest.suffix.lower()
    if codec:
        check_codec_fields(codec, preset, crf)
        args = ["-c:v", codec]
        if crf is not None:
            args += ["-crf", f"{crf:g}"]
        if preset:
            args += [f"-{preset_option(codec)}", preset]
        if codec == "libvpx-vp9" and crf is not None:
            args += ["-b:v", "0"]
        return args
    if suffix == ".y4m":
        return ["-f", "yuv4mpegpipe", "-strict", "-1"]
    if suffix in RAW_SUFFIXES:
        return ["-f", "rawvideo"]
    raise BadInputError(
        f"{dest.name}: choose --codec for a {suffix or 'suffix-less'} output "
        "(or write .y4m / .yuv, which are lossless)"
    )


#: a ``key:value`` of ffmpeg's showinfo lines (``cl:left``, ``color_range:tv``, ``i:T``, ...)
_SHOWINFO_PAIR = re.compile(r"\b(\w+):([\w/-]+)")
#: showinfo's field order (``i:``): top / bottom field first, as ffmpeg's -field_order takes it
_FIELD_ORDERS = {"T": "tt", "B": "bb"}
#: showinfo's colour description names that ffmpeg's -colorspace / -color_primaries / -color_trc
#: take back ("unknown" and anything else is left unstated)
_COLOUR = {
    "colorspace": (
        "color_space",
        {"bt709", "bt470bg", "smpte170m", "smpte240m", "bt2020nc", "bt2020c", "fcc", "ycgco"},
    ),
    "color_primaries": (
        "color_primaries",
        {"bt709", "bt470m", "bt470bg", "smpte170m", "smpte240m", "film", "bt2020", "smpte428",
         "smpte431", "smpte432", "ebu3213"},
    ),
    "color_trc": (
        "color_trc",
        {"bt709", "bt470m", "bt470bg", "smpte170m", "smpte240m", "linear", "log100", "log316",
         "iec61966-2-4", "bt1361e", "iec61966-2-1", "bt2020-10", "bt2020-12", "smpte2084",
         "smpte428", "arib-std-b67"},
    ),
}  # fmt: skip
#: ffmpeg's names of chroma sample locations (``unspecified`` is left unstated)
_SITINGS = frozenset({"left", "center", "topleft", "top", "bottomleft", "bottom"})


@dataclass(frozen=True)
class InputTags:
    """What the decoded input is labelled with that raw frames do not carry.

    Attributes:
        color_range: ``pc`` (full) or ``tv`` (limited), or None when unknown.
        chroma_location: ffmpeg's ``chroma_sample_location`` of the decoded frames (``left``:
            MPEG-2 / H.264 siting, ``center``, ``topleft``, ...), or None when unspecified.
        field_order: ``tt`` / ``bb`` for interlaced frames (top / bottom field first), or
            None for progressive ones.
        colour: the colour description ffmpeg's options take back (``colorspace``,
            ``color_primaries``, ``color_trc``: e.g. ``bt709``, ``smpte2084``), where known.
    """

    color_range: str | None = None
    chroma_location: str | None = None
    field_order: str | None = None
    colour: tuple[tuple[str, str], ...] = ()


def input_tags(spec: VideoSpec, ff: FFmpeg) -> InputTags:
    """The colour range and description, chroma siting and field order of the input's first
    decoded frame (its first video stream's, as ffmpeg's showinfo reports them).

    The filtered output carries the same tags, so a full-range source (an MJPEG-style
    ``yuvj420p`` still, an AV1 stream flagged full range) is not read back as limited range, and
    an H.264 stream's chroma siting is not relabelled as centred.
    """
    if spec.is_raw:
        return InputTags()
    first_frame = ["-map", "0:v:0", "-frames:v", "1", "-vf", "showinfo", "-f", "null", "-"]
    proc = subprocess.run(
        [*ff.base_args(), *spec.input_args(), *first_frame],
        capture_output=True,
        timeout=60,
        check=False,
    )
    # only showinfo's own lines: a title tag or the file's path may hold "cl:" or "color_range:"
    lines = proc.stderr.decode("utf-8", "replace").splitlines()
    pairs: dict[str, str] = {}  # the first frame's value of each key
    for ln in lines:
        if ln.startswith("[Parsed_showinfo_"):
            for key, value in _SHOWINFO_PAIR.findall(ln.split("]", 1)[1]):
                pairs.setdefault(key, value)
    crange, siting = pairs.get("color_range"), pairs.get("cl")
    return InputTags(
        crange if crange in ("pc", "tv") else None,
        siting if siting in _SITINGS else None,
        _FIELD_ORDERS.get(pairs.get("i", "")),
        tuple((opt, pairs[k]) for opt, (k, names) in _COLOUR.items() if pairs.get(k) in names),
    )


def frame_rate(fps: float) -> str:
    """``fps`` as ffmpeg takes it: the NTSC rates ffmpeg prints rounded (29.97, 23.98, 59.94)
    as their exact fractions (30000/1001, ...), so a y4m header says ``F30000:1001``."""
    ntsc = fps * 1.001
    if abs(fps - round(fps)) > 1e-6 and abs(ntsc - round(ntsc)) < 0.006:
        return f"{round(ntsc) * 1000}/1001"
    return f"{fps:g}"


def writer_args(
    ff: FFmpeg,
    out: Path,
    info: VideoInfo,
    codec: str | None,
    crf: float | None,
    preset: str | None,
    tags: InputTags | None = None,
    *,
    dest: Path | None = None,
) -> list[str]:
    """The encoder's command line, writing ``out`` (a temp file beside ``dest``); the raw
    frames are labelled with the input's ``tags`` (colour range and description, chroma
    siting, field order)."""
    tags = tags or InputTags()
    rng = ["-color_range", tags.color_range] if tags.color_range else []
    if tags.chroma_location:
        rng += ["-chroma_sample_location", tags.chroma_location]
    if tags.field_order:
        rng += ["-field_order", tags.field_order]
    for option, value in tags.colour:
        rng += [f"-{option}", value]
    args = [
        *ff.base_args(),
        "-loglevel",
        "error",
        "-f",
        "rawvideo",
        "-pix_fmt",
        info.pix_fmt,
        "-s",
        f"{info.width}x{info.height}",
        "-framerate",
        frame_rate(info.fps),
        *rng,
        "-i",
        "-",
    ]
    if info.sar is not None:  # raw frames carry no aspect ratio: restate the input's
        args += ["-vf", f"setsar={info.sar[0]}/{info.sar[1]}"]
    args += output_args(dest or out, codec, crf, preset)
    return [*args, str(out)]


def check_output(
    video: VideoSpec,
    out: Path,
    codec: str | None,
    crf: float | None,
    preset: str | None,
    ffmpeg: FFmpeg | None = None,
    info: VideoInfo | None = None,
) -> None:
    """Refuse an output :func:`vmaf_tiny.filtering.filter_video` cannot write, before any work.

    Raises:
        BadInputError: it is the input, a path that cannot be written
            (:func:`vmaf_tiny.fsutil.check_writable`), a format without ``codec``, ``crf`` or
            ``preset`` without ``codec``, ``codec`` into raw video (.y4m / .yuv), an encoder
            this ffmpeg does not have, a CRF or preset the encoder does not take, or a trial
            encode (:func:`trial_encode`) that fails.
    """
    if out.resolve() == video.path.resolve():
        raise BadInputError("the output would overwrite the input")
    check_writable(out)
    if not codec:
        if crf is not None or preset is not None:
            raise BadInputError(
                "--crf and --preset need --codec (.y4m / .yuv outputs are written losslessly)"
            )
        output_args(out, None, None, None)
        return
    suffix = out.suffix.lower()
    if suffix in (".y4m", *RAW_SUFFIXES):
        raise BadInputError(
            f"{out.name}: {suffix} is raw video, written losslessly: drop --codec, or name a "
            "container for the encoder (.mkv, .mp4, .webm)"
        )
    if preset is not None and not preset.strip():
        raise BadInputError("--preset is empty: give the encoder's preset, or leave it out")
    ff = ffmpeg or resolve_ffmpeg()
    if codec not in (encoders := video_encoders(ff)):
        import difflib  # only on this error path (start-up)

        close = difflib.get_close_matches(codec.lower(), sorted(encoders), n=2)
        hint = f"did you mean {' or '.join(close)}? " if close else ""
        raise BadInputError(
            f"--codec {codec}: this ffmpeg has no video encoder of that name ({hint}"
            "`ffmpeg -encoders` lists them; e.g. libx264, libx265, libvpx-vp9, ffv1)"
        )
    opts = encoder_options(ff, codec)
    if crf is not None and "crf" not in opts:
        raise BadInputError(
            f"--crf: the {codec} encoder takes no CRF (`ffmpeg -h encoder={codec}` lists "
            "its options)"
        )
    if preset and preset_option(codec) not in opts:
        raise BadInputError(
            f"--preset: the {codec} encoder takes no preset (`ffmpeg -h encoder={codec}` "
            "lists its options)"
        )
    output_args(out, codec, crf, preset)  # CRF finite and in range, preset known
    if crf is not None and opts["crf"] == "int" and float(crf) != round(float(crf)):
        raise BadInputError(
            f"--crf: the {codec} encoder takes a whole-number CRF, got {float(crf):g}"
        )
    trial_encode(ff, out, codec, crf, preset, info or probe(video, ff))


def trial_encode(
    ff: FFmpeg,
    out: Path,
    codec: str,
    crf: float | None,
    preset: str | None,
    info: VideoInfo,
) -> None:
    """Encode two tiny frames as ``out`` will be written, into a temp file of its suffix.

    Catches what only the encoder or the muxer knows, before the gate's pass and the model's
    work: a codec the container cannot hold (``--codec libx264`` into ``.webm``), a hardware
    encoder without its device, an option value out of the encoder's range, the input's pixel
    format or an odd width or height the encoder cannot take (the trial frames go through the
    writer's own command line: raw frames in the input's pixel format and aspect ratio, 64 or
    65 pixels on a side as the input's are even or odd).

    Raises:
        BadInputError: the trial failed (its last ffmpeg error line).
    """
    small = dataclasses.replace(info, width=64 + info.width % 2, height=64 + info.height % 2)
    stderr = _trial_stderr(ff, out, codec, crf, preset, small)
    if stderr is None:
        return
    _, sx, sy = PIX_FMTS[info.pix_fmt]
    odd = (sx and info.width % 2) or (sy and info.height % 2)
    hint = (
        f"; the input is {info.width}x{info.height} {info.pix_fmt}: an odd size with "
        "subsampled chroma, which most encoders refuse"
        if odd
        else ""
    )
    why = strip_context(last_error_line(stderr)).rstrip(".")
    # the encoder names the trial frame's size: name the input's
    why = why.replace(f"{small.width}x{small.height}", f"{info.width}x{info.height}")
    raise BadInputError(f"{out.name}: cannot write it with --codec {codec} ({why}{hint})")


@functools.lru_cache(maxsize=16)
def _trial_stderr(
    ff: FFmpeg, out: Path, codec: str, crf: float | None, preset: str | None, small: VideoInfo
) -> bytes | None:
    """Run the trial encode once per output and settings (``vmaf-tiny filter`` checks before
    the gate's pass and again in :func:`vmaf_tiny.filtering.filter_video`); its stderr when it
    failed, else None."""
    ybytes, cbytes = plane_sizes(small)
    with tempfile.TemporaryDirectory(prefix="vmaf-tiny-trial-") as d:
        trial = Path(d) / f"trial{out.suffix}"
        cmd = writer_args(ff, trial, small, codec, crf, preset, dest=out)
        frames = bytes(2 * (ybytes + cbytes))
        proc = subprocess.run(cmd, input=frames, capture_output=True, check=False, timeout=120)
    return None if proc.returncode == 0 else proc.stderr


def preset_option(codec: str) -> str:
    """The encoder option ``--preset`` sets: ``cpu-used`` for libvpx and libaom (their speed
    presets), ``preset`` for every other encoder."""
    return _SPEED_OPTION.get(codec, "preset")
