"""End-to-end scoring with real libvmaf features and real ONNX Runtime sessions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vmaf_tiny import VideoSpec, extract_features, score, score_nr
from vmaf_tiny.codec import check_codec_fields, codec_block_spec, codec_columns, codec_notes
from vmaf_tiny.errors import BadInputError, BadModelError
from vmaf_tiny.scoring import fr_inputs, harmonic_mean, pool_scores, resolve_codec
from vmaf_tiny.video import probe, read_luma

VMAF_TINY = Path(sys.executable).parent / "vmaf-tiny"


@pytest.fixture(scope="module")
def src01(shared_data: Path) -> tuple[VideoSpec, VideoSpec]:
    clips = shared_data / "clips"
    return (
        VideoSpec(clips / "src01_ref_160x90_48f.yuv", 160, 90, "yuv420p"),
        VideoSpec(clips / "src01_dis_160x90_48f.yuv", 160, 90, "yuv420p"),
    )


@pytest.fixture(scope="module")
def src01_features(src01):
    return extract_features(*src01)


@pytest.fixture(scope="module")
def clip_features(runtime_clips):
    return extract_features(runtime_clips["ref"], runtime_clips["dis"])


def test_pooling_functions() -> None:
    s = np.array([0.0, 100.0, 50.0, 75.0])
    p = pool_scores(s)
    assert p["mean"] == pytest.approx(56.25)
    assert p["min"] == 0.0 and p["max"] == 100.0
    assert p["p5"] == pytest.approx(np.percentile(s, 5))
    # libvmaf's harmonic mean: n / sum(1 / (1 + s)) - 1
    assert p["harmonic_mean"] == pytest.approx(4 / (1 / 1 + 1 / 101 + 1 / 51 + 1 / 76) - 1)
    assert harmonic_mean(np.full(7, 42.0)) == pytest.approx(42.0)
    with pytest.raises(BadInputError):
        pool_scores(np.array([]))


def test_fr_score_matches_numpy_on_real_features(
    tiny_models, tmp_path: Path, src01, src01_features
):
    path, params = tiny_models.fr_mlp(tmp_path, "fr_np", clamp=False)
    res = score(*src01, model=path, backend="cpu", with_svm=True)
    feats = src01_features
    want = tiny_models.fr_reference(params, feats.matrix())
    assert res.n_frames == 48
    np.testing.assert_allclose(res.frames, want, rtol=1e-5, atol=1e-4)
    assert res.pooled["mean"] == pytest.approx(float(np.mean(want)), rel=1e-5)
    assert res.pooled["p5"] == pytest.approx(float(np.percentile(want, 5)), rel=1e-4)
    # the SVM comes from the same libvmaf pass and matches upstream's golden value
    assert res.svm_pooled is not None and res.svm_frames is not None
    assert res.svm_pooled["mean"] == pytest.approx(92.5209, abs=1e-3)
    np.testing.assert_array_equal(res.svm_frames, feats.vmaf)
    assert res.provider == "CPUExecutionProvider"
    assert res.versions["libvmaf"] and res.versions["onnxruntime"]
    d = json.loads(json.dumps(res.to_dict()))
    assert len(d["frames"]) == 48 and len(d["svm"]["frames"]) == 48


def test_unbaked_normalisation_is_applied_by_the_runtime(
    tiny_models, tmp_path: Path, src01, src01_features
) -> None:
    baked, params = tiny_models.fr_mlp(tmp_path / "a", "baked", clamp=False)
    unbaked, _ = tiny_models.fr_mlp(
        tmp_path / "b", "unbaked", baked=False, params=params, clamp=False
    )
    side = json.loads(unbaked.with_suffix(".json").read_text())
    assert side["normalization"]["baked"] is False
    feeds = fr_inputs(side, src01_features.columns)
    x = src01_features.matrix().astype(np.float64)
    np.testing.assert_allclose(
        feeds["features"], (x - params.mean) / params.std, rtol=1e-5, atol=1e-5
    )
    a = score(*src01, model=baked, backend="cpu").frames
    b = score(*src01, model=unbaked, backend="cpu").frames
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-3)


def test_clamp_only_when_the_sidecar_says_so(tiny_models, tmp_path: Path, src01) -> None:
    params = tiny_models.random_mlp(6, (4,), seed=5)
    # above the range, inside the plausible [-25, 125] an unclamped model may score
    params.biases[-1] = np.array([105.0], np.float32)
    params.mean = np.asarray(tiny_models.FEATURE_MEAN, np.float32)
    params.std = np.asarray(tiny_models.FEATURE_STD, np.float32)
    clamped, _ = tiny_models.fr_mlp(tmp_path / "c", "clamped", params=params, clamp=True)
    free, _ = tiny_models.fr_mlp(tmp_path / "f", "free", params=params, clamp=False)
    a = score(*src01, model=clamped, backend="cpu")
    b = score(*src01, model=free, backend="cpu")
    assert a.pooled["max"] <= 100.0 and np.all(a.frames == 100.0)
    assert b.pooled["min"] > 100.0


def test_codec_aware_model_reads_codec_and_crf_from_the_stream(
    tiny_models, tmp_path: Path, runtime_clips, clip_features
) -> None:
    block = codec_block_spec("v3")
    path, params = tiny_models.fr_mlp(tmp_path, "codec_sep", codec_block=block, clamp=False)
    ref, dis = runtime_clips["ref"], runtime_clips["dis"]
    res = score(ref, dis, model=path, backend="cpu")
    assert res.codec is not None
    assert (res.codec.codec, res.codec.crf) == ("libx264", 35.0)
    assert res.codec.source == {"codec": "stream", "crf": "stream", "preset": "unknown"}
    assert any("pass --preset" in w for w in res.warnings)
    n = clip_features.n_frames
    cb = codec_columns(block, "libx264", None, 35.0, n=n)
    want = tiny_models.fr_reference(params, clip_features.matrix(), cb)
    np.testing.assert_allclose(res.frames, want, rtol=1e-5, atol=1e-4)

    flagged = score(ref, dis, model=path, backend="cpu", preset="veryfast", crf=20)
    assert flagged.codec is not None and flagged.codec.source["preset"] == "flag"
    assert not any("preset" in w for w in flagged.warnings)
    cb2 = codec_columns(block, "libx264", "veryfast", 20.0, n=n)
    np.testing.assert_allclose(
        flagged.frames,
        tiny_models.fr_reference(params, clip_features.matrix(), cb2),
        rtol=1e-5,
        atol=1e-4,
    )

    # The same weights with the block appended to the features input give the same scores.
    appended, _ = tiny_models.fr_mlp(
        tmp_path / "app",
        "codec_app",
        codec_block=block,
        codec_input="appended",
        params=params,
        clamp=False,
    )
    res_app = score(ref, dis, model=appended, backend="cpu")
    np.testing.assert_allclose(res_app.frames, res.frames, rtol=1e-5, atol=1e-4)


def test_codec_aware_model_says_which_flag_is_missing(
    tiny_models, tmp_path: Path, runtime_clips
) -> None:
    path, _ = tiny_models.fr_mlp(tmp_path, "codec_msg", codec_block=codec_block_spec("v2"))
    ref = runtime_clips["ref"]
    # An unencoded y4m: no encoder to read.
    with pytest.raises(BadInputError, match=r"pass --codec") as ei:
        score(ref, ref, model=path, backend="cpu")
    assert "\n" not in str(ei.value)
    assert score(ref, ref, model=path, backend="cpu", codec="none").codec.codec == "none"
    # A codec whose CRF the stream does not carry for that encoder.
    with pytest.raises(BadInputError, match=r"pass --crf"):
        score(ref, runtime_clips["dis"], model=path, backend="cpu", codec="libvpx-vp9")
    info = probe(runtime_clips["dis"])
    fields, warns = resolve_codec(info, codec="libsvtav1", preset="8", crf=40)
    assert fields.source == {"codec": "flag", "crf": "flag", "preset": "flag"} and not warns


def test_model_needing_a_feature_libvmaf_does_not_give_is_refused(
    tiny_models, tmp_path: Path, src01
) -> None:
    path, _ = tiny_models.fr_mlp(tmp_path, "psnr_model", features=("adm2", "psnr_y"))
    with pytest.raises(BadModelError, match=r"needs feature\(s\) \['psnr_y'\]"):
        score(*src01, model=path, backend="cpu")


def test_kind_mismatch_is_bad_input(tiny_models, tmp_path: Path, src01) -> None:
    nr = tiny_models.nr_pool_gemm(tmp_path, "nr_kind")
    fr, _ = tiny_models.fr_mlp(tmp_path, "fr_kind")
    with pytest.raises(BadInputError, match="use --no-reference"):
        score(*src01, model=nr, backend="cpu")
    with pytest.raises(BadInputError, match="needs NR"):
        score_nr(src01[1], fr, backend="cpu")


def test_nr_model_scores_decoded_frames(tiny_models, tmp_path: Path, runtime_clips) -> None:
    dis = runtime_clips["dis"]
    path = tiny_models.nr_pool_gemm(tmp_path, "nr_resize", size=(32, 24), scale=100.0)
    res = score_nr(dis, path, backend="cpu")
    frames = list(read_luma(dis, size=(32, 24)))
    want = np.array([100.0 * float(np.mean(f)) for f in frames])
    assert res.kind == "nr" and res.n_frames == len(frames) == 12
    np.testing.assert_allclose(res.frames, want, rtol=1e-5)
    assert res.pooled["mean"] == pytest.approx(float(np.mean(want)), rel=1e-6)
    assert res.reference is None and res.seconds["total"] > 0


def test_nr_crop_value_range_stride_and_dynamic_size(
    tiny_models, tmp_path: Path, runtime_clips
) -> None:
    dis = runtime_clips["dis"]
    frame = {
        "channels": "luma",
        "crop": [64, 48],
        "value_range": [0.0, 255.0],
        "stride": 3,
        "pooling": "mean",
    }
    path = tiny_models.nr_pool_gemm(tmp_path, "nr_crop", size=(64, 48), scale=1.0, frame=frame)
    res = score_nr(dis, path, backend="cpu")
    full = list(read_luma(dis))
    kept = full[::3]
    want = [255.0 * float(np.mean(f[21:69, 48:112])) for f in kept]  # centre 64x48 of 160x90
    assert res.n_frames == len(kept) == 4
    np.testing.assert_allclose(res.frames, want, rtol=1e-5)
    # A model with dynamic H/W takes frames at their own size.
    dyn = tiny_models.nr_pool_gemm(tmp_path, "nr_dyn", size=None, scale=1.0)
    res_dyn = score_nr(dis, dyn, backend="cpu")
    np.testing.assert_allclose(res_dyn.frames, [float(np.mean(f)) for f in full], rtol=1e-5)


def test_nr_frames_that_do_not_fit_the_model_are_bad_input(
    tiny_models, tmp_path: Path, runtime_clips
) -> None:
    frame = {"channels": "luma", "pooling": "mean"}
    path = tiny_models.nr_pool_gemm(tmp_path, "nr_fixed", size=(32, 24), frame=frame)
    with pytest.raises(BadInputError, match=r"frames are 160x90 but the model takes 32x24"):
        score_nr(runtime_clips["dis"], path, backend="cpu")


def test_y4m_header_probe_agrees_with_ffmpeg(
    runtime_clips, ffmpeg, tmp_path: Path, shared_data: Path
) -> None:
    from vmaf_tiny.video_probe import _probe_ffmpeg, _y4m_info

    clips = [
        runtime_clips["ref"],
        shared_data / "clips" / "park_joy_420_720p50_frm0to9_480x270.y4m",
    ]
    for fmt in ("yuv420p10le", "yuv444p"):
        out = tmp_path / f"{fmt}.y4m"
        ffmpeg.run(
            [
                "-loglevel",
                "error",
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=64x48:rate=30",
                "-frames:v",
                "5",
                "-pix_fmt",
                fmt,
                "-strict",
                "-1",
                str(out),
            ],
            what=f"make {fmt} y4m",
        )
        clips.append(out)
    for clip in clips:
        assert _y4m_info(clip) is not None, clip
        assert probe(clip, ffmpeg) == _probe_ffmpeg(VideoSpec(clip), ffmpeg)
    # A partial last frame: reported as damage, the 11 whole frames stay usable.
    data = runtime_clips["ref"].read_bytes()
    cut = tmp_path / "cut.y4m"
    cut.write_bytes(data[: len(data) - 100])
    info = probe(VideoSpec(cut), ffmpeg)
    assert (info.n_frames, info.clean_frames) == (12, 11)
    assert info.damage == ("y4m size check: last frame has 21500 of 21600 bytes",)


def test_crf_and_preset_are_validated(runtime_clips: dict[str, Path]) -> None:
    """--crf nan / inf / -1e30 and unknown presets are one-line errors, not silent inputs."""
    for crf in (float("nan"), float("inf"), -1e30, 1e30, 52.0, -13.0):
        with pytest.raises(BadInputError, match=r"--crf for libx264 must be a finite number"):
            check_codec_fields("libx264", "veryfast", crf)
    with pytest.raises(BadInputError, match=r"--crf for libvpx-vp9 .* 0\.\.63, got -1"):
        check_codec_fields("libvpx-vp9", None, -1.0)
    with pytest.raises(BadInputError, match=r"--preset for libx264 must be one of .*veryfast"):
        check_codec_fields("libx264", "turbo", 30.0)
    with pytest.raises(BadInputError, match=r"--preset for libsvtav1 .* 0\.\.13, got '99'"):
        check_codec_fields("libsvtav1", "99", 30.0)
    # what encoders take passes: x264's negative CRF, numeric speeds, unknown encoders' presets
    for codec, preset, crf in (
        ("libx264", "VeryFast", -12.0),
        ("libx264", None, 51.0),
        ("libsvtav1", "8", 63.0),
        ("h264_nvenc", "p4", 23.0),
        ("none", "anything", float("nan")),  # no encode: neither is used
    ):
        check_codec_fields(codec, preset, crf)
    ref, dis = runtime_clips["ref"], runtime_clips["dis"]
    with pytest.raises(BadInputError, match="must be a finite number"):
        score(ref, dis, model="fr_regressor_v2", codec="libx264", crf=float("nan"))
    for crf in ("nan", "inf", "-1e30"):
        proc = subprocess.run(
            [str(VMAF_TINY), "score", "-r", str(ref), "-d", str(dis), "-m", "fr_regressor_v2",
             "--codec", "libx264", "--preset", "veryfast", "--crf", crf, "--json"],
            capture_output=True, text=True,
        )  # fmt: skip
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1, proc.stderr
        assert lines[0].startswith("error: --crf for libx264 must be a finite number in -12..51")
        assert not proc.stdout.strip()


def test_ffmpeg_probe_is_asked_once_per_file_version(runtime_clips, ffmpeg, tmp_path: Path) -> None:
    """Scoring asks about a file several times; the ffmpeg probe runs once per file version."""
    import shutil

    from vmaf_tiny.video import probe

    dis = tmp_path / "dis.mp4"
    shutil.copyfile(runtime_clips["dis"], dis)
    first = probe(dis)
    assert probe(dis) is first  # the same file: no second ffmpeg run
    short = tmp_path / "short.mp4"
    ffmpeg.run(["-loglevel", "error", "-i", str(dis), "-c", "copy", "-frames:v", "6", str(short)],
               what="remux")  # fmt: skip
    shutil.copyfile(short, dis)  # a new version of the same path: probed again
    again = probe(dis)
    assert again is not first and again.n_frames == 6 and first.n_frames == 12


def test_codec_notes_name_an_unknown_encoder_and_one_that_cannot_have_written_the_stream() -> None:
    block = codec_block_spec("v3")
    assert codec_notes(block, "libx264", "h264") == []
    assert codec_notes(block, "h264_nvenc", "h264") == []  # hardware encoders by their prefix
    assert codec_notes(block, "none", "h264") == []  # no encode: nothing to check
    assert codec_notes(block, "libx264", "rawvideo") == []  # not a stream: nothing to compare
    (unknown,) = codec_notes(block, "bogus", "h264")
    assert "'bogus' is not one the model was trained on" in unknown and "'other' slot" in unknown
    (wrong,) = codec_notes(block, "libvpx-vp9", "h264")
    assert "writes vp9, but the distorted stream is h264" in wrong
    (wrong_hw,) = codec_notes(block, "hevc_qsv", "av1")
    assert "writes hevc" in wrong_hw


def test_codec_flags_that_no_model_would_read_are_refused(
    runtime_clips: dict[str, Path], tmp_path: Path
) -> None:
    ref, dis = str(runtime_clips["ref"]), str(runtime_clips["dis"])
    pairs = tmp_path / "pairs.csv"
    pairs.write_text(f"reference,distorted\n{ref},{dis}\n")
    for args, fragment in (
        (["-r", ref, "-d", dis, "--crf", "20"], "--crf: vmaf_tiny_v2 is not codec-aware"),
        (["-r", ref, "-d", dis, "-m", "vmaf_tiny_v2", "-m", "vmaf_tiny_v4", "--codec", "libx264"],
         "--codec: vmaf_tiny_v2, vmaf_tiny_v4 are not codec-aware"),
        (["-d", dis, "--no-reference", "--codec", "libx264", "--preset", "fast"],
         "--codec, --preset: only codec-aware FR models take them"),
        (["--pairs", str(pairs), "-m", "vmaf_tiny_v4", "--crf", "30"],
         "--crf: vmaf_tiny_v4 is not codec-aware"),
    ):  # fmt: skip
        proc = subprocess.run(
            [str(VMAF_TINY), "score", *args, "--json"], capture_output=True, text=True
        )
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1 and fragment in lines[0], proc.stderr
        assert proc.stdout == ""


def test_pairs_print_each_pairs_warnings_once(
    runtime_clips: dict[str, Path], tmp_path: Path
) -> None:
    ref, dis = str(runtime_clips["ref"]), str(runtime_clips["dis"])
    pairs = tmp_path / "pairs.csv"
    pairs.write_text(f"reference,distorted,codec,crf\n{ref},{dis},bogus,30\n")
    proc = subprocess.run(
        [str(VMAF_TINY), "score", "--pairs", str(pairs), "--serial", "-m", "fr_regressor_v3",
         "--json"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    said = [ln for ln in proc.stderr.splitlines() if "'bogus' is not one the model" in ln]
    assert len(said) == 1 and said[0].startswith("warning: pair 0 (")
    (row,) = json.loads(proc.stdout)
    assert "warnings" not in row and row["codec"] == "bogus"


def test_codec_none_says_crf_and_preset_are_unused() -> None:
    fields, warns = resolve_codec(None, codec="none", crf=26.0, preset="veryfast")
    assert fields.codec == "none" and len(warns) == 1 and "--crf/--preset are unused" in warns[0]
    assert resolve_codec(None, codec="none")[1] == []
