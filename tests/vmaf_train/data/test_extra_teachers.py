"""Corpus ``teachers = [...]``: the NEG and 4K teachers (and the NEG-mode features) in the same
libvmaf pass, stored as extra columns; every other column keeps its value, and a config without
the key builds what it built before. Real ffmpeg/libvmaf, the smoke corpus."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from vmaf_tiny.errors import BadInputError
from vmaf_tiny.ffmpeg import FFmpeg
from vmaf_tiny.parallel import SerialExecutor
from vmaf_train.data.corpus import build_corpus
from vmaf_train.data.corpus_config import load_corpus_config
from vmaf_train.data.dataset import load_fr_data
from vmaf_train.data.extra_teachers import teacher_columns
from vmaf_train.data.table import SCHEMA

REPO = Path(__file__).resolve().parents[3]
NEW = [
    "vmaf_neg",
    "vmaf_4k",
    "adm2_egl_1",
    "vif_scale0_egl_1",
    "vif_scale1_egl_1",
    "vif_scale2_egl_1",
    "vif_scale3_egl_1",
]


def test_smoke_corpus_has_the_teacher_columns(smoke_corpus: Path) -> None:
    t = pq.read_table(smoke_corpus / "features.parquet")
    assert t.column_names == [*SCHEMA.names, *NEW]
    assert list(teacher_columns(["vmaf_4k_v0.6.1", "vmaf_v0.6.1neg"])) == NEW
    for c in NEW:
        v = t.column(c).to_numpy()
        assert np.isfinite(v).all() and t.schema.field(c).metadata
    neg, vm, k4 = (t.column(c).to_numpy() for c in ("vmaf_neg", "vmaf", "vmaf_4k"))
    assert ((neg >= 0) & (neg <= 100)).all() and ((k4 >= 0) & (k4 <= 100)).all()
    # NEG takes the enhancement gain away: lower on average, by points somewhere; the 4K model
    # (viewing distance 1.5 H) is more lenient on average
    assert neg.mean() < vm.mean() - 0.2 and (neg < vm - 1.0).any()
    assert k4.mean() > vm.mean()
    # the egl_1 features are the gain-limited variants of the canonical ones: never higher
    for c in ("adm2", "vif_scale0", "vif_scale1", "vif_scale2", "vif_scale3"):
        capped, plain = t.column(f"{c}_egl_1").to_numpy(), t.column(c).to_numpy()
        assert (capped <= plain + 1e-6).all() and (capped < plain).any(), c
    man = json.loads((smoke_corpus / "manifest.json").read_text())
    assert man["config"]["teachers"] == ["vmaf_v0.6.1neg", "vmaf_4k_v0.6.1"]
    data = load_fr_data(t, target="vmaf_neg", features=("adm2_egl_1", "motion2"))
    assert data.features.shape == (t.num_rows, 2)
    np.testing.assert_array_equal(data.target, neg)


def test_without_teachers_every_old_column_is_identical(
    smoke_corpus: Path, tmp_path: Path, ffmpeg: FFmpeg
) -> None:
    text = (REPO / "configs" / "corpus" / "smoke.toml").read_text()
    lines = [ln for ln in text.splitlines() if not ln.startswith("teachers")]
    assert len(lines) == len(text.splitlines()) - 1
    cfg_path = tmp_path / "smoke.toml"
    cfg_path.write_text("\n".join(lines) + "\n")
    cfg = load_corpus_config(cfg_path)
    assert cfg.teachers == () and "teachers" not in cfg.resolved()
    res = build_corpus(cfg, tmp_path / "c", executor=SerialExecutor(), ffmpeg=ffmpeg,
                       progress=False)  # fmt: skip
    plain = pq.read_table(tmp_path / "c" / "features.parquet")
    full = pq.read_table(smoke_corpus / "features.parquet")
    assert plain.column_names == SCHEMA.names and res.table.num_rows == full.num_rows
    for c in plain.column_names:
        assert plain.column(c).equals(full.column(c)), c
    with pytest.raises(BadInputError, match="vmaf_neg"):
        load_fr_data(plain, target="vmaf_neg")


def test_unknown_teacher_is_a_one_line_error(tmp_path: Path) -> None:
    text = (REPO / "configs" / "corpus" / "smoke.toml").read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace('"vmaf_4k_v0.6.1"]', '"vmaf_8k"]'))
    with pytest.raises(BadInputError, match="teachers"):
        load_corpus_config(bad)
