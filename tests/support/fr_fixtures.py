"""The training-toolkit tests' corpus and fit runs.

``tests/support/fixtures/fr_corpus.toml`` (9 sources, 5 natural; x264 at three CRFs, VP9 and an x264
ladder rung; 16 frames) is built once per session by the project's corpus builder: real encodes
scored by the real libvmaf teacher (about 10 s on 2 cores). Nine sources make every source-level
split and five LOSO folds non-empty, which the 3-source smoke corpus cannot.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
from pathlib import Path

import pytest

from vmaf_train.recipes import ModelConfig, load_fr_recipe

REPO = Path(__file__).resolve().parents[2]
FR_CORPUS = REPO / "tests" / "support" / "fixtures" / "fr_corpus.toml"


def build_fr_table(out_dir: Path) -> Path:
    """Build the test corpus into ``out_dir``; returns its features.parquet."""
    from vmaf_tiny.parallel import SerialExecutor
    from vmaf_train.data.corpus import build_corpus
    from vmaf_train.data.corpus_config import load_corpus_config

    cfg = load_corpus_config(FR_CORPUS)
    res = build_corpus(cfg, out_dir, executor=SerialExecutor(), progress=False)
    if res.failures:
        raise RuntimeError(f"fr test corpus failed: {res.failures}")
    return out_dir / "features.parquet"


# The fixture table has 9 sources: these fractions give 5 train, 2 val, 2 test sources.
FR_SPLIT = {"val_frac": 0.15, "test_frac": 0.25}
FAST_EPOCHS = 60


MOS_DISTORTIONS = ("x264-veryfast-crf18", "x264-veryfast-crf44", "vp9-8-crf50")


def pairs_with_mos(features: Path, out_dir: Path) -> Path:
    """A user's ``pairs.csv`` (reference, distorted, mos, source_id, key) over the test corpus's
    own clips, three per source; ``mos`` = 1 + 4 * clip-mean teacher score / 100 (it exercises
    the ``--target mos`` plumbing; it is not subjective data)."""
    import csv

    import numpy as np

    from vmaf_train.data.table import read_features

    t = read_features(features)
    keys = np.asarray(t.column("key").to_pylist())
    vm = t.column("vmaf").to_numpy()
    cache = features.parent / "cache"
    rows = []
    for ref in sorted((cache / "refs").glob("*.y4m")):
        sid = ref.name.rsplit("-", 1)[0]
        for tag in MOS_DISTORTIONS:
            key = f"{sid}__{tag}"
            (dis,) = sorted((cache / "clips").glob(f"{key}-*"))
            mos = round(1.0 + 4.0 * float(np.clip(vm[keys == key].mean(), 0, 100)) / 100.0, 3)
            rows.append(
                {"reference": ref, "distorted": dis, "mos": mos, "source_id": sid, "key": key}
            )
    csv_path = out_dir / "pairs.csv"
    with csv_path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return csv_path


def fast_config(model_id: str, **train: object) -> ModelConfig:
    """A shipped recipe with the fixture's split and a short epoch budget."""
    cfg = load_fr_recipe(REPO / "configs" / "models" / f"{model_id}.toml")
    return cfg.with_overrides(split=FR_SPLIT, train={"epochs": FAST_EPOCHS, **train})


@pytest.fixture(scope="session")
def fr_features(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real features table (9 sources, 5 natural; 45 clips; 16 frames each)."""
    return build_fr_table(tmp_path_factory.mktemp("fr_fixture"))


@pytest.fixture(scope="session")
def fr_features_mos(fr_features: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A user's MOS table made by ``vmaf-train extract-features --pairs pairs.csv`` (27 pairs
    of the test corpus's clips, 9 sources, with a ``mos`` column)."""
    d = tmp_path_factory.mktemp("fr_mos")
    out = d / "features.parquet"
    run_cli(
        "extract-features",
        "--pairs",
        pairs_with_mos(fr_features, d),
        "--out",
        out,
        "--serial",
        "--no-progress",
        check=True,
    )
    return out


@pytest.fixture(scope="session")
def fr_run(fr_features: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished ``fit`` run of vmaf_tiny_v3 (baked scaler, int8 recipe) on the fixture."""
    from vmaf_train.fit.fr import fit_run

    out = tmp_path_factory.mktemp("fr_runs") / "vmaf_tiny_v3"
    fit_run(fast_config("vmaf_tiny_v3"), fr_features, out, n_boot=200)
    return out


@pytest.fixture(scope="session")
def fr_codec_run(fr_features: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished ``fit`` run of fr_regressor_v3 (sidecar normalisation, 18-d codec block)."""
    from vmaf_train.fit.fr import fit_run

    out = tmp_path_factory.mktemp("fr_runs") / "fr_regressor_v3"
    fit_run(fast_config("fr_regressor_v3"), fr_features, out, n_boot=200)
    return out


def run_cli(
    *args: object, check: bool = False, fresh: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run ``vmaf-train ARGS`` through the real entry point (``run_app``: error contract, exit
    codes) in this process, or with ``fresh`` in a new interpreter."""
    argv = [str(a) for a in args]
    if fresh:
        proc = subprocess.run(
            [sys.executable, "-c", "from vmaf_train.cli import main; main()", *argv],
            capture_output=True,
            text=True,
            check=False,
        )
    else:
        from vmaf_tiny.console import run_app
        from vmaf_train.cli import app

        out, err = io.StringIO(), io.StringIO()
        code: int | str | None = 0
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                run_app(app, argv, prog_name="vmaf-train")
            except SystemExit as exc:
                code = exc.code
        rc = code if isinstance(code, int) else (0 if code is None else 1)
        proc = subprocess.CompletedProcess(
            ["vmaf-train", *argv], rc, out.getvalue(), err.getvalue()
        )
    if check and proc.returncode != 0:
        raise AssertionError(f"vmaf-train {argv} failed ({proc.returncode}): {proc.stderr}")
    return proc
