"""The nr_stream_v1 recipe: table rows from a real clip, deterministic fit, ONNX equal to the
numpy model, leave-one-family-out bookkeeping, registration into a scratch zoo with its card."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.support.clips import lavfi_clip, x264
from vmaf_tiny.ffmpeg import FFmpeg
from vmaf_tiny.guard import check_model
from vmaf_tiny.nr_stream import score_stream
from vmaf_tiny.registry import shipped_zoo
from vmaf_tiny.stream import STREAM_FEATURES, extract_stream
from vmaf_train.data.stream_features import ClipJob, clip_stream_rows
from vmaf_train.nr_stream import (
    DEFAULT_FEATURES,
    LogitRidge,
    fit_run,
    load_stream_data,
    loso,
    source_family,
)
from vmaf_train.ship.stream import register_stream_run, write_stream_card


def _table(path: Path, seed: int = 3) -> Path:
    """A seeded synthetic stream table: 5 families x 4 clips x 6 frames."""
    rng = np.random.default_rng(seed)
    rows: dict[str, list] = {c: [] for c in ("key", "source_id", "codec", "distortion", "vmaf")}
    feats: dict[str, list] = {n: [] for n in STREAM_FEATURES}
    for s in ("alpha_a", "alpha_b", "beta", "gamma", "delta", "eps"):
        for c in range(4):
            base = rng.normal(size=len(STREAM_FEATURES))
            for _ in range(6):
                rows["key"].append(f"{s}__c{c}")
                rows["source_id"].append(s)
                rows["codec"].append(["libx264", "libx265"][c % 2])
                rows["distortion"].append("encode")
                v = base + 0.1 * rng.normal(size=base.size)
                for n, x in zip(STREAM_FEATURES, v, strict=True):
                    feats[n].append(float(x))
                rows["vmaf"].append(float(np.clip(70 + 12 * v[0] - 8 * v[5], 1, 99)))
    pq.write_table(pa.table({**rows, **feats}), path)
    return path


def test_source_family_strips_segment_suffix() -> None:
    assert source_family("bikes_c") == "bikes"
    assert source_family("astronaut") == "astronaut"
    assert source_family("bbb") == "bbb"


def test_fit_is_deterministic_and_onnx_matches_numpy(tmp_path: Path) -> None:
    table = _table(tmp_path / "stream_features.parquet")
    names = STREAM_FEATURES[:8]  # few inputs for 24 clips: the target is learnable
    m1 = fit_run(table, tmp_path / "a", names=names)
    m2 = fit_run(table, tmp_path / "b", names=names)
    assert (tmp_path / "a/model.onnx").read_bytes() == (tmp_path / "b/model.onnx").read_bytes()
    assert m1["loso"] == m2["loso"]
    assert m1["loso"]["n_families"] == 5  # alpha_a and alpha_b are one family
    assert set(m1["loso"]["per_family"]) == {"alpha", "beta", "gamma", "delta", "eps"}
    assert m1["loso"]["clip"]["plcc"] > 0.5  # a learnable synthetic target
    data = load_stream_data(table, names)
    model = LogitRidge(10.0).fit(data.x, data.y)
    sess = ort.InferenceSession(str(tmp_path / "a/model.onnx"), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"features": data.x.astype(np.float32)})[0][:, 0]
    np.testing.assert_allclose(got, model.predict(data.x), atol=0.05)
    assert check_model(tmp_path / "a/model.onnx").ok


def test_loso_never_trains_on_the_held_out_family(tmp_path: Path) -> None:
    data = load_stream_data(_table(tmp_path / "t.parquet"))
    seen: list[set[str]] = []

    class Spy(LogitRidge):
        def fit(self, x: np.ndarray, y: np.ndarray) -> Spy:
            rows = {tuple(r) for r in np.round(x, 9)}
            fams = {
                f for f, r in zip(data.family, np.round(data.x, 9), strict=True) if tuple(r) in rows
            }
            seen.append(fams)
            return super().fit(x, y)  # type: ignore[return-value]

    loso(data, Spy)
    assert len(seen) == 5 and all(len(s) == 4 for s in seen)


def test_clip_rows_are_the_runtime_features(tmp_path: Path, ffmpeg: FFmpeg) -> None:
    clip = lavfi_clip(ffmpeg, tmp_path / "c.mkv", frames=8, codec=x264(30))
    meta = {"key": "k", "source_id": "s", "source_kind": "natural", "codec": "libx264"}
    meta |= {"distortion": "encode", "crf": 30}
    cols = clip_stream_rows(ClipJob("k", str(clip), (160, 90), meta, tuple(range(8))))
    assert cols["frame"] == list(range(8)) and cols["vmaf"] == list(range(8))
    sf = extract_stream(clip)
    assert len(cols["log_bpp"]) == 8
    np.testing.assert_allclose(
        cols["log_bpp"], np.log(sf.packet_bytes * 8 / (160 * 90) + 1e-4), rtol=1e-9
    )


def test_register_into_scratch_zoo_and_card(tmp_path: Path, ffmpeg: FFmpeg) -> None:
    table = _table(tmp_path / "stream_features.parquet")
    fit_run(table, tmp_path / "run", names=DEFAULT_FEATURES)
    zoo = tmp_path / "zoo"
    zoo.mkdir()
    shutil.copy(shipped_zoo() / "registry.schema.json", zoo)
    row = register_stream_run(tmp_path / "run", zoo)
    assert row["id"] == "nr_stream_v1" and row["class"] == "C1" and row["bytes"] < 100 * 1024
    assert (zoo / "nr_stream_v1.onnx").is_file()
    reg = json.loads((zoo / "registry.json").read_text())
    assert set(reg["models"][0]["training"]["metrics"]["loso"]) == {
        "alpha", "beta", "gamma", "delta", "eps"
    }  # fmt: skip
    card = write_stream_card(zoo, tmp_path / "docs", "nr_stream_v1").read_text()
    assert card.startswith("---\n") and "model-index" in card and "| alpha |" in card
    clip = lavfi_clip(ffmpeg, tmp_path / "c.mp4", frames=6, codec=x264(30))
    res = score_stream(clip, zoo / "nr_stream_v1.onnx", backend="cpu")
    assert len(res.frames) == 6 and np.isfinite(res.frames).all()


@pytest.mark.parametrize("missing", ["model.onnx", "metrics.json"])
def test_register_refuses_an_incomplete_run(tmp_path: Path, missing: str) -> None:
    from vmaf_tiny.errors import BadInputError

    table = _table(tmp_path / "stream_features.parquet")
    fit_run(table, tmp_path / "run")
    (tmp_path / "run" / missing).unlink()
    with pytest.raises(BadInputError, match=missing):
        register_stream_run(tmp_path / "run", tmp_path / "zoo")


def _with_kind(path: Path, synthetic: set[str]) -> Path:
    t = pq.read_table(path)
    kinds = ["synthetic" if s in synthetic else "natural" for s in t["source_id"].to_pylist()]
    pq.write_table(t.append_column("source_kind", pa.array(kinds)), path)
    return path


def test_loso_figures_are_natural_only_but_synthetic_trains_every_fold(tmp_path: Path) -> None:
    table = _with_kind(_table(tmp_path / "t.parquet"), {"eps"})
    data = load_stream_data(table, STREAM_FEATURES[:8])
    sizes: list[int] = []

    class Count(LogitRidge):
        def fit(self, x: np.ndarray, y: np.ndarray) -> Count:
            sizes.append(x.shape[0])
            return super().fit(x, y)  # type: ignore[return-value]

    rep = loso(data, Count)
    assert rep["n_families"] == 4 and "eps" not in rep["per_family"]
    assert rep["n_clips"] == 20 and rep["n_frames"] == 120
    # every fold trains on the 4 eps clips: 24 clips in all, 4 or 8 held out (alpha has 2 ids)
    assert sorted(sizes) == [16 * 6, 20 * 6, 20 * 6, 20 * 6]


def test_v2_recipe_is_deterministic_and_onnx_matches_numpy(tmp_path: Path) -> None:
    from vmaf_train.nr_stream_v2 import V2_FEATURES, V2_MLP, LogitMLP

    assert len(V2_FEATURES) <= 64 and set(STREAM_FEATURES) <= set(V2_FEATURES)
    table = _table(tmp_path / "stream_features.parquet")
    names = STREAM_FEATURES[:8]
    m1 = fit_run(table, tmp_path / "a", names=names, recipe="v2")
    m2 = fit_run(table, tmp_path / "b", names=names, recipe="v2")
    assert (tmp_path / "a/model.onnx").read_bytes() == (tmp_path / "b/model.onnx").read_bytes()
    assert m1["loso"] == m2["loso"] and m1["model_id"] == "nr_stream_v2"
    assert m1["loso"]["clip"]["plcc"] > 0.5
    side = json.loads((tmp_path / "a/model.json").read_text())
    assert side["id"] == "nr_stream_v2" and side["metadata"]["mlp_hidden"] == V2_MLP["hidden"]
    assert m1["mlp"] == V2_MLP
    data = load_stream_data(table, names)
    mlp = V2_MLP
    model = LogitMLP(
        int(mlp["hidden"]), int(mlp["members"]), int(mlp["epochs"]), mlp["lr"],
        mlp["weight_decay"], skip=mlp["skip"], skip_alpha=mlp["skip_alpha"],
    ).fit(data.x, data.y)  # fmt: skip
    assert model.w1_.shape == (int(mlp["hidden"]) * int(mlp["members"]), len(names))
    sess = ort.InferenceSession(str(tmp_path / "a/model.onnx"), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"features": data.x.astype(np.float32)})[0][:, 0]
    np.testing.assert_allclose(got, model.predict(data.x), atol=0.05)
    ridge = LogitRidge(mlp["skip_alpha"]).fit(data.x, data.y)
    assert np.abs(got - ridge.predict(data.x)).max() > 0.01  # not just the linear path
    assert check_model(tmp_path / "a/model.onnx").ok


@pytest.mark.parametrize("bad", ["table", "alpha"])
def test_fit_cli_refuses_bad_input_in_one_line_and_writes_nothing(
    tmp_path: Path, bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from vmaf_train.nr_stream import main

    table = tmp_path / "junk.parquet"
    table.write_bytes(b"not parquet")
    alpha = "10"
    if bad == "alpha":
        table, alpha = _table(tmp_path / "stream_features.parquet"), "-1"
    argv = ["fit", "--features", str(table), "-o", str(tmp_path / "run"), f"--alpha={alpha}"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
    assert not (tmp_path / "run").exists()


def test_hold_out_leaves_families_out_of_the_fit_and_cannot_be_registered(
    tmp_path: Path,
) -> None:
    from vmaf_tiny.errors import BadInputError

    table = _table(tmp_path / "stream_features.parquet")
    names = STREAM_FEATURES[:8]
    full = fit_run(table, tmp_path / "full", names=names)
    m = fit_run(table, tmp_path / "held", names=names, hold_out=["beta", "alpha"])
    assert set(m["loso"]["per_family"]) == {"gamma", "delta", "eps"}
    assert m["held_out_families"] == ["alpha", "beta"] and m["n_rows"] == full["n_rows"] // 2
    side = json.loads((tmp_path / "held" / "model.json").read_text())
    assert side["metadata"]["held_out_families"] == "alpha,beta"
    assert (tmp_path / "held/model.onnx").read_bytes() != (
        tmp_path / "full/model.onnx"
    ).read_bytes()
    zoo = tmp_path / "zoo"
    zoo.mkdir()
    shutil.copy(shipped_zoo() / "registry.schema.json", zoo)
    with pytest.raises(BadInputError, match="hold-out"):
        register_stream_run(tmp_path / "held", zoo)
    with pytest.raises(BadInputError, match="no such family"):
        fit_run(table, tmp_path / "x", names=names, hold_out=["zeta"])


@pytest.mark.parametrize(
    "hold", [["alpha", "beta", "gamma", "delta", "eps"], ["alpha", "beta", "gamma", "delta"]]
)
def test_hold_out_must_leave_two_families_to_fit(tmp_path: Path, hold: list[str]) -> None:
    # holding out every family (or all but one) left an empty or one-family fit: a NaN model
    # and "LOSO over 0 families: PLCC nan", exit 0
    from vmaf_tiny.errors import BadInputError

    table = _table(tmp_path / "stream_features.parquet")
    with pytest.raises(BadInputError, match="hold-out"):
        fit_run(table, tmp_path / "x", names=STREAM_FEATURES[:8], hold_out=hold)
    assert not (tmp_path / "x").exists()
