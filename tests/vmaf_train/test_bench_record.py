"""``vmaf-train bench``: the runtime benchmark, then its figures written into the model card and
docs/benchmarks.md (only the marked blocks), refused before measuring when there is nowhere to
write."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from vmaf_tiny.errors import BadInputError
from vmaf_train.ship.bench_record import CARD_BEGIN, CARD_END, checkout_root, record_card

REPO = Path(__file__).resolve().parents[2]
VMAF_TRAIN = Path(sys.executable).parent / "vmaf-train"
QUICK = ["--sizes", "96x64x6", "--runs", "2", "--batch1-calls", "200", "--big-batch", "256"]


def test_checkout_root_is_this_checkout() -> None:
    assert checkout_root() == REPO  # this test runs from the checkout (editable install)


@pytest.fixture(scope="module")
def recorded(tiny_models, tmp_path_factory: pytest.TempPathFactory):
    from vmaf_tiny.codec import codec_block_spec

    d = tmp_path_factory.mktemp("bench-record")
    model, _ = tiny_models.fr_mlp(d, "bench_fr", codec_block=codec_block_spec("v3"))
    docs = d / "docs"
    (docs / "models").mkdir(parents=True)
    (docs / "models" / "bench_fr.md").write_text(
        "# bench_fr\n\nIntro written by the card generator.\n"
    )
    (docs / "benchmarks.md").write_text("# Benchmarks\n\nProse kept.\n")
    out = subprocess.run(
        [
            *(str(VMAF_TRAIN), "bench", "-m", str(model), "--backend", "cpu", *QUICK),
            *("--clips-dir", str(d / "clips"), "-o", str(d / "res.json"), "--docs", str(docs)),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return d, docs, model, out


def test_bench_records_only_the_runtime_blocks(recorded, tmp_path: Path) -> None:
    d, docs, _model, out = recorded
    assert out.returncode == 0, out.stderr
    assert json.loads((d / "res.json").read_text())["schema_version"] == 1
    assert "| 96x64x6 |" in out.stdout  # printed like vmaf-tiny bench
    card = docs / "models" / "bench_fr.md"
    assert f"recorded figures in {card}" in out.stderr
    text = card.read_text()
    assert text.startswith("# bench_fr\n\nIntro written by the card generator.\n")
    assert text.count(CARD_BEGIN) == 1 and text.count(CARD_END) == 1
    assert "## Runtime figures" in text and "| 96x64x6 |" in text
    doc = (docs / "benchmarks.md").read_text()  # the docs table beside the cards, same figures
    assert doc.startswith("# Benchmarks\n\nProse kept.\n")
    assert doc.count("<!-- bench-cpu:begin -->") == 1 and "| 96x64x6 |" in doc
    assert "Goals: end-to-end ratio tiny/SVM >= 0.9 at every size: **" in doc
    # Text after the block survives a second recording; the block is replaced, not appended.
    card.write_text(text + "\nFooter kept.\n")
    res = json.loads((d / "res.json").read_text())
    res["end_to_end"][0]["clip"] = "RECORDED-AGAIN"
    record_card(res, docs / "models")
    new = card.read_text()
    assert new.count(CARD_BEGIN) == 1 and "RECORDED-AGAIN" in new and "Footer kept." in new
    assert new.startswith("# bench_fr\n\nIntro written by the card generator.\n")
    with pytest.raises(BadInputError, match="no model card"):
        record_card(res, tmp_path)


def test_a_missing_docs_dir_fails_before_measuring(recorded, tmp_path: Path) -> None:
    _d, _docs, model, _ = recorded
    out = subprocess.run(
        [
            *(str(VMAF_TRAIN), "bench", "-m", str(model), *QUICK),
            *("--docs", str(tmp_path / "nope"), "--clips-dir", str(tmp_path / "clips")),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 2
    assert out.stderr.strip() == f"error: no model cards directory {tmp_path / 'nope' / 'models'}"
    assert not (tmp_path / "clips").exists()  # nothing was measured
