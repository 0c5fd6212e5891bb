"""Float-rounding guard of the fast models: recorded clip/frame figures on committed fast rows."""

from __future__ import annotations

import json
from pathlib import Path

from vmaf_tiny.fsutil import sha256_file
from vmaf_train.evaluate.drift import DRIFT_TOLERANCE, MAX_FIXTURE_BYTES
from vmaf_train.evaluate.fast_drift import (
    FAST_EXPECTED_NAME,
    FAST_FIXTURE_NAME,
    fast_fixture_metrics,
    fast_model_rows,
)

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "tests" / "support" / "fixtures"
ZOO = REPO / "src" / "vmaf_tiny" / "zoo"


def test_fast_models_match_their_recorded_metrics() -> None:
    fixture = FIXTURES / FAST_FIXTURE_NAME
    assert fixture.stat().st_size <= MAX_FIXTURE_BYTES
    doc = json.loads((FIXTURES / FAST_EXPECTED_NAME).read_text())
    assert doc["fixture_sha256"] == sha256_file(fixture)
    rows = fast_model_rows(ZOO)
    assert rows, "no fast model registered"
    missing = sorted({r["id"] for r, _ in rows} - set(doc["models"]))
    assert not missing, f"no recorded fast metrics for {missing}: rerun write_fast_fixture"
    problems = []
    for row, _ in rows:
        want = doc["models"][row["id"]]
        if want["sha256"] != row["sha256"]:
            problems.append(f"{row['id']}: model changed since its metrics were recorded")
            continue
        got = fast_fixture_metrics(row["id"], fixture, zoo=ZOO)
        assert got["n"] == want["n"]
        for k in ("clip_plcc", "clip_rmse", "frame_plcc", "frame_rmse"):
            if abs(got[k] - want[k]) >= DRIFT_TOLERANCE:
                problems.append(f"{row['id']}: {k} {got[k]:.6f} vs recorded {want[k]:.6f}")
    assert not problems, problems
