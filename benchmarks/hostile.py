"""Hostile models and bad video inputs through the real ``vmaf-tiny`` command; counts for the docs.

Two sets, both made at run time:

* **hostile models** (``tests/support/hostile_models.py``): tiny files that ask for gigabytes
  (ConstantOfShape of 3 GiB, Expand/Tile/Resize/Pad bombs, a shape computed from input values,
  Range, a 65536x65536 input, an NR sidecar asking for 8192x8192 frames) or produce absurd scores
  (6e30 with ``clamp: false`` and with ``clamp: true``, NaN). Each goes through ``vmaf-tiny
  check MODEL``; one that passes is then scored (``vmaf-tiny score``, FR or
  ``--no-reference``). Outcome: ``refused`` (exit 2, one ``error:`` line, at load or at
  scoring), ``scored`` (exit 0: not refused) or ``crashed`` (any other exit, a traceback, or the
  time limit).
* **bad video inputs**: the distorted side of ``vmaf-tiny score -m vmaf_tiny_v2`` against an
  intact 160x90 y4m reference: truncated mp4/mkv/y4m, a y4m whose header lies about the size,
  variable frame rate, corruption mid-stream, repeated timestamps, audio only, an empty file,
  text renamed .mp4, a missing file, a directory, a different resolution. Outcome:
  ``clean error`` (exit 2, one ``error:`` line),
  ``handled`` (exit 0 with the intact file's frame count and score; for VFR the truth is its
  stored frames decoded as stored; for a different resolution the documented upscaling),
  ``silently wrong`` (exit 0 with a different frame count or score and no warning) or
  ``crashed``.

Peak RSS per process comes from ``wait4``. ``--write-docs`` refreshes the ``hostile`` block of
docs/security.md.

    python benchmarks/hostile.py --write-docs
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vmaf_tiny.ffmpeg import FFmpeg, resolve_ffmpeg
from vmaf_tiny.fsutil import replace_block

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.support.hostile_models import HOSTILE  # noqa: E402  (shared with the tests)

CLI = [sys.executable, "-c", "from vmaf_tiny.cli import main; main()"]
COMMAND = "python benchmarks/hostile.py --write-docs"
TIMEOUT_S = 120


def run_cli(args: Sequence[str], timeout: float = TIMEOUT_S) -> dict[str, Any]:
    """Run ``vmaf-tiny ARGS``: exit code, stdout, stderr, seconds, peak RSS (MiB)."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([*CLI, *args], stdout=out, stderr=err)
        deadline = time.monotonic() + timeout
        rc: int | None = None
        rss = 0.0
        while rc is None:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                rc, rss = os.waitstatus_to_exitcode(status), usage.ru_maxrss / 1024
                proc.returncode = rc
            elif time.monotonic() > deadline:
                proc.kill()
                _, status, usage = os.wait4(proc.pid, 0)
                proc.returncode = rc = -9
                rss = usage.ru_maxrss / 1024
            else:
                time.sleep(0.02)
        out.seek(0)
        err.seek(0)
        return {
            "rc": rc,
            "stdout": out.read().decode(errors="replace"),
            "stderr": err.read().decode(errors="replace"),
            "seconds": round(time.perf_counter() - t0, 2),
            "rss_mib": round(rss, 1),
            "timed_out": rc == -9,
        }


def one_line_error(res: dict[str, Any]) -> str | None:
    """The single ``error:`` line of a clean exit-2 failure, else None."""
    lines = [ln for ln in res["stderr"].splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error: ")]
    if res["rc"] == 2 and len(errors) == 1 and "Traceback" not in res["stderr"]:
        return errors[0]
    return None


# ---------------------------------------------------------------------------- hostile models


def hostile_models(work: Path, ref: Path, dis: Path) -> list[dict[str, Any]]:
    rows = []
    for case in HOSTILE:
        path = case.build(work / "models" / case.name)
        check = run_cli(["check", "-m", str(path), "--json"])
        row: dict[str, Any] = {
            "case": case.name,
            "bytes": path.stat().st_size,
            "expected_stage": case.stage,
        }
        err = one_line_error(check)
        if err is not None:
            row.update(
                outcome="refused",
                stage="load",
                message=err,
                rss_mib=check["rss_mib"],
                seconds=check["seconds"],
            )
        elif check["rc"] != 0:
            row.update(
                outcome="crashed",
                stage="load",
                message=check["stderr"][-300:],
                rss_mib=check["rss_mib"],
                seconds=check["seconds"],
            )
        else:
            args = ["score", "-m", str(path), "-d", str(dis), "--json"]
            args += ["-r", str(ref)] if case.kind == "fr" else ["--no-reference"]
            res = run_cli(args)
            err = one_line_error(res)
            outcome = "refused" if err else ("scored" if res["rc"] == 0 else "crashed")
            row.update(
                outcome=outcome,
                stage="score",
                message=err or res["stderr"][-300:],
                rss_mib=max(check["rss_mib"], res["rss_mib"]),
                seconds=res["seconds"],
            )
        rows.append(row)
        print(
            f"model {case.name}: {row['outcome']} at {row['stage']} "
            f"({row['rss_mib']:.0f} MiB) {row['message'][:110]}",
            file=sys.stderr,
        )
    return rows


# ---------------------------------------------------------------------------- bad inputs


def make_videos(ff: FFmpeg, d: Path) -> dict[str, Path]:
    """The intact pair and every bad distorted input."""
    d.mkdir(parents=True, exist_ok=True)
    q = ["-loglevel", "error", "-y"]
    src = ["-f", "lavfi", "-i", "testsrc2=size=160x90:rate=25", "-frames:v", "24"]
    x264 = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "30", "-threads", "1"]
    ref = d / "ref.y4m"
    ff.run([*q, *src, "-pix_fmt", "yuv420p", str(ref)], what="reference")
    dis = d / "dis.mp4"
    ff.run([*q, "-i", str(ref), *x264, str(dis)], what="distorted mp4")
    mkv = d / "dis.mkv"
    ff.run([*q, "-i", str(ref), *x264, str(mkv)], what="distorted mkv")
    v: dict[str, Path] = {"ref": ref, "intact_mp4": dis, "intact_mkv": mkv, "intact_y4m": ref}

    def cut(src_path: Path, name: str, frac: float) -> Path:
        data = src_path.read_bytes()
        p = d / name
        p.write_bytes(data[: int(len(data) * frac)])
        return p

    v["truncated_mp4"] = cut(dis, "trunc.mp4", 0.6)
    v["truncated_mkv"] = cut(mkv, "trunc.mkv", 0.6)
    v["truncated_y4m"] = cut(ref, "trunc.y4m", 0.55)  # cuts mid-frame
    raw = ref.read_bytes()
    head, rest = raw.split(b"\n", 1)
    lying = head.replace(b"W160", b"W128").replace(b"H90", b"H72")
    v["lying_y4m_header"] = d / "lying.y4m"
    v["lying_y4m_header"].write_bytes(lying + b"\n" + rest)
    v["vfr"] = d / "vfr.mkv"
    ff.run(
        [
            *q,
            "-i",
            str(ref),
            "-vf",
            "setpts='if(lt(N,12),N,N*2)/25/TB'",
            "-fps_mode",
            "vfr",
            *x264,
            str(v["vfr"]),
        ],
        what="vfr",
    )
    # Its truth: the frames it stores, decoded as stored (a VFR encode makes other rate-control
    # choices than the CFR one, so the CFR file's score is not its truth).
    v["intact_vfr"] = d / "vfr_frames.y4m"
    ff.run(
        [*q, "-i", str(v["vfr"]), "-fps_mode", "passthrough", "-pix_fmt", "yuv420p",
         str(v["intact_vfr"])],
        what="vfr frames",
    )  # fmt: skip
    v["audio_only"] = d / "audio.mp4"
    ff.run(
        [
            *q,
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=1",
            "-c:a",
            "aac",
            str(v["audio_only"]),
        ],
        what="audio only",
    )
    v["empty"] = d / "empty.mp4"
    v["empty"].write_bytes(b"")
    v["text_as_mp4"] = d / "notes.mp4"
    v["text_as_mp4"].write_text("this is not a video\n" * 50)
    v["missing"] = d / "missing.mp4"
    v["directory"] = d / "adir.mp4"
    v["directory"].mkdir(exist_ok=True)
    # Bytes overwritten in the middle of an H.264 mp4: the decoder conceals, frames still come.
    data = bytearray(dis.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 300] = bytes((i * 97 + 13) % 256 for i in range(300))
    v["corrupt_mid_mp4"] = d / "corrupt.mp4"
    v["corrupt_mid_mp4"].write_bytes(bytes(data))
    # Pairs of frames sharing one timestamp; the truth is its frames decoded as stored.
    v["repeated_timestamps"] = d / "dupts.mkv"
    ff.run(
        [*q, "-i", str(ref), "-vf", "setpts='floor(N/2)*2'", "-fps_mode", "passthrough", *x264,
         str(v["repeated_timestamps"])],
        what="repeated timestamps",
    )  # fmt: skip
    v["intact_dupts"] = d / "dupts_frames.y4m"
    ff.run(
        [*q, "-i", str(v["repeated_timestamps"]), "-fps_mode", "passthrough", "-pix_fmt",
         "yuv420p", str(v["intact_dupts"])],
        what="repeated timestamps frames",
    )  # fmt: skip
    v["other_resolution"] = d / "small.mp4"
    ff.run(
        [*q, "-i", str(ref), "-vf", "scale=80:46", *x264, str(v["other_resolution"])],
        what="other resolution",
    )
    return v


BAD_INPUTS: dict[str, str] = {
    # case -> the intact file whose result an exit-0 run must equal
    "truncated_mp4": "intact_mp4",
    "truncated_mkv": "intact_mkv",
    "truncated_y4m": "intact_y4m",
    "lying_y4m_header": "intact_y4m",
    "vfr": "intact_vfr",
    "audio_only": "intact_mp4",
    "empty": "intact_mp4",
    "text_as_mp4": "intact_mp4",
    "missing": "intact_mp4",
    "directory": "intact_mp4",
    "corrupt_mid_mp4": "intact_mp4",
    "repeated_timestamps": "intact_dupts",
    "other_resolution": "intact_mp4",
}


def _score(ref: Path, dis: Path) -> dict[str, Any]:
    return run_cli(["score", "-m", "vmaf_tiny_v2", "-r", str(ref), "-d", str(dis), "--json"])


def bad_inputs(work: Path, ff: FFmpeg) -> list[dict[str, Any]]:
    v = make_videos(ff, work / "videos")
    intact: dict[str, dict[str, Any]] = {}
    for name in ("intact_mp4", "intact_mkv", "intact_y4m", "intact_vfr", "intact_dupts"):
        res = _score(v["ref"], v[name])
        if res["rc"] != 0:
            raise SystemExit(f"intact {name} failed to score: {res['stderr'][-300:]}")
        intact[name] = json.loads(res["stdout"])
    rows = []
    for case, base in BAD_INPUTS.items():
        res = _score(v["ref"], v[case])
        err = one_line_error(res)
        want = intact[base]
        row: dict[str, Any] = {"case": case, "rc": res["rc"], "rss_mib": res["rss_mib"]}
        if err is not None:
            row.update(outcome="clean error", message=err)
        elif res["rc"] == 0:
            got = json.loads(res["stdout"])
            same = got["n_frames"] == want["n_frames"] and (
                abs(got["pooled"]["mean"] - want["pooled"]["mean"]) < 1e-3
            )
            warned = any(ln.startswith("warning: ") for ln in res["stderr"].splitlines())
            frames_ok = got["n_frames"] == want["n_frames"]
            if same or (case == "other_resolution" and frames_ok):
                outcome = "handled"
            else:
                outcome = "silently wrong"
            row.update(
                outcome=outcome,
                message=(
                    f"exit 0: {got['n_frames']} frames, mean {got['pooled']['mean']:.3f} "
                    f"(intact: {want['n_frames']} frames, mean {want['pooled']['mean']:.3f})"
                    + ("; warned" if warned else "")
                ),
            )
        else:
            row.update(outcome="crashed", message=res["stderr"].strip()[-300:])
        rows.append(row)
        print(f"input {case}: {row['outcome']}: {row['message'][:120]}", file=sys.stderr)
    return rows


# ---------------------------------------------------------------------------- report


def summary(models: list[dict[str, Any]], inputs: list[dict[str, Any]]) -> dict[str, Any]:
    refused = sum(r["outcome"] == "refused" for r in models)
    clean = sum(r["outcome"] == "clean error" for r in inputs)
    must_fail = [
        r for r in inputs if r["case"] not in ("vfr", "repeated_timestamps", "other_resolution")
    ]
    wrong = sum(r["outcome"] == "silently wrong" for r in inputs) + sum(
        r["outcome"] == "scored" for r in models
    )
    return {
        "hostile_models_refused": refused,
        "hostile_models": len(models),
        "bad_inputs_clean_error": clean,
        "bad_inputs": len(inputs),
        "bad_inputs_that_must_error": len(must_fail),
        "handled": sum(r["outcome"] == "handled" for r in inputs),
        "silently_wrong": wrong,
        "crashed": sum(r["outcome"] == "crashed" for r in [*models, *inputs]),
        "max_rss_mib": max(r["rss_mib"] for r in [*models, *inputs]),
    }


def markdown(s: dict[str, Any], models: list[dict[str, Any]], inputs: list[dict[str, Any]]) -> str:
    lines = [
        f"**hostile models refused {s['hostile_models_refused']}/{s['hostile_models']}, "
        f"bad inputs with a clean error {s['bad_inputs_clean_error']}/{s['bad_inputs']} "
        f"({s['handled']} handled as documented), silently wrong results "
        f"{s['silently_wrong']}**; crashes {s['crashed']}; largest peak RSS of any run "
        f"{s['max_rss_mib']:.0f} MiB.",
        "",
        "| hostile model | bytes | outcome | where | message |",
        "|---|---:|---|---|---|",
    ]
    for r in models:
        msg = r["message"].replace("|", "\\|")[:160]
        lines.append(f"| `{r['case']}` | {r['bytes']} | {r['outcome']} | {r['stage']} | {msg} |")
    lines += ["", "| bad distorted input | outcome | message |", "|---|---|---|"]
    for r in inputs:
        msg = r["message"].replace("|", "\\|")[:160]
        lines.append(f"| `{r['case']}` | {r['outcome']} | {msg} |")
    lines += ["", f"Made by `{COMMAND}` (vmaf-tiny CLI in subprocesses, inputs generated)."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="Print the results as JSON.")
    ap.add_argument("--write-docs", action="store_true", help="Refresh docs/security.md.")
    ap.add_argument("--keep", type=Path, default=None, help="Keep the inputs in this directory.")
    args = ap.parse_args(argv)
    ff = resolve_ffmpeg()
    work = args.keep or Path(tempfile.mkdtemp(prefix="vmaf-tiny-hostile-"))
    try:
        vids = make_videos(ff, work / "pair")
        models = hostile_models(work, vids["ref"], vids["intact_mp4"])
        inputs = bad_inputs(work, ff)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    for r in [*models, *inputs]:  # stable docs: no temporary paths
        r["message"] = r["message"].replace(str(work), "WORK")
    s = summary(models, inputs)
    if args.json:
        print(json.dumps({"summary": s, "models": models, "inputs": inputs}, indent=2))
    else:
        print(markdown(s, models, inputs))
    if args.write_docs:
        replace_block(REPO / "docs" / "security.md", "hostile", markdown(s, models, inputs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
