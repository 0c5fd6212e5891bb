#!/usr/bin/env bash
# Thin wrapper over `vmaf-tiny bench`: every flag is forwarded unchanged, e.g.
#   testdata/bench_all.sh -m vmaf_tiny_v2 --backend=cpu
#   testdata/bench_all.sh -m path/to/model.onnx --backend=cuda --runs 7
# Clips are generated into clips/ of the cache ($VMAF_TINY_CACHE, else $XDG_CACHE_HOME/vmaf-tiny or
# ~/.cache/vmaf-tiny; --clips-dir DIR to choose) and the results go to
# netflix_benchmark_results.json there (-o/--out FILE; schema in docs/benchmarks.md): nothing is
# written into the checkout or the working directory (`vmaf-train bench` records the figures in
# the model cards and docs).
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
