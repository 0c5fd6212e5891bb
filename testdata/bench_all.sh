#!/usr/bin/env bash
# Thin wrapper over `vmaf-tiny bench`: every flag is forwarded unchanged, e.g.
#   testdata/bench_all.sh --tiny-model vmaf_tiny_v2 --backend=cpu
#   testdata/bench_all.sh --tiny-model path/to/model.onnx --backend=cuda --runs 7 --record
# Clips are generated into testdata/clips/ (gitignored); results go to
# testdata/netflix_benchmark_results.json (gitignored; schema in docs/benchmarks.md).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -n "${VMAF_TINY_BIN:-}" ]]; then
    exe="$VMAF_TINY_BIN"
elif [[ -x "$root/.venv/bin/vmaf-tiny" ]]; then
    exe="$root/.venv/bin/vmaf-tiny"
else
    exe="$(command -v vmaf-tiny)" || { echo "error: vmaf-tiny not found (run make test once, or pip install -e .)" >&2; exit 2; }
fi
exec "$exe" bench "$@"
