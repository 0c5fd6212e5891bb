"""`vmaf-train fit --config X` dispatches on the recipe's kind; bad input is one line, exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import one_line_error

VMAF_TRAIN = Path(sys.executable).parent / "vmaf-train"
REPO = Path(__file__).resolve().parents[3]


def _fit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VMAF_TRAIN), "fit", *args], capture_output=True, text=True, check=False
    )


def test_pixel_kinds_refuse_bad_input_in_one_line(smoke_corpus: Path, tmp_path: Path) -> None:
    out = str(tmp_path / "r")
    run_config = tmp_path / "config.json"  # a run's resolved config, given as if a recipe
    run_config.write_text('{"id": "learned_filter_v3", "kind": "filter"}\n')
    cases = [
        (["--config", "nr_metric_v1", "--corpus", str(tmp_path), "-o", out], "not a built corpus"),
        (
            ["--config", "learned_filter_v1", "--corpus", str(smoke_corpus), "-o", out,
             "--set", "train.epochs=two"],
            "expected int",
        ),
        (
            ["--config", str(tmp_path / "none.toml"), "--corpus", str(smoke_corpus), "-o", out],
            "no such model config",
        ),
        (
            ["--config", str(run_config), "--corpus", str(smoke_corpus), "-o", out],
            "not read back as a recipe",
        ),
    ]  # fmt: skip
    for args, fragment in cases:
        assert fragment in one_line_error(_fit(*args)), args
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("recipe", "given", "fragment"),
    [
        ("vmaf_tiny_v2", "--corpus", "a 'fr' recipe: it is fitted on --features"),
        ("saliency_student_v1", "--features", "a 'saliency' recipe: it is fitted on --corpus"),
    ],
)
def test_kind_decides_the_data(tmp_path: Path, recipe: str, given: str, fragment: str) -> None:
    err = one_line_error(_fit("--config", recipe, given, str(tmp_path), "-o", str(tmp_path / "r")))
    assert fragment in err
    assert not (tmp_path / "r").exists()


def test_pixels_group_is_gone() -> None:
    proc = subprocess.run(
        [str(VMAF_TRAIN), "pixels", "--help"], capture_output=True, text=True, check=False
    )
    assert proc.returncode != 0
