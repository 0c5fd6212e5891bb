"""Corpus build throughput: pairs/min, serial vs a 2-worker local Dask cluster, same config.

Each mode builds the config from an empty cache (so every pair is really encoded and scored);
the script prints both rates and their ratio and, with ``--write-docs``, refreshes the
``corpus-throughput`` block in docs/benchmarks.md.

    python benchmarks/corpus_throughput.py --config demo --write-docs
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

from vmaf_tiny.ffmpeg import resolve_ffmpeg
from vmaf_tiny.fsutil import replace_block
from vmaf_train.data.corpus import build_corpus
from vmaf_train.data.corpus_config import load_corpus_config, resolve_config_path
from vmaf_train.parallel import make_executor

REPO = Path(__file__).resolve().parents[1]


def one_build(config: str, *, serial: bool, workers: int) -> tuple[float, int]:
    cfg = load_corpus_config(resolve_config_path(config))
    ff = resolve_ffmpeg()
    with (
        tempfile.TemporaryDirectory(prefix="corpus-bench-") as tmp,
        make_executor(serial=serial, workers=workers) as ex,
    ):
        t0 = time.perf_counter()
        res = build_corpus(cfg, Path(tmp), executor=ex, ffmpeg=ff, progress=False)
        secs = time.perf_counter() - t0
    if res.failures:
        raise SystemExit(f"{len(res.failures)} items failed: {res.failures[:3]}")
    return secs, int(res.manifest["summary"]["clips"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="demo")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--runs", type=int, default=1, help="builds per mode (median reported)")
    ap.add_argument("--write-docs", action="store_true")
    args = ap.parse_args()
    rates: dict[str, list[float]] = {"serial": [], "dask": []}
    n = 0
    for _ in range(args.runs):
        for mode in ("serial", "dask"):
            secs, n = one_build(args.config, serial=mode == "serial", workers=args.workers)
            rates[mode].append(n / secs * 60)
            print(f"{mode:6s} {n} pairs in {secs:.1f} s = {n / secs * 60:.1f} pairs/min")
    ser, dsk = statistics.median(rates["serial"]), statistics.median(rates["dask"])
    print(f"ratio dask({args.workers})/serial = {dsk / ser:.2f}")
    if args.write_docs:
        cmd = f"python benchmarks/corpus_throughput.py --config {args.config} --runs {args.runs}"
        body = "\n".join(
            [
                f"Measured by `{cmd} --write-docs` on {platform.machine()} with "
                f"{args.workers} workers (median of {args.runs} run(s); each build starts from an "
                f"empty cache; {n} pairs of the `{args.config}` corpus).",
                "",
                "| mode | pairs/min |",
                "|---|---:|",
                f"| serial (1 process) | {ser:.1f} |",
                f"| local Dask, {args.workers} workers x 1 thread | {dsk:.1f} |",
                f"| ratio | {dsk / ser:.2f}x |",
            ]
        )
        replace_block(REPO / "docs" / "benchmarks.md", "corpus-throughput", body)


if __name__ == "__main__":
    main()
