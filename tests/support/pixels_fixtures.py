"""Session fixtures of the pixel-model tests: each model trained once on the smoke corpus.

Loaded from tests/conftest.py (``pytest_plugins``). The recipes are the shipped ones with tiny
overrides (a few steps, small frames), so every test exercises the real code paths end to end:
sampling, training, ONNX export and verification, evaluation, run directory.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.pixels_helpers import FILTER_TINY, NR_TINY, SAL_TINY

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def pixel_corpus(smoke_corpus: Path):
    from vmaf_train.data.frames import PixelCorpus

    return PixelCorpus.open(smoke_corpus)


@pytest.fixture(scope="session")
def nr_run(pixel_corpus, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from vmaf_train.fit.nr import fit_nr
    from vmaf_train.recipes import load_recipe

    run = tmp_path_factory.mktemp("nr-run")
    fit_nr(load_recipe("nr_metric_v1", NR_TINY, kind="nr"), pixel_corpus, run, progress=False)
    return run


@pytest.fixture(scope="session")
def filter_run(pixel_corpus, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from vmaf_train.fit.filter import fit_filter
    from vmaf_train.recipes import load_recipe

    run = tmp_path_factory.mktemp("filter-run")
    fit_filter(
        load_recipe("learned_filter_v2", FILTER_TINY, kind="filter"),
        pixel_corpus,
        run,
        progress=False,
    )
    return run


@pytest.fixture(scope="session")
def sal_run(pixel_corpus, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from vmaf_train.fit.saliency import fit_saliency
    from vmaf_train.recipes import load_recipe

    run = tmp_path_factory.mktemp("sal-run")
    fit_saliency(
        load_recipe("saliency_student_v1", SAL_TINY, kind="saliency"),
        pixel_corpus,
        run,
        progress=False,
    )
    return run


@pytest.fixture(scope="session")
def pixel_zoo(nr_run: Path, filter_run: Path, sal_run: Path, tmp_path_factory) -> Path:
    """A zoo holding the three smoke-trained runs and the two smoke checkpoints."""
    from vmaf_train.ship.register import register, register_smoke

    zoo = tmp_path_factory.mktemp("zoo")
    shutil.copyfile(
        REPO / "src" / "vmaf_tiny" / "zoo" / "registry.schema.json", zoo / "registry.schema.json"
    )
    for run in (nr_run, filter_run, sal_run):
        register(run, zoo)
    register_smoke(zoo)
    return zoo
