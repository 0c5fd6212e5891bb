"""Resource bounds at load time, score plausibility, and registry ids vs local paths (issue 10)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from tests.support.hostile_models import HOSTILE, HostileCase, build_all
from vmaf_tiny.bounds import (
    MAX_FRAME_PIXELS,
    MAX_TENSOR_BYTES,
    MAX_THREADS,
    MAX_WORKERS,
    check_threads,
    check_workers,
    score_bounds,
)
from vmaf_tiny.errors import BadInputError, BadModelError
from vmaf_tiny.guard import _is_shipped, check_model, guard_model
from vmaf_tiny.parallel import make_executor
from vmaf_tiny.registry import AmbiguousModelWarning, resolve_model, shipped_zoo, verify_registry
from vmaf_tiny.scoring import finish_scores, score
from vmaf_tiny.session import load_model, session_options
from vmaf_tiny.shape_sandbox import SANDBOX_TIMEOUT_S
from vmaf_tiny.sidecar import sidecar_contract, validate_sidecar
from vmaf_tiny.tensor_sizes import tensor_size_problem

CLI = [sys.executable, "-c", "from vmaf_tiny.cli import main; main()"]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_all(tmp_path_factory.mktemp("hostile"))


# VmHWM is the peak of this program's own address space; getrusage's ru_maxrss would also count
# the test process's memory that the child held between fork and exec.
_RSS_CLI = (
    "import atexit, os\n"
    "def _rss():\n"
    "    hwm = [ln.split()[1] for ln in open('/proc/self/status') if ln.startswith('VmHWM:')]\n"
    "    with open(os.environ['RSS_FILE'], 'w') as fh:\n"
    "        fh.write(hwm[0])\n"
    "atexit.register(_rss)\n"
    "from vmaf_tiny.cli import main\n"
    "main()\n"
)


def _run_rss(args: list[str], tmp: Path) -> tuple[int, str, float]:
    """Run the CLI; (exit code, stderr, the CLI process's own peak RSS in MiB).

    Measured inside the child at exit (``VmHWM``, in KiB): a forked child's ``wait4`` or
    ``ru_maxrss`` figure would include the test process's memory at fork time.
    """
    rss_file = tmp / "rss.txt"
    env = {**os.environ, "RSS_FILE": str(rss_file)}
    proc = subprocess.run(
        [sys.executable, "-c", _RSS_CLI, *args], capture_output=True, text=True, env=env
    )
    return proc.returncode, proc.stderr, int(rss_file.read_text()) / 1024


@pytest.mark.parametrize("case", [c for c in HOSTILE if c.stage == "load"], ids=lambda c: c.name)
def test_hostile_model_is_refused_at_load(case: HostileCase, hostile: dict[str, Path]) -> None:
    path = hostile[case.name]
    if case.name != "oversize":  # tiny files that ask for gigabytes
        assert path.stat().st_size < (1 << 20 if case.name == "rank_bomb" else 1024)
    t0 = time.perf_counter()
    with pytest.raises(BadModelError) as info:
        guard_model(path)
    msg = str(info.value)
    assert "\n" not in msg and f": {case.check}: " in msg, msg
    # refused well inside the sandbox's time limit, never by it (wall time on a shared CI
    # machine: a few seconds for the cases the child's memory limit stops, not the limit's 30)
    assert "ran past its" not in msg, msg
    assert time.perf_counter() - t0 < SANDBOX_TIMEOUT_S / 2
    report = check_model(path)
    assert [c.name for c in report.failures][:1] == [case.check]


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("cos_3gib", "tensor 'big' would hold 3"),
        ("cast_bomb", "Cast node reads the 1-D tensor 'small' of 200,000,000 elements"),
        ("tile_cast", "Cast node reads the 1-D tensor 'long' of 100,000,000 elements"),
        ("cast_bomb_shape", "shape inference needed more than its 512 MiB memory limit"),
        ("expand_shape_cast", "shape inference needed more than its 512 MiB memory limit"),
        ("rank_bomb", "ConstantOfShape node (unnamed): its constant input 'rshape' asks for rank"),
        ("if_name_clash", "tensor 'big' would hold 3.00 GiB"),
    ],
)
def test_check_cli_refuses_memory_bombs_without_allocating(
    hostile: dict[str, Path], tmp_path: Path, name: str, says: str
) -> None:
    """cos_3gib: 3.3 GB peak before the size check; the Cast bombs: 28 GB, 8 GB and 14 GB inside
    ONNX's own shape inference before its first, data-propagation-free pass; expand_shape_cast:
    8 GB that only data propagation itself can size (stopped by the sandbox's cap, outside this
    process); rank_bomb: 1 GB in the first pass."""
    rc, err, rss = _run_rss(["check", "-m", str(hostile[name])], tmp_path)
    assert rc == 2, err
    assert err.strip().startswith(f"error: {name}.onnx: tensor_sizes: {says}"), err
    assert "Traceback" not in err
    assert rss < 600, f"peak RSS {rss:.0f} MiB"


@pytest.mark.parametrize("name", ["out_6e30", "out_6e30_clamped", "out_nan"])
def test_absurd_scores_are_refused_when_scoring(
    name: str, hostile: dict[str, Path], runtime_clips: dict[str, Path]
) -> None:
    path = hostile[name]
    assert guard_model(path)  # passes every load-time check
    proc = subprocess.run(
        [*CLI, "score", "-m", str(path), "-r", str(runtime_clips["ref"]), "-d",
         str(runtime_clips["dis"]), "--json"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and not proc.stdout.strip()
    phrase = next(c.check for c in HOSTILE if c.name == name)
    assert phrase in lines[0], lines[0]


def test_score_bounds_follow_the_declared_range() -> None:
    # the declared range widened by 25 % of its width on each side
    assert score_bounds({"output": {"target": "vmaf"}}) == (-25.0, 125.0)
    assert score_bounds({"output": {"target": "mos", "range": [1.0, 5.0]}}) == pytest.approx(
        (0.0, 6.0)
    )
    side = {"id": "m", "output": {"target": "mos", "range": [1.0, 5.0], "clamp": False}}
    np.testing.assert_array_equal(finish_scores(side, np.array([0.1, 5.9])), [0.1, 5.9])
    mos_msg = r"model m produced score 6\.5 at row 1, outside .*\[0, 6\]"
    with pytest.raises(BadModelError, match=mos_msg):
        finish_scores(side, np.array([3.0, 6.5]))
    unclamped = {"id": "u", "output": {"target": "vmaf", "range": [0, 100], "clamp": False}}
    with pytest.raises(BadModelError, match=r"model u produced score 150 at row 0, .*\[-25, 125\]"):
        finish_scores(unclamped, np.array([150.0, 50.0]))
    clamped = {"id": "m", "output": {"target": "vmaf", "range": [0, 100], "clamp": True}}
    # a small overshoot is clipped...
    np.testing.assert_array_equal(finish_scores(clamped, np.array([105.0, -3.0])), [100.0, 0.0])
    # ...an absurd raw output is refused before the clamp could hide it
    for raw in (1e30, -1e30, 125.5, -25.5):
        with pytest.raises(
            BadModelError, match=r"model m produced score .* outside .*\[-25, 125\]"
        ):
            finish_scores(clamped, np.array([50.0, raw]))
    with pytest.raises(BadModelError, match="non-finite score"):
        finish_scores(clamped, np.array([1.0, np.nan]))


def test_frame_size_caps() -> None:
    base = json.loads((shipped_zoo() / "nr_metric_v1.json").read_text())
    big = json.loads(json.dumps(base))
    big["frame"]["resize"] = [8192, 8192]
    with pytest.raises(BadModelError, match="greater than the maximum of 3840"):
        validate_sidecar(big)
    square = json.loads(json.dumps(base))
    square["frame"]["resize"] = [3840, 3840]  # each side allowed, the area is not
    square["inputs"][0]["shape"] = ["N", 1, 3840, 3840]
    assert MAX_FRAME_PIXELS < 3840 * 3840
    problem = sidecar_contract(validate_sidecar(square))
    assert problem and "the cap is 3840x2160" in problem
    portrait = json.loads(json.dumps(base))
    portrait["frame"]["resize"] = [2160, 3840]
    portrait["inputs"][0]["shape"] = ["N", 1, 3840, 2160]
    assert sidecar_contract(validate_sidecar(portrait)) is None


@pytest.mark.parametrize("extra", [1, 1 << 20])
def test_over_cap_message_never_reads_as_the_cap(extra: int) -> None:
    """A tensor a few bytes over the cap is not reported as "1.00 GiB ... over the 1.00 GiB cap"."""
    n = (MAX_TENSOR_BYTES + 4 * extra) // 4
    value = helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0])
    graph = helper.make_graph(
        [helper.make_node("ConstantOfShape", ["shape"], ["big"], value=value)],
        "g",
        [],
        [helper.make_tensor_value_info("big", TensorProto.FLOAT, [n])],
        [numpy_helper.from_array(np.array([n], np.int64), "shape")],
    )
    problem, _ = tensor_size_problem(helper.make_model(graph), {})
    assert problem is not None and "over the" in problem
    held = problem.split("would hold ")[1].split(" (shape")[0]
    cap = problem.split("over the ")[1].removesuffix(" cap")
    assert not cap.startswith(held), problem
    if extra == 1:
        assert f"{n * 4:,} bytes" in problem and f"{MAX_TENSOR_BYTES:,} bytes" in problem


def test_shipped_zoo_passes_the_bounds() -> None:
    report = verify_registry()
    assert report.ok, report.failures
    for onnx_path in sorted(shipped_zoo().glob("*.onnx")):
        checks = {c.name: c for c in check_model(onnx_path).checks}
        assert checks["tensor_sizes"].status == "pass", onnx_path.name


def test_sandboxed_data_propagation_agrees_with_in_process(tmp_path: Path) -> None:
    """nr_metric_v2 (the shipped model whose Slice bounds need data propagation): the sandboxed
    pass sizes every tensor the in-process one does; only a copy outside the shipped zoo (or a
    hash mismatch) pays for the child."""
    ref = resolve_model("nr_metric_v2")
    model = onnx.load(ref.onnx)
    side = json.loads(Path(ref.sidecar).read_text())
    sandboxed = tensor_size_problem(model, side, sandbox=True)
    assert sandboxed == tensor_size_problem(model, side, sandbox=False)
    assert sandboxed[0] is None and sandboxed[1].startswith("largest tensor 'frame'")
    assert _is_shipped(Path(os.path.realpath(ref.onnx)), ref.sha256)
    assert not _is_shipped(Path(os.path.realpath(ref.onnx)), "0" * 64)  # edited in place
    copy = tmp_path / Path(ref.onnx).name
    copy.write_bytes(Path(ref.onnx).read_bytes())
    (tmp_path / Path(ref.sidecar).name).write_bytes(Path(ref.sidecar).read_bytes())
    assert not _is_shipped(copy, ref.sha256)
    checks = {c.name: c for c in check_model(copy, expected_sha256=ref.sha256).checks}
    assert checks["sha256"].status == "pass" and checks["tensor_sizes"].status == "pass"
    assert checks["tensor_sizes"].detail == sandboxed[1]


def test_if_branches_sharing_a_name_are_each_checked_in_their_own_graph(tmp_path: Path) -> None:
    """Both branches define ``tmp``: an Expand to a constant [1, 6] in one, a Reshape whose shape
    depends on values (it cannot grow a tensor) in the other. The Expand's output is sized in its
    own branch, so the model passes (the hostile case if_name_clash is the refused kind)."""
    from tests.support.hostile_models import _fr_plus, _fr_sidecar, _write

    def const(name: str, values: list[int]) -> onnx.NodeProto:
        array = np.array(values if len(values) > 1 else values[0], np.int64)
        return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(array, "c"))

    def branch(name: str, nodes: list[onnx.NodeProto]) -> onnx.GraphProto:
        nodes = [*nodes, helper.make_node("ReduceMean", ["tmp"], ["r"], keepdims=0)]
        out = helper.make_tensor_value_info("r", TensorProto.FLOAT, [])
        return helper.make_graph(nodes, name, [], [out])

    expand = [const("s", [1, 6]), helper.make_node("Expand", ["features", "s"], ["tmp"])]
    by_value = [
        helper.make_node("ReduceMax", ["features"], ["mx"], keepdims=0),
        helper.make_node("Cast", ["mx"], ["mi"], to=TensorProto.INT64),
        const("z", [0]),
        helper.make_node("Mul", ["mi", "z"], ["mz"]),
        const("base", [1, -1]),
        helper.make_node("Add", ["base", "mz"], ["s"]),
        helper.make_node("Reshape", ["features", "s"], ["tmp"]),
    ]
    nodes = [
        helper.make_node("ReduceMax", ["features"], ["fmax"], keepdims=0),
        helper.make_node("Greater", ["fmax", "half"], ["cond"]),
        helper.make_node(
            "If", ["cond"], ["side"], then_branch=branch("t", expand),
            else_branch=branch("e", by_value),
        ),
    ]  # fmt: skip
    half = numpy_helper.from_array(np.array(0.5, np.float32), "half")
    path = _write(tmp_path, "share", _fr_plus(nodes, [half], "side"), _fr_sidecar("share"))
    checks = {c.name: c for c in check_model(path).checks}
    assert checks["tensor_sizes"].status == "pass", checks["tensor_sizes"].detail


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_sandbox_child_dies_with_its_parent(tmp_path: Path) -> None:
    """A model whose shape inference runs long (a computed rank-65,536 tensor fed 65,536 times
    into each of 4 Sums: about 30 s of CPU) is being checked when the checking process is killed:
    the child goes with it instead of running on its own."""
    from tests.support.hostile_models import _fr_plus, _fr_sidecar, _i64, _write

    fill = helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0])
    nodes = [
        helper.make_node("Concat", ["one"] * 256, ["c1"], axis=0),
        helper.make_node("Concat", ["c1"] * 256, ["shp"], axis=0),
        helper.make_node("ConstantOfShape", ["shp"], ["t0"], value=fill),
        *[helper.make_node("Sum", ["t0"] * 65536, [f"s{i}"]) for i in range(4)],
        helper.make_node("Sum", [f"s{i}" for i in range(4)], ["tot"]),
    ]
    path = _write(tmp_path, "slow", _fr_plus(nodes, [_i64("one", [1])], "tot"), _fr_sidecar("slow"))
    parent = subprocess.Popen([*CLI, "check", "-m", str(path)], stderr=subprocess.DEVNULL)
    try:
        child = None
        for _ in range(200):  # the child starts after the cheap checks
            time.sleep(0.05)
            kids = Path(f"/proc/{parent.pid}/task/{parent.pid}/children")
            pids = kids.read_text().split() if kids.exists() else []
            if pids:
                child = int(pids[0])
                break
        assert child is not None, "no sandbox child started"
        time.sleep(0.5)  # past its start-up
        parent.kill()
        parent.wait()
        for _ in range(60):
            if not Path(f"/proc/{child}").exists() or _zombie(child):
                break
            time.sleep(0.05)
        gone = not Path(f"/proc/{child}").exists() or _zombie(child)
        assert gone, "the child outlived its parent"
    finally:
        parent.kill()


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_sandbox_child_ignores_the_callers_python_environment(tmp_path: Path) -> None:
    """The child runs isolated on the parent's import path: a PYTHONPATH shadow of the sandbox
    module or PYTHONINSPECT cannot decide the verdict, and a hard address-space limit below the
    child's own cap (480 MiB) is kept rather than refused."""
    ref = resolve_model("nr_metric_v2")
    for src in (ref.onnx, ref.sidecar):
        (tmp_path / Path(src).name).write_bytes(Path(src).read_bytes())
    shadow = tmp_path / "shadow" / "vmaf_tiny"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("")
    marker = tmp_path / "marker"
    (shadow / "shape_sandbox.py").write_text(
        f"open({str(marker)!r}, 'w').close()\n"
        "def main():\n    import sys; sys.stdout.buffer.write(b'Pshadowed')\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(shadow.parent),
        "PYTHONINSPECT": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }
    code = (
        "from vmaf_tiny.guard import check_model\n"
        f"r = check_model({str(tmp_path / Path(ref.onnx).name)!r})\n"
        "print([c.detail for c in r.checks if c.name == 'tensor_sizes'][0])\n"
    )

    def low_limit() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (480 << 20, 480 << 20))

    proc = subprocess.run(
        [sys.executable, "-I", "-c", code], env=env, capture_output=True, text=True,
        preexec_fn=low_limit,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("largest tensor 'frame'"), proc.stdout
    assert not marker.exists()


def test_session_arena_stops_a_batch_amplification(tmp_path: Path) -> None:
    """Tile by 50000 rows: 1.1 MiB per frame passes the load-time bound; 20000 frames in one
    batch ask for 22 GiB, which the capped arena refuses at once (no allocation)."""
    x = helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", 6])
    y = helper.make_tensor_value_info("score", TensorProto.FLOAT, ["N", 1])
    nodes = [
        helper.make_node("Tile", ["features", "reps"], ["big"]),
        helper.make_node("ReduceMean", ["big"], ["m"], keepdims=0),
        helper.make_node("Gemm", ["features", "W", "B"], ["lin"]),
        helper.make_node("Mul", ["m", "zero"], ["mz"]),
        helper.make_node("Add", ["lin", "mz"], ["score"]),
    ]
    inits = [
        numpy_helper.from_array(np.array([50000, 1], np.int64), "reps"),
        numpy_helper.from_array(np.ones((6, 1), np.float32), "W"),
        numpy_helper.from_array(np.array([50.0], np.float32), "B"),
        numpy_helper.from_array(np.array([0.0], np.float32), "zero"),
    ]
    model = helper.make_model(
        helper.make_graph(nodes, "g", [x], [y], inits), opset_imports=[helper.make_opsetid("", 17)]
    )
    model.ir_version = 8
    from tests.support.hostile_models import _fr_sidecar

    (tmp_path / "tile_rows.onnx").write_bytes(model.SerializeToString())
    (tmp_path / "tile_rows.json").write_text(json.dumps(_fr_sidecar("tile_rows")))
    lm = load_model(tmp_path / "tile_rows.onnx", backend="cpu")
    assert lm.run({"features": np.ones((2, 6), np.float32)})[0].shape == (2, 1)
    t0 = time.perf_counter()
    with pytest.raises(BadModelError, match="failed to run"):
        lm.run({"features": np.ones((20000, 6), np.float32)})
    assert time.perf_counter() - t0 < 5


# ---------------------------------------------------------------------------- registry ids


def test_local_folder_does_not_take_over_a_registry_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "vmaf_tiny_v2").mkdir()
    (tmp_path / "vmaf_tiny_v2" / "evil.onnx").write_bytes(b"x")
    with pytest.warns(AmbiguousModelWarning, match="using the registry model"):
        ref = resolve_model("vmaf_tiny_v2")
    assert ref.model_id == "vmaf_tiny_v2" and ref.onnx.parent == shipped_zoo()
    assert ref.sha256  # the registry hash is enforced
    local = resolve_model("./vmaf_tiny_v2")
    assert local.model_id is None and local.onnx == Path("./vmaf_tiny_v2")
    (tmp_path / "mine").write_bytes(b"x")  # a bare name the registry does not know: a path
    assert resolve_model("mine").onnx == Path("mine")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_model("vmaf_tiny_v3").model_id == "vmaf_tiny_v3"  # no local: no warning
    with pytest.raises(BadInputError, match="unknown model id 'vmaf_tiny_v9'"):
        resolve_model("vmaf_tiny_v9")


def test_cli_says_which_model_an_ambiguous_name_used(
    tmp_path: Path, runtime_clips: dict[str, Path]
) -> None:
    (tmp_path / "vmaf_tiny_v2").mkdir()
    proc = subprocess.run(
        [*CLI, "score", "-m", "vmaf_tiny_v2", "-r", str(runtime_clips["ref"]), "-d",
         str(runtime_clips["dis"]), "--json"],
        capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["model"] == "vmaf_tiny_v2"
    warn = [ln for ln in proc.stderr.splitlines() if "registry id and also a local path" in ln]
    assert len(warn) == 1 and warn[0].startswith("warning: "), proc.stderr


def test_thread_and_worker_counts_are_capped(runtime_clips: dict[str, Path]) -> None:
    """--threads 100000 once started 32k threads: every entry point refuses it in one line."""
    assert (MAX_THREADS, MAX_WORKERS) == (256, 256)
    assert check_threads(MAX_THREADS) == MAX_THREADS and check_workers(1) == 1
    for bad in (0, -1, MAX_THREADS + 1, 100_000, True, 2.0, "4"):
        with pytest.raises(BadInputError, match=r"--threads must be an integer in 1\.\.256"):
            check_threads(bad)  # type: ignore[arg-type]
        with pytest.raises(BadInputError, match=r"--workers must be an integer in 1\.\.256"):
            check_workers(bad)  # type: ignore[arg-type]
    with pytest.raises(BadInputError, match=r"1\.\.256, got 100000"):
        session_options(100_000)
    with pytest.raises(BadInputError, match=r"1\.\.256, got 257"):
        load_model("vmaf_tiny_v2", threads=257)
    t0 = time.perf_counter()
    with pytest.raises(BadInputError, match=r"1\.\.256, got 100000"):  # before any libvmaf pass
        score(runtime_clips["ref"], runtime_clips["dis"], threads=100_000)
    assert time.perf_counter() - t0 < 5
    with pytest.raises(BadInputError, match=r"1\.\.256, got 100000"):
        make_executor(workers=100_000)
