"""Shared fixtures: paths to ../shared reference data and the ffmpeg binary."""

from __future__ import annotations

from pathlib import Path

import pytest

from vmaf_tiny.ffmpeg import FFmpeg, resolve_ffmpeg

pytest_plugins = ["tests.pixels_fixtures"]  # pixel-model fixtures (issue 5)

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
    """``benchmarks/tiny_models.py``: builders of small real ONNX models and their sidecars."""
    import importlib.util
    import sys

    name = "tiny_models"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="session")
def runtime_clips(tmp_path_factory: pytest.TempPathFactory, ffmpeg: FFmpeg) -> dict[str, Path]:
    """A small generated pair: testsrc2 160x90 x 12 frames (y4m) and its x264 crf 35 encode."""
    from tests.clips import lavfi_clip, x264

    d = tmp_path_factory.mktemp("runtime_clips")
    ref = lavfi_clip(ffmpeg, d / "ref.y4m", frames=12)
    dis = d / "dis.mp4"
    ffmpeg.run(["-loglevel", "error", "-i", str(ref), *x264(35), str(dis)], what="encode")
    return {"ref": ref, "dis": dis, "dir": d}


# Training-toolkit fixtures (a real features table built once per session, fit runs).
from tests.fr_fixtures import fr_codec_run, fr_features, fr_features_mos, fr_run  # noqa: E402, F401
