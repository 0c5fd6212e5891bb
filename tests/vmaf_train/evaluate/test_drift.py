"""Float-rounding guard: each shipped model's PLCC/RMSE on the committed eval fixture.

``tests/support/fixtures/fr_eval_rows.parquet`` holds real test-split rows;
``fr_expected_metrics.json`` records every shipped (non-smoke) model's sha256, PLCC and RMSE on
them, written by ``vmaf-train guard-fixture`` (run by ``vmaf-train zoo``). A drift >= 1e-3 fails,
and so does a registered model without an entry. Entries for models no longer in the registry are
ignored."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import onnx
import pytest
from onnx import numpy_helper

from vmaf_tiny.errors import BadModelError
from vmaf_tiny.fsutil import sha256_file
from vmaf_train.data.table import read_features
from vmaf_train.evaluate.drift import (
    DRIFT_TOLERANCE,
    EXPECTED_NAME,
    FIXTURE_NAME,
    MAX_FIXTURE_BYTES,
    expected_metrics,
    fixture_metrics,
)

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "tests" / "support" / "fixtures"
ZOO = REPO / "src" / "vmaf_tiny" / "zoo"


def test_fixture_is_small_real_and_recorded() -> None:
    fixture = FIXTURES / FIXTURE_NAME
    assert fixture.stat().st_size <= MAX_FIXTURE_BYTES
    table = read_features(fixture)  # validates schema, dtypes and finiteness
    assert table.num_rows >= 100
    assert len(set(table.column("source_id").to_pylist())) >= 2
    expected = json.loads((FIXTURES / EXPECTED_NAME).read_text())
    assert expected["fixture_sha256"] == sha256_file(fixture)
    assert expected["tolerance"] == DRIFT_TOLERANCE == 1e-3


def test_shipped_models_match_their_recorded_metrics() -> None:
    expected = json.loads((FIXTURES / EXPECTED_NAME).read_text())["models"]
    registry = json.loads((ZOO / "registry.json").read_text())["models"]
    shipped = {
        r["id"]: r
        for r in registry
        if r.get("kind") == "fr"
        and not r.get("smoke")
        and "fast" not in json.loads((ZOO / r["sidecar"]).read_text())  # own guard
    }
    missing = sorted(set(shipped) - set(expected))
    assert not missing, f"no expected metrics for {missing}: run `vmaf-train guard-fixture`"
    problems = []
    for mid, row in sorted(shipped.items()):
        want = expected[mid]
        if want["sha256"] != row["sha256"]:
            problems.append(f"{mid}: model changed since its metrics were recorded")
            continue
        got = fixture_metrics(mid, FIXTURES / FIXTURE_NAME, zoo=ZOO)
        for k in ("plcc", "rmse"):
            if abs(got[k] - want[k]) >= DRIFT_TOLERANCE:
                problems.append(f"{mid}: {k} {got[k]:.6f} vs recorded {want[k]:.6f}")
    assert not problems, problems


def test_guard_detects_drift(fr_run: Path, tmp_path: Path) -> None:
    """The mechanism itself: record a model's metrics, perturb one weight, see the drift."""
    from vmaf_train.ship.register import register

    zoo = tmp_path / "zoo"
    register(fr_run, zoo)
    fixture = FIXTURES / FIXTURE_NAME
    doc = expected_metrics(zoo, fixture, tmp_path / "expected.json")
    want = doc["models"]["vmaf_tiny_v3"]
    assert fixture_metrics("vmaf_tiny_v3", fixture, zoo=zoo) == {
        k: want[k] for k in ("n", "plcc", "rmse")
    }
    # Perturb one weight; keep the file and sidecar names (the load-time checks still pass).
    drift_dir = tmp_path / "drift"
    drift_dir.mkdir()
    shutil.copy(zoo / "vmaf_tiny_v3.json", drift_dir / "vmaf_tiny_v3.json")
    proto = onnx.load(str(zoo / "vmaf_tiny_v3.onnx"))
    last = [i for i in proto.graph.initializer if i.name.endswith("bias")][-1]
    arr = numpy_helper.to_array(last).copy()
    arr += 0.05  # in standardised-target units: about one VMAF point
    last.CopyFrom(numpy_helper.from_array(arr, last.name))
    onnx.save(proto, str(drift_dir / "vmaf_tiny_v3.onnx"))
    drifted = fixture_metrics(drift_dir / "vmaf_tiny_v3.onnx", fixture)
    assert abs(drifted["rmse"] - want["rmse"]) >= DRIFT_TOLERANCE
    # Swapped into the zoo, the registry's sha256 refuses it before any score is computed.
    shutil.copy(drift_dir / "vmaf_tiny_v3.onnx", zoo / "vmaf_tiny_v3.onnx")
    with pytest.raises(BadModelError, match="sha256"):
        fixture_metrics("vmaf_tiny_v3", fixture, zoo=zoo)
