"""``vmaf-train quantize-int8``: static QDQ int8 behind the accuracy gate."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vmaf_tiny.console import out_console, print_json
from vmaf_train.cli._common import JsonOpt

__all__ = ["quantize"]


def quantize(
    fp32: Annotated[Path, typer.Option("--fp32", help="The fp32 .onnx (sidecar beside it).")],
    calibration: Annotated[
        Path, typer.Option("--calibration", help="features.parquet (train split calibrates).")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Destination .int8.onnx.")],
    n_calib: Annotated[int, typer.Option("--n-calib", min=16, help="Calibration rows.")] = 2048,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the calibration sample.")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Quantise to int8 (QDQ); gate: PLCC(fp32) - PLCC(int8) <= 0.001 on the test split."""
    from vmaf_train.quantize import gate_path, quantize_int8

    if not str(out).endswith(".onnx"):
        from vmaf_tiny.errors import BadInputError

        raise BadInputError(f"--out must end in .onnx, got {out}")
    rep = quantize_int8(fp32, calibration, out, n_calib=n_calib, seed=seed)
    if as_json:
        print_json(rep)
        return
    verdict = "PASSED: ship the int8 file" if rep["passed"] else "FAILED: ship fp32 only"
    out_console.print(
        f"gate ({rep['rule']}): {verdict}\n"
        f"PLCC fp32 {rep['plcc_fp32']:.5f} int8 {rep['plcc_int8']:.5f} (drop "
        f"{rep['plcc_drop']:.5f}); RMSE fp32 {rep['rmse_fp32']:.4f} int8 {rep['rmse_int8']:.4f} "
        f"(change {rep['rmse_change']:+.4f}); n_test {rep['n_test']}\n"
        f"latency µs/row fp32 {rep['fp32_us_per_row_b1']:.2f} (b1) "
        f"{rep['fp32_us_per_row_b1024']:.3f} (b1024); int8 {rep['int8_us_per_row_b1']:.2f} (b1) "
        f"{rep['int8_us_per_row_b1024']:.3f} (b1024)\n"
        f"bytes fp32 {rep['fp32_bytes']} int8 {rep['int8_bytes']}; gate report {gate_path(out)}"
    )
