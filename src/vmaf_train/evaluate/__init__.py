"""Evaluate: metrics of every model kind, evaluation of a model on a features table, LOSO,
the SVR baseline, prediction through the runtime and the drift guard.

Modules: :mod:`~vmaf_train.evaluate.metrics` (PLCC/SROCC/RMSE with bootstrap intervals, map CC
and top-k IoU, PSNR), :mod:`~vmaf_train.evaluate.model` (``vmaf-train eval``),
:mod:`~vmaf_train.evaluate.mapping` (linear and logistic maps from prediction to MOS),
:mod:`~vmaf_train.evaluate.targets` (``--targets key,mos`` joined on the clip key),
:mod:`~vmaf_train.evaluate.loso`, :mod:`~vmaf_train.evaluate.baseline`,
:mod:`~vmaf_train.evaluate.predict` and :mod:`~vmaf_train.evaluate.drift`.
"""

from __future__ import annotations

from vmaf_train.evaluate.mapping import (
    MAPPINGS,
    FittedMap,
    fit_mapping,
    logistic4,
    logistic5,
    mapping_kind,
)
from vmaf_train.evaluate.metrics import (
    bootstrap_ci,
    check_pair,
    map_cc,
    plcc,
    pool_by_key,
    psnr,
    rmse,
    score_metrics,
    srocc,
    top_iou,
)
from vmaf_train.evaluate.targets import join_targets, read_targets

__all__ = [
    "MAPPINGS",
    "FittedMap",
    "bootstrap_ci",
    "check_pair",
    "fit_mapping",
    "join_targets",
    "logistic4",
    "logistic5",
    "map_cc",
    "mapping_kind",
    "plcc",
    "pool_by_key",
    "psnr",
    "read_targets",
    "rmse",
    "score_metrics",
    "srocc",
    "top_iou",
]
