"""vmaf-train refuses output paths it cannot (or must not) write before any work, in one line
(exit 2): --force never deletes a folder that is not a finished run, a run is never the current
folder, int8 never overwrites its fp32 source, damaged run files are one-line errors, and a
damaged cache row is recomputed on resume."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import one_line_error
from vmaf_tiny.errors import BadInputError
from vmaf_train.fit.run_dir import check_run_dir

VMAF_TRAIN = Path(sys.executable).parent / "vmaf-train"
REPO = Path(__file__).resolve().parents[2]
Runner = Callable[..., subprocess.CompletedProcess[str]]
SPLIT = ["--set", "split.val_frac=0.34", "--set", "split.test_frac=0.33"]


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The console script in a child process (what a user runs: its start-up, its cwd)."""
    return subprocess.run(
        [str(VMAF_TRAIN), *args], capture_output=True, text=True, check=False, cwd=cwd
    )


@pytest.fixture
def run_here(capsys: pytest.CaptureFixture[str]) -> Runner:
    """The same command line through the same entry point (``run_app``, the one-line error
    contract) in this process: seconds cheaper than a child that imports torch again."""
    from vmaf_tiny.console import run_app
    from vmaf_train.cli import app

    def call(*args: str) -> subprocess.CompletedProcess[str]:
        capsys.readouterr()
        try:
            run_app(app, list(args), prog_name="vmaf-train")
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        else:  # pragma: no cover - run_app always exits
            code = 0
        out = capsys.readouterr()
        return subprocess.CompletedProcess(list(args), code, out.out, out.err)

    return call


def test_force_never_deletes_a_folder_that_is_not_a_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "keep.txt").write_text("precious")
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    for here in ("", ".", "..", str(tmp_path / "sub" / "..")):
        with pytest.raises(BadInputError, match="folder of its own"):
            check_run_dir(Path(here), force=True)
    other = tmp_path / "notarun"
    other.mkdir()
    (other / "keep.txt").write_text("precious")
    with pytest.raises(BadInputError, match=r"no metrics\.json"):
        check_run_dir(other, force=True)
    with pytest.raises(BadInputError, match="use --force"):
        check_run_dir(other, force=False)
    check_run_dir(other, force=False, replaces=False)  # pixel runs resume into RUN
    (other / "metrics.json").write_text("{}")
    with pytest.raises(BadInputError, match=r"has no config\.json"):  # metrics.json alone: no run
        check_run_dir(other, force=True)
    for name in ("config.json", "model.onnx"):
        (other / name).write_text("{}")
    check_run_dir(other, force=True)  # a finished run may be replaced
    with pytest.raises(BadInputError, match="inside the run"):
        check_run_dir(other, force=True, inputs={"--features": other / "f.parquet"})
    (tmp_path / "link").symlink_to(other)
    with pytest.raises(BadInputError, match="symbolic link"):
        check_run_dir(tmp_path / "link", force=True)
    (tmp_path / "afile").write_text("")
    with pytest.raises(BadInputError, match="is a file, not a folder"):
        check_run_dir(tmp_path / "afile" / "run", force=False)
    assert (tmp_path / "keep.txt").read_text() == (other / "keep.txt").read_text() == "precious"


def test_fit_into_the_current_folder_is_refused_and_deletes_nothing(
    smoke_features: Path, tmp_path: Path
) -> None:
    (tmp_path / "keep.txt").write_text("precious")
    proc = _run(
        "fit", "-c", "vmaf_tiny_v2", "-f", str(smoke_features), "-o", "", "--force", *SPLIT,
        cwd=tmp_path,
    )  # fmt: skip
    one_line_error(proc, "a run needs a folder of its own")
    assert proc.stderr.strip().startswith("error:")  # no banner before the refusal
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_output_paths_under_a_file_and_bad_values_are_one_line(
    smoke_corpus: Path, smoke_features: Path, tmp_path: Path, run_here: Runner
) -> None:
    afile = tmp_path / "afile"
    afile.write_text("")
    cases = [
        (["corpus", "build", "-c", "smoke", "-o", str(afile)], "is a file, not a folder"),
        (["corpus", "build", "-c", "smoke", "-o", str(tmp_path / "c"), "--cache", str(afile)],
         "--cache"),
        (["corpus", "build", "-c", "smoke", "-o", str(tmp_path / "c"), "--serial", "-w", "2"],
         "drop --workers"),
        (["loso", "-c", "vmaf_tiny_v2", "-f", str(smoke_features), "-o", str(afile / "x")],
         "is a file, not a folder"),
        (["extract-features", "-o", str(afile / "x.parquet"), "-r", "a.y4m", "-d", "b.y4m"],
         "is not a directory"),
        (["extract-features", "-o", str(tmp_path / "x.parquet"), "--mos", "inf", "-r", "a.y4m",
          "-d", "b.y4m"], "--mos must be finite"),
        (["eval", "-m", "vmaf_tiny_v2", "-f", str(smoke_features), "--val-frac", "nan"],
         "split fractions"),
        (["loso", "-c", "vmaf_tiny_v2", "-f", str(tmp_path / "no.parquet"), "-o",
          str(tmp_path / "l")], "no such file"),
    ]  # fmt: skip
    for args, fragment in cases:
        one_line_error(run_here(*args), fragment)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_int8_never_overwrites_fp32_and_register_reads_damaged_runs_in_one_line(
    smoke_features: Path, tmp_path: Path, run_here: Runner
) -> None:
    zoo = REPO / "src" / "vmaf_tiny" / "zoo"
    fp32 = tmp_path / "m.onnx"
    shutil.copy(zoo / "vmaf_tiny_v2.onnx", fp32)
    shutil.copy(zoo / "vmaf_tiny_v2.json", tmp_path / "m.json")
    before = fp32.read_bytes()
    one_line_error(
        run_here("quantize-int8", "-m", str(fp32), "-f", str(smoke_features), "-o", str(fp32)),
        "would overwrite the fp32 model",
    )
    assert fp32.read_bytes() == before
    run = tmp_path / "run"
    run.mkdir()
    for name in ("config.json", "model.json"):
        (run / name).write_text("{}")
    shutil.copy(fp32, run / "model.onnx")
    for text, fragment in (("{x", "not valid JSON"), ("[]", "expected a JSON object")):
        (run / "metrics.json").write_text(text)
        one_line_error(run_here("register", str(run), "--zoo", str(tmp_path / "zoo")), fragment)
    (tmp_path / "afile").write_text("")
    (run / "metrics.json").write_text(json.dumps({"test": {}}))
    one_line_error(run_here("register", str(run), "--zoo", str(tmp_path / "afile")), "--zoo")
    side = json.loads((tmp_path / "m.json").read_text())
    (run / "model.json").write_text(json.dumps({**side, "onnx": "model.onnx"}))
    for config, fragment in (
        ({"id": "vmaf_tiny_v2", "arch": 5}, "lack what a fit run writes"),
        ({}, "not this run"),
    ):
        (run / "config.json").write_text(json.dumps(config))
        one_line_error(run_here("register", str(run), "--zoo", str(tmp_path / "zoo")), fragment)
    assert not (tmp_path / "zoo").exists()


def test_a_damaged_cached_row_is_recomputed_on_resume(
    smoke_corpus: Path, tmp_path: Path, run_here: Runner
) -> None:
    corpus = tmp_path / "c"
    shutil.copytree(smoke_corpus, corpus)
    row = sorted((corpus / "cache" / "rows").glob("*.json"))[0]
    good = json.loads(row.read_text())
    row.write_text("garbage")
    proc = run_here("corpus", "build", "-c", "smoke", "-o", str(corpus), "--serial", "--json")
    assert proc.returncode == 0, proc.stderr
    assert (
        json.loads(proc.stdout)["manifest_sha256"]
        == json.loads((smoke_corpus / "manifest.json").read_text())["manifest_sha256"]
    )
    assert json.loads(row.read_text())["columns"] == good["columns"]


def test_fit_refuses_a_manifest_that_is_not_its_features(
    smoke_corpus: Path, tmp_path: Path, run_here: Runner
) -> None:
    from vmaf_train.data.manifest import finalize_manifest

    feats = tmp_path / "features.parquet"
    shutil.copy(smoke_corpus / "features.parquet", feats)
    man = json.loads((smoke_corpus / "manifest.json").read_text())
    for text, fragment in (
        ("{not json", "not JSON"),
        ("{}", "does not match its content"),
        (json.dumps({**man, "manifest_sha256": "0" * 64}), "does not match its content"),
        (json.dumps(finalize_manifest(
            {**man, "outputs": [{"file": "features.parquet", "sha256": "0" * 64}]})),
         "lists another features.parquet"),
    ):  # fmt: skip
        (tmp_path / "manifest.json").write_text(text)
        proc = run_here("fit", "-c", "vmaf_tiny_v2", "-f", str(feats), "-o", str(tmp_path / "r"))
        one_line_error(proc, fragment)
    assert not (tmp_path / "r").exists()


def test_ctrl_c_on_a_dask_build_is_quiet(tmp_path: Path) -> None:
    """A terminal's Ctrl-C reaches the whole process group: the Dask workers must not each
    print a traceback (they start with SIGINT ignored; the CLI closes the cluster)."""
    import os
    import signal

    proc = subprocess.Popen(
        [str(VMAF_TRAIN), "corpus", "build", "-c", "smoke", "-o", str(tmp_path / "c"),
         "-w", "2", "--no-progress"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    assert proc.stderr is not None
    first = proc.stderr.readline()  # printed once the cluster is up, before the work
    assert "local dask" in first, first
    os.killpg(proc.pid, signal.SIGINT)
    rest = proc.stderr.read()
    assert proc.wait(timeout=120) == 130, rest
    assert "Traceback" not in rest, rest


def test_eval_without_bootstrap_does_not_claim_intervals(
    smoke_features: Path, run_here: Runner
) -> None:
    for extra in ([], ["--mapping", "linear"]):
        proc = run_here(
            "eval", "-m", "vmaf_tiny_v2", "-f", str(smoke_features), "--n-boot", "0", "--json",
            "--val-frac", "0.34", "--test-frac", "0.33", *extra,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        note = json.loads(proc.stdout)["note"]
        assert "no confidence intervals" in note and "bootstrap" not in note, note
