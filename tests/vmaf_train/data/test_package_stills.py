"""Stills that ship in other wheels of the training extra (scikit-learn, matplotlib, PyWavelets)
render like scikit-image ones: deterministic, the PGM made from a ``.npz`` cleaned up."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vmaf_tiny.ffmpeg import FFmpeg
from vmaf_train.data.sources import PACKAGE_STILLS, STILLS, Source, render_reference


@pytest.mark.parametrize("name", sorted(PACKAGE_STILLS))
def test_package_still_renders_deterministically(name: str, tmp_path: Path, ffmpeg: FFmpeg) -> None:
    assert name in STILLS
    src = Source(name, "natural", "still", 64, 36, {"image": name, "motion": "pan"})
    assert src.inputs()[0].is_file()
    a = render_reference(src, tmp_path / "a.y4m", frames=3, fps=25, ffmpeg=ffmpeg)
    b = render_reference(src, tmp_path / "b.y4m", frames=3, fps=25, ffmpeg=ffmpeg)
    assert a.read_bytes() == b.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.y4m", "b.y4m"]  # no PGM left
    header = a.open("rb").readline()
    luma = np.frombuffer(a.read_bytes()[len(header) + 6 :][: 64 * 36], np.uint8)
    assert luma.std() > 2  # a picture, not a flat frame
