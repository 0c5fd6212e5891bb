"""Fuzz the model loader: mutate real ONNX files and check each is loaded or refused cleanly.

Every case takes one of a few real models (``tests.support.tiny_models.seed_models``: an MLP with a
baked scaler, a codec-aware MLP, an NR conv-pool model, If and Loop models, a QDQ int8 MLP),
mutates its bytes (byte flips, truncation, inserted bytes, or protobuf-aware edits: a field
dropped, duplicated, swapped or its varint changed, at any nesting depth) and sometimes its
sidecar, then loads it through :func:`vmaf_tiny.load_model` (guard + ONNX Runtime session) and, if
it loads, runs it once. Each case must end as ``loaded`` or as a typed refusal (``BadModelError``);
anything else (another exception type, a crash, a hang past the per-case timeout) is a failure.

    python benchmarks/fuzz_guard.py --cases 50000 --seed 1

The per-case timeout uses ``faulthandler.dump_traceback_later(exit=True)``, which also fires when
the process is stuck inside native code; a crash kills the process with a traceback (exit != 0).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout: tests.support

from tests.support.fuzz import run_cases


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=50000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=10.0, help="per-case timeout (seconds)")
    ap.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = ap.parse_args(argv)
    summary = run_cases(args.cases, seed=args.seed, timeout_s=args.timeout)
    d = summary.to_dict()
    if args.json:
        print(json.dumps(d, indent=2))
    else:
        print(
            f"{d['cases']} cases in {d['seconds']} s: {d['outcomes']}; mutations {d['mutations']}; "
            f"slowest case {d['max_case_s']} s; unexpected {d['n_unexpected']}"
        )
        for u in d["unexpected"]:
            print(f"  unexpected: {u}")
    return 1 if summary.unexpected else 0


if __name__ == "__main__":
    raise SystemExit(main())
