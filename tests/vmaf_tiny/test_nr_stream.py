"""Stream-aware NR scoring: stream facts from one decode pass, the shipped stream models end to
end, and the pixel-model fallback for raw/y4m input (real ffmpeg, real ONNX Runtime, generated
clips)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.support.clips import lavfi_clip, remux, x264
from vmaf_tiny.errors import BadInputError, BadModelError, DamagedInputError
from vmaf_tiny.ffmpeg import FFmpeg
from vmaf_tiny.nr_stream import PIXEL_NR_MODEL, STREAM_NR_MODEL, choose_nr_model, score_stream
from vmaf_tiny.registry import load_registry, shipped_zoo
from vmaf_tiny.sidecar import sidecar_contract
from vmaf_tiny.stream import extract_stream
from vmaf_tiny.stream_features import STREAM_FEATURES, stream_feature_matrix
from vmaf_tiny.stream_parse import (
    parse_framecrc_sizes,
    parse_showinfo,
    parse_trace_qp,
    parse_trace_qp_packets,
)

VMAF_TINY = Path(sys.executable).parent / "vmaf-tiny"
GRAPH = "testsrc2=size=320x180:rate=25,noise=alls=10:allf=t:all_seed=5"


def _run(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VMAF_TINY), *map(str, args)], capture_output=True, text=True, check=False
    )


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory, ffmpeg: FFmpeg) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("nr_stream")
    out = {"y4m": lavfi_clip(ffmpeg, d / "ref.y4m", graph=GRAPH, frames=16)}
    for crf in (18, 46):
        out[f"x264_{crf}"] = lavfi_clip(
            ffmpeg, d / f"x264_{crf}.264", graph=GRAPH, frames=16, codec=x264(crf)
        )
    out["x264_mp4"] = lavfi_clip(ffmpeg, d / "x264.mp4", graph=GRAPH, frames=16, codec=x264(30))
    hevc = ["-c:v", "libx265", "-preset", "ultrafast", "-crf", "30"]
    hevc += ["-x265-params", "log-level=error:pools=1:frame-threads=1"]
    out["hevc"] = lavfi_clip(ffmpeg, d / "hevc.mkv", graph=GRAPH, frames=16, codec=hevc)
    return out


def test_packet_sizes_add_up_to_the_raw_bitstream(clips: dict[str, Path]) -> None:
    # An Annex B .264 file is nothing but its packets: their sizes must sum to its size.
    for name in ("x264_18", "x264_46"):
        sf = extract_stream(clips[name])
        assert sf.n_frames == 16
        assert int(sf.packet_bytes.sum()) == clips[name].stat().st_size
        assert sf.frame_type[0] == "I" and set(sf.frame_type) <= {"I", "P", "B"}
        assert np.isfinite(sf.qp).all() and (sf.qp > 0).all()  # H.264 exports its QP
        assert sf.crf == float(name.split("_")[1])  # from x264's option SEI
    low, high = extract_stream(clips["x264_46"]), extract_stream(clips["x264_18"])
    assert high.packet_bytes.sum() > 3 * low.packet_bytes.sum()


def test_showinfo_qp_survives_a_line_split_by_another_thread() -> None:
    # Seen in a real log: another thread's lines landed between showinfo's "parameters:" and the
    # rest of its QP line. The QP still belongs to frame 0, and frame 1 has none.
    log = "\n".join(
        [
            "[Parsed_showinfo_0 @ 0x1] n:   0 pts:      0 pts_time:0       duration:    512 "
            "fmt:yuv420p s:640x360 i:P iskey:1 type:I ",
            "[Parsed_showinfo_0 @ 0x1]   side data - Video encoding parameters: ",
            "[trace_headers @ 0x2] 51          slice_qp_delta                0001000 = 4",
            "[Parsed_showinfo_0 @ 0x1] type 1; qp=30; 920 blocks; ",
            "[Parsed_showinfo_0 @ 0x1] n:   1 pts:    512 pts_time:0.02    duration:    512 "
            "fmt:yuv420p s:640x360 i:P iskey:0 type:P ",
        ]
    )
    types, qps = parse_showinfo(log)
    assert types == ["I", "P"]
    assert qps[0] == 30.0 and np.isnan(qps[1])


def test_every_frame_keeps_its_qp_run_after_run(clips: dict[str, Path]) -> None:
    # The decode and the packet copy used to share one process whose threads' log lines mixed;
    # now and then a frame lost its QP. Repeat to give the race a chance.
    first = extract_stream(clips["x264_mp4"])
    for _ in range(4):
        again = extract_stream(clips["x264_mp4"])
        assert np.isfinite(again.qp).all()
        np.testing.assert_array_equal(again.qp, first.qp)
        np.testing.assert_array_equal(again.header_qp, first.header_qp)
        assert again.frame_type == first.frame_type


def test_packets_follow_presentation_order(ffmpeg: FFmpeg, clips: dict[str, Path]) -> None:
    sf = extract_stream(clips["x264_mp4"])
    copy = ["-map", "0:v", "-c", "copy", "-f", "framecrc", "-"]
    proc = subprocess.run(
        [*ffmpeg.base_args(), "-i", str(clips["x264_mp4"]), *copy],
        capture_output=True,
        text=True,
        check=True,
    )
    packets = parse_framecrc_sizes(proc.stdout)
    assert sorted(s for _, s in packets) == sorted(sf.packet_bytes.astype(int).tolist())
    by_pts = [s for _, s in sorted(packets)]
    assert sf.packet_bytes.astype(int).tolist() == by_pts
    assert sf.packet_bytes[0] == max(by_pts)  # the key frame comes first and is the largest


def test_hevc_has_no_qp_but_features_stay_finite(clips: dict[str, Path]) -> None:
    sf = extract_stream(clips["hevc"])
    assert sf.codec == "hevc" and np.isnan(sf.qp).all()
    # ...but its slice headers carry one (26 + init_qp_minus26 + slice_qp_delta) per slice
    assert sf.header_qp is not None and sf.header_qp.size >= 16
    assert 20 <= sf.header_qp.mean() <= 51
    x = stream_feature_matrix(sf, STREAM_FEATURES)
    assert x.shape == (16, len(STREAM_FEATURES)) and np.isfinite(x).all()
    col = dict(zip(STREAM_FEATURES, x[0], strict=True))
    assert col["codec_hevc"] == 1.0 and col["has_qp"] == 0.0
    assert col["clip_q_norm"] == pytest.approx(30 / 51)  # the CRF x265 wrote
    assert col["has_hdr_q"] == 1.0 and col["clip_hdr_q"] == pytest.approx(sf.header_qp.mean() / 51)
    sized = stream_feature_matrix(sf, ["log2_upscale"], display=(640, 360))
    assert sized[0, 0] == pytest.approx(1.0)


def test_header_qp_parser() -> None:
    log = "\n".join(
        [
            "[trace_headers @ 0x1] 18          pic_init_qp_minus26        0001000 = 4",
            "[trace_headers @ 0x1] 30          slice_qp_delta             0001010 = 5",
            "[trace_headers @ 0x1] 31          slice_qp_delta             0001011 = -2",
            "[trace_headers @ 0x2] 49          base_q_idx                 10100000 = 160",
            # another thread's log prefix glued in front of the bit position (seen in the wild)
            "[Parsed_showinfo_0 @ 0x7f] 3a5b61          slice_qp_delta     000010110 = 11",
        ]
    )
    assert parse_trace_qp(log) == [35.0, 28.0, 160.0, 41.0]
    assert parse_trace_qp("no headers here") == []


def test_header_qp_by_packet() -> None:
    log = "\n".join(
        [
            "[trace_headers @ 0x1] [info] 20    pic_init_qp_minus26     00111 = -3",
            "[trace_headers @ 0x1] [info] Packet: 2618 bytes, key frame, pts 0, dts -1024.",
            "[trace_headers @ 0x1] [info] 30    slice_qp_delta          0001110 = 7",
            "[trace_headers @ 0x1] [info] Packet: 595 bytes, pts 1536, dts -512, duration 512.",
            "[trace_headers @ 0x1] [info] 34    slice_qp_delta          000010110 = 11",
            "[trace_headers @ 0x1] [info] 34    slice_qp_delta          000010110 = 12",
            "[trace_headers @ 0x1] [info] Packet: 421 bytes, no pts, dts 0, duration 512.",
            "[trace_headers @ 0x1] [info] 33    slice_qp_delta          000010010 = 9",
        ]
    )
    assert parse_trace_qp_packets(log) == [
        (0, 0, 30.0),
        (1, 1536, 34.0),
        (1, 1536, 35.0),
        (2, None, 32.0),
    ]
    assert parse_trace_qp(log) == [30.0, 34.0, 35.0, 32.0]


def test_max_frames_keeps_the_header_qp_of_the_scored_frames(clips: dict[str, Path]) -> None:
    """With ``max_frames`` the clip's header quantiser comes from the scored frames' packets only
    (it used to come from the whole file), and a whole file keeps every header."""
    full = extract_stream(clips["x264_mp4"])
    part = extract_stream(clips["x264_mp4"], max_frames=5)
    assert full.header_qp is not None and part.header_qp is not None
    assert full.header_qp.size == full.n_frames == 16  # one slice per frame
    assert part.n_frames == 5 and part.header_qp.size == 5
    assert sorted(part.header_qp.tolist()) != sorted(full.header_qp.tolist())
    # raw Annex B carries no pts: the headers of the packets whose sizes are used (decode order)
    raw = extract_stream(clips["x264_46"], max_frames=5)
    assert raw.header_qp is not None and raw.header_qp.size == 5
    # ...and its B-frames are put in display order from the slice headers: not flagged
    assert "B" in raw.frame_type and raw.decode_order is False
    assert full.decode_order is False  # mp4 carries the order


def test_higher_crf_gives_higher_header_qp(clips: dict[str, Path]) -> None:
    lo, hi = extract_stream(clips["x264_18"]), extract_stream(clips["x264_46"])
    assert lo.header_qp is not None and hi.header_qp is not None
    assert lo.header_qp.size == hi.header_qp.size == 16
    assert hi.header_qp.mean() > lo.header_qp.mean() + 15


def test_unknown_feature_is_a_bad_model(clips: dict[str, Path]) -> None:
    sf = extract_stream(clips["x264_18"])
    with pytest.raises(BadModelError, match="unknown stream feature"):
        stream_feature_matrix(sf, ["log_bpp", "psnr_of_nothing"])
    prod = stream_feature_matrix(sf, ["log_bpp", "is_intra", "log_bpp__is_intra"])
    np.testing.assert_allclose(prod[:, 2], prod[:, 0] * prod[:, 1], rtol=1e-6)


def test_raw_input_is_not_a_stream(clips: dict[str, Path]) -> None:
    with pytest.raises(BadInputError, match="not an encoded stream"):
        extract_stream(clips["y4m"])
    assert STREAM_NR_MODEL == "nr_stream_v2"
    assert choose_nr_model(clips["x264_mp4"]) == (STREAM_NR_MODEL, None)
    mid, note = choose_nr_model(clips["y4m"])
    assert mid == PIXEL_NR_MODEL == "nr_metric_v2" and note is not None and mid in note


def test_a_codec_outside_training_is_scored_with_a_warning(
    ffmpeg: FFmpeg, clips: dict[str, Path], tmp_path: Path
) -> None:
    """MJPEG sets no codec one-hot (no training row looked like that): the score comes with a
    warning; a trained codec gets none."""
    mj = lavfi_clip(
        ffmpeg, tmp_path / "mj.avi", graph=GRAPH, frames=4, codec=["-c:v", "mjpeg", "-q:v", "20"],
        pix_fmt="yuvj420p",
    )  # fmt: skip
    res = score_stream(mj, backend="cpu")
    assert np.isfinite(res.frames).all() and 0 <= res.pooled["mean"] <= 100
    assert sum("mjpeg is not one of" in w for w in res.warnings) == 1
    assert not score_stream(clips["x264_mp4"], backend="cpu").warnings


@pytest.mark.parametrize("display", [(0, 0), (-1, 360), (640.5, 360), (640,)])
def test_a_nonsense_display_size_is_refused(clips: dict[str, Path], display: tuple) -> None:
    with pytest.raises(BadInputError, match="positive integers"):
        score_stream(clips["x264_mp4"], backend="cpu", display=display)


@pytest.mark.parametrize("size", ["8x8", "64x2"])
def test_a_stream_too_small_for_the_content_statistics_is_one_error(
    ffmpeg: FFmpeg, tmp_path: Path, size: str
) -> None:
    """8x8 gave NaN statistics (and numpy warnings on stderr) before a 'broken stream?' error."""
    clip = lavfi_clip(ffmpeg, tmp_path / "s.mp4", size=size, frames=3, codec=x264(30))
    out = _run("score", "--no-reference", "-d", clip)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        f"error: s.mp4: {size} is too small for the stream content statistics (each side at "
        "least 10 pixels)"
    ]


def test_raw_yuv_with_the_stream_model_names_the_real_problem(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    """score_nr passes --width/--height on to the stream path: the error is "not an encoded
    stream", not "raw yuv needs --width" (which it had)."""
    from vmaf_tiny.nr import score_nr

    raw = tmp_path / "clip.yuv"
    raw.write_bytes(bytes(320 * 180 * 3 // 2 * 2))
    with pytest.raises(BadInputError, match="needs an encoded stream"):
        score_nr(raw, STREAM_NR_MODEL, width=320, height=180)


@pytest.mark.parametrize("model", ["nr_stream_v1", "nr_stream_v2"])
def test_shipped_model_ranks_quality(clips: dict[str, Path], model: str) -> None:
    good = score_stream(clips["x264_18"], model, backend="cpu")
    bad = score_stream(clips["x264_46"], model, backend="cpu")
    for r in (good, bad):
        f = np.asarray(r.frames)
        assert f.shape == (16,) and np.isfinite(f).all() and (f >= 0).all() and (f <= 100).all()
    assert good.pooled["mean"] > bad.pooled["mean"] + 10


def test_fine_content_statistics_see_flat_and_grainy_frames() -> None:
    from vmaf_tiny.stream_content import ContentStats

    rng = np.random.default_rng(7)
    flat, grain = ContentStats(fine_stride=2), ContentStats(fine_stride=2)
    for _ in range(5):
        flat.add(np.full((36, 64), 90, np.uint8))
        grain.add(rng.integers(60, 200, size=(36, 64), dtype=np.uint8))
    f, g = flat.arrays(), grain.arrays()
    assert (f["flat"] == 1.0).all() and (g["flat"] < 0.05).all()
    assert (f["tdiff_c2"] == 0.0).all() and (g["tdiff_c2"] > 20).all()  # grain changes per frame
    assert np.isfinite(g["grad_c32"]).all() and (g["grad_c32"] < g["grad_c8"]).all()


@pytest.mark.parametrize("model", ["nr_stream_v1", "nr_stream_v2"])
def test_sidecar_contract_checks_the_feature_width(model: str) -> None:
    row = next(r for r in load_registry(shipped_zoo()).rows if r["id"] == model)
    side = json.loads((shipped_zoo() / row["sidecar"]).read_text())
    assert sidecar_contract(side) is None
    bad = dict(side, feature_order=side["feature_order"][:-1])
    assert "feature_order gives" in str(sidecar_contract(bad))


def test_cli_picks_the_stream_model_for_encoded_input(clips: dict[str, Path]) -> None:
    out = _run("score", "--no-reference", "--distorted", clips["x264_mp4"], "--json")
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    assert res["model"] == STREAM_NR_MODEL and res["n_frames"] == 16
    assert "pixel model" not in out.stderr


def test_cli_falls_back_to_the_pixel_model_for_y4m(clips: dict[str, Path]) -> None:
    out = _run("score", "--no-reference", "--distorted", clips["y4m"], "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["model"] == PIXEL_NR_MODEL
    notes = [ln for ln in out.stderr.splitlines() if "carries no stream facts" in ln]
    assert len(notes) == 1 and PIXEL_NR_MODEL in notes[0]


def test_cli_bad_input_is_one_line_exit_2(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00not a video" * 50)
    for path in (junk, tmp_path / "missing.mkv"):
        out = _run("score", "--no-reference", "--distorted", path)
        assert out.returncode == 2, out.stderr
        lines = [ln for ln in out.stderr.splitlines() if ln.startswith("error:")]
        assert len(lines) == 1 and "Traceback" not in out.stderr


def test_a_cut_without_re_encoding_aligns_packets_with_the_shown_frames(
    ffmpeg: FFmpeg, clips: dict[str, Path], tmp_path: Path
) -> None:
    # `ffmpeg -ss T -c copy` keeps the pre-roll from the last key frame and hides it with an
    # edit list: its packets are in the file (negative pts) but no frame of them is shown.
    cut = tmp_path / "cut.mp4"
    subprocess.run(
        [*ffmpeg.base_args(), "-ss", "0.2", "-i", str(clips["x264_mp4"]), "-c", "copy", str(cut)],
        capture_output=True,
        check=True,
    )
    full, sf = extract_stream(clips["x264_mp4"]), extract_stream(cut)
    shown = sf.n_frames
    assert 0 < shown < full.n_frames
    # the shown frames' packets are the full clip's last ones, in presentation order
    assert sf.packet_bytes.tolist() == full.packet_bytes[full.n_frames - shown :].tolist()


def test_block_means_are_exactly_the_reshaped_means() -> None:
    # The strided sums must not change a single bit of the statistics the models were fitted on.
    from vmaf_tiny.stream_content import _block_mean

    def reference(a: np.ndarray, k: int) -> np.ndarray:
        h, w = (a.shape[0] // k) * k, (a.shape[1] // k) * k
        return a[:h, :w].reshape(h // k, k, w // k, k).mean(axis=(1, 3), dtype=np.float32)

    rng = np.random.default_rng(3)
    for shape in [(180, 320), (181, 323), (9, 13), (540, 960)]:
        u = rng.integers(0, 256, shape, dtype=np.uint8)
        c8 = _block_mean(u, 4)
        assert c8.dtype == np.float32
        np.testing.assert_array_equal(c8, reference(u.astype(np.float32), 4))
        np.testing.assert_array_equal(_block_mean(c8, 2), reference(c8, 2))


def test_max_frames_keeps_the_packets_of_the_first_shown_frames(
    ffmpeg: FFmpeg, clips: dict[str, Path], tmp_path: Path
) -> None:
    # B-frames (and a cut's hidden pre-roll) put packets in another order than the frames shown:
    # the first n shown frames are not the first n packets.
    cut = remux(ffmpeg, clips["x264_mp4"], tmp_path / "cut.mp4", "-ss", "0.2")
    for clip in (clips["x264_mp4"], cut):
        full = extract_stream(clip)
        assert "B" in full.frame_type[:6]
        for n in (2, 3, 7):
            part = extract_stream(clip, max_frames=n)
            assert part.n_frames == n
            assert part.packet_bytes.tolist() == full.packet_bytes[:n].tolist()
            assert part.frame_type == full.frame_type[:n]


def test_damage_only_the_decoder_sees_is_refused(clips: dict[str, Path], tmp_path: Path) -> None:
    # A raw .264 cut mid-packet: the demuxer sees nothing wrong, the decoder does.
    data = clips["x264_18"].read_bytes()
    bad = tmp_path / "cut_short.264"
    bad.write_bytes(data[: int(len(data) * 0.6)])
    assert extract_stream(bad).damage
    with pytest.raises(DamagedInputError, match=r"damaged stream.*--allow-damaged"):
        score_stream(bad)
    with pytest.raises(DamagedInputError, match=PIXEL_NR_MODEL):
        score_stream(bad, allow_damaged=True)
    r = _run("score", "--no-reference", "--distorted", bad)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert extract_stream(clips["x264_18"]).damage == ()


def test_a_codec_trace_headers_cannot_read_is_scored_without_header_qp(
    ffmpeg: FFmpeg, tmp_path: Path
) -> None:
    mpeg4 = ["-c:v", "mpeg4", "-q:v", "8"]
    clip = lavfi_clip(ffmpeg, tmp_path / "m4.avi", graph=GRAPH, frames=8, codec=mpeg4)
    sf = extract_stream(clip)
    assert sf.n_frames == 8 and sf.header_qp is not None and sf.header_qp.size == 0
    res = score_stream(clip)
    assert np.isfinite(res.mean) and any("extrapolation" in w for w in res.warnings)


def test_a_display_rotation_flag_does_not_change_the_stream_score(
    ffmpeg: FFmpeg, clips: dict[str, Path], tmp_path: Path
) -> None:
    rot = remux(ffmpeg, clips["x264_mp4"], tmp_path / "rot.mp4", "-display_rotation", "90")
    a, b = extract_stream(clips["x264_mp4"]), extract_stream(rot)
    assert (b.width, b.height) == (a.width, a.height) == (320, 180)  # the coded size
    assert score_stream(rot).mean == pytest.approx(score_stream(clips["x264_mp4"]).mean, abs=0.5)


def test_file_names_that_look_like_urls_are_read_as_files(
    clips: dict[str, Path], tmp_path: Path
) -> None:
    want = score_stream(clips["x264_mp4"]).mean
    for name in ("pipe:0", "a:b.mp4"):
        (tmp_path / name).write_bytes(clips["x264_mp4"].read_bytes())
        r = subprocess.run(
            [str(VMAF_TINY), "score", "--no-reference", "--distorted", name, "--json"],
            cwd=tmp_path,
            input=b"",  # ffmpeg must not read this in place of the file
            capture_output=True,
            timeout=120,
            check=False,
        )
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["pooled"]["mean"] == pytest.approx(want)
