"""Every repository path the docs name exists in a fresh clone.

README.md and docs/**/*.md are scanned for relative links and for paths in inline code and code
blocks that start with a top-level folder of the repository (``configs/``, ``src/``, ...). Each
must be a tracked file or folder (``git ls-files``: what a fresh clone has, not what a run left
in this checkout); ``<id>``-style placeholders and ``*`` match any name. Paths that leave the
checkout (``../``) are never right in docs: a fresh clone has nothing beside it.
"""

from __future__ import annotations

import fnmatch
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
#: Top-level folders whose paths are checked wherever they appear in code.
CHECKED = (
    *("configs", "corpora", "corpus", "src", "benchmarks", "docs", "tests", "testdata"),
    "model",  # the zoo's old home (now src/vmaf_tiny/zoo)
)
#: Outputs the user creates with a command the docs show, so absent from a fresh clone.
OUTPUTS = (
    "corpus/smoke",  # vmaf-train corpus build --config smoke --out corpus/smoke
    "corpus/standard",  # vmaf-train corpus build --config standard --out corpus/standard
    "corpus/nr_stream",  # vmaf-train corpus build --config nr_stream --out corpus/nr_stream
    "corpus/fast",  # vmaf-train corpus build --config fast --out corpus/fast
)

#: Files of the team's shared folder beside the checkout, which a fresh clone does not have.
OUTSIDE = ("RECIPES", "DESIGN.md", "shared/data")

_CODE = re.compile(r"```[^\n]*\n(.*?)```|`([^`]+)`", re.S)  # a code span may wrap a line
_LINK = re.compile(r"\]\(([^)\s]+)\)")
_SPLIT = re.compile(r"[\s=\"'(),;\[\]{}|]+")
_TOKEN = re.compile(r"^(?:\.\./\S*|(?:" + "|".join(CHECKED) + r")/\S*)$")


def _tracked() -> set[str]:
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True, timeout=60
        ).stdout.decode()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    files = {f for f in out.split("\0") if f}
    dirs = {str(p) for f in files for p in Path(f).parents if str(p) != "."}
    return files | dirs


def _exists(path: str, tracked: set[str]) -> bool:
    path = path.rstrip("/") or "."
    if re.search(r"<[^>]*>|\*", path):
        pattern = re.sub(r"<[^>]*>", "*", path)
        return any(fnmatch.fnmatchcase(t, pattern) for t in tracked)
    return path in tracked


def _code_paths(text: str) -> list[str]:
    out = []
    for block, inline in _CODE.findall(text):
        for token in _SPLIT.split(block or inline):
            token = token.strip("`").split("#")[0].rstrip(".:").removeprefix("./")
            if token and _TOKEN.match(token):
                out.append(token)
    return out


def _missing(doc: Path, tracked: set[str]) -> list[str]:
    text = doc.read_text(encoding="utf-8")
    bad = [f"{word} (not in the repository)" for word in OUTSIDE if word in text]
    for token in _code_paths(text):
        if token.startswith("../"):
            bad.append(f"{token} (outside the checkout)")
        elif not token.startswith(OUTPUTS) and not _exists(token, tracked):
            bad.append(token)
    for target in _LINK.findall(text):
        if re.match(r"[a-z]+:|#", target):
            continue
        resolved = (doc.parent / target.split("#")[0]).resolve()
        if not resolved.is_relative_to(REPO):
            bad.append(f"{target} (link outside the checkout)")
        elif not _exists(str(resolved.relative_to(REPO)), tracked):
            bad.append(f"{target} (link)")
    return bad


def test_scanner_finds_paths_and_placeholders() -> None:
    text = (
        "See `configs/models/<id>.toml` and [x](docs/nope.md).\n"
        "```sh\nvmaf-train fit --features=corpus/features.parquet --out runs/a\n"
        "vmaf-train x --upstream-svm ../shared/data/m.json src/vmaf_tiny/zoo/\n```\n"
    )
    assert _code_paths(text) == [
        "configs/models/<id>.toml",
        "corpus/features.parquet",
        "../shared/data/m.json",
        "src/vmaf_tiny/zoo/",
    ]
    tracked = _tracked()
    assert _exists("configs/models/<id>.toml", tracked)
    assert _exists("src/vmaf_tiny/zoo/", tracked) and _exists("src/vmaf_tiny/zoo/*.onnx", tracked)
    assert not _exists("corpus/features.parquet", tracked)
    assert not _exists("model/tiny", tracked)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_path_in_the_docs_exists_in_a_fresh_clone(doc: Path) -> None:
    assert not _missing(doc, _tracked())
