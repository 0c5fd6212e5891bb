"""Generated docs: model cards (HF-style front matter), snapshot table, schema block."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from tests.support.fr_fixtures import FR_SPLIT, fast_config, run_cli
from vmaf_train.evaluate.baseline import svr_baseline_run
from vmaf_train.evaluate.loso import run_cv
from vmaf_train.recipes import SplitConfig
from vmaf_train.ship.card_parts import RUNTIME_BEGIN, RUNTIME_END, extract_block
from vmaf_train.ship.cards import (
    SCHEMA_BEGIN,
    SCHEMA_END,
    SNAPSHOT_BEGIN,
    SNAPSHOT_END,
    schema_markdown,
)
from vmaf_train.ship.cards_fr import goal_status
from vmaf_train.ship.quantize import quantize_int8
from vmaf_train.ship.register import register

REPO = Path(__file__).resolve().parents[3]
UPSTREAM = REPO.parent / "shared" / "data" / "vmaf_models" / "vmaf_v0.6.1.json"


@pytest.fixture(scope="module")
def zoo(
    fr_run: Path, fr_codec_run: Path, fr_features: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    root = tmp_path_factory.mktemp("cards")
    run = root / "vmaf_tiny_v3"
    shutil.copytree(fr_run, run)
    run_cv(fast_config("vmaf_tiny_v3", epochs=15), fr_features, run / "loso", progress=False)
    quantize_int8(run / "model.onnx", fr_features, run / "model.int8.onnx", n_calib=256)
    base = root / "baseline"
    svr_baseline_run(
        fr_features,
        base,
        split=SplitConfig(**FR_SPLIT),
        max_rows=300,
        upstream_model=UPSTREAM if UPSTREAM.is_file() else None,
        n_boot=50,
    )
    zoo = root / "zoo"
    register(run, zoo, baseline=base)
    register(fr_codec_run, zoo, baseline=base)
    return zoo


def _front_matter(text: str) -> dict:  # type: ignore[type-arg]
    assert text.startswith("---\n")
    end = text.index("\n---\n", 4)
    return yaml.safe_load(text[4:end])


def test_report_writes_cards_from_the_registry(zoo: Path, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    run_cli("report", "--zoo", zoo, "--docs", docs, check=True)
    reg = json.loads((zoo / "registry.json").read_text())
    rows = {r["id"]: r for r in reg["models"]}
    assert sorted(p.name for p in (docs / "models").iterdir()) == [
        "fr_regressor_v3.md",
        "vmaf_tiny_v3.md",
    ]
    text = (docs / "models" / "vmaf_tiny_v3.md").read_text()
    fm = _front_matter(text)
    results = fm["model-index"][0]["results"]
    assert fm["model-index"][0]["name"] == "vmaf_tiny_v3"
    test_m = {m["type"]: m["value"] for m in results[0]["metrics"]}
    want = rows["vmaf_tiny_v3"]["training"]["metrics"]["test"]
    assert test_m["pearsonr"] == pytest.approx(want["plcc"], abs=1e-6)
    assert test_m["rmse"] == pytest.approx(want["rmse"], abs=1e-6)
    loso = rows["vmaf_tiny_v3"]["training"]["metrics"]["loso"]
    assert results[1]["dataset"]["split"] == "loso"
    assert {m["type"]: m["value"] for m in results[1]["metrics"]}["rmse"] == pytest.approx(
        loso["summary"]["rmse_mean"], abs=1e-6
    )
    # Body: every LOSO fold, the goal verdict, the int8 decision, baselines, runtime markers.
    for fold in ("astronaut_pan", "bbb_s1", "bikes_s0", "carphone", "coffee_pan"):
        assert f"| {fold} | 0 |" in text
    assert "LOSO mean RMSE <= 0.6: measured" in text
    assert "## int8" in text and "Gate `PLCC(fp32) - PLCC(int8) <= 0.001" in text
    assert "SVR baseline (VMAF recipe, NuSVR" in text
    if UPSTREAM.is_file():
        assert "upstream vmaf_v0.6.1 SVM" in text
    assert f"{RUNTIME_BEGIN}\n{RUNTIME_END}" in text
    codec_card = (docs / "models" / "fr_regressor_v3.md").read_text()
    assert "Codec block (18 columns)" in codec_card and "codec_vocab_v1" in codec_card
    assert "sidecar (`feature_mean`, `feature_std`)" in codec_card
    assert "Not run for this registration." in codec_card  # no LOSO for this one
    assert "no worse than `fr_regressor_v1`" in codec_card and "not measured" in codec_card


def test_runtime_block_survives_and_hand_edits_do_not(zoo: Path, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    run_cli("report", "--zoo", zoo, "--docs", docs, check=True)
    card = docs / "models" / "vmaf_tiny_v3.md"
    fresh = card.read_text()
    figures = "| clip | fps |\n|---|---|\n| park_joy | 812 |"
    with_figures = fresh.replace(
        f"{RUNTIME_BEGIN}\n{RUNTIME_END}", f"{RUNTIME_BEGIN}\n{figures}\n{RUNTIME_END}"
    )
    assert with_figures != fresh
    edited = with_figures + "HAND EDIT\n"
    card.write_text(edited)
    out = json.loads(run_cli("report", "--zoo", zoo, "--docs", docs, "--json", check=True).stdout)
    assert str(card) in out["written"]
    text = card.read_text()
    assert extract_block(text, RUNTIME_BEGIN, RUNTIME_END) == figures
    assert "HAND EDIT" not in text
    assert text == with_figures
    again = json.loads(run_cli("report", "--zoo", zoo, "--docs", docs, "--json", check=True).stdout)
    assert str(card) in again["unchanged"]


def test_benchmarks_md_only_the_snapshot_block_changes(zoo: Path, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    before = "# Benchmarks\n\nCorpus throughput: 180 pairs/min (command ...).\n\n"
    after = "\n## Runtime\n\nkept as is\n"
    (docs / "benchmarks.md").write_text(
        f"{before}{SNAPSHOT_BEGIN}\nstale table\n{SNAPSHOT_END}{after}"
    )
    run_cli("report", "--zoo", zoo, "--docs", docs, check=True)
    text = (docs / "benchmarks.md").read_text()
    assert text.startswith(before) and text.endswith(f"{SNAPSHOT_END}{after}")
    snap = extract_block(text, SNAPSHOT_BEGIN, SNAPSHOT_END)
    assert snap is not None and "stale" not in snap
    assert "| Model | Target | Validation summary | Runtime note |" in snap
    assert "| `vmaf_tiny_v3` | per-frame vmaf_v0.6.1 (teacher) | test PLCC" in snap
    assert "LOSO 5 folds" in snap
    assert "| `fr_regressor_v3` |" in snap


def test_committed_training_doc_schema_matches_the_code() -> None:
    text = (REPO / "docs" / "training.md").read_text()
    assert extract_block(text, SCHEMA_BEGIN, SCHEMA_END) == schema_markdown(), (
        "docs/training.md is stale: run `vmaf-train report`"
    )
    assert "`vmaf` | double | no |" in schema_markdown()


def test_goal_status_verdicts() -> None:
    def row(mid: str, rmse: float | None, goals: dict) -> dict:  # type: ignore[type-arg]
        loso = None if rmse is None else {"summary": {"rmse_mean": rmse, "plcc_mean": 0.9995}}
        return {"id": mid, "training": {"metrics": {"loso": loso, "extra": {"goals": goals}}}}

    v1 = row("fr_regressor_v1", 0.8, {})
    good = row(
        "m", 0.5, {"loso_rmse_max": 0.6, "loso_plcc_min": 0.999, "no_worse_than": "fr_regressor_v1"}
    )
    bad = row("m", 0.9, {"loso_rmse_max": 0.6, "no_worse_than": "fr_regressor_v1"})
    assert all("**met**" in g for g in goal_status(good, [v1, good]))
    assert all("**not met**" in g for g in goal_status(bad, [v1, bad]))
    assert "not measured" in goal_status(row("m", None, {"loso_rmse_max": 0.6}), [])[0]


def test_report_renders_pixel_models_with_the_pixel_card(tmp_path: Path) -> None:
    """`vmaf-train report` over the shipped zoo: pixel rows get pixel cards and snapshot rows."""
    from vmaf_train.ship.card_parts import is_pixel_model
    from vmaf_train.ship.cards import write_reports
    from vmaf_train.ship.cards_pixels import render_pixel_card
    from vmaf_train.ship.pixel_nr import is_temporal_nr, render_pixel_nr_card

    repo = Path(__file__).resolve().parents[3]
    zoo = tmp_path / "zoo"
    shutil.copytree(repo / "src" / "vmaf_tiny" / "zoo", zoo)
    docs = tmp_path / "docs"
    (docs / "models").mkdir(parents=True)
    write_reports(zoo, docs)
    reg = json.loads((zoo / "registry.json").read_text())
    snapshot = (docs / "benchmarks.md").read_text()
    pixel_rows = 0
    for row in reg["models"]:
        assert f"`{row['id']}`" in snapshot
        side = json.loads((zoo / row["sidecar"]).read_text())
        if is_temporal_nr(side):  # nr_metric_v2: its own LOSO card
            card = (docs / "models" / f"{row['id']}.md").read_text()
            assert card == render_pixel_nr_card(row, side)
        elif is_pixel_model(side):
            pixel_rows += 1
            card = (docs / "models" / f"{row['id']}.md").read_text()
            assert card == render_pixel_card(row, side)
    assert pixel_rows >= 1
