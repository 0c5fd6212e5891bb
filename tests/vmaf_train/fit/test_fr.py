"""`vmaf-train fit` and `eval` on a real features table: run contents, targets, bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.support.cli import one_line_error
from tests.support.fr_fixtures import FR_SPLIT, run_cli
from vmaf_train.data.dataset import load_fr_data, source_splits
from vmaf_train.data.table import read_features
from vmaf_train.evaluate.predict import load_sidecar
from vmaf_train.recipes import SplitConfig

SPLIT_ARGS = [
    "--set",
    f"split.val_frac={FR_SPLIT['val_frac']}",
    "--set",
    f"split.test_frac={FR_SPLIT['test_frac']}",
]
MOS_ARGS = ["--set", "output.target=mos", "--set", "output.clamp=false"]
REPO = Path(__file__).resolve().parents[3]
CFG = REPO / "configs" / "models"


def test_fit_run_directory_holds_everything(fr_run: Path, fr_features: Path) -> None:
    names = {p.name for p in fr_run.iterdir()}
    assert {
        "config.json",
        "metrics.json",
        "model.onnx",
        "model.json",
        "predictions.parquet",
        "training_curve.png",
        "scatter_test.png",
    } <= names
    for png in ("training_curve.png", "scatter_test.png"):
        assert (fr_run / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    m = json.loads((fr_run / "metrics.json").read_text())
    side = load_sidecar(fr_run / "model.json")
    assert side["normalization"] == {"baked": True}
    assert side["output"] == {"target": "vmaf", "range": [0.0, 100.0], "clamp": True}
    assert [t["role"] for t in side["inputs"]] == ["features"]
    assert side["inputs"][0]["shape"] == ["N", 6]
    # Test rows are exactly the test split's sources.
    pred = pq.read_table(fr_run / "predictions.parquet")
    assert pred.column_names == ["key", "source_id", "frame", "target", "prediction"]
    table = read_features(fr_features)
    test_src = source_splits(table.column("source_id").to_pylist(), SplitConfig(**FR_SPLIT)).test
    assert sorted(set(pred.column("source_id").to_pylist())) == test_src
    assert pred.num_rows == m["test"]["frame"]["n"] == m["splits"]["test"]["n_rows"]
    # A trained model, not noise: it tracks the teacher on unseen content.
    assert m["test"]["frame"]["plcc"] > 0.95
    lo, hi = m["test"]["frame"]["rmse_ci"]
    assert lo <= m["test"]["frame"]["rmse"] <= hi
    p = pred.column("prediction").to_numpy()
    assert p.min() >= 0.0 and p.max() <= 100.0
    assert m["onnx"]["test_ort_vs_torch_max_abs_diff"] < 1e-3
    assert m["latency"]["fp32_us_per_row_b1"] > 0
    assert m["training"]["best_epoch"] <= m["training"]["epochs_run"]
    assert (
        m["provenance"]["manifest_sha256"]
        == json.loads((fr_features.parent / "manifest.json").read_text())["manifest_sha256"]
    )


def test_fit_cli_sidecar_normalisation_and_refuses_to_overwrite(
    fr_features: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    args = [
        "fit",
        "--config",
        CFG / "fr_regressor_v1.toml",
        "--features",
        fr_features,
        "--out",
        out,
        "--set",
        "train.epochs=25",
        "--no-plots",
        "--json",
        *SPLIT_ARGS,
    ]
    proc = run_cli(*args, check=True)
    res = json.loads(proc.stdout)
    assert res["id"] == "fr_regressor_v1"
    assert res["training"]["epochs_run"] <= 25
    side = load_sidecar(out / "model.json")
    norm = side["normalization"]
    assert norm["baked"] is False
    assert len(norm["feature_mean"]) == len(norm["feature_std"]) == 6
    assert min(norm["feature_std"]) > 0
    assert "Sub" not in res["onnx"]["ops"]  # the runtime standardises, not the graph
    assert "Erf" in res["onnx"]["ops"]  # exact GELU as a plain default-domain op
    err = one_line_error(run_cli(*args))
    assert "exists" in err and "--force" in err
    assert run_cli(*args, "--force").returncode == 0


def test_fit_and_eval_target_mos(fr_features_mos: Path, tmp_path: Path) -> None:
    out = tmp_path / "mos_run"
    run_cli(
        "fit",
        "--config",
        CFG / "vmaf_tiny_v2.toml",
        "--features",
        fr_features_mos,
        "--out",
        out,
        *MOS_ARGS,
        "--set",
        "train.epochs=150",
        "--no-plots",
        *SPLIT_ARGS,
        check=True,
    )
    side = load_sidecar(out / "model.json")
    assert side["output"]["target"] == "mos"
    assert side["output"]["clamp"] is False
    lo, hi = side["output"]["range"]
    assert 1.0 <= lo < hi <= 5.0
    proc = run_cli(
        "eval",
        "--model",
        out / "model.onnx",
        "--features",
        fr_features_mos,
        "--baseline",
        "--json",
        "--n-boot",
        100,
        check=True,
    )
    res = json.loads(proc.stdout)
    assert res["target"] == "mos"
    assert 1.0 < res["mean_prediction"] < 5.0
    base = res["baseline"]["metrics"]
    # The SVM's vmaf column is on a 0-100 scale: a large raw RMSE against MOS, but correlated.
    assert base["rmse"] > 10 and base["plcc"] > 0.8
    assert res["metrics"]["rmse"] < 0.6 and res["metrics"]["plcc"] > 0.95
    assert "libvmaf" in res["baseline"]["name"]
    # The table really came from extract-features --pairs: user content, MOS on every frame.
    t = read_features(fr_features_mos, require=("mos",))
    assert set(t.column("source_kind").to_pylist()) == {"user"}
    assert t.num_rows == 27 * 16


def test_target_mos_needs_a_mos_column(fr_features: Path, tmp_path: Path) -> None:
    proc = run_cli(
        "fit",
        "--config",
        CFG / "vmaf_tiny_v2.toml",
        "--features",
        fr_features,
        "--out",
        tmp_path / "x",
        *MOS_ARGS,
        fresh=True,
    )
    err = one_line_error(proc)
    assert "'mos'" in err and "720" in err
    assert not (tmp_path / "x").exists()


def _corrupt(src: Path, dest: Path, how: str) -> Path:
    t = pq.read_table(src)
    if how == "missing":
        t = t.drop_columns(["adm2"])
    elif how == "nan":
        v = t.column("motion2").to_numpy().copy()
        v[[3, 10, 11]] = np.nan
        t = t.set_column(t.schema.get_field_index("motion2"), "motion2", pa.array(v))
    elif how == "inf":
        v = t.column("vmaf").to_numpy().copy()
        v[0] = np.inf
        t = t.set_column(t.schema.get_field_index("vmaf"), "vmaf", pa.array(v))
    elif how == "dtype":
        v = [str(x) for x in t.column("vif_scale0").to_pylist()]
        t = t.set_column(t.schema.get_field_index("vif_scale0"), "vif_scale0", pa.array(v))
    pq.write_table(t, dest)
    return dest


@pytest.mark.parametrize(
    ("how", "expect"),
    [
        ("missing", ["missing column 'adm2'", "720 rows"]),
        ("nan", ["'motion2'", "3 of 720 rows"]),
        ("inf", ["'vmaf'", "1 of 720 rows"]),
        ("dtype", ["'vif_scale0'", "dtype"]),
    ],
)
def test_bad_features_table(fr_features: Path, tmp_path: Path, how: str, expect: list[str]) -> None:
    bad = _corrupt(fr_features, tmp_path / "bad.parquet", how)
    err = one_line_error(
        run_cli(
            "fit",
            "--config",
            CFG / "vmaf_tiny_v2.toml",
            "--features",
            bad,
            "--out",
            tmp_path / "run",
            *SPLIT_ARGS,
        )
    )
    for e in expect:
        assert e in err
    assert not (tmp_path / "run").exists()
    assert not list(tmp_path.glob(".run.partial-*"))


def test_bad_config(tmp_path: Path, fr_features: Path) -> None:
    cfg = tmp_path / "m.toml"
    cfg.write_text((CFG / "vmaf_tiny_v2.toml").read_text().replace("patience", "patiense"))
    err = one_line_error(
        run_cli("fit", "--config", cfg, "--features", fr_features, "--out", tmp_path / "r")
    )
    assert "unknown key" in err and "patiense" in err


def test_empty_split_is_explained(fr_features: Path, tmp_path: Path) -> None:
    # Default fractions (0.1/0.1) leave the 9-source fixture without val and test sources.
    err = one_line_error(
        run_cli(
            "fit",
            "--config",
            CFG / "vmaf_tiny_v2.toml",
            "--features",
            fr_features,
            "--out",
            tmp_path / "r",
        )
    )
    assert "split is empty" in err and "9 sources" in err


def test_eval_reproduces_fit_metrics(fr_run: Path, fr_features: Path) -> None:
    proc = run_cli(
        "eval",
        "--model",
        fr_run / "model.onnx",
        "--features",
        fr_features,
        "--json",
        "--n-boot",
        200,
        check=True,
    )
    res = json.loads(proc.stdout)
    fit = json.loads((fr_run / "metrics.json").read_text())["test"]["frame"]
    for k in ("n", "plcc", "srocc", "rmse"):
        assert res["metrics"][k] == pytest.approx(fit[k], abs=1e-9)
    assert "no logistic mapping" in res["note"]
    clip = json.loads(
        run_cli(
            "eval",
            "--model",
            fr_run / "model.onnx",
            "--features",
            fr_features,
            "--level",
            "clip",
            "--json",
            "--n-boot",
            50,
            "--baseline",
            check=True,
        ).stdout
    )
    assert clip["metrics"]["n"] == 10  # 2 test sources x 5 clips
    assert clip["baseline"]["metrics"]["rmse"] == 0.0  # the SVM baseline is the teacher
    assert "teacher itself" in clip["baseline"]["note"]
    text = run_cli(
        "eval",
        "--model",
        fr_run / "model.onnx",
        "--features",
        fr_features,
        "--n-boot",
        20,
        check=True,
    ).stdout
    assert "PLCC" in text and "no logistic mapping" in text


def test_eval_unknown_model_id_lists_close_matches(
    fr_run: Path, fr_features: Path, tmp_path: Path
) -> None:
    from vmaf_train.ship.register import register

    zoo = tmp_path / "zoo"
    register(fr_run, zoo)
    ok = run_cli(
        "eval",
        "--model",
        "vmaf_tiny_v3",
        "--zoo",
        zoo,
        "--features",
        fr_features,
        "--n-boot",
        0,
        "--json",
        check=True,
    )
    assert json.loads(ok.stdout)["model"] == "vmaf_tiny_v3"
    err = one_line_error(
        run_cli("eval", "--model", "vmaf_tiny_v33", "--features", fr_features, "--zoo", zoo)
    )
    assert "unknown model id 'vmaf_tiny_v33'" in err and "did you mean vmaf_tiny_v3" in err


def test_model_input_width_mismatch(fr_run: Path, fr_features: Path, tmp_path: Path) -> None:
    shutil.copy(fr_run / "model.onnx", tmp_path / "m.onnx")
    side = json.loads((fr_run / "model.json").read_text())
    side["onnx"] = "m.onnx"
    side["inputs"][0]["shape"] = ["N", 7]
    side["feature_order"] = [*side["feature_order"], "psnr_y"]
    (tmp_path / "m.json").write_text(json.dumps(side))
    err = one_line_error(run_cli("eval", "--model", tmp_path / "m.onnx", "--features", fr_features))
    assert "'features'" in err and "7" in err and "6" in err


def test_codec_aware_data_matches_the_runtime_block(fr_features: Path) -> None:
    from vmaf_tiny.codec import codec_block_spec, codec_columns

    table = read_features(fr_features)
    data = load_fr_data(table, codec_block="v3")
    assert data.codec is not None and data.codec.shape == (720, 18)
    col = table.column
    want = codec_columns(
        codec_block_spec("v3"),
        col("codec").to_pylist(),
        col("preset").to_pylist(),
        col("crf").to_pylist(),
    )
    np.testing.assert_array_equal(data.codec, want)
    assert set(np.unique(data.codec[:, :16].argmax(axis=1))) == {0, 2}  # libx264, libvpx-vp9


def test_table_inputs_equal_the_runtime_inputs(fr_codec_run: Path, fr_features: Path) -> None:
    """Scores in every report are computed on exactly the arrays `vmaf-tiny score` builds."""
    import pyarrow.compute as pc

    from vmaf_tiny.scoring import CodecFields, fr_inputs
    from vmaf_train.evaluate.predict import open_fr_model

    model = open_fr_model(fr_codec_run / "model.onnx")
    assert model.sidecar["normalization"]["baked"] is False
    table = read_features(fr_features)
    for key in ("bbb_s1__vp9-8-crf50", "carphone__x264-veryfast-crf30"):
        clip = table.filter(pc.equal(table.column("key"), key))
        assert clip.num_rows == 16, key
        ours = model.inputs_from_table(clip)
        row = clip.slice(0, 1).to_pylist()[0]
        cols = {c: clip.column(c).to_numpy() for c in model.feature_order}
        theirs = fr_inputs(
            model.sidecar, cols, CodecFields(row["codec"], row["preset"], row["crf"])
        )
        assert ours.keys() == theirs.keys() == {"features", "codec"}
        for k in ours:
            assert ours[k].dtype == theirs[k].dtype
            np.testing.assert_array_equal(ours[k], theirs[k])
