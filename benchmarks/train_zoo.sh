#!/usr/bin/env bash
# Train, evaluate, cross-validate (LOSO), quantise, register and report the eight feature-based FR models
# from one features table. Resumable: rerun after an interruption and finished steps are skipped.
#
#   benchmarks/train_zoo.sh corpora/standard/features.parquet [extra vmaf-train zoo options]
#
# e.g. --seeds 0,1,2 (LOSO seed sweep), --workers 2, --scheduler tcp://host:8786, --ids vmaf_tiny_v2,
# --force. Writes runs/zoo/, src/vmaf_tiny/zoo/ (ONNX, sidecars, registry.json), docs/models/*.md, the
# snapshot table in docs/benchmarks.md and the rounding-guard fixture in tests/support/fixtures/.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $# -lt 1 ]]; then
  echo "usage: $0 FEATURES.parquet [vmaf-train zoo options]" >&2
  exit 2
fi
features=$1
shift
VT=${VMAF_TRAIN:-.venv/bin/vmaf-train}
# libvmaf's vmaf_v0.6.1.json (optional: adds the SVM latency row to the cards).
upstream=${VMAF_UPSTREAM_MODEL:-../shared/data/vmaf_models/vmaf_v0.6.1.json}
extra=()
[[ -f $upstream ]] && extra+=(--upstream-svm "$upstream")
start=$(date +%s)
"$VT" zoo --features "$features" --runs runs/zoo --zoo src/vmaf_tiny/zoo --docs docs \
  --fixture-dir tests/support/fixtures "${extra[@]}" "$@"
echo "zoo done in $(( $(date +%s) - start )) s" >&2
