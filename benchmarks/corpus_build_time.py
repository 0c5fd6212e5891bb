"""Time one full corpus build from an empty cache and check it reproduces the committed table.

    python benchmarks/corpus_build_time.py --config standard --workers 2 --write-docs

Prints wall time, CPU time of all processes involved, clips/min and whether the new
``features.parquet`` is byte-identical to the one recorded in ``corpora/<config>/manifest.json``
(when that exists). ``--write-docs`` refreshes the ``corpus-build-<config>`` block in
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

from vmaf_tiny.ffmpeg import resolve_ffmpeg
from vmaf_tiny.fsutil import replace_block, sha256_file
from vmaf_train.data.corpus import build_corpus
from vmaf_train.data.corpus_config import load_corpus_config, resolve_config_path
from vmaf_train.parallel import make_executor

REPO = Path(__file__).resolve().parents[1]


def _cpu_seconds() -> float:
    """User + system CPU of this process and every child it has waited for."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        ru = resource.getrusage(who)
        total += ru.ru_utime + ru.ru_stime
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="standard")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--keep", type=Path, help="build here instead of a temporary directory")
    ap.add_argument("--write-docs", action="store_true")
    args = ap.parse_args()
    cfg = load_corpus_config(resolve_config_path(args.config))
    ff = resolve_ffmpeg()
    committed = REPO / "corpora" / cfg.name / "manifest.json"
    want = (
        json.loads(committed.read_text())["outputs"][0]["sha256"] if committed.is_file() else None
    )
    with tempfile.TemporaryDirectory(prefix="corpus-build-") as tmp:
        out = args.keep or Path(tmp)
        load0 = os.getloadavg()[0]
        with make_executor(workers=args.workers) as ex:
            c0, t0 = _cpu_seconds(), time.perf_counter()
            res = build_corpus(cfg, out, executor=ex, ffmpeg=ff, progress=True)
            wall = time.perf_counter() - t0
        # Dask worker processes are children of the nanny, reaped when the cluster closes.
        cpu = _cpu_seconds() - c0
        got = sha256_file(out / "features.parquet")
    s = res.manifest["summary"]
    same = None if want is None else got == want
    print(f"{cfg.name}: {s['clips']} clips, {s['frames']} frames, {len(res.failures)} failed")
    print(
        f"wall {wall / 60:.1f} min, CPU {cpu / 60:.1f} min, {s['clips'] / wall * 60:.1f} clips/min"
    )
    if same is not None:
        print(f"features.parquet identical to the committed one: {same}")
    if args.write_docs:
        cmd = "python benchmarks/corpus_build_time.py"
        cmd += f" --config {args.config} --workers {args.workers}"
        lines = [
            f"Measured by `{cmd} --write-docs` ({platform.machine()}, {os.cpu_count()} cores, "
            f"load average {load0:.1f} at the start; the build starts from an empty cache).",
            "",
            "| corpus | sources | clips | frames | wall | CPU (all processes) | clips/min |"
            " identical to committed |",
            "|---|---:|---:|---:|---:|---:|---:|---|",
            f"| {cfg.name} | {s['sources']} | {s['clips']} | {s['frames']} | "
            f"{wall / 60:.1f} min | {cpu / 60:.1f} min | {s['clips'] / wall * 60:.1f} | "
            f"{'n/a' if same is None else ('yes' if same else 'NO')} |",
        ]
        replace_block(REPO / "docs" / "benchmarks.md", f"corpus-build-{cfg.name}", "\n".join(lines))


if __name__ == "__main__":
    main()
