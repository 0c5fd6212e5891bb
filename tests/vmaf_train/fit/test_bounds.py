"""Training recipes are validated completely, and a diverging run fails cleanly (issue 10.4)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from tests.support.cli import one_line_error
from tests.support.fr_fixtures import fast_config, run_cli
from vmaf_tiny.errors import BadInputError
from vmaf_train.fit import nonfinite_path
from vmaf_train.fit.fr import fit_run
from vmaf_train.fit.loop import fit_loop
from vmaf_train.recipes import MAX_THREADS, load_recipe, supported_opsets

REPO = Path(__file__).resolve().parents[3]
CFG = REPO / "configs" / "models"


def _edit(text: str, key: str, value: str) -> str:
    new, n = re.subn(rf"(?m)^{key} = .*$", f"{key} = {value}", text, count=1)
    assert n == 1, key
    return new


@pytest.mark.parametrize(
    ("key", "value", "expect"),
    [
        ("lr", "inf", "train.lr must be a finite number > 0, got inf"),
        ("lr", "nan", "train.lr must be a finite number > 0, got nan"),
        ("lr", "0.0", "train.lr must be a finite number > 0"),
        ("weight_decay", "-0.1", "train.weight_decay must be a finite number >= 0"),
        ("threads", "100000", f"train.threads must be an integer in 1..{MAX_THREADS}"),
        ("epochs", "0", "train.epochs must be an integer in 1.."),
        ("batch_size", "-4", "train.batch_size must be an integer in 1.."),
        ("opset", "30", "opset must be an integer in"),
        ("hidden", "[16, 0]", "arch.hidden must be"),
        ("val_frac", "nan", "split fractions must be finite"),
    ],
)
def test_fit_refuses_bad_recipe_values(tmp_path: Path, key: str, value: str, expect: str) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(_edit((CFG / "vmaf_tiny_v2.toml").read_text(), key, value))
    proc = run_cli("fit", "--config", cfg, "--features", tmp_path / "none.parquet", "-o",
                   tmp_path / "run")  # fmt: skip
    err = one_line_error(proc)  # exit 2, one line, no "internal error"
    assert "bad.toml" in err and expect in err, err
    assert not (tmp_path / "run").exists()


def test_opset_range_is_what_the_exporter_supports() -> None:
    lo, hi = supported_opsets()
    import onnx

    assert 7 <= lo <= 17 <= hi <= onnx.defs.onnx_opset_version()
    with pytest.raises(
        BadInputError, match=re.escape("train.threads must be an integer in 1..256")
    ):
        fast_config("vmaf_tiny_v2").with_overrides(train={"threads": 0})


@pytest.mark.parametrize(
    ("override", "expect"),
    [
        ({"train": {"lr": float("inf")}}, "train.lr must be a finite number > 0"),
        ({"train": {"weight_decay": -1.0}}, "train.weight_decay must be a finite number >= 0"),
        ({"train": {"threads": 100000}}, "train.threads must be an integer in 1..256"),
        ({"opset": 30}, "opset must be an integer in"),
        ({"arch": {"channels": [16, 0, 48, 64, 96]}}, "arch.channels: 0"),
        ({"data": {"size": [640.5, float("nan")]}}, "data.size"),
        ({"train": {"max_minutes": float("nan")}}, "train.max_minutes"),
    ],
)
def test_pixel_recipe_values(override: dict, expect: str) -> None:
    with pytest.raises(BadInputError, match=re.escape(expect)) as info:
        load_recipe(CFG / "nr_metric_v1.toml", override)
    assert "nr_metric_v1.toml" in str(info.value)


def test_diverging_fit_exits_2_and_writes_no_model(fr_features: Path, tmp_path: Path) -> None:
    cfg = fast_config("vmaf_tiny_v2", lr=1e30, epochs=5)
    out = tmp_path / "run"
    with pytest.raises(BadInputError, match=r"^training diverged at epoch \d+ \(") as info:
        fit_run(cfg, fr_features, out, n_boot=0, plots=False)
    assert "lower train.lr (now 1e+30)" in str(info.value)
    assert not out.exists() and not list(tmp_path.glob(".run.partial-*"))


def test_pixel_fit_loop_stops_on_nonfinite_loss() -> None:
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    x, y = torch.randn(32, 4), torch.randn(32, 1)

    def batches(epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        yield x, y

    def loss_fn(m: torch.nn.Module, b: tuple[torch.Tensor, ...]) -> torch.Tensor:
        return torch.nn.functional.mse_loss(m(b[0]) * 1e30, b[1])

    with pytest.raises(BadInputError, match="training diverged at epoch 1"):
        fit_loop(model, batches, loss_fn, lambda m: 0.0, {"epochs": 3, "lr": 1.0,
                 "weight_decay": 0.0}, progress=False)  # fmt: skip


def test_metrics_are_strict_json(fr_run: Path) -> None:
    text = (fr_run / "metrics.json").read_text()
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON token {c}"))
    assert nonfinite_path({"a": [1.0, {"b": float("nan")}]}) == "a[1].b = nan"
    assert nonfinite_path({"a": [1.0, 2]}) is None
