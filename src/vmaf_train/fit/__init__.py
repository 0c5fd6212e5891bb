"""Fit: one entry point for every recipe kind, per-kind tasks, one loop.

``fit_recipe`` dispatches on the recipe's kind (:data:`TASKS`): FR regressors (``fr``, with or
without a codec block) train on a features table (:mod:`~vmaf_train.fit.fr`); the pixel models
(``nr``, ``filter``, ``saliency``) on a built corpus through :func:`~vmaf_train.fit.loop.fit_loop`.
Determinism (:class:`Determinism`), run start-up (:class:`RunStart`) and the run directory are
shared (:mod:`~vmaf_train.fit.loop`).
"""

from __future__ import annotations

from vmaf_train.fit.loop import (
    Determinism,
    FitResult,
    RunStart,
    clean_json,
    fit_loop,
    nonfinite_path,
    start_run,
    write_run,
)
from vmaf_train.fit.tasks import TASKS, FitTask, fit_recipe

__all__ = [
    "TASKS",
    "Determinism",
    "FitResult",
    "FitTask",
    "RunStart",
    "clean_json",
    "fit_loop",
    "fit_recipe",
    "nonfinite_path",
    "start_run",
    "write_run",
]
