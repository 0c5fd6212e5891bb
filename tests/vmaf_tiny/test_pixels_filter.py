"""The learned filter: the runtime's filter path (chroma pass-through, audit) and a trained run."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.support.clips import lavfi_clip, remux, x264
from tests.support.pixels_helpers import files_in
from vmaf_tiny.errors import BadInputError, BadModelError
from vmaf_tiny.ffmpeg import encoder_options
from vmaf_tiny.filter_output import preset_option
from vmaf_tiny.filtering import filter_video, read_planes
from vmaf_tiny.video import probe


def _planes(path: Path, ffmpeg) -> list[tuple[np.ndarray, bytes]]:
    info = probe(path, ffmpeg)
    from vmaf_tiny.video import as_spec

    return [(y.copy(), c) for y, c in read_planes(as_spec(path), info, ffmpeg)]


@pytest.mark.parametrize("pix_fmt", ["yuv420p", "yuv420p10le"])
def test_identity_filter_is_lossless(ffmpeg, tmp_path: Path, pix_fmt: str) -> None:
    codec = x264(30) + (["-profile:v", "high10"] if "10" in pix_fmt else [])
    src = lavfi_clip(
        ffmpeg, tmp_path / "in.mkv", size="96x64", frames=4, pix_fmt=pix_fmt, codec=codec
    )
    out = tmp_path / "out.y4m"
    res = filter_video(src, out, lambda x: x.copy(), ffmpeg=ffmpeg)
    assert res.n_frames == 4 and res.pix_fmt == pix_fmt
    assert res.mean_shift == 0.0 and res.clip_fraction == 0.0
    a, b = _planes(src, ffmpeg), _planes(out, ffmpeg)
    assert len(a) == len(b) == 4
    for (ya, ca), (yb, cb) in zip(a, b, strict=True):
        assert np.array_equal(ya, yb) and ca == cb
    assert probe(out, ffmpeg).bit_depth == (10 if "10" in pix_fmt else 8)


def test_filter_changes_luma_only_and_audits(ffmpeg, tmp_path: Path) -> None:
    src = lavfi_clip(ffmpeg, tmp_path / "in.y4m", size="96x64", frames=3)
    out = tmp_path / "out.y4m"
    res = filter_video(src, out, lambda x: x + 0.3, ffmpeg=ffmpeg)
    assert 40.0 < res.mean_shift < 0.3 * 255  # +0.3 of full scale, less what was clipped
    assert 0.0 < res.clip_fraction < 1.0
    (ya, ca), (yb, cb) = _planes(src, ffmpeg)[0], _planes(out, ffmpeg)[0]
    assert ca == cb and not np.array_equal(ya, yb)
    assert int(yb.max()) == 255
    enc = filter_video(
        src, tmp_path / "out.mkv", lambda x: x, codec="libx264", crf=10, ffmpeg=ffmpeg
    )
    assert probe(tmp_path / "out.mkv", ffmpeg).decoder == "h264" and enc.n_frames == 3


@pytest.mark.parametrize(
    ("codec", "crf", "preset", "flag"),
    [
        ("ffv1", 20.0, None, "--crf"),
        ("ffv1", None, "fast", "--preset"),
        ("mpeg4", 5.0, None, "--crf"),
    ],
)
def test_an_encoder_option_the_encoder_lacks_is_refused(
    ffmpeg, tmp_path: Path, codec: str, crf: float | None, preset: str | None, flag: str
) -> None:
    """ffmpeg only warns about an unused ``-crf`` / ``-preset`` and writes the file anyway."""
    src = lavfi_clip(ffmpeg, tmp_path / "in.y4m", size="64x64", frames=2)
    with pytest.raises(BadInputError, match=f"{flag}: the {codec} encoder takes no"):
        filter_video(src, tmp_path / "o.mkv", lambda x: x, codec=codec, crf=crf, preset=preset,
                     ffmpeg=ffmpeg)  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.y4m"]


@pytest.mark.parametrize(
    ("name", "codec", "preset", "why"),
    [
        ("o.webm", "libx264", None, "Could not write header"),  # webm holds VP8/VP9/AV1 only
        ("o.mkv", "libaom-av1", "10", "out of range"),  # this ffmpeg's libaom takes 0..8
        ("o", "libx264", None, "Invalid argument"),  # no suffix: no container
    ],
)
def test_an_output_the_encoder_or_muxer_refuses_fails_before_any_work(
    ffmpeg, tmp_path: Path, name: str, codec: str, preset: str | None, why: str
) -> None:
    src = lavfi_clip(ffmpeg, tmp_path / "in.y4m", size="64x64", frames=2)
    calls = []
    with pytest.raises(BadInputError, match=f"{name}: cannot write it with --codec {codec}") as e:
        filter_video(src, tmp_path / name, lambda x: calls.append(1) or x, codec=codec,
                     preset=preset, ffmpeg=ffmpeg)  # fmt: skip
    assert why in str(e.value) and " @ 0x" not in str(e.value)
    assert calls == []  # refused before the model ran
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.y4m"]


@pytest.mark.parametrize(
    ("name", "codec", "crf", "preset", "message"),
    [
        ("o.y4m", None, 20.0, None, "--crf and --preset need --codec"),
        ("o.y4m", None, None, "fast", "--crf and --preset need --codec"),
        ("o.yuv", "libx264", None, None, "o.yuv: .yuv is raw video"),
        ("o.y4m", "ffv1", None, None, "o.y4m: .y4m is raw video"),
        ("o.mkv", "libx264", None, " ", "--preset is empty"),
        ("o.mkv", "libaom-av1", 10.5, None, "whole-number CRF, got 10.5"),
    ],
)
def test_flags_that_would_be_ignored_are_refused(
    ffmpeg, tmp_path: Path, name: str, codec: str | None, crf: float | None,
    preset: str | None, message: str,
) -> None:  # fmt: skip
    src = lavfi_clip(ffmpeg, tmp_path / "in.y4m", size="64x64", frames=2)
    with pytest.raises(BadInputError, match=re.escape(message)):
        filter_video(src, tmp_path / name, lambda x: x, codec=codec, crf=crf, preset=preset,
                     ffmpeg=ffmpeg)  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.y4m"]


def test_the_trial_encode_has_the_input_s_parity_and_pixel_format(ffmpeg, tmp_path: Path) -> None:
    """x264 cannot code 4:2:0 at an odd width: refused before the model runs (it failed after)."""
    src = tmp_path / "in.y4m"  # ffmpeg's lavfi rounds 4:2:0 down to even sizes: by hand
    frame = b"FRAME\n" + bytes(range(256)) * 10 + bytes(65 * 37 + 2 * 33 * 19 - 2560)
    src.write_bytes(b"YUV4MPEG2 W65 H37 F25:1 Ip A1:1 C420jpeg\n" + 2 * frame)
    calls = []
    with pytest.raises(BadInputError, match=r"o\.mkv: cannot write it with --codec libx264"):
        filter_video(src, tmp_path / "o.mkv", lambda x: calls.append(1) or x, codec="libx264",
                     ffmpeg=ffmpeg)  # fmt: skip
    assert calls == []
    ok = filter_video(src, tmp_path / "o.mkv", lambda x: x, codec="ffv1", ffmpeg=ffmpeg)
    assert ok.n_frames == 2


@pytest.mark.parametrize("codec", ["libx264", "libx265", "libvpx-vp9", "libaom-av1", "libsvtav1"])
def test_preset_sets_an_option_each_corpus_encoder_has(ffmpeg, codec: str) -> None:
    """``--preset`` reaches the encoder (libvpx and libaom call their speed ``cpu-used``; a
    ``-preset`` there was ignored with a warning)."""
    opts = encoder_options(ffmpeg, codec)
    assert "crf" in opts
    assert preset_option(codec) in opts


def test_filter_bad_output_and_bad_model_leave_nothing(ffmpeg, tmp_path: Path) -> None:
    src = lavfi_clip(ffmpeg, tmp_path / "in.y4m", size="64x64", frames=2)
    with pytest.raises(BadInputError, match="choose --codec"):
        filter_video(src, tmp_path / "out.mp4", lambda x: x, ffmpeg=ffmpeg)
    with pytest.raises(BadModelError, match="shape"):
        filter_video(src, tmp_path / "o.y4m", lambda x: x[:, :, :10], ffmpeg=ffmpeg)
    with pytest.raises(BadInputError, match="overwrite"):
        filter_video(src, src, lambda x: x, ffmpeg=ffmpeg)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.y4m"]


def test_filter_run_reports_per_codec_against_libvmaf(filter_run: Path) -> None:
    assert {"model.onnx", "model.json", "metrics.json", "report.json"} <= files_in(filter_run)
    rep = json.loads((filter_run / "report.json").read_text())
    assert set(rep["per_codec"]) == {"libaom-av1", "libsvtav1", "libvpx-vp9", "libx264", "libx265"}
    for r in rep["per_clip"]:
        assert r["frames"] == 3
        assert 10 < r["psnr_y"] < 100 and 10 < r["psnr_y_filtered"] < 100
        assert 0 <= r["vmaf_filtered"] <= 100 and 0 <= r["clip_fraction"] <= 1
    ov = rep["overall"]
    assert ov["psnr_y_delta"] == pytest.approx(ov["psnr_y_filtered"] - ov["psnr_y"])
    # quality bands partition the clips, per codec too
    assert sum(b["n_clips"] for b in rep["per_band"].values()) == ov["n_clips"]
    for codec, bands in rep["per_codec_band"].items():
        assert sum(b["n_clips"] for b in bands.values()) == rep["per_codec"][codec]["n_clips"]
    for r in rep["per_clip"]:
        assert r["band"] in rep["per_band"]
    # the v2 recipe has a quality gate: headline figures gated, the same without it beside them
    assert rep["gate"]["model"] == rep["gate"]["shipped_model"] == "nr_stream_v2"
    assert rep["ungated"]["overall"]["n_clips"] == ov["n_clips"]
    for r in rep["per_clip"]:
        assert 0.0 <= r["gate_strength"] <= 1.0
        if r["gate_strength"] == 0.0:  # left alone: the unfiltered clip's own scores
            assert (r["psnr_y_filtered"], r["mean_abs_change_8bit"]) == (r["psnr_y"], 0.0)
        if r["gate_strength"] == 1.0:
            assert r["psnr_y_filtered"] == r["ungated"]["psnr_y_filtered"]
    side = json.loads((filter_run / "model.json").read_text())
    assert side["kind"] == "filter" and side["class"] == "C3"
    assert side["gate"] == {"model": "nr_stream_v2", "full_below": 70.0, "off_above": 90.0}
    assert side["inputs"][0]["shape"] == ["N", 1, "H", "W"]
    m = json.loads((filter_run / "metrics.json").read_text())
    assert m["export"]["max_abs_diff"] < 1e-4 and (filter_run / "model.onnx").stat().st_size < 2**21


def test_full_range_input_keeps_its_range(ffmpeg, tmp_path: Path) -> None:
    """A source flagged full range (pc) must come back flagged full range: libvmaf then sees
    the same pixels, so an identity filter scores exactly like the unfiltered clip."""
    from vmaf_tiny.features import extract_features
    from vmaf_tiny.filtering import color_range

    ref = lavfi_clip(ffmpeg, tmp_path / "ref.y4m", size="128x72", frames=4, pix_fmt="yuvj420p")
    vp9 = [
        "-color_range",
        "pc",
        "-c:v",
        "libvpx-vp9",
        "-crf",
        "40",
        "-b:v",
        "0",
        "-deadline",
        "realtime",
        "-cpu-used",
        "8",
    ]
    # a yuv420p stream flagged full range (as AV1/VP9 streams of a full-range source are)
    dis = lavfi_clip(ffmpeg, tmp_path / "dis.mkv", size="128x72", frames=4, codec=vp9)
    from vmaf_tiny.video import as_spec

    assert color_range(as_spec(dis), ffmpeg) == "pc"
    out = tmp_path / "out.y4m"
    filter_video(dis, out, lambda x: x.copy(), ffmpeg=ffmpeg)
    a = extract_features(ref, dis, extras=("psnr_y",), ffmpeg=ffmpeg)
    b = extract_features(ref, out, extras=("psnr_y",), ffmpeg=ffmpeg)
    np.testing.assert_array_equal(a.columns["psnr_y"], b.columns["psnr_y"])
    np.testing.assert_array_equal(a.vmaf, b.vmaf)


def test_filter_keeps_the_chroma_siting(ffmpeg, tmp_path: Path) -> None:
    """An H.264 stream's chroma is sited left (y4m ``C420mpeg2``): the filtered y4m says so too;
    a centred y4m stays centred, and an encoded output states a centred input's siting and its
    colour description (an HDR transfer here)."""
    from vmaf_tiny.filter_output import input_tags
    from vmaf_tiny.video import as_spec

    def siting(path: Path) -> bytes:
        return path.read_bytes().split(b"\n", 1)[0].split()[6]

    def tags(path: Path) -> tuple[str | None, str | None]:
        t = input_tags(as_spec(path), ffmpeg)
        return t.color_range, t.chroma_location

    src = lavfi_clip(ffmpeg, tmp_path / "in.mp4", size="64x48", frames=2, codec=x264(30))
    assert tags(src)[1] == "left"
    filter_video(src, tmp_path / "out.y4m", lambda x: x, ffmpeg=ffmpeg)
    assert siting(tmp_path / "out.y4m") == b"C420mpeg2"
    filter_video(tmp_path / "out.y4m", tmp_path / "again.y4m", lambda x: x, ffmpeg=ffmpeg)
    assert siting(tmp_path / "again.y4m") == b"C420mpeg2"
    jpeg = lavfi_clip(ffmpeg, tmp_path / "jpeg.y4m", size="64x48", frames=2)
    assert siting(jpeg) == b"C420jpeg" and tags(jpeg)[1] == "center"
    filter_video(jpeg, tmp_path / "out2.y4m", lambda x: x, ffmpeg=ffmpeg)
    assert siting(tmp_path / "out2.y4m") == b"C420jpeg"
    centred = [*x264(30), "-chroma_sample_location", "center", "-color_range", "tv"]
    hdr = "setparams=colorspace=bt2020nc:color_primaries=bt2020:color_trc=smpte2084"
    c = lavfi_clip(ffmpeg, tmp_path / "c.mkv", size="64x48", frames=2, codec=centred, vf=hdr)
    assert tags(c) == ("tv", "center")
    filter_video(c, tmp_path / "c_out.mkv", lambda x: x, codec="libx264", ffmpeg=ffmpeg)
    assert tags(tmp_path / "c_out.mkv") == ("tv", "center")  # not left, H.264's default
    both = [input_tags(as_spec(f), ffmpeg) for f in (c, tmp_path / "c_out.mkv")]
    assert both[0] == both[1] and dict(both[0].colour)["color_trc"] == "smpte2084"  # HDR kept


def test_cover_art_does_not_lend_its_range(ffmpeg, tmp_path: Path) -> None:
    """An mp4 whose second video stream is full-range cover art: the tags are the first
    video stream's, so the output is not labelled full range."""
    from vmaf_tiny.filter_output import input_tags
    from vmaf_tiny.video import as_spec

    src = lavfi_clip(ffmpeg, tmp_path / "in.mp4", size="64x48", frames=2, codec=x264(30))
    jpg = lavfi_clip(ffmpeg, tmp_path / "cover.jpg", size="64x48", frames=1, pix_fmt="yuvj420p")
    both = tmp_path / "cover.mp4"
    ffmpeg.run(
        ["-loglevel", "error", "-i", str(src), "-i", str(jpg), "-map", "0", "-map", "1",
         "-c", "copy", "-disposition:v:1", "attached_pic", str(both)],
        what="mux cover art",
    )  # fmt: skip
    assert input_tags(as_spec(both), ffmpeg).color_range is None
    filter_video(both, tmp_path / "out.y4m", lambda x: x, ffmpeg=ffmpeg)
    assert b"XCOLORRANGE=FULL" not in (tmp_path / "out.y4m").read_bytes().split(b"\n", 1)[0]


@pytest.mark.parametrize("suffix", [".y4m", ".mkv"])
def test_filter_keeps_the_sample_aspect_ratio(ffmpeg, tmp_path: Path, suffix: str) -> None:
    """Raw frames carry no aspect ratio: the output restates the input's (4:3 pixels here)."""
    codec = None if suffix == ".y4m" else x264(30)
    src = lavfi_clip(ffmpeg, tmp_path / f"in{suffix}", size="64x48", frames=2, vf="setsar=4/3",
                     codec=codec)  # fmt: skip
    assert probe(src, ffmpeg).sar == (4, 3)
    out = tmp_path / "out.y4m"
    filter_video(src, out, lambda x: x, ffmpeg=ffmpeg)
    assert out.read_bytes().split(b"\n", 1)[0].split()[5:6] == [b"A4:3"]
    assert probe(out, ffmpeg).sar == (4, 3)
    unknown = tmp_path / "unknown.y4m"  # A0:0 (unknown) stays unknown
    unknown.write_bytes(out.read_bytes().replace(b" A4:3 ", b" A0:0 ", 1))
    assert probe(unknown, ffmpeg).sar is None
    filter_video(unknown, tmp_path / "out2.y4m", lambda x: x, ffmpeg=ffmpeg)
    assert b" A0:0 " in (tmp_path / "out2.y4m").read_bytes().split(b"\n", 1)[0]


def test_an_encoder_refusing_the_frame_size_names_the_reason(ffmpeg, tmp_path: Path) -> None:
    # x264 takes no odd 4:2:0 size; ffmpeg buries its one line under generic teardown lines
    src = lavfi_clip(ffmpeg, tmp_path / "in.y4m", size="64x64", frames=2, vf="scale=63:35")
    with pytest.raises(BadInputError, match="divisible by 2") as e:
        filter_video(src, tmp_path / "o.mkv", lambda x: x, codec="libx264", ffmpeg=ffmpeg)
    assert "\n" not in str(e.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.y4m"]


def test_a_rotated_phone_video_is_read_as_displayed(ffmpeg, tmp_path: Path) -> None:
    # ffmpeg decodes a stream with a 90-degree display matrix upright (autorotate): the frames
    # are 64x96, and reading them as the coded 96x64 scrambles every row.
    src = lavfi_clip(ffmpeg, tmp_path / "in.mp4", size="96x64", frames=3, codec=x264(20))
    rot = tmp_path / "rot.mp4"
    remux(ffmpeg, src, rot, "-display_rotation", "90")
    info = probe(rot, ffmpeg)
    assert (info.width, info.height) == (64, 96)
    res = filter_video(rot, tmp_path / "out.y4m", lambda x: x.copy(), ffmpeg=ffmpeg)
    assert (res.width, res.height, res.n_frames) == (64, 96, 3)
    shown = subprocess.run(
        [*ffmpeg.base_args(), "-i", str(rot), "-f", "rawvideo", "-pix_fmt", "yuv420p", "-"],
        capture_output=True,
        check=True,
    ).stdout
    want = np.frombuffer(shown, np.uint8).reshape(3, -1)[:, : 64 * 96]
    ys = [y for y, _ in _planes(tmp_path / "out.y4m", ffmpeg)]
    assert want.tolist() == np.stack(ys).reshape(3, -1).tolist()


def test_a_cut_without_re_encoding_is_not_damaged(ffmpeg, tmp_path: Path) -> None:
    # `ffmpeg -ss T -c copy` keeps the pre-roll from the key frame, flagged discard: those
    # packets are in the container but no frame of theirs is shown.
    src = lavfi_clip(ffmpeg, tmp_path / "in.mp4", size="96x64", frames=16, codec=x264(30))
    cut = tmp_path / "cut.mp4"
    remux(ffmpeg, src, cut, "-ss", "0.2")
    info = probe(cut, ffmpeg)
    assert info.damage == () and 0 < info.n_frames < 16
    res = filter_video(cut, tmp_path / "out.y4m", lambda x: x.copy(), ffmpeg=ffmpeg)
    assert res.n_frames == info.n_frames and res.warnings == []


def test_a_file_size_limit_is_named_and_leaves_nothing(ffmpeg, tmp_path: Path) -> None:
    """ffmpeg killed by SIGXFSZ (``ulimit -f``) says nothing itself: the error names the
    signal and the limit, and no partial output stays."""
    import sys

    src = lavfi_clip(ffmpeg, tmp_path / "in.mkv", size="320x180", frames=8, codec=x264(30))
    script = (
        "import resource\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, 50_000))\n"
        "from vmaf_tiny.filtering import filter_video\n"
        f"filter_video({str(src)!r}, {str(tmp_path / 'f.y4m')!r}, lambda x: x.copy())\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode != 0
    assert "writing failed (ffmpeg ended by SIGXFSZ: the file size limit" in proc.stderr
    assert files_in(tmp_path) == {"in.mkv"}


def test_interlaced_mkv_and_ntsc_rate_are_read_and_restated(ffmpeg, tmp_path: Path) -> None:
    """ffmpeg describes interlaced H.264 in mkv as ``yuv420p(tv, top coded first (swapped))``:
    the nested brackets once read as "no video stream". A 30000/1001 clip comes back at
    30000/1001, not 2997/100, and top field first, not progressive."""
    interlaced = [*x264(30), "-flags", "+ildct+ilme"]
    src = lavfi_clip(ffmpeg, tmp_path / "tff.mkv", graph="testsrc2=size=64x48:rate=30000/1001",
                     frames=3, vf="setfield=tff", codec=interlaced)  # fmt: skip
    info = probe(src, ffmpeg)
    assert (info.width, info.height, info.n_frames) == (64, 48, 3)
    filter_video(src, tmp_path / "out.y4m", lambda x: x, ffmpeg=ffmpeg)
    header = (tmp_path / "out.y4m").read_bytes().split(b"\n", 1)[0]
    assert b" F30000:1001 " in header and b" It " in header  # top field first, as the input
    assert probe(tmp_path / "out.y4m", ffmpeg).n_frames == 3


def test_a_title_tag_cannot_fake_the_stream_or_its_tags(ffmpeg, tmp_path: Path) -> None:
    """ffmpeg prints container tags before the stream line and the decoded frame's showinfo:
    neither the probe nor the output tags may read them."""
    from vmaf_tiny.filter_output import input_tags
    from vmaf_tiny.video import as_spec

    src = lavfi_clip(ffmpeg, tmp_path / "in.mkv", size="64x48", frames=2, codec=x264(30))
    fake = "Stream #0:0: Video: h264, yuv444p, 80x44, 50 fps color_range:pc cl:topleft"
    tagged = tmp_path / "cl:center color_range:pc.mkv"  # the path is printed too
    ffmpeg.run(["-loglevel", "error", "-i", str(src), "-c", "copy", "-metadata",
                f"title={fake}", str(tagged)], what="tag")  # fmt: skip
    info = probe(tagged, ffmpeg)
    assert (info.width, info.height, info.pix_fmt, info.fps) == (64, 48, "yuv420p", 25.0)
    assert input_tags(as_spec(tagged), ffmpeg) == input_tags(as_spec(src), ffmpeg)
    assert input_tags(as_spec(src), ffmpeg).chroma_location == "left"


def test_a_rate_ffmpeg_prints_in_thousands_is_read(ffmpeg, tmp_path: Path) -> None:
    """ffmpeg prints 1000 fps as "1k fps"; the probe once fell back to 25."""
    src = lavfi_clip(ffmpeg, tmp_path / "fast.mkv", graph="testsrc2=size=64x48:rate=1000",
                     frames=3, codec=x264(30))  # fmt: skip
    assert probe(src, ffmpeg).fps == 1000.0
