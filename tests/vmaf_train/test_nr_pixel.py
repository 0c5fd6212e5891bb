"""``nr_metric_v2``'s recipe: the fixed (frame, previous frame) statistics, the LOSO fit, export,
registration and the generated card, on tiny inputs (seconds)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from vmaf_tiny.errors import BadInputError
from vmaf_tiny.registry import verify_registry
from vmaf_tiny.session import load_model
from vmaf_train.nr_pixel import (
    FEATURE_NAMES,
    MODEL_STATISTICS,
    TemporalStats,
    fit_run,
    load_table,
    pairs,
)
from vmaf_train.ship.cards import render_card
from vmaf_train.ship.pixel_nr import register_pixel_nr_run

ZOO = Path(__file__).resolve().parents[2] / "src" / "vmaf_tiny" / "zoo"
FAST = {"epochs": 60}  # the head's settings with fewer steps: the tests check plumbing
IDX = {n: i for i, n in enumerate(FEATURE_NAMES)}


def _stats(frames: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return TemporalStats()(torch.from_numpy(pairs(frames.astype(np.float32)))).numpy()


def test_statistics_see_motion_flatness_and_blur() -> None:
    rng = np.random.default_rng(0)
    noise = rng.random((72, 128)).astype(np.float32)
    still = _stats(np.stack([noise, noise]))
    assert still.shape == (2, len(FEATURE_NAMES)) and np.isfinite(still).all()
    assert still[1, IDX["static_lt0.1"]] == 1.0  # identical frames: every block static
    moved = _stats(np.stack([noise, np.roll(noise, 3, axis=1)]))
    assert (
        moved[1, IDX["static_lt2"]] < 0.1 and moved[1, IDX["tdiff_s1"]] > still[1, IDX["tdiff_s1"]]
    )
    flat = _stats(np.full((2, 72, 128), 0.5, np.float32))
    assert flat[0, IDX["flat_lt0.5"]] == 1.0 and noise_flat(still) == 0.0
    # a box blur removes fine detail: less full-scale gradient, the coarse scale barely moves
    k = np.ones(4, np.float32) / 4
    blur = np.apply_along_axis(lambda r: np.convolve(r, k, "same"), 1, noise)
    blur = np.apply_along_axis(lambda c: np.convolve(c, k, "same"), 0, blur)
    b = _stats(np.stack([blur, blur]))
    fine = b[0, IDX["s1_abs_dx"]] - still[0, IDX["s1_abs_dx"]]
    coarse = b[0, IDX["s8_abs_dx"]] - still[0, IDX["s8_abs_dx"]]
    assert fine < -0.5 and fine < coarse


def test_mscn_statistics_are_near_content_free_and_see_blur() -> None:
    """MSCN coefficients of white noise: neighbours barely (negatively, through the shared local
    mean) correlated, and the distribution's shape does not move with contrast; a blur
    correlates neighbours."""
    from vmaf_train.nr_pixel_stats import MSCN_NAMES, MSCNStats

    rng = np.random.default_rng(3)
    noise = rng.random((1, 1, 144, 256)).astype(np.float32)
    k = np.ones(6, np.float32) / 6
    blur = np.apply_along_axis(lambda r: np.convolve(r, k, "same"), 3, noise)
    blur = np.apply_along_axis(lambda c: np.convolve(c, k, "same"), 2, blur)
    with torch.no_grad():
        a, low, b = (
            MSCNStats()(torch.from_numpy(np.ascontiguousarray(v))).numpy()[0]
            for v in (noise, 0.5 + 0.2 * (noise - 0.5), blur)
        )
    i = {n: j for j, n in enumerate(MSCN_NAMES)}
    assert a.shape == (len(MSCN_NAMES),) and np.isfinite(a).all()
    assert -0.3 < a[i["mscn_s2_h_mean"]] < 0 and -0.3 < a[i["mscn_s2_v_mean"]] < 0
    np.testing.assert_allclose(low[i["mscn_s2_kurt"]], a[i["mscn_s2_kurt"]], atol=0.05)
    assert b[i["mscn_s2_h_mean"]] > a[i["mscn_s2_h_mean"]] + 0.2
    assert b[i["mscn_s2_v_mean"]] > a[i["mscn_s2_v_mean"]] + 0.2


def noise_flat(s: np.ndarray) -> float:
    return float(s[0, IDX["flat_lt0.5"]])


def _table(path: Path, seed: int = 0) -> Path:
    """A synthetic statistics table: 4 families x 3 clips x 40 frames, VMAF a logistic of two
    statistics (so LOSO must find it; the MLP head needs more rows than inputs)."""
    rng = np.random.default_rng(seed)
    rows = 4 * 3 * 40
    x = rng.normal(size=(rows, len(FEATURE_NAMES)))
    z = 1.5 * x[:, IDX["s1_abs_dx"]] - 1.0 * x[:, IDX["tdiff_s1"]]
    y = 100 / (1 + np.exp(-z))
    src = np.repeat([f"fam{i}_a" for i in range(4)], 120)
    key = np.repeat([f"c{i}" for i in range(12)], 40)
    np.savez(
        path,
        x=x,
        y=y,
        names=np.asarray(FEATURE_NAMES),
        manifest_sha256=np.asarray("0" * 64),
        key=key,
        source_id=src,
        codec=np.repeat(["libx264", "libx265", "libvpx-vp9"] * 4, 40),
        distortion=np.asarray(["encode"] * rows),
    )
    return path


def test_fit_loso_export_register_and_card(tmp_path: Path) -> None:
    table = _table(tmp_path / "t.npz")
    run = tmp_path / "run"
    m = fit_run(table, run, alpha=0.1)
    lo = m["loso"]
    assert lo["n_families"] == 4 and lo["n_clips"] == 12
    assert lo["clip"]["plcc"] > 0.9  # the signal is linear in the logit: LOSO recovers it
    assert set(lo["per_codec"]) == {"libx264", "libx265", "libvpx-vp9"}
    lm = load_model(run / "model.onnx", backend="cpu")  # guard + sidecar contract
    assert lm.sidecar["frame"]["temporal"] == "previous"
    assert lm.sidecar["inputs"][0]["shape"] == ["N", 2, 360, 640]
    zoo = tmp_path / "zoo"
    shutil.copytree(ZOO, zoo)
    row = register_pixel_nr_run(run, zoo)
    assert verify_registry(zoo).ok
    reg = json.loads((zoo / "registry.json").read_text())
    assert sum(r["id"] == "nr_metric_v2" for r in reg["models"]) == 1
    side = json.loads((zoo / row["sidecar"]).read_text())
    card = render_card(row, side)
    assert f"clip PLCC **{lo['clip']['plcc']:.3f}**" in card
    assert "| libx265 |" in card and "| fam2 |" in card and "python -m vmaf_train.nr_pixel" in card


def test_fit_is_deterministic_and_refuses_other_tables(tmp_path: Path) -> None:
    table = _table(tmp_path / "t.npz")
    fit_run(table, tmp_path / "a", mlp=FAST)
    fit_run(table, tmp_path / "b", mlp=FAST)
    ma = json.loads((tmp_path / "a" / "metrics.json").read_text())
    mb = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert ma["loso"] == mb["loso"]
    z = dict(np.load(table))
    z["names"] = np.asarray((*FEATURE_NAMES[:-1], "other"))
    np.savez(tmp_path / "bad.npz", **z)
    with pytest.raises(BadInputError, match="another statistics list"):
        load_table(tmp_path / "bad.npz")
    with pytest.raises(BadInputError, match="no such"):
        load_table(tmp_path / "missing.npz")


def test_baseline_comparison_splits_seen_and_unseen_families(tmp_path: Path) -> None:
    table = _table(tmp_path / "t.npz")
    z = np.load(table)
    keys, idx = np.unique(z["key"], return_inverse=True)
    teacher = np.bincount(idx, z["y"]) / np.bincount(idx)
    fam = {str(k): str(z["source_id"][idx == i][0])[:-2] for i, k in enumerate(keys)}
    base = {
        "model": "other",
        "clips": {
            str(k): {
                "pred": 50.0 + i,
                "teacher": float(teacher[i]),
                "family": fam[str(k)],
                "seen": fam[str(k)] != "fam3",
            }
            for i, k in enumerate(keys)
        },
    }
    (tmp_path / "b.json").write_text(json.dumps(base))
    m = fit_run(table, tmp_path / "run", baseline=tmp_path / "b.json", mlp=FAST)
    cmp = m["baseline_v1"]
    assert cmp["unseen_families"] == ["fam3"] and cmp["unseen"]["baseline"]["n"] == 3
    assert cmp["all"]["loso"] == m["loso"]["clip"]  # the same held-out predictions
    want_rmse = float(np.sqrt(np.mean((50.0 + np.arange(12) - teacher) ** 2)))
    assert abs(cmp["all"]["baseline"]["rmse"] - want_rmse) < 1e-9
    with pytest.raises(BadInputError, match="no such baseline"):
        fit_run(table, tmp_path / "run2", baseline=tmp_path / "missing.json")


def test_model_statistics_are_the_table_columns_without_flat_fractions() -> None:
    rng = np.random.default_rng(1)
    frames = rng.random((3, 72, 128)).astype(np.float32)
    x = torch.from_numpy(pairs(frames))
    with torch.no_grad():
        full, model = TemporalStats()(x).numpy(), TemporalStats(flat=False)(x).numpy()
    cols = [IDX[n] for n in MODEL_STATISTICS]
    assert model.shape == (3, len(MODEL_STATISTICS)) and not any(
        "flat" in n for n in MODEL_STATISTICS
    )
    np.testing.assert_allclose(model, full[:, cols], rtol=1e-6)


@pytest.mark.parametrize(
    "args",
    [
        ["fit", "-f", "{junk}", "-o", "{out}"],
        ["fit", "-f", "{good}", "-o", "{out}", "--alpha=-1"],
        ["fit", "-f", "{good}", "-o", "{out}", "--alpha=nan"],
        ["fit", "-f", "{good}", "-o", "{out}", "--baseline", "{missing}"],
    ],
)
def test_fit_cli_refuses_bad_input_in_one_line_and_writes_nothing(
    tmp_path: Path, args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    from vmaf_train.nr_pixel import main

    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not an npz")
    paths = {"junk": junk, "good": _table(tmp_path / "t.npz"), "out": tmp_path / "run"}
    paths["missing"] = tmp_path / "missing.json"
    assert main([a.format(**paths) for a in args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("bad", ["zoo", "docs"])
def test_register_cli_refuses_a_file_as_folder_before_writing(
    tmp_path: Path, bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from vmaf_train.nr_pixel import main

    fit_run(_table(tmp_path / "t.npz"), tmp_path / "run", mlp=FAST)
    (tmp_path / "afile").write_text("")
    zoo, docs = tmp_path / "zoo", tmp_path / "docs"
    argv = ["register", "-o", str(tmp_path / "run"), "--zoo", str(zoo), "--docs", str(docs)]
    argv[4 if bad == "zoo" else 6] = str(tmp_path / "afile" / "sub")
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "is a file, not a folder" in err and "\n" not in err
    assert not zoo.exists() and not docs.exists()


def test_family_curve_at_all_families_is_loso_and_draws_only_other_families(tmp_path: Path) -> None:
    from vmaf_train.nr_curve import families_for, family_curve
    from vmaf_train.nr_stream_loso import LogitRidge, loso

    data, _ = load_table(_table(tmp_path / "t.npz"))
    seen: list[set[str]] = []

    class Spy(LogitRidge):
        def fit(self, x: np.ndarray, y: np.ndarray) -> Spy:
            rows = np.flatnonzero(np.isin(data.x[:, 0], x[:, 0]))
            seen.append(set(data.family[rows]))
            return super().fit(x, y)  # type: ignore[return-value]

    rows = family_curve(data, lambda: Spy(0.1), [1, 2, 3], seeds=2)
    full = loso(data, lambda: LogitRidge(0.1))["clip"]
    assert [r["families"] for r in rows] == [1, 2, 3] and [r["draws"] for r in rows] == [2, 2, 1]
    assert rows[-1]["plcc"] == pytest.approx(full["plcc"]) and rows[-1]["rmse"] == pytest.approx(
        full["rmse"]
    )
    # every fold trains on exactly k families, none of them the held-out one
    folds = iter(seen)
    for r in rows:
        for _draw in range(r["draws"]):
            for fam in sorted(set(data.family)):
                trained = next(folds)
                assert len(trained) == r["families"] and fam not in trained
    assert rows[0]["plcc"] < rows[-1]["plcc"]  # one family of four generalises worse
    best = rows[-1]["plcc"]
    ext = families_for(rows, best + (1 - best) / 2)  # beyond the curve: more than 3 families
    assert ext is not None and ext["exponent"] > 0 and ext["families"] > 3
    low = families_for(rows, rows[0]["plcc"])  # already reached: the curve's own range
    assert low is not None and low["families"] < 3
    assert families_for(rows[:1], 0.99) is None
    for bad in ([0], [4], []):
        with pytest.raises(BadInputError, match=r"1\.\.3"):
            family_curve(data, LogitRidge, bad)


def test_curve_cli_writes_json_and_refuses_bad_flags(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from vmaf_train.nr_pixel import main

    table = _table(tmp_path / "t.npz")
    out = tmp_path / "curve.json"
    argv = ["curve", "-f", str(table), "--head", "ridge", "--families", "1,3", "-o", str(out)]
    assert main(argv) == 0
    got = json.loads(out.read_text())
    assert [r["families"] for r in got["rows"]] == [1, 3] and got["head"] == "ridge"
    assert "3 families (1 draw(s)): clip PLCC" in capsys.readouterr().out
    for bad in (["--families", "1,x"], ["--families", "9"], ["--goal", "1.5"], ["--seeds", "0"]):
        assert main(["curve", "-f", str(table), "--head", "ridge", *bad]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and "\n" not in err, err
