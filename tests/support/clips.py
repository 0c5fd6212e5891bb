"""Test-time clip generation with the project's ffmpeg (lavfi sources, real encoders)."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

from vmaf_tiny.ffmpeg import FFmpeg


def lavfi_clip(
    ff: FFmpeg,
    out: Path,
    *,
    graph: str = "testsrc2",
    size: str = "160x90",
    frames: int = 10,
    codec: list[str] | None = None,
    vf: str | None = None,
    pix_fmt: str = "yuv420p",
) -> Path:
    """Render ``frames`` of a lavfi source into ``out`` (y4m/yuv by suffix, or encoded)."""
    src = f"{graph}=size={size}:rate=25" if "=" not in graph else graph
    args = ["-loglevel", "error", "-f", "lavfi", "-i", src, "-frames:v", str(frames)]
    filters = [vf] if vf else []
    filters.append(f"format={pix_fmt}")
    args += ["-vf", ",".join(filters)]
    if codec:
        args += codec
    if out.suffix == ".yuv":
        args += ["-f", "rawvideo"]
    ff.run([*args, str(out)], what=f"make test clip {out.name}")
    return out


def x264(crf: int = 30) -> list[str]:
    return ["-c:v", "libx264", "-preset", "veryfast", "-crf", str(crf), "-threads", "1"]


def counting_ffmpeg(tmp_path: Path, ffmpeg: FFmpeg) -> tuple[Path, Path]:
    """A wrapper around the real ffmpeg that logs each libvmaf run (one line per pass: its
    arguments, so the model string can be read back); returns (wrapper, log)."""
    log = tmp_path / "passes.log"
    wrapper = tmp_path / "ffmpeg"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'case "$*" in *libvmaf=*) echo "$*" >> "{log}";; esac\n'
        f'exec "{ffmpeg.path}" "$@"\n'
    )
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    return wrapper, log


def remux(ffmpeg: FFmpeg, src: Path, dst: Path, *input_opts: str) -> Path:
    """Remux ``src`` into ``dst`` without re-encoding, with ffmpeg input options."""
    cmd = [*ffmpeg.base_args(), *input_opts, "-i", str(src), "-c", "copy", str(dst)]
    subprocess.run(cmd, capture_output=True, check=True)
    return dst
