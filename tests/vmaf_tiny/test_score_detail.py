"""``vmaf-tiny score`` like video engineers expect (issue 14): -o files, per-frame records,
subsampling, pooling, several models in one libvmaf pass, teachers, frame-rate and aspect
mismatches, the scaler, plot-scores and the progress bar. Real ffmpeg, real models, tiny clips."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.support.cli import one_line_error
from tests.support.clips import counting_ffmpeg, lavfi_clip, x264
from vmaf_tiny.features import CANONICAL6
from vmaf_tiny.ffmpeg import FFmpeg
from vmaf_tiny.records import FrameRecords, join_records
from vmaf_tiny.result import POOLS, pool_scores

VMAF_TINY = Path(sys.executable).parent / "vmaf-tiny"


def run(*args: object, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VMAF_TINY), *map(str, args)], capture_output=True, text=True, check=False, env=env
    )


def ok(out: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert out.returncode == 0, out.stderr
    return out


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory, ffmpeg: FFmpeg) -> dict[str, Path]:
    """320x180 (MS-SSIM and CAMBI need more than 160x90): 12 frames at 25 fps and its x264
    encode; the same content at 50 fps (24 frames); a 4:3 encode; a half-size encode."""
    d = tmp_path_factory.mktemp("detail")
    ref = lavfi_clip(ffmpeg, d / "ref.y4m", size="320x180", frames=12)
    out: dict[str, Path] = {"ref": ref, "dir": d}
    for name, extra in {
        "dis": [],
        "dis50": ["-vf", "fps=50"],
        "dis43": ["-vf", "scale=240:180"],
        "half": ["-vf", "scale=160:90"],
    }.items():
        p = d / f"{name}.mp4"
        args = ["-loglevel", "error", "-i", str(ref), *extra, *x264(35), str(p)]
        ffmpeg.run(args, what="encode")
        out[name] = p
    return out


def fr(clips: dict[str, Path], dis: str = "dis") -> list[str]:
    return ["-r", str(clips["ref"]), "-d", str(clips[dis])]


# ---------------------------------------------------------------------------- pooling


def test_pool_scores_match_numpy_and_keep_old_keys() -> None:
    rng = np.random.default_rng(3)
    s = rng.uniform(20, 100, size=37)
    p = pool_scores(s)
    assert list(p) == list(POOLS)
    assert {"mean", "harmonic_mean", "min", "p5", "max"} <= set(p)  # the keys of before
    assert p["mean"] == pytest.approx(np.mean(s))
    assert p["median"] == pytest.approx(np.median(s))
    assert p["stdev"] == pytest.approx(np.std(s))
    assert p["p5"] == pytest.approx(np.percentile(s, 5))
    assert p["harmonic_mean"] == pytest.approx(len(s) / np.sum(1 / (s + 1)) - 1)
    assert (p["min"], p["max"]) == (s.min(), s.max())


def test_pool_flag_selects_rows_and_score(clips) -> None:
    out = ok(run("score", *fr(clips), "--pool", "median", "--pool", "stdev", "--json"))
    d = json.loads(out.stdout)
    frames = np.asarray(d["frames"])
    assert d["pool"] == ["median", "stdev"]
    assert d["score"] == pytest.approx(np.median(frames))
    assert d["pooled"]["stdev"] == pytest.approx(np.std(frames))
    table = ok(run("score", *fr(clips), "--pool", "p5")).stdout
    assert "p5" in table and "harmonic_mean" not in table
    one_line_error(run("score", *fr(clips), "--pool", "p50"), "unknown --pool p50")


# ---------------------------------------------------------------------------- records


RECORD_COLUMNS = ["frame", "time_s", *CANONICAL6, "vmaf_tiny_v2", "vmaf_v0.6.1"]
EXTRAS = ["psnr_y", "float_ssim", "float_ms_ssim", "cambi"]


def test_per_frame_records_csv_json_and_out_files(clips, tmp_path: Path) -> None:
    args = [*fr(clips), "--with-svm", "--extras", ",".join(EXTRAS)]
    csv_out = ok(run("score", *args, "--csv", "-o", tmp_path / "r.csv"))
    rows = list(csv.DictReader(io.StringIO(csv_out.stdout)))
    assert list(rows[0]) == [*RECORD_COLUMNS, *EXTRAS] and len(rows) == 12
    assert [int(r["frame"]) for r in rows] == list(range(12))
    assert float(rows[5]["time_s"]) == pytest.approx(5 / 25)
    for e in EXTRAS:  # every extra is computed by the bundled libvmaf at 320x180
        assert all(r[e] != "" for r in rows), e
    assert 20 < float(rows[3]["psnr_y"]) < 60 and 0 < float(rows[3]["float_ssim"]) <= 1
    assert (tmp_path / "r.csv").read_text() == csv_out.stdout  # -o: the same CSV

    js = ok(run("score", *args, "--json", "-o", tmp_path / "r.json"))
    d = json.loads(js.stdout)
    assert json.loads((tmp_path / "r.json").read_text()) == d
    assert list(d["records"][0]) == list(rows[0])  # the same fields as the CSV
    np.testing.assert_allclose([r["vmaf_tiny_v2"] for r in d["records"]], d["frames"])
    np.testing.assert_allclose([r["vmaf_v0.6.1"] for r in d["records"]], d["svm"]["frames"])
    np.testing.assert_allclose(
        [r["adm2"] for r in d["records"]], [float(r["adm2"]) for r in rows], atol=1e-6
    )
    # the keys of the single-model JSON of before are all still there
    assert {"model", "kind", "n_frames", "pooled", "frames", "svm", "provider"} <= set(d)

    table = ok(run("score", *fr(clips), "-o", tmp_path / "t.json"))
    assert "pooling" in table.stdout and json.loads((tmp_path / "t.json").read_text())["records"]
    one_line_error(run("score", *fr(clips), "-o", tmp_path / "x.txt"), ".json or .csv")
    one_line_error(run("score", *fr(clips), "--extras", "psnr_y,vif"), "unknown --extras vif")


def test_records_in_the_python_api(clips) -> None:
    import vmaf_tiny

    res = vmaf_tiny.score(clips["ref"], clips["dis"], with_svm=True, extras=("psnr_y",))
    assert res.records is not None
    cols = dict(res.records)
    assert list(cols) == [*RECORD_COLUMNS, "psnr_y"]
    assert cols["frame"].dtype == np.int64 and cols["adm2"].dtype == np.float64
    np.testing.assert_array_equal(cols["vmaf_tiny_v2"], res.frames)
    arr = res.records.to_structured()
    assert arr.dtype.names == tuple(cols) and arr.shape == (12,)
    np.testing.assert_array_equal(arr["vmaf_v0.6.1"], res.svm_frames)


def test_join_records_by_frame_index() -> None:
    base = FrameRecords({"frame": [0, 2, 4], "time_s": [0, 0.08, 0.16], "a": [1.0, 2.0, 3.0]})
    other = FrameRecords(
        {"frame": [0, 1, 2, 3], "time_s": [0, 0.04, 0.08, 0.12], "b": [9, 8, 7, 6]}
    )
    j = join_records(base, other)
    assert j.names == ["frame", "time_s", "a", "b"]
    np.testing.assert_array_equal(j["b"][:2], [9.0, 7.0])
    assert np.isnan(j["b"][2])
    assert j.to_rows()[2]["b"] is None and j.to_csv().splitlines()[3].endswith(",")
    with pytest.raises(Exception, match="rows"):
        FrameRecords({"frame": [0, 1], "a": [1.0]})


# ---------------------------------------------------------------------------- subsample


def test_subsample_scores_every_nth_frame(clips) -> None:
    full = json.loads(ok(run("score", *fr(clips), "--json")).stdout)
    out = ok(run("score", *fr(clips), "--subsample", "5", "--json"))
    sub = json.loads(out.stdout)
    assert [r["frame"] for r in sub["records"]] == [0, 5, 10]
    assert sub["n_frames"] == 3 and sub["subsample"] == 5 and sub["n_frames_total"] == 12
    want = np.asarray(full["frames"])[[0, 5, 10]]
    np.testing.assert_allclose(sub["frames"], want, rtol=1e-6)  # same features per frame
    assert sub["pooled"]["mean"] == pytest.approx(float(np.mean(want)))
    assert "pooled over the 3 scored frames" in out.stderr
    assert "1 in 5 of 12" in ok(run("score", *fr(clips), "--subsample", "5")).stdout
    one_line_error(run("score", *fr(clips), "--subsample", "0"), "--subsample")


def test_subsample_no_reference(clips) -> None:
    path_args = ["--no-reference", "-d", clips["dis"], "-m", "nr_metric_v1"]
    d = json.loads(ok(run("score", *path_args, "--subsample", "4", "--json")).stdout)
    assert [r["frame"] for r in d["records"]] == [0, 4, 8] and d["n_frames"] == 3
    # the shipped NR ensemble exposes its heads: a per-frame spread for the scored frames
    assert len(d["uncertainty"]["frames"]) == 3 and d["uncertainty"]["pooled_mean"] > 0
    assert [r["nr_metric_v1_uncertainty"] for r in d["records"]] == d["uncertainty"]["frames"]


# ---------------------------------------------------------------------------- several models


def test_several_models_one_libvmaf_pass(clips, tmp_path: Path, ffmpeg: FFmpeg) -> None:
    wrapper, log = counting_ffmpeg(tmp_path, ffmpeg)
    models = ["vmaf_tiny_v2", "vmaf_tiny_v4", "fr_regressor_v3", "nr_metric_v1"]
    margs = [a for m in models for a in ("-m", m)]
    out = ok(
        run(
            "score", *fr(clips), *margs, "--with-svm", "--codec", "libx264", "--preset",
            "veryfast", "--json", "--ffmpeg", wrapper,
        )
    )  # fmt: skip
    assert len(log.read_text().splitlines()) == 1  # libvmaf ran once for three FR models
    d = json.loads(out.stdout)
    assert d["libvmaf_passes"] == 1 and [b["model"] for b in d["models"]] == models
    assert set(d["records"][0]) >= {*models, "vmaf_v0.6.1", "adm2"}
    for block in d["models"]:
        assert {"pooled", "frames", "kind", "provider"} <= set(block)
        np.testing.assert_allclose([r[block["model"]] for r in d["records"]], block["frames"])
    assert [b["kind"] for b in d["models"]] == ["fr", "fr", "fr", "nr"]
    # each model scores as it does alone
    log.unlink()
    alone = json.loads(ok(run("score", *fr(clips), "-m", "vmaf_tiny_v4", "--json")).stdout)
    assert d["models"][1]["pooled"]["mean"] == pytest.approx(alone["pooled"]["mean"], rel=1e-6)
    table = ok(run("score", *fr(clips), *margs[:4])).stdout
    assert "vmaf_tiny_v2" in table and "vmaf_tiny_v4" in table
    csv_rows = list(csv.DictReader(io.StringIO(ok(run("score", *fr(clips), *margs, "--csv",
        "--codec", "libx264")).stdout)))  # fmt: skip
    assert len(csv_rows) == 12 and "nr_metric_v1" in csv_rows[0]


def test_several_models_errors(clips) -> None:
    one_line_error(
        run("score", "--no-reference", "-d", clips["dis"], "-m", "nr_metric_v1", "-m",
            "vmaf_tiny_v2"),
        "full-reference",
    )  # fmt: skip
    one_line_error(
        run("score", *fr(clips), "-m", "vmaf_tiny_v2", "-m", "learned_filter_v1"),
        "not a scoring model",
    )


# ---------------------------------------------------------------------------- teachers


def test_teachers_from_the_same_pass(clips) -> None:
    means = {}
    for teacher in ("vmaf_v0.6.1", "vmaf_v0.6.1neg", "vmaf_4k_v0.6.1", "vmaf_v0.6.1_phone"):
        d = json.loads(ok(run("score", *fr(clips), "--teacher", teacher, "--json")).stdout)
        assert d["svm"]["model"] == teacher  # --teacher implies --with-svm
        assert teacher in d["records"][0]
        means[teacher] = d["svm"]["pooled"]["mean"]
    assert len({round(v, 3) for v in means.values()}) == 4  # four different models
    assert means["vmaf_v0.6.1_phone"] > means["vmaf_v0.6.1"]  # the phone transform lifts
    assert means["vmaf_v0.6.1neg"] <= means["vmaf_v0.6.1"]  # NEG removes enhancement gain
    one_line_error(run("score", *fr(clips), "--teacher", "vmaf_v9"), "unknown teacher")


# ---------------------------------------------------------------------------- fps, aspect, scale


def test_frame_rate_mismatch_is_named_and_fps_resamples(clips) -> None:
    line = one_line_error(run("score", *fr(clips, "dis50")), "frame rates differ")
    assert "25 fps" in line and "50 fps" in line and "--fps 25" in line
    d = json.loads(ok(run("score", *fr(clips, "dis50"), "--fps", "25", "--json")).stdout)
    assert d["n_frames"] == 12
    same = json.loads(ok(run("score", *fr(clips), "--json")).stdout)
    # the 50 fps copy resampled to 25 fps is the 25 fps content again, encoded otherwise
    assert abs(d["pooled"]["mean"] - same["pooled"]["mean"]) < 10
    one_line_error(run("score", *fr(clips, "dis50"), "--fps", "0"), "--fps")


def test_aspect_ratio_warning_and_scale_algo(clips) -> None:
    out = ok(run("score", *fr(clips, "dis43"), "--json"))
    assert "aspect ratios differ" in out.stderr and "4:3" in out.stderr and "16:9" in out.stderr
    bicubic = json.loads(ok(run("score", *fr(clips, "half"), "--json")).stdout)
    lanczos = json.loads(
        ok(run("score", *fr(clips, "half"), "--scale-algo", "lanczos", "--json")).stdout
    )
    assert bicubic["pooled"]["mean"] != lanczos["pooled"]["mean"]
    assert "aspect" not in ok(run("score", *fr(clips, "half"))).stderr
    one_line_error(run("score", *fr(clips, "half"), "--scale-algo", "magic"), "scale algorithm")


# ---------------------------------------------------------------------------- plot, progress


def test_plot_scores_writes_a_png(clips, tmp_path: Path) -> None:
    """`vmaf-train plot-scores` draws the JSON that `vmaf-tiny score -o` wrote (the runtime
    never imports matplotlib)."""
    doc, png = tmp_path / "scores.json", tmp_path / "scores.png"
    ok(run("score", *fr(clips), "-m", "vmaf_tiny_v2", "-m", "vmaf_tiny_v4", "--with-svm",
           "-o", doc))  # fmt: skip
    train = [str(Path(sys.executable).parent / "vmaf-train"), "plot-scores"]
    out = subprocess.run([*train, str(doc), "-o", str(png)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "3 series" in out.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    bad = subprocess.run([*train, str(doc), "-o", str(tmp_path / "x.pdf")], capture_output=True,
                         text=True)  # fmt: skip
    one_line_error(bad, ".png")
    bad = subprocess.run(
        [*train, str(clips["ref"]), "-o", str(png)], capture_output=True, text=True
    )
    one_line_error(bad, "not JSON")


def test_score_plot_writes_an_svg_of_every_line(clips, tmp_path: Path) -> None:
    """`vmaf-tiny score --plot x.svg`: a well-formed SVG with one line per model and the
    teacher, pooled means in the legend; other extensions are one-line errors before work."""
    import xml.etree.ElementTree as ET

    svg, doc = tmp_path / "plot.svg", tmp_path / "s.json"
    ok(run("score", *fr(clips), "-m", "vmaf_tiny_v2", "-m", "vmaf_tiny_v4", "--with-svm",
           "--plot", svg, "-o", doc))  # fmt: skip
    root = ET.fromstring(svg.read_text())
    ns = "{http://www.w3.org/2000/svg}"
    lines = root.findall(f"{ns}polyline")
    assert len(lines) == 3  # two models and the teacher, no gaps
    text = " ".join(t.text or "" for t in root.iter(f"{ns}text"))
    d = json.loads(doc.read_text())
    for block in d["models"]:
        assert f"{block['model']}  mean {block['pooled']['mean']:.2f}" in text
    assert "vmaf_v0.6.1  mean" in text
    n_points = {len(pl.get("points", "").split()) for pl in lines}
    assert n_points == {len(d["records"])}
    one_line_error(run("score", *fr(clips), "--plot", tmp_path / "p.png"), "SVG")
    assert not (tmp_path / "p.png").exists()
    # unwritable outputs are refused before the score runs (nothing on stdout)
    (tmp_path / "d.svg").mkdir()
    (tmp_path / "file").write_text("x")
    for flag, path in (("--plot", tmp_path / "d.svg"), ("-o", tmp_path / "file" / "x.json"),
                       ("--plot", Path("/proc/nope.svg"))):  # fmt: skip
        out = run("score", *fr(clips), flag, path)
        one_line_error(out, "cannot write")
        assert out.stdout == ""


def test_runtime_start_up_does_not_import_matplotlib() -> None:
    code = "import sys, vmaf_tiny.cli.score; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr


def _stderr_on_a_terminal(args: list[str]) -> bytes:
    """Run the CLI with stderr on a pseudo-terminal; return what it wrote there."""
    master, slave = pty.openpty()
    env = {**os.environ, "COLUMNS": "120"}
    proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=slave, env=env, check=False)
    os.close(slave)
    text = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO once the terminal's other side is closed and drained
            break
        if not chunk:
            break
        text += chunk
    os.close(master)
    assert proc.returncode == 0, text
    return text


def test_progress_bar_only_on_a_terminal(clips) -> None:
    piped = ok(run("score", *fr(clips)))
    assert "libvmaf" not in piped.stderr  # stderr is a pipe: no bar
    args = [str(VMAF_TINY), "score", *fr(clips)]
    text = _stderr_on_a_terminal(args)
    assert b"libvmaf" in text and b"12/12" in text
    assert b"libvmaf" not in _stderr_on_a_terminal([*args, "--no-progress"])


# ---------------------------------------------------------------------------- NR uncertainty


def _nr_ensemble(out_dir: Path, model_id: str = "tiny_nr_heads") -> Path:
    """A tiny NR ensemble: three heads ``k * 100 * mean(luma)`` (k = 0.9, 1.0, 1.1), score =
    their mean, and the heads as a second output with role ``heads``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from tests.support.tiny_models import base_sidecar, make_model, tensor_spec, write_model

    graph = helper.make_graph(
        [
            helper.make_node("GlobalAveragePool", ["frame"], ["pooled"]),
            helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
            helper.make_node("Gemm", ["flat", "W", "B"], ["heads"]),
            helper.make_node("ReduceMean", ["heads"], ["score"], axes=[1], keepdims=1),
        ],
        model_id,
        [helper.make_tensor_value_info("frame", TensorProto.FLOAT, ["N", 1, 24, 32])],
        [
            helper.make_tensor_value_info("score", TensorProto.FLOAT, ["N", 1]),
            helper.make_tensor_value_info("heads", TensorProto.FLOAT, ["N", 3]),
        ],
        [
            numpy_helper.from_array(np.array([[90.0, 100.0, 110.0]], np.float32), "W"),
            numpy_helper.from_array(np.zeros(3, np.float32), "B"),
        ],
    )
    model = make_model(graph)
    onnx.checker.check_model(model)
    sidecar = base_sidecar(
        model_id,
        "nr",
        [tensor_spec("frame", ["N", 1, 24, 32], "frame")],
        [tensor_spec("score", ["N", 1], "score"), tensor_spec("heads", ["N", 3], "heads")],
        frame={"channels": "luma", "resize": [32, 24], "value_range": [0.0, 1.0]},
    )
    sidecar["output"] = {"target": "vmaf", "range": [0.0, 100.0], "clamp": True}
    return write_model(model, out_dir, model_id, sidecar)


def test_nr_uncertainty_from_ensemble_heads(clips, tmp_path: Path) -> None:
    import vmaf_tiny

    path = _nr_ensemble(tmp_path)
    res = vmaf_tiny.score_nr(clips["dis"], path)
    assert res.uncertainty is not None and res.uncertainty.shape == res.frames.shape
    # heads are s*0.9, s, s*1.1 of s = 100 * mean luma: population std = s * sqrt(0.02/3)
    np.testing.assert_allclose(res.uncertainty, res.frames * np.sqrt(0.02 / 3), rtol=1e-4)
    args = ["score", "--no-reference", "-d", clips["dis"], "-m", path]
    d = json.loads(ok(run(*args, "--json")).stdout)
    np.testing.assert_allclose(d["uncertainty"]["frames"], res.uncertainty, rtol=1e-6)
    assert d["records"][0]["tiny_nr_heads_uncertainty"] == pytest.approx(res.uncertainty[0])
    rows = list(csv.DictReader(io.StringIO(ok(run(*args, "--csv")).stdout)))
    assert list(rows[0]) == ["frame", "time_s", "tiny_nr_heads", "tiny_nr_heads_uncertainty"]
    assert "±" in ok(run(*args)).stdout
    # an NR model without a heads output: the JSON says why there is no uncertainty
    from tests.support.tiny_models import nr_pool_gemm

    single = nr_pool_gemm(tmp_path / "single")
    d = json.loads(ok(run(*args[:-1], single, "--json")).stdout)
    assert d["uncertainty"]["pooled_mean"] is None
    assert "no ensemble heads" in d["uncertainty"]["note"]
    # the shipped nr_metric_v1 exports its five heads: its score is their mean
    d = json.loads(ok(run(*args[:-1], "nr_metric_v1", "--json")).stdout)
    assert d["uncertainty"]["pooled_mean"] > 0


def test_frame_pair_and_nr_results_carry_records(clips) -> None:
    import vmaf_tiny

    nr = vmaf_tiny.score_nr(clips["dis"], "nr_metric_v1")
    assert nr.records is not None
    assert nr.records.names == ["frame", "time_s", "nr_metric_v1", "nr_metric_v1_uncertainty"]
    np.testing.assert_array_equal(nr.records["nr_metric_v1"], nr.frames)
    fp = ["-m", "dists_sq_placeholder_v0", "--subsample", "4"]
    rows = list(csv.DictReader(io.StringIO(ok(run("score", *fr(clips), *fp, "--csv")).stdout)))
    assert [int(r["frame"]) for r in rows] == [0, 4, 8]
    both = json.loads(ok(run("score", *fr(clips), *fp, "-m", "vmaf_tiny_v2", "--json")).stdout)
    assert [r["frame"] for r in both["records"]] == [0, 4, 8]
    assert all(r["dists_sq_placeholder_v0"] is not None for r in both["records"])
