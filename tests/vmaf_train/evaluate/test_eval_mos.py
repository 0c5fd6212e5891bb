"""`vmaf-train eval --target mos --mapping ... --targets ... --plot ...` on a real features table.

The MOS here is synthetic by design: a known logistic of each clip's libvmaf teacher score plus
seeded noise, over the real test corpus (real encodes, real libvmaf, a real fitted model). Known
parameters are what lets the test check that the fitted map recovers them.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.support.cli import one_line_error
from tests.support.fr_fixtures import run_cli
from vmaf_train.data.table import read_features
from vmaf_train.evaluate.mapping import logistic4
from vmaf_train.evaluate.metrics import pool_by_key
from vmaf_train.evaluate.targets import join_targets, read_targets

NOISE = 0.05
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def mos_data(fr_features: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A ``key,mos`` CSV (every clip but two), the same scores as a table ``mos`` column, and
    the true logistic."""
    d = tmp_path_factory.mktemp("eval_mos")
    table = read_features(fr_features)
    keys = np.asarray(table.column("key").to_pylist())
    uniq, (vm,) = pool_by_key(keys, table.column("vmaf").to_numpy())
    true = {"top": 4.7, "bottom": 1.3, "mid": float(np.median(vm)), "slope": 6.0 / np.ptp(vm)}
    rng = np.random.default_rng(0)
    mos = logistic4(vm, **true) + rng.normal(0.0, NOISE, vm.size)
    scored = dict(zip(uniq[2:].tolist(), mos[2:].tolist(), strict=True))
    csv_path = d / "mos.csv"
    with csv_path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["key", "mos", "note"])
        w.writerows([k, f"{v:.6f}", "x"] for k, v in scored.items())
    # The same scores as the table's own mos column (rows of unscored clips dropped).
    mask, y = join_targets(keys, read_targets(csv_path))
    with_mos = table.filter(pa.array(mask))
    idx = with_mos.schema.get_field_index("mos")
    with_mos = with_mos.set_column(idx, with_mos.schema.field(idx), pa.array(y[mask]))
    tbl_path = d / "features_mos.parquet"
    pq.write_table(with_mos, tbl_path)
    return {"csv": csv_path, "table": tbl_path, "true": true, "n_clips": uniq.size}


def _eval(*args: object) -> dict:
    proc = run_cli("eval", *args, "--split", "all", "--n-boot", 30, "--json", check=True)
    return json.loads(proc.stdout)


def test_logistic_map_recovers_the_mos_curve(
    fr_run: Path, fr_features: Path, mos_data: dict, tmp_path: Path
) -> None:
    png = tmp_path / "plots" / "mos.png"
    res = _eval("--model", fr_run / "model.onnx", "--features", fr_features,
                "--targets", mos_data["csv"], "--mapping", "logistic", "--baseline",
                "--plot", png)  # fmt: skip
    assert res["target"] == "mos" and res["level"] == "clip"  # one subjective score per clip
    assert res["targets"]["n_clips_without_score"] == 2
    raw, mp = res["metrics"], res["mapping"]
    assert raw["n"] == mp["metrics"]["n"] == mos_data["n_clips"] - 2
    assert mp["kind"] == "logistic4" and mp["monotonic"]
    # Raw figures compare a 0-100 prediction with a 1-5 MOS; the map fixes scale and curvature.
    assert mp["metrics"]["plcc"] > raw["plcc"] and mp["metrics"]["rmse"] < raw["rmse"] / 10
    assert mp["metrics"]["srocc"] == pytest.approx(raw["srocc"], abs=1e-9)
    assert "SROCC is unchanged" in res["note"]
    # The teacher is what the MOS was made from: through its own map it is within the noise,
    # and its fitted parameters are the true ones.
    base = res["baseline"]["mapping"]
    assert base["metrics"]["rmse"] < 2 * NOISE
    true = mos_data["true"]
    for k in ("top", "bottom"):
        assert base["params"][k] == pytest.approx(true[k], abs=0.15), k
    assert base["params"]["mid"] == pytest.approx(true["mid"], abs=2.0)
    assert base["params"]["slope"] == pytest.approx(true["slope"], rel=0.2)
    # The student only approximates the teacher, so its map is close, not exact.
    assert mp["params"]["mid"] == pytest.approx(true["mid"], abs=8.0)
    assert mp["params"]["top"] == pytest.approx(true["top"], abs=0.5)
    assert png.read_bytes()[:8] == PNG
    assert not [p for p in png.parent.iterdir() if p.name != png.name]  # no temp files left


def test_table_mos_column_and_targets_file_agree(
    fr_run: Path, fr_features: Path, mos_data: dict
) -> None:
    a = _eval("--model", fr_run / "model.onnx", "--features", fr_features,
              "--targets", mos_data["csv"], "--mapping", "linear")  # fmt: skip
    b = _eval("--model", fr_run / "model.onnx", "--features", mos_data["table"],
              "--target", "mos", "--mapping", "linear")  # fmt: skip
    assert a["mapping"]["params"] == pytest.approx(b["mapping"]["params"], rel=1e-9)
    for k in ("n", "plcc", "srocc", "rmse"):
        assert a["metrics"][k] == pytest.approx(b["metrics"][k], rel=1e-9)
    # Linear maps keep PLCC; frame level works too (each frame against its clip's score).
    assert a["mapping"]["metrics"]["plcc"] == pytest.approx(a["metrics"]["plcc"], abs=1e-9)
    f = _eval("--model", fr_run / "model.onnx", "--features", mos_data["table"],
              "--target", "mos", "--level", "frame", "--mapping", "logistic5")  # fmt: skip
    assert f["level"] == "frame" and f["mapping"]["n_fit"] == f["metrics"]["n"] > a["metrics"]["n"]


def test_plot_of_a_vmaf_eval_and_its_text_report(
    fr_run: Path, fr_features: Path, tmp_path: Path
) -> None:
    svg = tmp_path / "scatter.svg"
    res = _eval("--model", fr_run / "model.onnx", "--features", fr_features, "--plot", svg)
    assert res["level"] == "frame" and "mapping" not in res and res["plot"] == str(svg)
    text = svg.read_text()
    assert text.lstrip().startswith("<?xml") and "PLCC" in text and "y = x" in text
    out = run_cli("eval", "--model", fr_run / "model.onnx", "--features", fr_features,
                  "--mapping", "logistic5", "--n-boot", 10, check=True).stdout  # fmt: skip
    assert "(raw)" in out and "(logistic5 map)" in out and "logistic5 map:" in out


@pytest.mark.parametrize(
    ("extra", "msg"),
    [
        (["--plot", "{tmp}/out.xyz"], "matplotlib cannot write .xyz files"),
        (["--plot", "{tmp}/noext"], "without an extension"),
        (["--plot", "{tmp}/file.txt/out.png"], "is not a directory"),
        (["--mapping", "cubic"], "--mapping must be one of"),
        (["--targets", "{tmp}/bad.csv"], "does not have: nope"),
        (["--targets", "{tmp}/nocol.csv"], "missing 'mos'"),
        (["--targets", "{tmp}/bad.csv", "--target", "vmaf"], "use it with --target mos"),
    ],
)
def test_bad_eval_input_is_one_line(
    fr_run: Path, fr_features: Path, tmp_path: Path, extra: list[str], msg: str
) -> None:
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "bad.csv").write_text("key,mos\nnope,3.2\n")
    (tmp_path / "nocol.csv").write_text("key,score\nnope,3.2\n")
    args = [a.format(tmp=tmp_path) for a in extra]
    before = sorted(p.name for p in tmp_path.iterdir())
    err = one_line_error(
        run_cli("eval", "--model", fr_run / "model.onnx", "--features", fr_features, *args)
    )
    assert msg in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


def test_unwritable_plot_directory(fr_run: Path, fr_features: Path, tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        probe = ro / "probe"
        try:
            probe.write_text("")  # root ignores permissions: nothing to test then
            pytest.skip("running with permissions that ignore a read-only directory")
        except PermissionError:
            pass
        err = one_line_error(run_cli("eval", "--model", fr_run / "model.onnx", "--features",
                                     fr_features, "--plot", ro / "a.png"))  # fmt: skip
        assert "not writable" in err and not list(ro.iterdir())
    finally:
        ro.chmod(0o700)


@pytest.mark.parametrize(
    ("text", "msg"),
    [
        ("key,mos\na,1\na,2\n", "appears twice"),
        ("key,mos\na,x\n", "is not a number"),
        ("key,mos\na,nan\n", "not finite"),
        ("key,mos\n,3\n", "empty key"),
        ("key,mos\n", "no rows"),
    ],
)
def test_targets_file_errors(tmp_path: Path, text: str, msg: str) -> None:
    from vmaf_tiny.errors import BadInputError

    p = tmp_path / "t.csv"
    p.write_text(text)
    with pytest.raises(BadInputError, match=msg):
        read_targets(p)


def test_targets_join_marks_unscored_clips() -> None:
    mask, y = join_targets(np.array(["a", "a", "b", "c"]), {"a": 2.0, "c": 4.0})
    assert mask.tolist() == [True, True, False, True]
    assert y[mask].tolist() == [2.0, 2.0, 4.0]


def test_plot_samples_large_tables_and_draws_the_map(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vmaf_train import plots
    from vmaf_train.evaluate.mapping import fit_mapping
    from vmaf_train.evaluate.metrics import score_metrics

    monkeypatch.setattr(plots, "MAX_SCATTER", 50)
    rng = np.random.default_rng(4)
    p = rng.uniform(0, 100, 200)
    t = logistic4(p, 4.5, 1.2, 50.0, 0.1) + rng.normal(0, 0.05, p.size)
    fm = fit_mapping(p, t, "logistic4")
    mapped = {"kind": "logistic4", "metrics": score_metrics(t, fm(p), n_boot=0)}
    res = {"model": "m", "split": "all", "level": "frame", "target": "mos",
           "metrics": score_metrics(t, p, n_boot=0), "mapping": mapped}  # fmt: skip
    out = tmp_path / "s.svg"
    plots.plot_eval(res, frame_target=t, frame_pred=p, clip_target=None, clip_pred=None,
                    mapping=fm, path=out)  # fmt: skip
    text = out.read_text()
    assert "frames (50 of 200)" in text and "logistic4 map: PLCC" in text
    assert "y = x" not in text  # a 0-100 prediction and a 1-5 target share no useful range


def test_targets_that_miss_the_split_say_so(
    fr_run: Path, fr_features: Path, tmp_path: Path
) -> None:
    from vmaf_train.data.dataset import source_splits
    from vmaf_train.evaluate.model import model_split

    table = read_features(fr_features)
    keys = table.column("key").to_pylist()
    srcs = np.asarray(table.column("source_id").to_pylist())
    sidecar = json.loads((fr_run / "model.json").read_text())
    train = set(source_splits(srcs, model_split(sidecar)).train)
    scored = sorted({k for k, s in zip(keys, srcs, strict=True) if s in train})
    csv_path = tmp_path / "train_only.csv"
    csv_path.write_text("key,mos\n" + "".join(f"{k},3.0\n" for k in scored))
    args = ["--features", fr_features, "--targets", csv_path, "--split", "test"]
    err = one_line_error(run_cli("eval", "--model", fr_run / "model.onnx", *args))
    assert "no clip of the test split" in err and "--split all" in err
