#!/usr/bin/env bash
# Fit, LOSO and register the four fast levels (vmaf_tiny_fast_*) from a corpus built with
# extras = ["fast"], then regenerate the cards:
#   vmaf-train corpus build --config fast --out corpus/fast
#   benchmarks/train_fast.sh corpus/fast/features.parquet [runs/fast]
set -euo pipefail
FEATURES=${1:?usage: benchmarks/train_fast.sh FEATURES.parquet [RUNS_DIR]}
RUNS=${2:-runs/fast}
PY=${PYTHON:-python}
for id in vmaf_tiny_fast_l0_v1 vmaf_tiny_fast_v1 vmaf_tiny_fast_l2_v1 vmaf_tiny_fast_l3_v1; do
  "$PY" -m vmaf_train.fit.fast --config "configs/models/$id.toml" --features "$FEATURES" \
    --out "$RUNS/$id" --force --register src/vmaf_tiny/zoo
done
vmaf-train report --zoo src/vmaf_tiny/zoo --docs docs
