"""Shared fixtures: paths to ../shared reference data and the ffmpeg binary."""

from __future__ import annotations

from pathlib import Path

import pytest

from vmaf_tiny.ffmpeg import FFmpeg, resolve_ffmpeg

pytest_plugins = ["tests.support.pixels_fixtures"]  # pixel-model fixtures (issue 5)

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SHARED_DATA = SHARED / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not beside this checkout")
    return SHARED_DATA


@pytest.fixture(scope="session")
def ffmpeg() -> FFmpeg:
    return resolve_ffmpeg()


@pytest.fixture(scope="session")
def smoke_corpus(tmp_path_factory: pytest.TempPathFactory, ffmpeg: FFmpeg) -> Path:
    """The smoke corpus, built once per test session (serial). Returns its directory."""
    from vmaf_tiny.parallel import SerialExecutor
    from vmaf_train.data.corpus import build_corpus
    from vmaf_train.data.corpus_config import load_corpus_config

    out = tmp_path_factory.mktemp("smoke-corpus")
    cfg = load_corpus_config(REPO / "configs" / "corpus" / "smoke.toml")
    res = build_corpus(cfg, out, executor=SerialExecutor(), ffmpeg=ffmpeg, progress=False)
    if res.failures:
        raise RuntimeError(f"smoke corpus failed: {res.failures}")
    return out


@pytest.fixture(scope="session")
def smoke_features(smoke_corpus: Path) -> Path:
    """features.parquet of the smoke corpus."""
    return smoke_corpus / "features.parquet"


# ---------------------------------------------------------------- runtime (guard, scoring, bench)


@pytest.fixture(scope="session")
def tiny_models():
    """``tests/support/tiny_models.py``: builders of small real ONNX models and their sidecars."""
    from tests.support import tiny_models

    return tiny_models


@pytest.fixture(scope="session")
def runtime_clips(tmp_path_factory: pytest.TempPathFactory, ffmpeg: FFmpeg) -> dict[str, Path]:
    """A small generated pair: testsrc2 160x90 x 12 frames (y4m) and its x264 crf 35 encode."""
    from tests.support.clips import lavfi_clip, x264

    d = tmp_path_factory.mktemp("runtime_clips")
    ref = lavfi_clip(ffmpeg, d / "ref.y4m", frames=12)
    dis = d / "dis.mp4"
    ffmpeg.run(["-loglevel", "error", "-i", str(ref), *x264(35), str(dis)], what="encode")
    return {"ref": ref, "dis": dis, "dir": d}


# Training-toolkit fixtures (a real features table built once per session, fit runs).
from tests.support.fr_fixtures import fr_codec_run, fr_features, fr_features_mos, fr_run  # noqa: E402, F401
