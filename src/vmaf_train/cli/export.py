"""``vmaf-train quantize-int8`` (static QDQ int8 behind the gate) and ``vmaf-train int8-ship``
(apply a gate to a model already in a zoo)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vmaf_tiny.console import out_console, print_json
from vmaf_train.cli._common import JsonOpt

__all__ = ["int8_ship", "quantize"]


def quantize(
    fp32: Annotated[
        Path, typer.Option("--model", "-m", help="The fp32 .onnx (sidecar beside it).")
    ],
    calibration: Annotated[
        Path, typer.Option("--features", "-f", help="features.parquet (train split calibrates).")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Destination .int8.onnx.")],
    n_calib: Annotated[int, typer.Option("--n-calib", min=16, help="Calibration rows.")] = 2048,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the calibration sample.")] = 0,
    full_range: Annotated[
        bool,
        typer.Option(
            "--full-range-weights",
            help="8-bit weights (the old recipe; may saturate without VNNI, the gate refuses it).",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Quantise to int8 (QDQ, 7-bit weights) and gate it on the test split: PLCC drop <= 0.001,
    RMSE rise <= 0.1, saturation-free without VNNI, smaller or faster than fp32."""
    from vmaf_tiny.errors import BadInputError
    from vmaf_tiny.fsutil import check_writable
    from vmaf_train.ship.quantize import gate_path, quantize_int8

    if not str(out).endswith(".onnx"):
        raise BadInputError(f"--out must end in .onnx, got {out}")
    if out.resolve() == Path(fp32).resolve():
        raise BadInputError(f"--out {out} would overwrite the fp32 model (-m)")
    check_writable(out)
    rep = quantize_int8(
        fp32, calibration, out, n_calib=n_calib, seed=seed, reduce_range=not full_range
    )
    if as_json:
        print_json(rep)
        return
    verdict = "PASSED: ship the int8 file" if rep["passed"] else f"FAILED: {rep['verdict']}"
    out_console.print(
        f"gate ({rep['rule']}): {verdict}\n"
        f"saturation-free without VNNI: {rep['saturation_free']} (worst pair sum "
        f"{rep['worst_pair_sum']} vs 32767); emulated non-VNNI: "
        f"{rep['emulated_saturated_dots']} saturated pairs on {rep['emulated_rows']} rows\n"
        f"PLCC fp32 {rep['plcc_fp32']:.5f} int8 {rep['plcc_int8']:.5f} (drop "
        f"{rep['plcc_drop']:.5f}); RMSE fp32 {rep['rmse_fp32']:.4f} int8 {rep['rmse_int8']:.4f} "
        f"(change {rep['rmse_change']:+.4f}); n_test {rep['n_test']}\n"
        f"latency µs/row fp32 {rep['fp32_us_per_row_b1']:.2f} (b1) "
        f"{rep['fp32_us_per_row_b1024']:.3f} (b1024); int8 {rep['int8_us_per_row_b1']:.2f} (b1) "
        f"{rep['int8_us_per_row_b1024']:.3f} (b1024)\n"
        f"bytes fp32 {rep['fp32_bytes']} int8 {rep['int8_bytes']}; gate report {gate_path(out)}"
    )


def int8_ship(
    zoo: Annotated[Path, typer.Option("--zoo", help="The zoo directory to update.")],
    int8: Annotated[
        Path | None,
        typer.Option("--int8", help="A gated .int8.onnx of the zoo's fp32 file (report beside)."),
    ] = None,
    recheck: Annotated[
        str | None,
        typer.Option("--model", "-m", help="Re-judge this model's shipped int8 file instead."),
    ] = None,
    apply: Annotated[
        bool, typer.Option("--apply/--dry-run", help="Write the verdict into the zoo.")
    ] = True,
    as_json: JsonOpt = False,
) -> None:
    """Ship or withdraw a zoo model's int8 file under the current gate rules."""
    from vmaf_tiny.errors import BadInputError
    from vmaf_train.ship.int8 import apply_int8_gate, load_gate, recheck_int8

    if int8 is not None and recheck is None:
        gate = load_gate(int8)
        if apply:
            apply_int8_gate(zoo, gate, int8)
    elif recheck is not None and int8 is None:
        gate = recheck_int8(zoo, recheck, apply=apply)
    else:
        raise BadInputError("give exactly one of --int8 FILE or -m/--model ID")
    if as_json:
        print_json({k: v for k, v in gate.items() if k != "saturation"})
        return
    out_console.print(
        f"{'applied' if apply else 'dry run'}: {gate['verdict']}\n"
        f"PLCC drop {gate['plcc_drop']:.5f}, RMSE change {gate['rmse_change']:+.4f}, "
        f"saturation-free {gate['saturation_free']} (worst pair {gate['worst_pair_sum']}), "
        f"bytes fp32 {gate['fp32_bytes']} int8 {gate['int8_bytes']}"
    )
