"""Shared fixtures: paths to ../shared reference data and the ffmpeg binary."""

from __future__ import annotations

from pathlib import Path

import pytest

from vmaf_tiny.ffmpeg import FFmpeg, resolve_ffmpeg

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

# Training-toolkit fixtures (a real features table built once per session, fit runs).
from fr_fixtures import fr_codec_run, fr_features, fr_features_mos, fr_run  # noqa: E402, F401
