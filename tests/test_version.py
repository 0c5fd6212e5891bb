"""The version has one source: ``vmaf_tiny.__version__`` (pyproject reads it)."""

from __future__ import annotations

import tomllib
from importlib.metadata import version
from pathlib import Path

import vmaf_tiny

REPO = Path(__file__).resolve().parents[1]


def test_the_version_is_declared_once() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "version" not in project["project"]
    assert "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "vmaf_tiny.__version__"}
    assert version("vmaf-tiny") == vmaf_tiny.__version__
