"""LOSO / grouped K-fold through the executor: serial and a real local Dask cluster agree."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.support.cli import one_line_error
from tests.support.fr_fixtures import fast_config, run_cli
from vmaf_train.data.dataset import load_fr_data
from vmaf_train.data.table import read_features
from vmaf_train.evaluate.loso import make_folds, run_cv, summarize_folds
from vmaf_train.parallel import make_executor

REPO = Path(__file__).resolve().parents[3]
NATURAL = ["astronaut_pan", "bbb_s1", "bikes_s0", "carphone", "coffee_pan"]
SYNTHETIC = ["life_s7", "mandelbrot", "perlin_grain", "testsrc2"]


def test_summary_is_mean_and_sample_std_over_folds() -> None:
    rows = [
        {"fold": "a", "seed": 0, "plcc": 0.90, "srocc": 0.9, "rmse": 2.0, "clip_rmse": 1.0},
        {"fold": "a", "seed": 1, "plcc": 0.92, "srocc": 0.9, "rmse": 4.0, "clip_rmse": 1.0},
        {"fold": "b", "seed": 0, "plcc": 0.99, "srocc": 0.9, "rmse": 1.0, "clip_rmse": 1.0},
        {"fold": "b", "seed": 1, "plcc": None, "srocc": 0.9, "rmse": 1.0, "clip_rmse": 1.0},
        {"fold": "c", "seed": 0, "plcc": 0.95, "srocc": 0.9, "rmse": 6.0, "clip_rmse": 1.0},
        {"fold": "c", "seed": 1, "plcc": 0.95, "srocc": 0.9, "rmse": 6.0, "clip_rmse": 1.0},
    ]
    s = summarize_folds(rows)
    per_fold_rmse = [3.0, 1.0, 6.0]
    assert s["n_folds"] == 3 and s["seeds"] == [0, 1]
    assert s["rmse_mean"] == pytest.approx(np.mean(per_fold_rmse))
    assert s["rmse_std"] == pytest.approx(np.std(per_fold_rmse, ddof=1))
    assert s["plcc_mean"] == pytest.approx(np.mean([0.91, 0.99, 0.95]))  # None skipped
    assert s["rmse_seed_std"] == pytest.approx(np.mean([np.std([2, 4], ddof=1), 0.0, 0.0]))


def test_folds_hold_out_natural_sources_only(fr_features: Path) -> None:
    data = load_fr_data(read_features(fr_features))
    protocol, folds = make_folds(data)
    assert "leave-one-source-out" in protocol
    assert [f.test for f in folds] == [[s] for s in NATURAL]
    for f in folds:
        assert set(SYNTHETIC) <= set(f.train)
        assert f.test[0] not in f.train
    _, k3 = make_folds(data, kfold=3)
    held = sorted(s for f in k3 for s in f.test)
    assert held == sorted(NATURAL + SYNTHETIC)


def test_serial_and_local_dask_give_the_same_folds(fr_features: Path, tmp_path: Path) -> None:
    cfg = fast_config("vmaf_tiny_v2", epochs=6, min_epochs=1)
    serial = run_cv(cfg, fr_features, tmp_path / "serial", seeds=(0, 1), progress=False)
    with make_executor(workers=2) as ex:
        assert "dask" in ex.describe()
        dask = run_cv(
            cfg, fr_features, tmp_path / "dask", seeds=(0, 1), executor=ex, progress=False
        )
    assert serial["failures"] == dask["failures"] == 0
    assert len(serial["rows"]) == 10
    strip = lambda rows: [{k: v for k, v in r.items() if k != "train_seconds"} for r in rows]  # noqa: E731
    assert strip(serial["rows"]) == strip(dask["rows"])
    assert serial["summary"] == dask["summary"]
    for name in ("loso.json", "folds.tsv", "loso_folds.png"):
        assert (tmp_path / "dask" / name).is_file()
    tsv = (tmp_path / "serial" / "folds.tsv").read_text().splitlines()
    assert len(tsv) == 11 and tsv[0].startswith("fold\tseed")


def test_loso_cli_kfold_and_errors(fr_features: Path, tmp_path: Path) -> None:
    cfg = REPO / "configs" / "models" / "vmaf_tiny_v2.toml"
    proc = run_cli(
        "loso",
        "--config",
        cfg,
        "--features",
        fr_features,
        "--out",
        tmp_path / "k",
        "--kfold",
        3,
        "--set",
        "train.epochs=8",
        "--serial",
        "--json",
        check=True,
    )
    res = json.loads(proc.stdout)
    assert res["protocol"].startswith("3-fold")
    assert res["summary"]["n_folds"] == 3 and res["failures"] == 0
    # A table with no natural content: LOSO has nothing to hold out and says what to do.
    t = pq.read_table(fr_features)
    kinds = pa.array(["synthetic"] * t.num_rows)
    t = t.set_column(t.schema.get_field_index("source_kind"), "source_kind", kinds)
    pq.write_table(t, tmp_path / "synthetic.parquet")
    err = one_line_error(
        run_cli(
            "loso",
            "--config",
            cfg,
            "--features",
            tmp_path / "synthetic.parquet",
            "--out",
            tmp_path / "s",
            "--serial",
        )
    )
    assert "no natural-content sources" in err and "--kfold" in err
    err = one_line_error(
        run_cli(
            "loso",
            "--config",
            cfg,
            "--features",
            fr_features,
            "--out",
            tmp_path / "s",
            "--serial",
            "--seeds",
            "0,x",
        )
    )
    assert "--seeds" in err
