"""The wheel works anywhere: built from the checkout, installed with runtime dependencies only.

One module-scoped fixture builds the wheel (``pip wheel --no-deps`` of a copy of the checkout's
packaging files, so the build writes nothing into the checkout), creates a fresh venv and installs
the wheel there; pip resolves the runtime dependencies from its index or cache, nothing else
(``VMAF_TINY_WHEEL_CONSTRAINTS=constraints-runtime-min.txt`` installs the declared lower bounds).
Every command then runs from an empty directory outside the checkout, with a clean environment
(no PYTHONPATH, no VMAF_TINY_ZOO): the zoo, the ffmpeg binary and the executor must all come from
the installed package.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.clips import lavfi_clip, x264
from vmaf_tiny.ffmpeg import FFmpeg

pytestmark = pytest.mark.wheel

REPO = Path(__file__).resolve().parents[2]
ZOO = REPO / "src" / "vmaf_tiny" / "zoo"
#: Never imported by the runtime, and not installed by its dependencies.
HEAVY = ("torch", "pyarrow", "dask", "distributed", "vmaf_train")
#: A pip constraints file for the install (default none: pip picks the newest allowed versions).
ENV_CONSTRAINTS = "VMAF_TINY_WHEEL_CONSTRAINTS"
#: Import name -> distribution name, where they differ.
DIST_NAME = {"imageio_ffmpeg": "imageio-ffmpeg"}


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path
    work: Path  # the working directory of every command: empty, outside the checkout
    data: Path  # the generated clips and pairs file
    env: dict[str, str]

    def run(self, *args: str | Path, tool: str = "vmaf-tiny") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.venv / "bin" / tool), *map(str, args)],
            cwd=self.work,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )


def _check(cmd: list[str | Path], what: str, **kw: object) -> None:
    out = subprocess.run(list(map(str, cmd)), capture_output=True, text=True, check=False, **kw)  # type: ignore[call-overload]
    if out.returncode != 0:
        tail = "\n".join((out.stdout + out.stderr).strip().splitlines()[-15:])
        pytest.fail(f"{what} failed (exit {out.returncode}):\n{tail}")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory, ffmpeg: FFmpeg) -> Installed:
    base = tmp_path_factory.mktemp("wheel")
    assert REPO not in base.parents
    src = base / "checkout-copy"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(REPO / name, src / name)
    shutil.copytree(
        REPO / "src",
        src / "src",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"),
    )
    dist = base / "dist"
    _check([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, src], "pip wheel")
    (wheel,) = dist.glob("vmaf_tiny-*.whl")
    venv = base / "venv"
    _check([sys.executable, "-m", "venv", venv], "python -m venv")
    pip_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    pip_install = [venv / "bin" / "python", "-m", "pip", "install", "-q"]
    constraints = os.environ.get(ENV_CONSTRAINTS)
    if constraints:  # e.g. constraints-runtime-min.txt: the declared lower bounds
        pip_install += ["-c", Path(constraints).resolve()]
    _check([*pip_install, wheel], "pip install", env=pip_env)

    data = base / "data"
    data.mkdir()
    ref = lavfi_clip(ffmpeg, data / "ref.y4m", frames=24)
    ffmpeg.run(
        ["-loglevel", "error", "-i", str(ref), *x264(35), str(data / "dis.mp4")], what="x264"
    )
    (data / "pairs.csv").write_text("reference,distorted\nref.y4m,dis.mp4\nref.y4m,ref.y4m\n")
    work = base / "work"
    work.mkdir()
    env = {
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.defpath}",
        "HOME": str(base / "home"),
        "TMPDIR": os.environ.get("TMPDIR", "/tmp"),
        "VMAF_TINY_CACHE": str(base / "cache"),
    }
    return Installed(wheel, venv, work, data, env)


# ------------------------------------------------------------------------------ what is declared


def _runtime_imports() -> dict[str, set[str]]:
    """Top-level third-party modules imported anywhere in src/vmaf_tiny -> the files."""
    found: dict[str, set[str]] = {}
    for path in sorted((REPO / "src" / "vmaf_tiny").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != "vmaf_tiny":
                    found.setdefault(top, set()).add(path.name)
    return found


def test_every_runtime_import_is_a_declared_dependency() -> None:
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = {re.split(r"[<>=!~\[; ]", d, maxsplit=1)[0].lower() for d in meta["dependencies"]}
    imports = _runtime_imports()
    assert {"numpy", "onnx", "onnxruntime", "imageio_ffmpeg"} <= set(imports)
    undeclared = {
        top: sorted(files)
        for top, files in imports.items()
        if DIST_NAME.get(top, top).lower() not in declared
    }
    assert not undeclared, f"vmaf_tiny imports undeclared packages: {undeclared}"
    assert not {h for h in HEAVY if h in imports}
    for dep in meta["dependencies"]:
        assert re.search(r">=\s*\d", dep), f"{dep}: every runtime dependency has a lower bound"
    assert "gpu" not in meta.get("optional-dependencies", {})  # onnxruntime-gpu conflicts


def test_wheel_holds_the_zoo_and_the_license(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    rows = json.loads((ZOO / "registry.json").read_text())["models"]
    assert "vmaf_tiny/zoo/registry.json" in names
    shipped = {f"vmaf_tiny/zoo/{p.name}" for p in ZOO.iterdir() if p.suffix in (".onnx", ".json")}
    assert len([n for n in shipped if n.endswith(".onnx")]) >= len(rows) > 0
    assert shipped <= names, sorted(shipped - names)
    for row in rows:
        assert (
            f"vmaf_tiny/zoo/{row['onnx']}" in names and f"vmaf_tiny/zoo/{row['sidecar']}" in names
        )
    assert "vmaf_tiny/schemas/sidecar.schema.json" in names
    dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
    assert f"{dist_info}/licenses/LICENSE" in names
    with zipfile.ZipFile(installed.wheel) as z:
        meta = z.read(f"{dist_info}/METADATA").decode()
        assert z.read(f"{dist_info}/licenses/LICENSE") == (REPO / "LICENSE").read_bytes()
    assert "License-Expression: BSD-2-Clause-Patent" in meta
    requires = [ln for ln in meta.splitlines() if ln.startswith("Requires-Dist:")]
    assert requires and not [r for r in requires if "onnxruntime-gpu" in r]
    assert "BSD-2-Clause-Patent" in (REPO / "pyproject.toml").read_text()


# ------------------------------------------------------------------------------ runs anywhere


def test_models_list_comes_from_the_installed_package(installed: Installed) -> None:
    out = installed.run("models", "list", "--json")
    assert out.returncode == 0, out.stderr
    ids = {r["id"] for r in json.loads(out.stdout)}
    rows = json.loads((ZOO / "registry.json").read_text())["models"]
    assert ids == {r["id"] for r in rows}
    where = subprocess.run(
        [installed.venv / "bin" / "python", "-c", "import vmaf_tiny; print(vmaf_tiny.__file__)"],
        cwd=installed.work,
        env=installed.env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(where).is_relative_to(installed.venv) and not Path(where).is_relative_to(REPO)


def test_score_fr_nr_and_pairs_on_a_generated_pair(installed: Installed) -> None:
    d = installed.data
    fr = installed.run("score", "-r", d / "ref.y4m", "-d", d / "dis.mp4", "--json")
    assert fr.returncode == 0, fr.stderr
    res = json.loads(fr.stdout)
    assert res["model"] == "vmaf_tiny_v2" and res["n_frames"] == 24
    assert 10 < res["pooled"]["mean"] < 95

    nr = installed.run(
        "score", "--no-reference", "--model", "nr_metric_v1", "-d", d / "dis.mp4", "--json"
    )
    assert nr.returncode == 0, nr.stderr
    nres = json.loads(nr.stdout)
    assert nres["kind"] == "nr" and nres["n_frames"] > 0 and nres["reference"] is None

    pairs = installed.run("score", "--pairs", d / "pairs.csv", "--workers", "2", "--json")
    assert pairs.returncode == 0, pairs.stderr
    assert "scoring 2 pair(s) on local process pool (2 workers)" in pairs.stderr
    rows = json.loads(pairs.stdout)
    assert [r["pair"] for r in rows] == [0, 1] and all(r["error"] is None for r in rows)
    assert rows[0]["mean"] == pytest.approx(res["pooled"]["mean"], abs=1e-9)
    assert rows[1]["mean"] > rows[0]["mean"]  # the reference against itself scores higher
    assert list(installed.work.iterdir()) == []  # nothing written into the working directory


def test_options_that_need_what_is_not_installed_fail_in_one_line(installed: Installed) -> None:
    d = installed.data
    dask = installed.run(  # Dask scheduling of pairs is the toolkit's
        "score-pairs",
        "--pairs",
        d / "pairs.csv",
        "--scheduler",
        "tcp://127.0.0.1:9",
        tool="vmaf-train",
    )
    cuda = installed.run("score", "-r", d / "ref.y4m", "-d", d / "dis.mp4", "--backend", "cuda")
    record = installed.run("bench", "--sizes", "96x64x4", "--runs", "1", tool="vmaf-train")
    for out, needle in (
        (dask, "pip install 'vmaf-tiny[train]'"),
        (cuda, "pip uninstall -y onnxruntime && pip install onnxruntime-gpu"),
        (record, "not installed from one"),
    ):
        assert out.returncode == 2, out.stderr
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], lines


def test_bench_writes_into_the_cache(installed: Installed) -> None:
    out = installed.run(
        "bench", "--sizes", "96x64x4", "--runs", "1", "--batch1-calls", "50", "--big-batch", "64"
    )
    assert out.returncode == 0, out.stderr
    cache = Path(installed.env["VMAF_TINY_CACHE"])
    assert json.loads((cache / "netflix_benchmark_results.json").read_text())["end_to_end"]
    assert {p.name for p in (cache / "clips").iterdir()} == {
        "ref_96x64x4.y4m",
        "dis_96x64x4_x264_crf30.mp4",
    }
    assert list(installed.work.iterdir()) == []


_IN_PROCESS = """
import importlib.util, json, sys
from vmaf_tiny.cli import app
from vmaf_tiny.console import run_app
commands, heavy, report = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
codes = []
for argv in commands:
    sys.argv = ["vmaf-tiny", *argv]
    try:
        run_app(app, prog_name="vmaf-tiny")  # main() would end this process
        codes.append(0)
    except SystemExit as exc:
        codes.append(exc.code)
with open(report, "w") as fh:
    json.dump({
        "codes": codes,
        "imported": sorted(m for m in sys.modules if m.split(".")[0] in heavy),
        "installed": [h for h in heavy if importlib.util.find_spec(h) is not None],
    }, fh)
"""


def test_the_training_stack_is_neither_imported_nor_installed(installed: Installed) -> None:
    d = installed.data
    commands = [
        ["models", "list", "--json"],
        ["score", "-r", str(d / "ref.y4m"), "-d", str(d / "dis.mp4"), "--json"],
        ["score", "--no-reference", "-m", "nr_metric_v1", "-d", str(d / "dis.mp4"), "--json"],
        ["score", "--pairs", str(d / "pairs.csv"), "--workers", "2", "--json"],
    ]
    report = d / "modules.json"
    out = subprocess.run(
        [
            installed.venv / "bin" / "python",
            "-c",
            _IN_PROCESS,
            json.dumps(commands),
            json.dumps(HEAVY),
            report,
        ],
        cwd=installed.work,
        env=installed.env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    got = json.loads(report.read_text())
    assert got["codes"] == [0, 0, 0, 0], out.stderr
    assert got["imported"] == []
    # The runtime's dependencies do not pull the training stack (vmaf_train itself ships in the
    # same wheel, for `pip install 'vmaf-tiny[train]'`, and is never imported).
    assert got["installed"] == ["vmaf_train"]
