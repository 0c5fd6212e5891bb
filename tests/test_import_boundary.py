"""The boundary between the halves, read from the source (AST), so lazy imports count too.

* ``vmaf_tiny`` (the runtime) imports only the standard library, itself and its declared runtime
  dependencies: never torch, pyarrow, dask or ``vmaf_train``, not even inside a function, and not
  through ``importlib.import_module("...")`` with a literal name.
* ``vmaf_train`` imports only the standard library, both packages and declared dependencies
  (runtime + the ``train`` extra).
* Importing the runtime (package and CLI) loads none of the training stack (checked in a fresh
  interpreter, which also catches imports made by the dependencies themselves).
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
HEAVY = ("torch", "pyarrow", "dask", "distributed", "sklearn", "scipy", "matplotlib", "vmaf_train")


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every module a file imports, with its line: import statements at any depth (inside
    functions, ``if TYPE_CHECKING`` blocks excluded) and ``import_module("literal")`` calls."""
    tree = ast.parse(path.read_text(), filename=str(path))
    type_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for sub in node.body:
                type_only.update(id(n) for n in ast.walk(sub))
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                out.append((node.lineno, node.module))
        elif isinstance(node, ast.Call):
            name = ast.unparse(node.func)
            if name.endswith("import_module") and node.args:
                arg = node.args[0]
                literal = isinstance(arg, ast.Constant) and isinstance(arg.value, str)
                if literal and not arg.value.startswith("."):
                    out.append((node.lineno, arg.value))
    return out


def _dists(requirements: list[str]) -> set[str]:
    """Distribution names of the requirements, including what their extras pull in (one level:
    ``dask[distributed]`` brings the ``distributed`` distribution)."""
    out: set[str] = set()
    for text in requirements:
        req = Requirement(text)
        out.add(canonicalize_name(req.name))
        for extra in req.extras:
            for sub in importlib.metadata.requires(req.name) or []:
                sub_req = Requirement(sub)
                if sub_req.marker is not None and sub_req.marker.evaluate({"extra": extra}):
                    out.add(canonicalize_name(sub_req.name))
    return out


def _import_names(requirements: list[str]) -> set[str]:
    """Top-level import names provided by the given requirements (installed metadata)."""
    dists = _dists(requirements)
    return {
        top
        for top, providers in importlib.metadata.packages_distributions().items()
        if any(canonicalize_name(p) in dists for p in providers)
    }


@pytest.fixture(scope="module")
def project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def _violations(package: str, allowed: set[str]) -> list[str]:
    bad = []
    for path in sorted((SRC / package).rglob("*.py")):
        for line, mod in imported_modules(path):
            top = mod.split(".")[0]
            if top in sys.stdlib_module_names or top in allowed:
                continue
            bad.append(f"{path.relative_to(REPO)}:{line} imports {mod}")
    return bad


def test_the_parser_sees_lazy_and_dynamic_imports(tmp_path: Path) -> None:
    f = tmp_path / "m.py"
    f.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import torch\n"
        "def f():\n    import pyarrow.parquet as pq\n    from dask import delayed\n"
        "    import importlib\n    return importlib.import_module('vmaf_train.cli')\n"
    )
    mods = [m for _, m in imported_modules(f)]
    assert "torch" not in mods  # typing-only
    assert {"pyarrow.parquet", "dask", "vmaf_train.cli"} <= set(mods)


def test_runtime_imports_only_its_declared_dependencies(project: dict) -> None:
    allowed = _import_names(project["dependencies"]) | {"vmaf_tiny"}
    assert {"numpy", "onnx", "onnxruntime", "typer", "rich", "jsonschema"} <= allowed
    assert not allowed & set(HEAVY)
    assert not _violations("vmaf_tiny", allowed)


def test_toolkit_imports_only_declared_dependencies(project: dict) -> None:
    reqs = project["dependencies"] + project["optional-dependencies"]["train"]
    allowed = _import_names(reqs) | {"vmaf_tiny", "vmaf_train"}
    assert not _violations("vmaf_train", allowed)


def test_runtime_import_does_not_pull_training_stack() -> None:
    code = (
        "import json, sys, vmaf_tiny, vmaf_tiny.cli;"
        "print(json.dumps(sorted(m for m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    mods = set(json.loads(out.stdout))
    leaked = sorted(m for m in mods if m.split(".")[0] in HEAVY)
    assert not leaked, f"vmaf_tiny imported {leaked}"
