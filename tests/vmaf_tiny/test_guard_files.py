"""File-level guard checks: regular files only, the model-directory jail, external data."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import external_data_helper

from vmaf_tiny.errors import BadModelError
from vmaf_tiny.guard import ENV_MODEL_DIR, check_model, guard_model
from vmaf_tiny.session import load_model


def _refused(path: Path, check: str, text: str) -> str:
    with pytest.raises(BadModelError) as ei:
        guard_model(path)
    msg = str(ei.value)
    assert "\n" not in msg
    assert f": {check}: " in msg and text in msg, msg
    return msg


def _features() -> np.ndarray:
    rng = np.random.default_rng(3)
    return rng.random((5, 6), dtype=np.float32)


# ---------------------------------------------------------------------------- file types


def test_zero_byte_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.onnx"
    path.write_bytes(b"")
    _refused(path, "size_cap", "empty (0 bytes)")


def test_missing_file_and_directory_are_refused(tmp_path: Path) -> None:
    _refused(tmp_path / "nope.onnx", "regular_file", "no such file")
    (tmp_path / "dir.onnx").mkdir()
    _refused(tmp_path / "dir.onnx", "regular_file", "is a directory")


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.onnx"
    os.mkfifo(fifo)
    result: list[str] = []

    def attempt() -> None:
        try:
            guard_model(fifo)
        except BadModelError as exc:
            result.append(str(exc))

    t = threading.Thread(target=attempt, daemon=True)
    t0 = time.perf_counter()
    t.start()
    t.join(timeout=10)
    assert not t.is_alive(), "the guard blocked on a FIFO"
    assert time.perf_counter() - t0 < 10
    assert result and "regular_file" in result[0] and "FIFO" in result[0]


def test_device_file_is_refused() -> None:
    _refused(Path("/dev/zero"), "regular_file", "a device")


# ---------------------------------------------------------------------------- jail


def test_jail_accepts_inside_and_refuses_symlink_and_dotdot_escapes(
    tiny_models, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    jail = tmp_path / "jail"
    outside = tmp_path / "outside"
    inside_model, _ = tiny_models.fr_mlp(jail, "inside")
    outside_model, _ = tiny_models.fr_mlp(outside, "escapee")
    monkeypatch.setenv(ENV_MODEL_DIR, str(jail))

    assert guard_model(inside_model).report.ok
    # A symlink in the jail pointing out of it.
    link = jail / "escapee.onnx"
    link.symlink_to(outside_model)
    (jail / "escapee.json").write_bytes((outside / "escapee.json").read_bytes())
    _refused(link, "jail", "outside VMAF_TINY_MODEL_DIR")
    # A '..' path that leaves the jail.
    dotdot = jail / ".." / "outside" / "escapee.onnx"
    _refused(dotdot, "jail", "outside VMAF_TINY_MODEL_DIR")
    # A sidecar symlinked out of the jail.
    side = jail / "inside.json"
    target = outside / "inside.json"
    target.write_bytes(side.read_bytes())
    side.unlink()
    side.symlink_to(target)
    _refused(inside_model, "sidecar_file", "resolves outside VMAF_TINY_MODEL_DIR")
    # Without the jail, a symlinked model is fine.
    monkeypatch.delenv(ENV_MODEL_DIR)
    assert guard_model(link).report.ok


def test_jail_that_is_not_a_directory_is_an_error(
    tiny_models, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, _ = tiny_models.fr_mlp(tmp_path, "jj")
    monkeypatch.setenv(ENV_MODEL_DIR, str(tmp_path / "missing"))
    with pytest.raises(BadModelError, match="is not a directory"):
        guard_model(path)


# ---------------------------------------------------------------------------- external data


def _externalize(path: Path, location: str) -> onnx.ModelProto:
    """Move every initializer of ``path`` to external data at ``location`` (relative)."""
    model = onnx.load(str(path))
    external_data_helper.convert_model_to_external_data(
        model, all_tensors_to_one_file=True, location=location, size_threshold=0
    )
    return model


def test_external_data_beside_the_model_loads_and_scores_the_same(
    tiny_models, tmp_path: Path
) -> None:
    path, _ = tiny_models.fr_mlp(tmp_path, "inline")
    x = _features()
    want = load_model(path, backend="cpu").run({"features": x})[0]
    onnx.save_model(
        onnx.load(str(path)),
        str(path),
        save_as_external_data=True,
        location="inline.data",
        size_threshold=0,
    )
    assert (tmp_path / "inline.data").is_file()
    report = check_model(path)
    assert report.ok, report.failures
    ext = next(c for c in report.checks if c.name == "external_data")
    assert "1 file(s) beside the model" in ext.detail
    got = load_model(path, backend="cpu").run({"features": x})[0]
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("location", ["../secret.bin", "sub/../../secret.bin"])
def test_external_data_outside_the_directory_is_refused(
    tiny_models, tmp_path: Path, location: str
) -> None:
    d = tmp_path / "models"
    path, _ = tiny_models.fr_mlp(d, "leaky")
    model = _externalize(path, "leaky.data")
    onnx.save_model(
        model, str(path), save_as_external_data=True, location="leaky.data", size_threshold=0
    )
    # Point every external tensor somewhere else and put the data there.
    (tmp_path / "secret.bin").write_bytes((d / "leaky.data").read_bytes())
    model = onnx.load(str(path), load_external_data=False)
    for t in model.graph.initializer:
        for e in t.external_data:
            if e.key == "location":
                e.value = location
    path.write_bytes(model.SerializeToString())
    _refused(path, "external_data", "outside the model's directory")


def test_external_data_absolute_path_and_symlink_out_are_refused(
    tiny_models, tmp_path: Path
) -> None:
    d = tmp_path / "models"
    path, _ = tiny_models.fr_mlp(d, "abs")
    onnx.save_model(
        onnx.load(str(path)),
        str(path),
        save_as_external_data=True,
        location="abs.data",
        size_threshold=0,
    )
    data = d / "abs.data"
    elsewhere = tmp_path / "elsewhere.bin"
    elsewhere.write_bytes(data.read_bytes())
    data.unlink()
    data.symlink_to(elsewhere)
    _refused(path, "external_data", "outside the model's directory")
    model = onnx.load(str(path), load_external_data=False)
    for t in model.graph.initializer:
        for e in t.external_data:
            if e.key == "location":
                e.value = str(elsewhere)
    path.write_bytes(model.SerializeToString())
    _refused(path, "external_data", "bad external location")


def test_external_data_over_the_cap_is_refused(tiny_models, tmp_path: Path) -> None:
    path, _ = tiny_models.fr_mlp(tmp_path, "huge")
    onnx.save_model(
        onnx.load(str(path)),
        str(path),
        save_as_external_data=True,
        location="huge.data",
        size_threshold=0,
    )
    # Grow the data file past 50 MiB (sparse: nothing is written) and claim it all.
    data = tmp_path / "huge.data"
    os.truncate(data, 51 * 1024 * 1024)
    model = onnx.load(str(path), load_external_data=False)
    init = model.graph.initializer[0]
    for e in init.external_data:
        if e.key == "length":
            e.value = str(51 * 1024 * 1024)
        if e.key == "offset":
            e.value = "0"
    path.write_bytes(model.SerializeToString())
    _refused(path, "external_data", "exceeds the 50 MiB cap")


def test_external_data_range_outside_the_file_is_refused(tiny_models, tmp_path: Path) -> None:
    path, _ = tiny_models.fr_mlp(tmp_path, "short")
    onnx.save_model(
        onnx.load(str(path)),
        str(path),
        save_as_external_data=True,
        location="short.data",
        size_threshold=0,
    )
    os.truncate(tmp_path / "short.data", 8)
    _refused(path, "external_data", "outside 'short.data'")


def test_external_data_fifo_is_refused(tiny_models, tmp_path: Path) -> None:
    path, _ = tiny_models.fr_mlp(tmp_path, "piped")
    onnx.save_model(
        onnx.load(str(path)),
        str(path),
        save_as_external_data=True,
        location="piped.data",
        size_threshold=0,
    )
    (tmp_path / "piped.data").unlink()
    os.mkfifo(tmp_path / "piped.data")
    _refused(path, "external_data", "a FIFO")
