"""Session fixtures of the pixel-model tests: each model trained once on the smoke corpus.

Loaded from tests/conftest.py (``pytest_plugins``). The recipes are the shipped ones with tiny
overrides (a few steps, small frames), so every test exercises the real code paths end to end:
sampling, training, ONNX export and verification, evaluation, run directory.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.pixels_helpers import FILTER_TINY, NR_TINY, SAL_TINY

REPO = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def _torch_state_kept() -> Iterator[None]:
    """The pixel fits switch torch to deterministic kernels globally (``pixels.runs.setup_torch``)
    and leave it so; put it back so later tests (``test_determinism``) see the default."""
    import torch

    det = torch.are_deterministic_algorithms_enabled()
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(det)


@pytest.fixture(scope="session")
def pixel_corpus(smoke_corpus: Path):
    from vmaf_train.pixels.frames import PixelCorpus

    return PixelCorpus.open(smoke_corpus)


@pytest.fixture(scope="session")
def nr_run(pixel_corpus, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from vmaf_train.pixels.nr import fit_nr, load_nr_config

    run = tmp_path_factory.mktemp("nr-run")
    with _torch_state_kept():
        fit_nr(load_nr_config(overrides=NR_TINY), pixel_corpus, run, progress=False)
    return run


@pytest.fixture(scope="session")
def filter_run(pixel_corpus, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from vmaf_train.pixels.filter import fit_filter, load_filter_config

    run = tmp_path_factory.mktemp("filter-run")
    with _torch_state_kept():
        fit_filter(load_filter_config(overrides=FILTER_TINY), pixel_corpus, run, progress=False)
    return run


@pytest.fixture(scope="session")
def sal_run(pixel_corpus, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from vmaf_train.pixels.saliency import fit_saliency, load_saliency_config

    run = tmp_path_factory.mktemp("sal-run")
    with _torch_state_kept():
        fit_saliency(load_saliency_config(overrides=SAL_TINY), pixel_corpus, run, progress=False)
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
