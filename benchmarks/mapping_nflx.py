#!/usr/bin/env python
"""The prediction -> MOS maps of ``vmaf-train eval --mapping`` on real subjective scores.

The NFLX public dataset (Netflix/vmaf, ``resource/dataset/NFLX_dataset_public.py``, converted to
CSV: 70 distorted 1080p assets with DMOS) has no pixels of its distorted clips, so no model of this
project can be evaluated on it. Its encode parameters are real objective proxies, though: this
script fits each map of :mod:`vmaf_train.evaluate.mapping` from the encode height and from the log
bitrate to the DMOS and prints PLCC/SROCC/RMSE raw and after each map, the exact figures the
eval reports compute. It is a check of the mapping on real subjective data, not a model eval.

    python benchmarks/mapping_nflx.py --dmos PATH/nflx_public_dmos.csv
"""

from __future__ import annotations

import argparse
import csv
import math

import numpy as np

from vmaf_train.evaluate.mapping import MAPPINGS, fit_mapping
from vmaf_train.evaluate.metrics import plcc, rmse, srocc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dmos", required=True, help="nflx_public_dmos.csv")
    args = ap.parse_args()
    with open(args.dmos, newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["is_reference"] == "0"]
    dmos = np.array([float(r["dmos"]) for r in rows])
    proxies = {
        "encode height": np.array([float(r["encode_height"]) for r in rows]),
        "log bitrate": np.array([math.log(float(r["bitrate_kbps"])) for r in rows]),
    }
    print(f"NFLX public: {dmos.size} distorted assets, DMOS {dmos.min():.1f} .. {dmos.max():.1f}")
    print()
    print("| proxy | mapping | PLCC | SROCC | RMSE (DMOS) | parameters at a bound |")
    print("|---|---|---|---|---|---|")
    for name, x in proxies.items():
        for kind in MAPPINGS:
            f = fit_mapping(x, dmos, kind)
            m = f(x)
            pinned = ", ".join(f.at_bounds) or "-"
            print(
                f"| {name} | {kind} | {plcc(dmos, m):.4f} | {srocc(dmos, m):.4f} | "
                f"{rmse(dmos, m):.2f} | {pinned} |"
            )


if __name__ == "__main__":
    main()
