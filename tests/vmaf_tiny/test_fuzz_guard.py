"""Fuzzing the loader: 2,000 mutated real models, each loaded or refused with the typed error."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import onnx
import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "fuzz_guard.py"


@pytest.fixture(scope="module")
def fuzz():
    from tests.support import fuzz

    return fuzz


def test_protobuf_mutations_stay_parseable_often_and_change_the_model(
    fuzz, tiny_models, tmp_path: Path
) -> None:
    """Field-level edits (drop/dup/swap/varint) reach nested messages, not just raw bytes."""
    path, _ = tiny_models.fr_mlp(tmp_path, "mut")
    data = path.read_bytes()
    assert fuzz.wire_fields(data) is not None
    parsed = changed = differs = 0
    for i in range(200):
        out = fuzz.mutate_message(data, random.Random(i))
        assert out is not None
        differs += out != data
        try:
            m = onnx.ModelProto()
            m.ParseFromString(out)
            parsed += 1
            changed += m.SerializeToString() != data
        except Exception:
            pass
    assert differs > 180 and parsed > 100 and changed > 50


def test_2000_mutated_models_are_loaded_or_refused(fuzz, tmp_path: Path) -> None:
    summary = fuzz.run_cases(2000, seed=7, timeout_s=20.0, work=tmp_path)
    d = summary.to_dict()
    assert d["cases"] == 2000
    assert d["n_unexpected"] == 0, d["unexpected"]
    outcomes = d["outcomes"]
    assert set(outcomes) <= {"refused", "ran", "loaded_run_refused"}
    # Both paths are exercised: many mutants still load and run, many are refused.
    assert outcomes.get("refused", 0) > 500 and outcomes.get("ran", 0) > 200
    assert set(d["mutations"]) == {"flip", "truncate", "insert", "field"}


def test_fuzz_script_in_a_subprocess_with_timeout() -> None:
    """The script as CI would run it: a crash or hang would show as a non-zero exit/timeout."""
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--cases", "150", "--seed", "3", "--timeout", "20", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    d = json.loads(out.stdout)
    assert d["cases"] == 150 and d["n_unexpected"] == 0
