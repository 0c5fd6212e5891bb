"""The corpus builder: schema, determinism (serial vs Dask, killed and resumed), failures."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vmaf_tiny.ffmpeg import FFmpeg
from vmaf_tiny.fsutil import sha256_file
from vmaf_train.data.corpus import build_corpus
from vmaf_train.data.corpus_config import load_corpus_config
from vmaf_train.data.extra_teachers import teacher_columns
from vmaf_train.data.manifest import read_manifest
from vmaf_train.data.table import SCHEMA, read_features
from vmaf_train.parallel import make_executor

REPO = Path(__file__).resolve().parents[3]
SMOKE = REPO / "configs" / "corpus" / "smoke.toml"
CLI = [sys.executable, "-c", "from vmaf_train.cli import main; main()"]


def test_smoke_corpus_table_and_manifest(smoke_corpus: Path) -> None:
    table = read_features(smoke_corpus / "features.parquet")
    cfg = load_corpus_config(SMOKE)
    fixed = pa.schema(list(table.schema)[: len(SCHEMA)])
    assert fixed.remove_metadata() == SCHEMA.remove_metadata()
    # then the teachers' columns (tests/vmaf_train/data/test_extra_teachers.py)
    assert table.column_names[len(SCHEMA) :] == list(teacher_columns(cfg.teachers))
    n_clips = len(cfg.sources) * len(cfg.distortions)
    assert table.num_rows == n_clips * cfg.frames
    assert set(table.column("codec").to_pylist()) == {
        "libx264",
        "libx265",
        "libvpx-vp9",
        "libsvtav1",
        "libaom-av1",
        "none",
    }
    assert set(table.column("source_kind").to_pylist()) == {"natural", "synthetic"}
    vmaf = table.column("vmaf").to_numpy()
    assert 0 <= vmaf.min() < 60 and vmaf.max() > 95  # the grid spreads scores
    ladder = [r for r in table.to_pylist() if r["distortion"] == "ladder"]
    assert ladder and all(r["encode_width"] < r["width"] for r in ladder)
    meta = table.schema.metadata
    assert meta[b"vmaf_tiny.model_version"] == b"vmaf_v0.6.1"
    assert meta[b"vmaf_tiny.ffmpeg_version"].startswith(b"ffmpeg version")

    man = read_manifest(smoke_corpus / "manifest.json")  # checks manifest_sha256
    assert man["outputs"][0]["sha256"] == sha256_file(smoke_corpus / "features.parquet")
    assert len(man["clips"]) == n_clips
    for c in man["clips"][:5]:
        assert sha256_file(smoke_corpus / c["file"]) == c["sha256"]
    assert {i["file"] for i in man["inputs"]} >= {"skimage/data/astronaut.png"}
    assert man["summary"]["clips"] == n_clips
    assert len(man["summary"]["vmaf_deciles"]) == 11
    assert not (smoke_corpus / "failures.json").exists()


def test_two_worker_dask_build_equals_serial(
    smoke_corpus: Path, tmp_path: Path, ffmpeg: FFmpeg
) -> None:
    cfg = load_corpus_config(SMOKE)
    with make_executor(workers=2) as ex:
        res = build_corpus(cfg, tmp_path / "dask", executor=ex, ffmpeg=ffmpeg, progress=False)
    assert not res.failures
    a = (smoke_corpus / "features.parquet").read_bytes()
    b = (tmp_path / "dask" / "features.parquet").read_bytes()
    assert a == b
    assert (smoke_corpus / "manifest.json").read_bytes() == (
        tmp_path / "dask" / "manifest.json"
    ).read_bytes()


def test_killed_build_resumes_to_identical_parquet(smoke_corpus: Path, tmp_path: Path) -> None:
    """A second build into the same --out is refused while the first runs (exit 2, holder
    named); after the first is killed -9, a new build takes the stale lock and resumes."""
    out = tmp_path / "killed"
    cmd = [
        *CLI,
        "corpus",
        "build",
        "--config",
        str(SMOKE),
        "--out",
        str(out),
        "--serial",
        "--no-progress",
    ]
    proc = subprocess.Popen(
        cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    rows = out / "cache" / "rows"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if rows.is_dir() and len(list(rows.glob("*.json"))) >= 6:
            break
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGSTOP)  # hold it mid-build while a second build tries
    try:
        holder = json.loads((out / ".lock").read_text())
        assert holder["pid"] == proc.pid
        second = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert second.returncode == 2, second.stderr
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1, lines  # the lock is taken before anything is printed
    msg = lines[0]
    assert msg.startswith("error: ") and "Traceback" not in second.stderr
    assert f"is being built by pid {proc.pid} on host" in msg and "stale lock" in msg
    n_before = len(list(rows.glob("*.json")))
    assert 6 <= n_before < 27, "the build should have been killed mid-way"
    assert not (out / "features.parquet").exists()
    assert (out / ".lock").exists()  # left behind by the killed build
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert f"took over the stale lock {out / '.lock'} left by pid {proc.pid}" in done.stderr
    assert not (out / ".lock").exists()
    assert (out / "features.parquet").read_bytes() == (
        smoke_corpus / "features.parquet"
    ).read_bytes()
    assert not list(out.rglob(".*.tmp*"))


def test_failing_item_is_recorded_and_others_finish(tmp_path: Path) -> None:
    bad = tmp_path / "corrupt.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 20)
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        'name = "failing"\nframes = 4\n'
        '[[sources]]\nid = "good"\ntype = "lavfi"\ngraph = "testsrc2=size={size}:rate={fps}"\n'
        'size = "64x36"\n'
        '[[sources]]\nid = "broken"\ntype = "file"\npath = "corrupt.mp4"\nsize = "64x36"\n'
        '[[encode]]\ncodec = "libx264"\npresets = ["veryfast"]\ncrfs = [25, 40]\n'
    )
    out = tmp_path / "out"
    res = subprocess.run(
        [
            *CLI,
            "corpus",
            "build",
            "-c",
            str(cfg),
            "-o",
            str(out),
            "--serial",
            "--no-progress",
            "--json",
        ],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 1
    assert "3 of 4 items failed" in res.stderr or "failed" in res.stderr
    report = json.loads(res.stdout)
    assert report["n_failed"] == 3  # the source and its two clips
    failures = json.loads((out / "failures.json").read_text())["failures"]
    assert {f["item"] for f in failures} == {
        "broken",
        "broken__x264-veryfast-crf25",
        "broken__x264-veryfast-crf40",
    }
    assert all(f["error"] for f in failures)
    table = pq.read_table(out / "features.parquet")
    assert set(table.column("source_id").to_pylist()) == {"good"}
    assert table.num_rows == 2 * 4


@pytest.mark.parametrize(
    ("snippet", "message"),
    [
        ('[[encode]]\ncodec = "libx266"\npresets = ["fast"]\ncrfs = [30]\n', "unknown codec"),
        ('[[encode]]\ncodec = "libx264"\npresets = ["warp"]\ncrfs = [30]\n', "unknown preset"),
        ('[[encode]]\ncodec = "libx264"\npresets = ["fast"]\ncrfs = [99]\n', "crf must be"),
        (
            '[[encode]]\ncodec = "libx264"\npresets = ["fast"]\ncrfs = [30]\nbogus = 1\n',
            "unknown key",
        ),
        (
            'colour = "blue"\n[[encode]]\ncodec = "libx264"\npresets = ["fast"]\ncrfs = [30]\n',
            "unknown key",
        ),
    ],
)
def test_bad_config_is_one_line_exit_2(tmp_path: Path, snippet: str, message: str) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(
        'name = "bad"\nframes = 4\n'
        '[[sources]]\nid = "s"\ntype = "lavfi"\ngraph = "testsrc2"\nsize = "64x36"\n' + snippet
    )
    out = tmp_path / "out"
    res = subprocess.run(
        [*CLI, "corpus", "build", "-c", str(cfg), "-o", str(out)], capture_output=True, text=True
    )
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), res.stderr
    assert message in lines[0]
    assert not out.exists()


def test_bad_source_key_for_type(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(
        'name = "bad"\nframes = 4\n'
        '[[sources]]\nid = "s"\ntype = "lavfi"\ngraph = "testsrc2"\nimage = "astronaut"\n'
        'size = "64x36"\n[scale]\nfactors = [0.5]\n'
    )
    from vmaf_tiny.errors import BadInputError

    with pytest.raises(BadInputError, match="do not apply"):
        load_corpus_config(cfg)


@pytest.mark.parametrize("name", ["smoke", "demo", "standard", "saliency"])
def test_every_shipped_source_renders_deterministically(
    name: str, tmp_path: Path, ffmpeg: FFmpeg
) -> None:
    """Two renders of every source give the same bytes (ffmpeg's `gradients` source did not)."""
    from dataclasses import replace

    from vmaf_train.data.sources import render_reference

    cfg = load_corpus_config(REPO / "configs" / "corpus" / f"{name}.toml")
    for src in cfg.sources:
        small = replace(src, width=64, height=36)
        a = render_reference(small, tmp_path / "a.y4m", frames=3, fps=cfg.fps, ffmpeg=ffmpeg)
        b = render_reference(small, tmp_path / "b.y4m", frames=3, fps=cfg.fps, ffmpeg=ffmpeg)
        assert a.read_bytes() == b.read_bytes(), f"{name}: source {src.id} is not deterministic"


def test_build_on_an_existing_scheduler_equals_serial(
    smoke_corpus: Path, tmp_path: Path, ffmpeg: FFmpeg
) -> None:
    """``--scheduler tcp://...``: the same code on a cluster that outlives the build."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as cluster:
        cfg = load_corpus_config(SMOKE)
        with make_executor(scheduler=cluster.scheduler_address) as ex:
            assert ex.describe().startswith("dask scheduler tcp://")
            res = build_corpus(cfg, tmp_path / "remote", executor=ex, ffmpeg=ffmpeg,
                               progress=False)  # fmt: skip
        assert not res.failures
        assert len(cluster.scheduler_info["workers"]) == 2  # the cluster is still up
    assert (tmp_path / "remote" / "features.parquet").read_bytes() == (
        smoke_corpus / "features.parquet"
    ).read_bytes()


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ('type = "file"\npath = "nosuch.mp4"', "no such file: 'nosuch.mp4'"),
        ('type = "lavfi"\ngraph = "testsrc2=size={size}:foo={bar}"', r"placeholder \{bar\}"),
        ('type = "lavfi"\ngraph = "testsrc2=size={size}:foo={0}"', "placeholder"),
        ('type = "lavfi"\ngraph = "testsrc2=size={size.x}"', r"placeholder \{size\.x\}"),
        ('type = "lavfi"\ngraph = "testsrc2=size={size[0]}"', "placeholder"),
        ('type = "lavfi"\ngraph = "testsrc2=size={size"', "brace"),
    ],
)
def test_sources_that_cannot_render_fail_when_the_config_loads(
    tmp_path: Path, source: str, fragment: str
) -> None:
    from vmaf_tiny.errors import BadInputError

    cfg = tmp_path / "c.toml"
    cfg.write_text(
        f'name = "x"\nframes = 4\n[[sources]]\nid = "s"\n{source}\nsize = "64x36"\n'
        '[[encode]]\ncodec = "libx264"\npresets = ["veryfast"]\ncrfs = [25]\n'
    )
    with pytest.raises(BadInputError, match=fragment):
        load_corpus_config(cfg)


def test_a_build_where_every_item_fails_reports_it_without_a_crash(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        'name = "allfail"\nframes = 4\n[[sources]]\nid = "bad"\ntype = "lavfi"\n'
        'graph = "nosuchfilterx=size={size}:rate={fps}"\nsize = "64x36"\n'
        '[[encode]]\ncodec = "libx264"\npresets = ["veryfast"]\ncrfs = [25]\n'
    )
    res = subprocess.run(
        [*CLI, "corpus", "build", "-c", str(cfg), "-o", str(tmp_path / "o"), "--serial",
         "--no-progress"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert res.returncode == 1, res.stderr
    assert "Traceback" not in res.stderr and "internal error" not in res.stderr
    assert "error: 2 of 2 items failed" in res.stderr
