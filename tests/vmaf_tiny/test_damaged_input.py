"""The hostile-input corpus, made at test time: damaged, lying and VFR videos, and clean controls.

Every reader (libvmaf FR features, NR, filter, saliency) must refuse a truncated or corrupt
stream with one line and exit 2 unless ``--allow-damaged``; then only clean frames are used and
the count dropped is reported. Frames are read as stored (VFR files are not padded to a nominal
rate), so FR, NR, filter and saliency agree on the frame count. Clean files in all five codecs
must not be flagged.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.support import cli
from tests.support.clips import lavfi_clip, x264
from vmaf_tiny.damage import DecodeLog, clean_prefix, scan_log
from vmaf_tiny.errors import BadInputError
from vmaf_tiny.features import extract_features
from vmaf_tiny.ffmpeg import FFmpeg
from vmaf_tiny.fsutil import output_error
from vmaf_tiny.video import as_spec, locate_clean_frames, probe, read_luma

VMAF_TINY = Path(sys.executable).parent / "vmaf-tiny"
N = 24
SVT_ENV = {"SVT_LOG": "1"}


def run(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VMAF_TINY), *map(str, args)], capture_output=True, text=True, check=False
    )


def one_line_error(out: subprocess.CompletedProcess[str], fragment: str) -> str:
    return cli.one_line_error(out, fragment, alone=True)


def encode(ff: FFmpeg, src: Path, out: Path, codec: list[str], vf: str | None = None) -> Path:
    args = ["-loglevel", "error", "-i", str(src)]
    if vf:
        args += ["-vf", vf, "-fps_mode", "passthrough"]
    ff.run([*args, *codec, str(out)], what=f"encode {out.name}", env=SVT_ENV)
    return out


def cut(src: Path, out: Path, frac: float) -> Path:
    data = src.read_bytes()
    out.write_bytes(data[: int(len(data) * frac)])
    return out


def luma_hashes(path: Path) -> list[bytes]:
    return [f.tobytes() for f in read_luma(path, allow_damaged=True)]


@pytest.fixture(scope="module")
def corpus(ffmpeg: FFmpeg, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 160x90 x 24 reference, clean encodes in five codecs, and damaged/lying/VFR variants."""
    d = tmp_path_factory.mktemp("damaged")
    ref = lavfi_clip(ffmpeg, d / "ref.y4m", frames=N, vf="noise=alls=12:allf=t:all_seed=3")
    c: dict[str, Path] = {"ref": ref}
    c["x264.mp4"] = encode(ffmpeg, ref, d / "x264.mp4", [*x264(30), "-movflags", "+faststart"])
    c["x264.mkv"] = encode(ffmpeg, ref, d / "x264.mkv", x264(30))
    c["x265.mkv"] = encode(
        ffmpeg,
        ref,
        d / "x265.mkv",
        ["-c:v", "libx265", "-preset", "fast", "-crf", "30", "-x265-params",
         "log-level=error:pools=1:frame-threads=1"],
    )  # fmt: skip
    c["vp9.webm"] = encode(
        ffmpeg,
        ref,
        d / "vp9.webm",
        ["-c:v", "libvpx-vp9", "-b:v", "0", "-crf", "40", "-deadline", "realtime",
         "-cpu-used", "8"],
    )  # fmt: skip
    c["aom.mp4"] = encode(
        ffmpeg,
        ref,
        d / "aom.mp4",
        ["-c:v", "libaom-av1", "-usage", "realtime", "-cpu-used", "8", "-crf", "40", "-b:v",
         "0"],
    )  # fmt: skip
    c["svt.mp4"] = encode(
        ffmpeg, ref, d / "svt.mp4", ["-c:v", "libsvtav1", "-preset", "10", "-crf", "40"]
    )
    # Damaged: cut files (mkv: the demuxer notices; mp4 with the index first: a partial packet).
    c["cut.mkv"] = cut(c["x264.mkv"], d / "cut.mkv", 0.77)
    c["cut.mp4"] = cut(c["x264.mp4"], d / "cut.mp4", 0.6)
    c["cut.y4m"] = cut(ref, d / "cut.y4m", 0.5)
    # Corrupt payload in the middle of an AV1 stream: the decoder rejects frames.
    data = bytearray(c["svt.mp4"].read_bytes())
    rng = random.Random(1)
    mid = len(data) // 2
    data[mid : mid + 200] = bytes(rng.randrange(256) for _ in range(200))
    (d / "corrupt.mp4").write_bytes(bytes(data))
    c["corrupt.mp4"] = d / "corrupt.mp4"
    # The same in an H.264 mp4: the decoder conceals instead of rejecting, so frames come out.
    data = bytearray(c["x264.mp4"].read_bytes())
    mid = len(data) // 2
    data[mid : mid + 300] = bytes(rng.randrange(256) for _ in range(300))
    (d / "conceal.mp4").write_bytes(bytes(data))
    c["conceal.mp4"] = d / "conceal.mp4"
    # A y4m header that lies about the height, one that cannot be parsed, one without signature.
    raw = ref.read_bytes()
    (d / "lie.y4m").write_bytes(raw.replace(b" H90 ", b" H45 ", 1))
    c["lie.y4m"] = d / "lie.y4m"
    (d / "badhdr.y4m").write_bytes(b"YUV4MPEG2 Wabc H90 F25:1\n" + raw[raw.index(b"\n") + 1 :])
    c["badhdr.y4m"] = d / "badhdr.y4m"
    (d / "nosig.y4m").write_bytes(b"GARBAGE!" + raw[8:])
    c["nosig.y4m"] = d / "nosig.y4m"
    # VFR: the same 24 frames with a 0.8 s gap after frame 12.
    gap = "setpts='N/25/TB+gte(N,12)*0.8/TB'"
    c["vfr.mp4"] = encode(ffmpeg, ref, d / "vfr.mp4", x264(30), vf=gap)
    c["vfr.mkv"] = encode(ffmpeg, ref, d / "vfr.mkv", x264(30), vf=gap)
    # Pairs of frames sharing one timestamp (the raw output pipe's muxer complains; not damage).
    c["dupts.mkv"] = encode(ffmpeg, ref, d / "dupts.mkv", x264(30), vf="setpts='floor(N/2)*2'")
    # Audio only.
    ffmpeg.run(
        ["-loglevel", "error", "-f", "lavfi", "-i", "sine=d=0.5", "-c:a", "pcm_s16le",
         str(d / "audio.mkv")],
        what="audio-only file",
    )  # fmt: skip
    c["audio.mkv"] = d / "audio.mkv"
    return c


CLEAN = ("ref", "x264.mp4", "x264.mkv", "x265.mkv", "vp9.webm", "aom.mp4", "svt.mp4")


@pytest.mark.parametrize("name", CLEAN)
def test_clean_controls_are_not_flagged(corpus: dict[str, Path], name: str) -> None:
    """No false positives: clean files in every codec probe, decode and score as 24 frames."""
    info = probe(corpus[name])
    assert info.damage == () and info.clean_frames is None
    log = DecodeLog()
    frames = list(read_luma(corpus[name], info=info, log=log))
    assert len(frames) == info.n_frames == N
    assert log.messages == [] and log.dropped == 0
    feats = extract_features(corpus["ref"], corpus[name])
    assert feats.n_frames == N and feats.warnings == () and feats.damaged_frames_dropped == 0


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("cut.mkv", 'ffmpeg: "File ended prematurely"'),
        ("cut.mp4", "ffmpeg: "),
        ("cut.y4m", "y4m size check: last frame has"),
        ("corrupt.mp4", "ffmpeg: "),
    ],
)
def test_damaged_input_is_one_line_exit_2_everywhere(
    corpus: dict[str, Path], tmp_path: Path, name: str, said: str
) -> None:
    bad = corpus[name]
    frag = f"{name}: damaged stream ({said}"
    hint = "rerun with --allow-damaged"
    for args in (
        ("score", "-r", corpus["ref"], "-d", bad),
        ("score", "-r", corpus["ref"], "-d", bad, "--truncate"),
        ("score", "--no-reference", "-m", "nr_metric_v1", "-d", bad),
        ("filter", bad, "-o", tmp_path / "f.y4m"),
        ("saliency", bad, "-o", tmp_path / "maps"),
    ):
        assert hint in one_line_error(run(*args), frag)
    assert list(tmp_path.iterdir()) == []  # nothing written, no temp files left


def test_allow_damaged_drops_exactly_the_damaged_frames(corpus: dict[str, Path]) -> None:
    """The clean frames are the intact file's first frames, bit for bit; the rest is dropped."""
    for name, intact in (
        ("cut.mkv", "x264.mkv"),
        ("cut.mp4", "x264.mp4"),
        ("cut.y4m", "ref"),
    ):
        info = probe(corpus[name])
        assert info.damage and info.clean_frames is not None and 0 < info.clean_frames < N
        log = DecodeLog()
        got = [f.tobytes() for f in read_luma(corpus[name], allow_damaged=True, log=log)]
        want = luma_hashes(corpus[intact])[: len(got)]
        assert len(got) == info.clean_frames and got == want, name
        assert log.dropped == info.n_frames - info.clean_frames >= 1
    # Without the opt-in the reader refuses.
    with pytest.raises(BadInputError, match="damaged stream"):
        list(read_luma(corpus["cut.mkv"]))


def test_nr_allow_damaged_on_a_stream_uses_the_pixel_model(corpus: dict[str, Path]) -> None:
    """The stream model cannot skip damaged frames: by default --allow-damaged picks the pixel
    model with a note; asking for the stream model is refused, with or without the flag, with a
    pointer to the pixel one."""
    out = run("score", "--no-reference", "-d", corpus["cut.mkv"], "--allow-damaged", "--json")
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    assert res["model"] == "nr_metric_v2" and 0 < res["n_frames"] < N
    assert sum("cannot skip damaged frames" in ln for ln in out.stderr.splitlines()) == 1
    bad = ("score", "--no-reference", "-d", corpus["cut.mkv"], "-m", "nr_stream_v2")
    one_line_error(run(*bad, "--allow-damaged"), "-m nr_metric_v2 --allow-damaged")
    # Without the flag the same advice: "rerun with --allow-damaged" would be refused again.
    err = one_line_error(run(*bad), "cut.mkv: damaged stream")
    assert "-m nr_metric_v2 --allow-damaged" in err and "rerun with" not in err


def test_fr_allow_damaged_scores_the_intact_prefix(corpus: dict[str, Path]) -> None:
    """FR: no garbage frame enters the mean; the scored frames equal the intact file's."""
    out = run("score", "-r", corpus["ref"], "-d", corpus["cut.mkv"], "--allow-damaged", "--json")
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    k = res["n_frames"]
    info = probe(corpus["cut.mkv"])
    assert 0 < k == info.clean_frames < N
    assert res["damaged_frames_dropped"] == info.n_frames - k >= 1
    assert "--allow-damaged" in out.stderr and "cut.mkv: damaged stream" in out.stderr
    full = run("score", "-r", corpus["ref"], "-d", corpus["x264.mkv"], "--json")
    intact = json.loads(full.stdout)["frames"][:k]
    # The last frame's motion2 looks at the next frame, which a cut clip lacks; the others match.
    np.testing.assert_allclose(res["frames"][:-1], intact[:-1], rtol=1e-6)


def test_damage_only_the_decoder_sees_gets_advice_that_works(
    corpus: dict[str, Path], tmp_path: Path
) -> None:
    """40 flipped bytes in an H.264 mp4 that the probe passes as clean: the damage shows in the
    decode pass only. The default NR choice still falls back to the pixel model with
    --allow-damaged, and the gated filter's advice names the flags that do filter the clean
    frames."""
    data = corpus["x264.mp4"].read_bytes()
    bad = tmp_path / "flipped.mp4"
    for frac in np.arange(0.5, 0.95, 0.05):  # the first spot only the decoder notices
        at = int(len(data) * frac)
        bad.write_bytes(data[:at] + bytes(b ^ 0x55 for b in data[at : at + 40]) + data[at + 40 :])
        if not probe(bad).damage and run("score", "--no-reference", "-d", bad).returncode == 2:
            break
    else:
        pytest.fail("no offset gives damage that only the decoder sees")
    (tmp_path / "out").mkdir()
    tmp_path = tmp_path / "out"
    out = run("score", "--no-reference", "-d", bad, "--allow-damaged", "--json")
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    assert res["model"] == "nr_metric_v2"
    assert sum("cannot skip damaged frames" in ln for ln in out.stderr.splitlines()) == 1
    assert sum("cannot skip damaged frames" in w for w in res["warnings"]) == 1
    err = one_line_error(run("filter", bad, "-o", tmp_path / "f.y4m"), "flipped.mp4: damaged")
    assert "rerun with --allow-damaged --no-gate" in err
    ok = run("filter", bad, "-o", tmp_path / "f.y4m", "--allow-damaged", "--no-gate", "--json")
    assert ok.returncode == 0, ok.stderr
    assert 0 < json.loads(ok.stdout)["n_frames"] < N


def test_decoder_errors_are_damage(corpus: dict[str, Path]) -> None:
    """Mid-stream corruption: frames the decoder rejects are counted and dropped (or refused)."""
    log = DecodeLog()
    frames = list(read_luma(corpus["corrupt.mp4"], allow_damaged=True, log=log))
    assert log.messages and log.dropped == N - len(frames) > 0
    out = run(
        "score", "--no-reference", "-m", "nr_metric_v1", "-d", corpus["corrupt.mp4"],
        "--allow-damaged", "--json",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["damaged_frames_dropped"] == log.dropped
    assert "corrupt.mp4: damaged stream" in out.stderr


@pytest.mark.parametrize("name", CLEAN)
def test_strict_decode_keeps_every_frame_of_clean_files(
    corpus: dict[str, Path], ffmpeg: FFmpeg, name: str
) -> None:
    assert locate_clean_frames(as_spec(corpus[name]), ffmpeg) == N


def test_allow_damaged_drops_concealed_frames(corpus: dict[str, Path]) -> None:
    """Mid-stream corruption the decoder conceals: only frames decoded before it are used, in
    FR and NR alike, and they are the intact file's frames."""
    bad, intact = corpus["conceal.mp4"], corpus["x264.mp4"]
    log = DecodeLog()
    got = [f.tobytes() for f in read_luma(bad, allow_damaged=True, log=log)]
    assert 0 < len(got) < N
    assert got == luma_hashes(intact)[: len(got)]
    assert log.dropped == N - len(got)
    fr = run("score", "-r", corpus["ref"], "-d", bad, "--allow-damaged", "--json")
    nr = run("score", "--no-reference", "-m", "nr_metric_v1", "-d", bad, "--allow-damaged",
             "--json")  # fmt: skip
    assert fr.returncode == 0 and nr.returncode == 0, (fr.stderr, nr.stderr)
    frj, nrj = json.loads(fr.stdout), json.loads(nr.stdout)
    assert frj["n_frames"] == nrj["n_frames"] == len(got)
    assert frj["damaged_frames_dropped"] == nrj["damaged_frames_dropped"] == N - len(got)
    full = json.loads(run("score", "-r", corpus["ref"], "-d", intact, "--json").stdout)
    np.testing.assert_allclose(frj["frames"][:-1], full["frames"][: len(got) - 1], rtol=1e-6)


def test_lying_and_broken_y4m_headers(corpus: dict[str, Path]) -> None:
    nr = ("score", "--no-reference", "-m", "nr_metric_v1", "--allow-damaged", "-d")
    one_line_error(run(*nr, corpus["lie.y4m"]), "lie.y4m: invalid y4m header (W160 H45")
    one_line_error(run(*nr, corpus["badhdr.y4m"]), "badhdr.y4m: invalid y4m header (Wabc")
    one_line_error(run(*nr, corpus["nosig.y4m"]), "nosig.y4m: not a y4m file")
    one_line_error(run(*nr, corpus["audio.mkv"]), "no video stream in audio.mkv")


def test_vfr_frames_are_read_as_stored(corpus: dict[str, Path], tmp_path: Path) -> None:
    """FR == NR == filter == saliency == the 24 stored frames (no padding to a nominal rate)."""
    for name in ("vfr.mp4", "vfr.mkv"):
        vfr = corpus[name]
        assert probe(vfr).n_frames == N
        fr = json.loads(run("score", "-r", corpus["ref"], "-d", vfr, "--json").stdout)
        nr = run("score", "--no-reference", "-m", "nr_metric_v1", "-d", vfr, "--json")
        filt = run("filter", vfr, "-o", tmp_path / f"{name}.y4m", "--json")
        sal = run("saliency", vfr, "-o", tmp_path / f"{name}_maps", "--json")
        assert json.loads(nr.stdout)["n_frames"] == N
        assert json.loads(filt.stdout)["n_frames"] == N
        assert json.loads(sal.stdout)["n_frames"] == N
        assert len(list((tmp_path / f"{name}_maps").glob("*.png"))) == N
        assert probe(tmp_path / f"{name}.y4m").n_frames == N
        # FR pairs frame i with frame i: the same frames as the CFR encode, not a time shift.
        assert fr["n_frames"] == N
        cfr = run("score", "-r", corpus["ref"], "-d", corpus["x264.mp4"], "--json")
        assert abs(fr["pooled"]["mean"] - json.loads(cfr.stdout)["pooled"]["mean"]) < 5


def test_repeated_timestamps_are_not_damage(corpus: dict[str, Path], tmp_path: Path) -> None:
    """Frames that share a timestamp: every reader sees the 24 stored frames, none refuses."""
    dup = corpus["dupts.mkv"]
    fr = run("score", "-r", corpus["ref"], "-d", dup, "--json")
    nr = run("score", "--no-reference", "-m", "nr_metric_v1", "-d", dup, "--json")
    filt = run("filter", dup, "-o", tmp_path / "f.y4m", "--json")
    sal = run("saliency", dup, "-o", tmp_path / "maps", "--json")
    for out in (fr, nr, filt, sal):
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["n_frames"] == N


def test_output_errors_are_one_line(corpus: dict[str, Path], tmp_path: Path) -> None:
    clip = corpus["x264.mp4"]
    (tmp_path / "adir").mkdir()
    one_line_error(
        run("filter", clip, "-o", tmp_path / "adir"), f"cannot write {tmp_path / 'adir'}:"
    )
    (tmp_path / "afile").write_text("x")
    one_line_error(
        run("filter", clip, "-o", tmp_path / "afile" / "o.y4m"), "afile is not a directory"
    )
    one_line_error(
        run("saliency", clip, "-o", tmp_path / "afile" / "maps"), "afile is not a directory"
    )
    # The errno -> message mapping for what a root test runner cannot provoke.
    for code, text in ((errno.EACCES, "Permission denied"), (errno.ENOSPC, "No space left")):
        err = output_error(tmp_path / "o.y4m", OSError(code, os.strerror(code)))
        assert str(err).startswith(f"cannot write {tmp_path / 'o.y4m'}: {text}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adir", "afile"]


def test_unsupported_output_names_the_users_path(corpus: dict[str, Path], tmp_path: Path) -> None:
    """A suffix-less or .txt output: the error names the user's file, never the hidden temp."""
    clip = corpus["x264.mp4"]
    (tmp_path / "afile").write_text("x")
    for name in ("afile", "out.txt", "new_noext"):
        line = one_line_error(
            run("filter", clip, "-o", tmp_path / name), f"error: {name}: choose --codec"
        )
        assert ".tmp" not in line, line
    # nothing written, no temp file left; the existing file is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]
    assert (tmp_path / "afile").read_text() == "x"


@pytest.mark.parametrize("how", ["single", "pairs", "pairs_twice"])
def test_sigterm_cleans_up_score(ffmpeg: FFmpeg, tmp_path: Path, how: str) -> None:
    """SIGTERM during ``score``'s libvmaf pass: its temp directory is removed, exit 143.

    ``pairs``: two pairs on a two-worker process pool, SIGTERM to the whole process group (as a
    shell or a service manager sends it): the workers remove theirs too. ``pairs_twice``: the
    same signal again 0.2 s later (an impatient user) must not hang the pool's shutdown.
    """
    ref = lavfi_clip(ffmpeg, tmp_path / "ref.y4m", size="640x360", frames=300)
    dis = lavfi_clip(ffmpeg, tmp_path / "dis.y4m", size="640x360", frames=300, vf="boxblur=2")
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    if how == "single":
        args = ["-r", str(ref), "-d", str(dis)]
    else:
        pairs = tmp_path / "pairs.csv"
        pairs.write_text(f"reference,distorted\n{ref},{dis}\n{ref},{dis}\n")
        args = ["--pairs", str(pairs), "--workers", "2"]
    proc = subprocess.Popen(
        [str(VMAF_TINY), "score", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(tmpdir), "VMAF_TINY_EXECUTOR": "pool"},
        start_new_session=True,
    )

    def ours() -> list[Path]:
        return sorted(tmpdir.glob("vmaf-tiny-*"))  # (libraries may leave their own dotfiles)

    deadline = time.monotonic() + 60
    while not ours() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert ours(), "no temp directory appeared"
    time.sleep(0.3)
    assert proc.poll() is None, "the pass ended before the signal: make the clips longer"
    if how == "single":
        proc.send_signal(signal.SIGTERM)
    else:
        os.killpg(proc.pid, signal.SIGTERM)
    if how == "pairs_twice":
        time.sleep(0.2)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert ours() == []
    if how == "pairs":  # the command says it once; its workers stay quiet
        assert err.count("terminated") == 1, err


@pytest.mark.parametrize("command", ["filter", "saliency"])
def test_sigterm_cleans_up(ffmpeg: FFmpeg, tmp_path: Path, command: str) -> None:
    """SIGTERM mid-write: temp file / staging directory removed, exit status 143."""
    clip = lavfi_clip(ffmpeg, tmp_path / "long.y4m", size="320x180", frames=600)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    target = out_dir / ("f.y4m" if command == "filter" else "maps")
    proc = subprocess.Popen(
        [str(VMAF_TINY), command, str(clip), "-o", str(target)]
        + (["--no-gate"] if command == "filter" else []),  # raw input: the gate cannot run
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not any(out_dir.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert any(out_dir.iterdir()), "no temp output appeared"
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert list(out_dir.iterdir()) == []


def test_scan_log_and_clean_prefix_units() -> None:
    log = (
        "[in#0/matroska,webm @ 0x55] [error] File ended prematurely\n"
        "[h264 @ 0x56] [error] error while decoding MB 13 10, bytestream -13\n"
        "[vist#1:0/h264 @ 0x57] [dec:h264 @ 0x58] [warning] corrupt decoded frame\n"
        "[out#0/null @ 0x59] [warning] some harmless note\n"
        "[info] frame=   24 fps=0.0\n"
    )
    msgs, concealed = scan_log(log)
    assert msgs == [
        "File ended prematurely",
        "error while decoding MB 13 10, bytestream -13",
        "corrupt decoded frame",
    ]
    assert concealed == 1
    assert scan_log(log, source=0, decoder="hevc")[0] == ["File ended prematurely"]
    # Torn by another thread's line (seen with showinfo): the level tag on one line, the
    # message glued to the end of a showinfo line. Still damage; an info line alone is not.
    torn = (
        "[vist#0:0/h264 @ 0x5] [dec:h264 @ 0x6] [warning] \n"
        "[Parsed_showinfo_0 @ 0x7] [info] color_range:unknowncorrupt decoded frame\n"
        "[Parsed_showinfo_0 @ 0x7] [info] n:   3 pts:   3 type:P\n"
    )
    assert scan_log(torn) == (["corrupt decoded frame"], 1)
    assert scan_log("[h264 @ 0x5] [info] concealing 26 DC, 26 AC, 26 MV errors\n") == ([], 0)
    # Decode order with B-frames (dts, pts).
    packets = [(d, p, False) for d, p in [(0, 0), (1, 3), (2, 1), (3, 2)]]
    assert clean_prefix(packets) == 4
    # A P-frame shown at 6 arrived, the B-frames 4 and 5 were lost in the cut: 6 is dropped.
    assert clean_prefix([*packets, (4, 6, False)]) == 4
    # A corrupt (partial) packet and what follows it count as lost.
    assert clean_prefix([(0, 0, False), (1, 2, False), (2, 1, True)]) == 1


def test_pairs_that_score_but_may_not_mean_it_warn(
    corpus: dict[str, Path], ffmpeg: FFmpeg, tmp_path: Path
) -> None:
    """A distorted video larger than the reference, or at another frame rate, is scored with a
    warning that says what was done."""
    ref = corpus["ref"]
    big = encode(ffmpeg, ref, tmp_path / "big.mp4", x264(30), vf="scale=320:180")
    fast = tmp_path / "fast.mp4"  # the same 24 frames, read as 50 fps
    ffmpeg.run(["-loglevel", "error", "-r", "50", "-i", str(ref), *x264(30), str(fast)], what="50")
    for dis, said in ((big, "is larger than the reference"), (fast, "frame rates differ")):
        out = run("score", "-r", ref, "-d", dis, "--json")
        assert out.returncode == 0, out.stderr
        res = json.loads(out.stdout)
        assert res["n_frames"] == N
        assert any(said in w for w in res["warnings"]), res["warnings"]
        assert "warning: " in out.stderr and said in out.stderr


def test_damage_in_the_first_frame_gets_no_advice_to_rerun(tmp_path: Path) -> None:
    """A stream cut inside its first frame has nothing before the damage: one error, without
    the "rerun with --allow-damaged" that would only be refused again (a hostile pass)."""
    from vmaf_tiny.errors import DamagedInputError
    from vmaf_tiny.video import frames_to_read, probe

    cut = tmp_path / "cut0.y4m"
    cut.write_bytes(b"YUV4MPEG2 W16 H16 F25:1 Ip A1:1 C420jpeg\nFRAME\n" + bytes(100))
    info = probe(cut)
    assert info.damage and info.clean_frames == 0
    for allow in (False, True):
        with pytest.raises(DamagedInputError, match="no usable frames") as err:
            frames_to_read(info, allow)
        assert "rerun" not in str(err.value)
    err_line = cli.one_line_error(run("filter", cut, "-o", tmp_path / "f.y4m"), "no usable frames")
    assert "rerun" not in err_line and not (tmp_path / "f.y4m").exists()
