"""Golden tests: our libvmaf pass reproduces upstream's published VMAF values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vmaf_tiny import VideoSpec, extract_features
from vmaf_tiny.features import CANONICAL6


def test_src01_pair_matches_upstream(shared_data: Path) -> None:
    clips = shared_data / "clips"
    ref = VideoSpec(clips / "src01_ref_160x90_48f.yuv", 160, 90, "yuv420p")
    dis = VideoSpec(clips / "src01_dis_160x90_48f.yuv", 160, 90, "yuv420p")
    res = extract_features(ref, dis)
    assert res.n_frames == 48
    assert abs(float(np.mean(res.vmaf)) - 92.5209) <= 1e-3
    # upstream per-feature means (published with the same pair)
    assert abs(float(np.mean(res.columns["vif_scale0"])) - 0.68954) < 1e-4
    assert abs(float(np.mean(res.columns["adm2"])) - 0.98075) < 1e-4
    assert abs(float(np.mean(res.columns["motion2"])) - 1.35774) < 1e-4
    assert res.matrix().shape == (48, len(CANONICAL6))
    assert res.model_version == "vmaf_v0.6.1"
    assert res.ffmpeg_version.startswith("ffmpeg version")
    assert res.libvmaf_version


def test_sparks_10bit_pair_matches_upstream(shared_data: Path) -> None:
    clips = shared_data / "clips"
    ref = VideoSpec(clips / "sparks_ref_480x270.yuv420p10le.yuv", 480, 270, "yuv420p10le")
    dis = VideoSpec(clips / "sparks_dis_480x270.yuv420p10le.yuv", 480, 270, "yuv420p10le")
    res = extract_features(ref, dis, extras=["psnr_y", "float_ssim"])
    assert res.n_frames == 5
    assert abs(float(np.mean(res.vmaf)) - 97.9006) <= 1e-3
    assert np.isfinite(res.columns["psnr_y"]).all()
    assert res.distorted.bit_depth == 10


def test_extras_unavailable_at_tiny_size_are_nan_with_warning(shared_data: Path) -> None:
    clips = shared_data / "clips"
    ref = VideoSpec(clips / "src01_ref_160x90_48f.yuv", 160, 90)
    dis = VideoSpec(clips / "src01_dis_160x90_48f.yuv", 160, 90)
    res = extract_features(ref, dis, extras=["float_ms_ssim"])
    assert np.isnan(res.columns["float_ms_ssim"]).all()
    assert any("float_ms_ssim" in w for w in res.warnings)


@pytest.mark.parametrize("extra", ["bogus"])
def test_unknown_extra_is_bad_input(shared_data: Path, extra: str) -> None:
    from vmaf_tiny.errors import BadInputError

    clips = shared_data / "clips"
    ref = VideoSpec(clips / "src01_ref_160x90_48f.yuv", 160, 90)
    with pytest.raises(BadInputError, match="unknown extra"):
        extract_features(ref, ref, extras=[extra])
