"""Start-up cost stays low: what the CLI imports, the per-user cache, and the load beside the pass.

The CLI imports only what a command needs (``import vmaf_tiny.cli`` pulls no numpy, onnx,
onnxruntime, jsonschema or rich); passed ffmpeg checks and schema validations are remembered per
user, keyed by what they depend on; ``vmaf_tiny.score`` loads the model in a thread beside the
libvmaf pass, with every user error still raised before the pass.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from vmaf_tiny import usercache
from vmaf_tiny.errors import BadInputError, BadModelError, MissingToolError
from vmaf_tiny.registry import zoo_dir

HEAVY_FOR_STARTUP = ("numpy", "onnx", "onnxruntime", "jsonschema", "rich", "click")
TRAINING = ("torch", "pyarrow", "dask", "distributed", "sklearn", "scipy", "matplotlib",
            "skvideo", "skimage", "vmaf_train")  # fmt: skip

# Runs vmaf-tiny commands in one interpreter through the real entry point (run_app) with the
# training stack made unimportable, and reports each exit code and the modules then loaded.
_RUNNER = """
import contextlib, importlib.abc, io, json, sys
BLOCKED = set(sys.argv[1].split(","))
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"the runtime imported {name}")
sys.meta_path.insert(0, Block())
from vmaf_tiny.cli import app
from vmaf_tiny.console import run_app
report = []
for argv in json.loads(sys.argv[2]):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            run_app(app, argv, prog_name="vmaf-tiny")
        except SystemExit as exc:
            code = exc.code
    report.append({"argv": argv, "code": code, "stderr": err.getvalue()[-500:],
                   "modules": sorted({m.split(".")[0] for m in sys.modules})})
print(json.dumps(report))
"""


def _env(cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["XDG_CACHE_HOME"] = str(cache)
    env.pop("VMAF_TINY_CACHE", None)
    env.pop("VMAF_TINY_ZOO", None)
    return env


def _run_commands(commands: list[list[str]], cache: Path) -> list[dict]:
    proc = subprocess.run(
        [sys.executable, "-c", _RUNNER, ",".join(TRAINING), json.dumps(commands)],
        capture_output=True,
        text=True,
        env=_env(cache),
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def test_importing_the_cli_loads_no_heavy_module(tmp_path: Path) -> None:
    code = "import json, sys, vmaf_tiny.cli; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=_env(tmp_path), check=True
    )
    loaded = {m.split(".")[0] for m in json.loads(out.stdout)}
    assert not loaded & set(HEAVY_FOR_STARTUP), sorted(loaded & set(HEAVY_FOR_STARTUP))
    assert not loaded & set(TRAINING)


def test_every_runtime_command_runs_without_the_training_stack(
    tmp_path: Path, runtime_clips: dict[str, Path]
) -> None:
    """The happy path of every vmaf-tiny command, with torch & co. unimportable (lazy imports
    included), and the start-up budget of ``models list`` (a warm cache: no jsonschema)."""
    zoo = zoo_dir()
    ref, dis = str(runtime_clips["ref"]), str(runtime_clips["dis"])
    commands = [
        ["models", "list", "--json"],
        ["models", "show", "-m", "vmaf_tiny_v2", "--json"],
        ["models", "verify", "--json"],
        ["check", "-m", str(zoo / "vmaf_tiny_v2.onnx"), "--json"],
        ["score", "-r", ref, "-d", dis, "--model", "vmaf_tiny_v2", "--json"],
        ["score", "-d", dis, "--no-reference", "--model", "nr_metric_v1", "--json"],
        ["filter", dis, "-o", str(tmp_path / "f.y4m"), "--max-frames", "3", "--json"],
        ["saliency", dis, "-o", str(tmp_path / "maps"), "--max-frames", "2", "--json"],
        ["bench", "--sizes", "64x36x4", "--runs", "1", "--batch1-calls", "10",
         "--big-batch", "8", "--clips-dir", str(tmp_path / "clips"),
         "--out", str(tmp_path / "bench.json"), "--json"],
    ]  # fmt: skip
    cache = tmp_path / "cache"
    report = _run_commands(commands, cache)
    # the walk of the app: every leaf command is exercised here
    from typer.main import get_command

    from vmaf_tiny.cli import app

    group = get_command(app)
    leaves = {
        f"{name} {sub}" if hasattr(cmd, "commands") else name
        for name, cmd in group.commands.items()  # type: ignore[attr-defined]
        for sub in (getattr(cmd, "commands", None) or [""])
    }
    ran = {" ".join(r["argv"][:2]) if r["argv"][0] == "models" else r["argv"][0] for r in report}
    assert {s.strip() for s in leaves} <= ran, sorted({s.strip() for s in leaves} - ran)
    for r in report:
        assert r["code"] in (0, None), (r["argv"], r["stderr"])
        assert not set(r["modules"]) & set(TRAINING), r["argv"]
    # start-up: listing the zoo loads no numpy/onnx/onnxruntime/rich; on a warm cache (the run
    # above validated the registry) not even jsonschema
    (listing,) = _run_commands([["models", "list", "--json"]], cache)
    assert listing["code"] in (0, None), listing["stderr"]
    assert not set(HEAVY_FOR_STARTUP) & set(listing["modules"]), listing["modules"]


# ---------------------------------------------------------------------------- user cache


def _fake_ffmpeg(path: Path, *, version: str, libvmaf: bool) -> Path:
    filters = " ... libvmaf          VV->V      Calculate the VMAF.\n" if libvmaf else ""
    path.write_text(
        "#!/bin/sh\n"
        f'case "$*" in *-version*) echo "ffmpeg version {version} Copyright";; '
        f"*-filters*) printf '{filters}';; esac\n"
    )
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_ffmpeg_check_is_remembered_until_the_binary_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vmaf_tiny import ffmpeg as ffmod

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("VMAF_TINY_CACHE", raising=False)
    check = ffmod._check.__wrapped__  # the per-process lru_cache aside
    exe = _fake_ffmpeg(tmp_path / "ffmpeg", version="n1", libvmaf=True)
    assert check(str(exe)).version == "n1"
    real = str(exe.resolve())
    assert usercache.lookup("ffmpeg", "checked", real)["version_line"].startswith(
        "ffmpeg version n1"
    )
    # a hit answers from the cache without running the binary
    entry = usercache.lookup("ffmpeg", "checked", real)
    entry["version_line"] = "ffmpeg version from-cache"
    usercache.remember("ffmpeg", "checked", real, entry)
    assert check(str(exe)).version == "from-cache"
    # a changed binary is checked again
    _fake_ffmpeg(exe, version="n2-longer", libvmaf=True)
    assert check(str(exe)).version == "n2-longer"
    # failures are never remembered; a binary that lost libvmaf fails at once
    _fake_ffmpeg(exe, version="n3", libvmaf=False)
    with pytest.raises(MissingToolError, match="no libvmaf"):
        check(str(exe))
    assert usercache.lookup("ffmpeg", "checked", real)["version_line"].endswith(
        "n2-longer Copyright"
    )
    # and with the cache off nothing is read or written
    monkeypatch.setenv("VMAF_TINY_CACHE", "0")
    _fake_ffmpeg(exe, version="n4", libvmaf=True)
    assert check(str(exe)).version == "n4"
    assert usercache.cache_dir() is None


def test_schema_passes_are_remembered_per_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vmaf_tiny.sidecar import validate_sidecar

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("VMAF_TINY_CACHE", raising=False)
    good = json.loads((zoo_dir() / "vmaf_tiny_v2.json").read_text())
    assert validate_sidecar(good) == good
    cached = json.loads((tmp_path / "vmaf-tiny" / "schemas.json").read_text())["sidecar"]
    assert list(cached.values()) == [True]
    bad = dict(good, kind="not-a-kind")
    for _ in range(2):  # a failure is not remembered: it fails every time
        with pytest.raises(BadModelError, match="kind"):
            validate_sidecar(bad)
    assert len(json.loads((tmp_path / "vmaf-tiny" / "schemas.json").read_text())["sidecar"]) == 1


def test_unwritable_cache_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    usercache.remember("ffmpeg", "checked", "x", {"a": 1})  # no error
    assert usercache.lookup("ffmpeg", "checked", "x") is None


# ---------------------------------------------------------------------------- load beside the pass


def test_user_errors_come_before_the_videos_are_read(tmp_path: Path, tiny_models) -> None:
    from vmaf_tiny.scoring import score

    missing = tmp_path / "missing.y4m"
    with pytest.raises(BadInputError, match="unknown model id"):
        score(missing, missing, "vmaf_tiny_v9")
    with pytest.raises(BadInputError, match="no int8 file"):
        score(missing, missing, "vmaf_tiny_v2", int8=True)
    with pytest.raises(BadInputError, match="use --no-reference"):
        score(missing, missing, "nr_metric_v1")
    path, _ = tiny_models.fr_mlp(tmp_path, "bad_sidecar")
    sidecar = path.with_suffix(".json")
    sidecar.write_text(sidecar.read_text().replace('"kind": "fr"', '"kind": "xx"'))
    with pytest.raises(BadModelError, match="sidecar_schema"):
        score(missing, missing, path)
    with pytest.raises(BadModelError, match="regular_file"):
        score(missing, missing, tmp_path / "nope.onnx")


def test_a_model_failing_its_graph_checks_is_still_refused(
    tmp_path: Path, tiny_models, runtime_clips: dict[str, Path]
) -> None:
    from vmaf_tiny.guard import guard_model
    from vmaf_tiny.scoring import score

    path = tiny_models.if_model(tmp_path, "hidden", then_op="Scan")
    with pytest.raises(BadModelError) as direct:
        guard_model(path)
    with pytest.raises(BadModelError) as scored:
        score(runtime_clips["ref"], runtime_clips["dis"], path, backend="cpu")
    assert str(scored.value) == str(direct.value)
    assert "operators" in str(scored.value)


def test_background_load_scores_like_a_loaded_model(runtime_clips: dict[str, Path]) -> None:
    from vmaf_tiny.scoring import score
    from vmaf_tiny.session import load_model

    ref, dis = runtime_clips["ref"], runtime_clips["dis"]
    lm = load_model("vmaf_tiny_v2", backend="cpu")
    a = score(ref, dis, "vmaf_tiny_v2", backend="cpu")
    b = score(ref, dis, lm, backend="cpu")
    assert a.frames.tolist() == b.frames.tolist() and a.n_frames == 12
    assert a.provider == b.provider == "CPUExecutionProvider"
    assert a.seconds["load"] > 0 and a.seconds["total"] >= a.seconds["features"]


def test_p5_pooling_is_numpy_percentile_bit_for_bit() -> None:
    import numpy as np

    from vmaf_tiny.scoring import percentile_linear, pool_scores

    rng = np.random.default_rng(7)
    for n in (1, 2, 3, 7, 48, 299, 300, 1001):
        x = rng.normal(80.0, 12.0, n)
        for q in (0.0, 1.0, 5.0, 37.5, 50.0, 95.0, 100.0, float(rng.uniform(0, 100))):
            assert percentile_linear(x, q) == float(np.percentile(x, q)), (n, q)
        assert pool_scores(x)["p5"] == float(np.percentile(x, 5))
    with pytest.raises(BadInputError):
        percentile_linear(np.array([]), 5.0)
