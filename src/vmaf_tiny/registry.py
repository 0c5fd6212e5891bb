"""The shipped model zoo, read-only: ``registry.json`` rows, model lookup and verification.

The zoo directory is ``$VMAF_TINY_ZOO`` if set, else the package data folder ``vmaf_tiny/zoo``
(found with :mod:`importlib.resources`, so it works from a wheel as from a checkout). It holds
``registry.json`` (validated against ``registry.schema.json`` beside it), and for every row the
``.onnx`` file, its sidecar and optionally the int8 file. The training side writes it
(``vmaf-train register``); this module only reads and verifies it.
"""

from __future__ import annotations

import difflib
import json
import os
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from vmaf_tiny import usercache
from vmaf_tiny.errors import BadInputError, BadModelError
from vmaf_tiny.fsutil import sha256_file
from vmaf_tiny.guard import check_model, check_size_class

__all__ = [
    "ENV_ZOO",
    "AmbiguousModelWarning",
    "ModelRef",
    "Registry",
    "load_registry",
    "looks_like_path",
    "resolve_model",
    "shipped_zoo",
    "verify_registry",
    "zoo_dir",
]

ENV_ZOO = "VMAF_TINY_ZOO"
# the keys a sidecar shares with its registry row
_SHARED_KEYS = ("kind", "class", "onnx", "opset", "smoke", "inputs", "outputs")


def zoo_dir() -> Path:
    """``$VMAF_TINY_ZOO`` if set, else the shipped zoo inside the installed package."""
    env = os.environ.get(ENV_ZOO)
    if env:
        return Path(env)
    return shipped_zoo()


def shipped_zoo() -> Path:
    """The zoo shipped as package data (``vmaf_tiny/zoo``), wherever the package is installed."""
    return Path(str(resources.files(__package__ or "vmaf_tiny").joinpath("zoo")))


@dataclass(frozen=True)
class ModelRef:
    """Where a model is and what the registry says about it.

    Attributes:
        onnx: The .onnx file to load.
        sidecar: Its sidecar (None: found beside the model by the guard).
        model_id: Registry id (None for a plain path).
        sha256: The registry's hash of ``onnx`` (None for a plain path).
        row: The registry row (None for a plain path).
    """

    onnx: Path
    sidecar: Path | None = None
    model_id: str | None = None
    sha256: str | None = None
    row: dict[str, Any] | None = None


@dataclass
class Registry:
    """A parsed, schema-valid registry.

    Attributes:
        path: registry.json.
        rows: Its model rows.
    """

    path: Path
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def zoo(self) -> Path:
        return self.path.parent

    @property
    def ids(self) -> list[str]:
        return [str(r["id"]) for r in self.rows]

    def get(self, model_id: str) -> dict[str, Any]:
        """The row for ``model_id``; BadInputError (with close matches) if unknown."""
        for row in self.rows:
            if row["id"] == model_id:
                return row
        close = difflib.get_close_matches(model_id, self.ids, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        known = f" (registered: {', '.join(self.ids)})" if self.ids and not close else ""
        if not self.ids:
            known = " (the registry is empty)"
        raise BadInputError(
            f"unknown model id {model_id!r} in {self.path}{hint}{known}; "
            "or pass a path to an .onnx file"
        )


@lru_cache(maxsize=4)
def _validator(schema_path: str) -> Any:
    import jsonschema

    schema = json.loads(Path(schema_path).read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _schema_error(obj: Any, schema_path: Path) -> str | None:
    # A registry that passed against these exact schema bytes before passes again: the pass is
    # remembered per content (vmaf_tiny.usercache), which spares importing jsonschema.
    try:
        key = usercache.schema_key(schema_path.read_bytes(), obj)
    except OSError:
        key = None
    if key is not None and usercache.lookup("schemas", "registry", key):
        return None
    import jsonschema

    err = jsonschema.exceptions.best_match(_validator(str(schema_path)).iter_errors(obj))
    if err is None:
        if key is not None:
            usercache.remember("schemas", "registry", key, True)
        return None
    where = "/".join(str(p) for p in err.absolute_path) or "(top level)"
    return f"{where}: {err.message[:200]}"


def load_registry(zoo: str | os.PathLike[str] | None = None) -> Registry:
    """Read and validate ``registry.json`` of a zoo directory.

    Raises:
        BadModelError: missing, unparsable or schema-invalid registry.
    """
    root = Path(zoo) if zoo is not None else zoo_dir()
    path = root / "registry.json"
    schema = root / "registry.schema.json"
    if not path.is_file():
        raise BadModelError(f"no registry.json in {root} (set {ENV_ZOO} to a model zoo)")
    if not schema.is_file():
        raise BadModelError(f"no registry.schema.json beside {path}")
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BadModelError(f"{path}: not valid JSON ({exc})") from exc
    problem = _schema_error(obj, schema)
    if problem:
        raise BadModelError(f"{path}: {problem}")
    return Registry(path=path, rows=list(obj["models"]))


def looks_like_path(id_or_path: str | os.PathLike[str]) -> bool:
    """True for an explicit path: a path object, or a string with a separator or ending in .onnx.

    A bare name (``vmaf_tiny_v2``) is not a path, even if a file or folder of that name exists
    in the working directory: registry ids win, so a local folder cannot take over a shipped
    model. Write ``./NAME`` to mean the local file.
    """
    if not isinstance(id_or_path, str):
        return True
    s = id_or_path
    return "/" in s or os.sep in s or (os.altsep or "/") in s or s.endswith(".onnx")


class AmbiguousModelWarning(UserWarning):
    """A bare model name is both a registry id and a local path; the registry id was used."""


def resolve_model(
    id_or_path: str | os.PathLike[str],
    *,
    int8: bool = False,
    zoo: str | os.PathLike[str] | None = None,
) -> ModelRef:
    """Turn a registry id or a path into a :class:`ModelRef`.

    The rule: a path object, or a string containing a path separator or ending in ``.onnx``,
    is a path. A bare name is a registry id; only if the registry does not know it and a file
    of that name exists is it taken as a path. A bare name that is both a registry id and a
    local file/folder resolves to the registry model, with an :class:`AmbiguousModelWarning`
    saying so (``./NAME`` selects the local one).

    Args:
        id_or_path: A registry id (``vmaf_tiny_v2``) or a path to an .onnx file.
        int8: For a registry id: the int8 file (the row must have one).
        zoo: Zoo directory (default :func:`zoo_dir`).

    Raises:
        BadInputError: unknown id (with close matches), or no int8 file for that id.
        BadModelError: the registry itself is broken.
    """
    if looks_like_path(id_or_path):
        if int8:
            raise BadInputError("--int8 applies to registry ids; pass the int8 .onnx path instead")
        return ModelRef(onnx=Path(id_or_path))
    name = str(id_or_path)
    reg = load_registry(zoo)
    local = os.path.lexists(name)
    if name not in reg.ids and local:
        if int8:
            raise BadInputError("--int8 applies to registry ids; pass the int8 .onnx path instead")
        return ModelRef(onnx=Path(name))
    if local:
        warnings.warn(
            f"{name!r} is a registry id and also a local path; using the registry model "
            f"(write ./{name} for the local one)",
            AmbiguousModelWarning,
            stacklevel=2,
        )
    row = reg.get(name)
    sidecar = reg.zoo / row["sidecar"]
    if int8:
        if not row.get("int8"):
            raise BadInputError(f"model {row['id']} has no int8 file (quant_mode fp32)")
        return ModelRef(
            onnx=reg.zoo / row["int8"]["onnx"],
            sidecar=sidecar,
            model_id=row["id"],
            sha256=row["int8"]["sha256"],
            row=row,
        )
    return ModelRef(
        onnx=reg.zoo / row["onnx"],
        sidecar=sidecar,
        model_id=row["id"],
        sha256=row["sha256"],
        row=row,
    )


@dataclass
class VerifyReport:
    """What ``vmaf-tiny models verify`` found.

    Attributes:
        zoo: The zoo directory.
        checked: Model ids verified.
        failures: One line per failure (``id: check: reason``).
    """

    zoo: Path
    checked: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        return {
            "zoo": str(self.zoo),
            "ok": self.ok,
            "checked": self.checked,
            "failures": self.failures,
        }


def _verify_file(
    rep: VerifyReport,
    mid: str,
    label: str,
    path: Path,
    sidecar: Path,
    sha: str,
    size: int,
    cls: str,
) -> None:
    if not path.is_file():
        rep.failures.append(f"{mid}: {label} file {path.name} is missing")
        return
    actual = path.stat().st_size
    if actual != size:
        rep.failures.append(f"{mid}: {label} is {actual} bytes, the registry says {size}")
    if sha256_file(path) != sha:
        rep.failures.append(f"{mid}: {label} sha256 does not match the registry")
    report = check_model(path, sidecar=sidecar, expected_sha256=sha)
    for c in report.checks:
        if c.status == "fail" and c.name != "sha256":
            rep.failures.append(f"{mid}: {label}: {c.name}: {c.detail}")
    try:
        check_size_class(path, cls)
    except BadModelError as exc:
        rep.failures.append(f"{mid}: {label}: size class: {exc}")


def verify_registry(zoo: str | os.PathLike[str] | None = None) -> VerifyReport:
    """Verify every registered model: hashes, sizes, schemas, size classes and load-time checks.

    An empty registry verifies OK.

    Args:
        zoo: Zoo directory (default :func:`zoo_dir`).

    Returns:
        The report (``report.failures``: one line each).
    """
    root = Path(zoo) if zoo is not None else zoo_dir()
    rep = VerifyReport(zoo=root)
    try:
        reg = load_registry(root)
    except BadModelError as exc:
        rep.failures.append(f"registry: {exc}")
        return rep
    seen: set[str] = set()
    for row in reg.rows:
        mid = row["id"]
        rep.checked.append(mid)
        if mid in seen:
            rep.failures.append(f"{mid}: duplicate id in registry.json")
            continue
        seen.add(mid)
        sidecar_path = reg.zoo / row["sidecar"]
        if not sidecar_path.is_file():
            rep.failures.append(f"{mid}: sidecar {row['sidecar']} is missing")
            continue
        try:
            sidecar = json.loads(sidecar_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            rep.failures.append(f"{mid}: sidecar {row['sidecar']} is not valid JSON ({exc})")
            continue
        if isinstance(sidecar, dict):
            if sidecar.get("id") != mid:
                rep.failures.append(f"{mid}: sidecar id is {sidecar.get('id')!r}")
            for key in _SHARED_KEYS:
                if key in sidecar and sidecar[key] != row[key]:
                    rep.failures.append(f"{mid}: sidecar {key} differs from the registry row")
        has_int8 = row.get("int8") is not None
        if has_int8 != (row["quant_mode"] == "fp32+int8_qdq"):
            rep.failures.append(
                f"{mid}: quant_mode {row['quant_mode']} but int8 is {'set' if has_int8 else 'null'}"
            )
        _verify_file(
            rep,
            mid,
            "onnx",
            reg.zoo / row["onnx"],
            sidecar_path,
            row["sha256"],
            row["bytes"],
            row["class"],
        )
        if has_int8:
            i8 = row["int8"]
            side_i8 = sidecar.get("int8") if isinstance(sidecar, dict) else None
            if (
                not side_i8
                or side_i8.get("onnx") != i8["onnx"]
                or side_i8.get("sha256") != i8["sha256"]
            ):
                rep.failures.append(f"{mid}: sidecar int8 entry differs from the registry row")
            _verify_file(
                rep,
                mid,
                "int8",
                reg.zoo / i8["onnx"],
                sidecar_path,
                i8["sha256"],
                i8["bytes"],
                row["class"],
            )
    return rep
