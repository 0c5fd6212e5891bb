"""Fast-path training data and fits: corpus extra columns, recipe checks, determinism."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from vmaf_tiny.errors import BadInputError
from vmaf_tiny.fast import FAST_FEATURES, extract_fast_features
from vmaf_tiny.ffmpeg import FFmpeg
from vmaf_tiny.parallel import make_executor
from vmaf_train.data.corpus import build_corpus
from vmaf_train.data.corpus_config import load_corpus_config
from vmaf_train.data.fast_features import CORPUS_POINTS, column_name
from vmaf_train.fit.fast import fit_fast, load_fast_recipe

CONFIG = """
name = "{name}"
frames = 6
fps = 25
extras = {extras}

[[sources]]
id = "bikes_s2"
type = "clip"
clip = "bikes"
start = 76
size = "192x108"

[[sources]]
id = "astronaut"
type = "still"
image = "astronaut"
motion = "pan"
speed = 1.0
size = "192x108"

[[sources]]
id = "testsrc2"
type = "lavfi"
graph = "testsrc2=size={{size}}:rate={{fps}}"
size = "192x108"

[[encode]]
codec = "libx264"
presets = ["veryfast"]
crfs = [22, 44]
"""

RECIPE = """
id = "fast_test"
kind = "fast"
class = "C1"
level = 1

[fast]
bands = 1
fraction = 0.375
subsample = 3

[arch]
model = "mlp"
hidden = [4]

[train]
seed = 3
epochs = 3
batch_size = 4
lr = 0.01
"""


@pytest.fixture(scope="module")
def fast_corpora(tmp_path_factory: pytest.TempPathFactory, ffmpeg: FFmpeg) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("fast_corpus")
    out = {}
    for name, extras in (("plain", '["psnr_y"]'), ("withfast", '["psnr_y", "fast"]')):
        cfg_path = d / f"{name}.toml"
        cfg_path.write_text(CONFIG.format(name=name, extras=extras))
        cfg = load_corpus_config(cfg_path)
        build_corpus(cfg, d / name, executor=make_executor(serial=True), progress=False)
        out[name] = d / name
    return out


def test_corpus_fast_columns(fast_corpora: dict[str, Path], ffmpeg: FFmpeg) -> None:
    plain = pq.read_table(fast_corpora["plain"] / "features.parquet")
    fast = pq.read_table(fast_corpora["withfast"] / "features.parquet")
    assert not [c for c in plain.column_names if c.startswith("fast_")]
    extra = [c for c in fast.column_names if c not in plain.column_names]
    assert extra == sorted(column_name(op, f) for op in CORPUS_POINTS for f in FAST_FEATURES)
    for c in plain.column_names:  # the ordinary columns are untouched by the extra
        assert fast.column(c).to_pylist() == plain.column(c).to_pylist(), c
    # a point's columns are filled on the frames it scores, null elsewhere, and equal the
    # runtime's own pass on the cached clip
    op = CORPUS_POINTS[1]
    rows = fast.to_pydict()
    key = rows["key"][0]
    idx = [i for i, k in enumerate(rows["key"]) if k == key]
    col = column_name(op, "sample_vmaf")
    got = [rows[col][i] for i in idx]
    assert [v is not None for v in got] == [f % op.subsample == 0 for f in range(len(idx))]
    manifest = json.loads((fast_corpora["withfast"] / "manifest.json").read_text())
    clip = next(c for c in manifest["clips"] if c["key"] == key)
    ref = next(r for r in manifest["references"] if r["source_id"] == rows["source_id"][0])
    base = fast_corpora["withfast"]
    feats = extract_fast_features(base / ref["file"], base / clip["file"], op, ffmpeg=ffmpeg)
    np.testing.assert_allclose(
        [v for v in got if v is not None], feats.columns["sample_vmaf"], atol=1e-9
    )


def test_fit_fast_is_deterministic_and_registrable(
    fast_corpora: dict[str, Path], tmp_path: Path
) -> None:
    recipe = tmp_path / "fast_test.toml"
    recipe.write_text(RECIPE)
    feats = fast_corpora["withfast"] / "features.parquet"
    a = fit_fast(recipe, feats, tmp_path / "a")
    fit_fast(recipe, feats, tmp_path / "b")
    assert (tmp_path / "a" / "model.onnx").read_bytes() == (
        tmp_path / "b" / "model.onnx"
    ).read_bytes()
    side = json.loads((tmp_path / "a" / "model.json").read_text())
    assert side["fast"] == {"bands": 1, "fraction": 0.375, "subsample": 3, "level": 1}
    assert side["feature_order"] == list(FAST_FEATURES)
    loso = json.loads((tmp_path / "a" / "loso" / "loso.json").read_text())
    assert sorted(r["fold"] for r in loso["rows"]) == ["astronaut", "bikes_s2"]  # natural only
    assert a["n_rows"] == 3 * 2 * 2  # 3 sources x 2 encodes x frames 0 and 3 of 6
    with pytest.raises(BadInputError, match="exists"):
        fit_fast(recipe, feats, tmp_path / "a")
    with pytest.raises(BadInputError, match="extras"):
        fit_fast(recipe, fast_corpora["plain"] / "features.parquet", tmp_path / "c")


def test_fast_recipe_checks(tmp_path: Path) -> None:
    p = tmp_path / "r.toml"
    for text, msg in (
        (RECIPE + "\nbogus = 1\n", "unknown key"),
        (RECIPE.replace('kind = "fast"', 'kind = "fr"'), "kind"),
        (RECIPE.replace("subsample = 3", "subsample = 0"), "subsample"),
        (RECIPE.replace("hidden = [4]", 'hidden = [4]\nfeatures = ["adm2"]'), "features"),
        (RECIPE.replace('model = "mlp"', 'model = "svm"'), "arch.model"),
    ):
        p.write_text(text)
        with pytest.raises(BadInputError, match=msg):
            load_fast_recipe(p)


def test_fit_mlp_leaves_torch_global_state_as_it_found_it() -> None:
    import torch

    from vmaf_train.fit.fast_model import fit_mlp

    x = np.random.default_rng(0).random((64, 3))
    threads, det = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    kw = {"hidden": [4], "epochs": 2, "batch_size": 16, "lr": 1e-2, "weight_decay": 0.0}
    a = fit_mlp(x, x.sum(1), seed=0, threads=1, **kw)
    assert (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()) == (threads, det)
    b = fit_mlp(x, x.sum(1), seed=0, threads=1, **kw)
    assert all(np.array_equal(p, q) for (p, _), (q, _) in zip(a.layers, b.layers, strict=True))
