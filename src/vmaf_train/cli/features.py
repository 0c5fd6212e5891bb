"""``vmaf-train extract-features``: libvmaf features for your own pairs, same schema as a corpus."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from vmaf_tiny.cli.options import (
    FFmpegOpt,
    JsonOpt,
    ProgressOpt,
    SchedulerOpt,
    SerialOpt,
    WorkersOpt,
)
from vmaf_tiny.console import err_console, fail, print_json
from vmaf_tiny.ffmpeg import resolve_ffmpeg
from vmaf_tiny.fsutil import OutputLock, atomic_write_json
from vmaf_tiny.video import VideoSpec
from vmaf_train.parallel import make_executor


def extract_features_cmd(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output features .parquet.")],
    reference: Annotated[Path | None, typer.Option("--reference", "-r")] = None,
    distorted: Annotated[Path | None, typer.Option("--distorted", "-d")] = None,
    pairs: Annotated[
        Path | None,
        typer.Option(
            help="CSV: reference, distorted[, mos, source_id, key, width, height, pix_fmt]."
        ),
    ] = None,
    width: Annotated[int | None, typer.Option(help="Raw .yuv width.")] = None,
    height: Annotated[int | None, typer.Option(help="Raw .yuv height.")] = None,
    pix_fmt: Annotated[str | None, typer.Option(help="Raw .yuv pixel format.")] = None,
    mos: Annotated[float | None, typer.Option(help="MOS of the single pair.")] = None,
    extras: Annotated[
        str, typer.Option(help="Comma list of psnr_y, float_ssim, float_ms_ssim, cambi.")
    ] = "",
    truncate: Annotated[
        bool, typer.Option(help="Score min(frames) when frame counts differ.")
    ] = False,
    serial: SerialOpt = False,
    workers: WorkersOpt = None,
    scheduler: SchedulerOpt = None,
    ffmpeg: FFmpegOpt = None,
    progress: ProgressOpt = True,
    json_out: JsonOpt = False,
) -> None:
    """Score one pair (--reference/--distorted) or many (--pairs) into a features parquet."""
    import math

    from vmaf_tiny.fsutil import check_writable
    from vmaf_train.data.pairs import PairTask, read_pairs_csv

    ff = resolve_ffmpeg(ffmpeg)
    extra_t = tuple(e.strip() for e in extras.split(",") if e.strip())
    if out.suffix != ".parquet":
        fail(f"--out must end in .parquet, got {out}")
    check_writable(out)
    if mos is not None and not math.isfinite(mos):
        fail(f"--mos must be finite, got {mos}")
    if pairs is not None:
        if reference or distorted:
            fail("give either --pairs or --reference/--distorted, not both")
        tasks = read_pairs_csv(pairs, extras=extra_t, truncate=truncate, ffmpeg=ff.path)
    elif reference is not None and distorted is not None:
        tasks = [
            PairTask(
                VideoSpec(reference, width, height, pix_fmt),
                VideoSpec(distorted, width, height, pix_fmt),
                distorted.stem,
                reference.stem,
                mos,
                extra_t,
                truncate,
                ff.path,
            )
        ]
    else:
        fail("give --reference and --distorted, or --pairs pairs.csv")
    # One run per output file: a second one would interleave its parquet and failures.json.
    with OutputLock(out, command=f"vmaf-train extract-features --out {out}", directory=False):
        _extract_locked(tasks, out, serial, workers, scheduler, progress, json_out)


def _extract_locked(
    tasks: list[Any],
    out: Path,
    serial: bool,
    workers: int | None,
    scheduler: str | None,
    progress: bool,
    json_out: bool,
) -> None:
    from vmaf_train.data.pairs import extract_pairs
    from vmaf_train.data.table import write_features

    # one pair: no cluster start-up; many: the executor the flags ask for
    single = len(tasks) == 1
    with make_executor(serial=serial or single, workers=workers, scheduler=scheduler) as ex:
        table, failures = extract_pairs(tasks, executor=ex, progress=progress and not single)
    fpath = out.with_suffix(".failures.json")
    removed_old = False
    if table is not None:
        write_features(table, out)
    elif out.exists():
        # Every pair failed: an earlier run's parquet must not sit there looking current.
        out.unlink()
        removed_old = True
    if single and failures:
        fpath.unlink(missing_ok=True)
        gone = f" (removed the earlier {out.name})" if removed_old else ""
        fail(f"{failures[0]['error']}; nothing written{gone}")
    if failures:
        atomic_write_json(fpath, {"n_failed": len(failures), "failures": failures})
    elif fpath.exists():
        fpath.unlink()
    n_rows = 0 if table is None else table.num_rows
    if json_out:
        print_json(
            {
                "out": str(out) if table is not None else None,
                "pairs": len(tasks),
                "rows": n_rows,
                "n_failed": len(failures),
                "failures": failures,
            }
        )
    elif table is not None:
        err_console.print(f"wrote {n_rows} rows from {len(tasks) - len(failures)} pairs to {out}")
    if failures:
        # Some inputs were bad: the project's contract is exit code 2 (as `vmaf-tiny score
        # --pairs`), with the good pairs written.
        if table is None:
            gone = f"; removed the earlier {out.name}" if removed_old else ""
            fail(f"all {len(tasks)} pairs failed, nothing written{gone}; see {fpath}")
        fail(f"{len(failures)} of {len(tasks)} pairs failed (the others are in {out}); see {fpath}")
