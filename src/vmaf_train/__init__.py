"""vmaf-train: corpus building, training, evaluation and shipping of tiny VMAF models.

Packages by concept (every model kind shares one module per concept):

* ``data``: sources, distortions, the corpus builder, features tables, splits, pixel frames and
  the saliency teacher;
* ``recipes``: the one TOML recipe loader and validator (``configs/models/*.toml``);
* ``models``: the torch modules; ``fit``: the training loop and one task per kind;
* ``evaluate``: metrics, model evaluation, LOSO, the SVR baseline, prediction, the drift guard;
* ``ship``: export (declared contracts), int8 quantisation and its gate, registration, cards;
* ``parallel``: the Dask executor; ``cli``: the ``vmaf-train`` command.

The names below load their module on first use (PEP 562), so ``import vmaf_train`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vmaf_train.data.corpus import build_corpus
    from vmaf_train.data.corpus_config import load_corpus_config
    from vmaf_train.data.table import read_features
    from vmaf_train.evaluate.baseline import svr_baseline_run
    from vmaf_train.evaluate.loso import run_cv
    from vmaf_train.evaluate.metrics import plcc, rmse, score_metrics, srocc
    from vmaf_train.evaluate.model import evaluate_model
    from vmaf_train.fit.tasks import fit_recipe
    from vmaf_train.parallel import make_executor
    from vmaf_train.recipes import load_recipe
    from vmaf_train.ship.cards import write_reports
    from vmaf_train.ship.export import export_onnx
    from vmaf_train.ship.quantize import quantize_int8, quantize_qdq
    from vmaf_train.ship.register import register, register_smoke
    from vmaf_train.ship.zoo import train_zoo

_LAZY: dict[str, str] = {
    "build_corpus": "vmaf_train.data.corpus",
    "load_corpus_config": "vmaf_train.data.corpus_config",
    "read_features": "vmaf_train.data.table",
    "svr_baseline_run": "vmaf_train.evaluate.baseline",
    "run_cv": "vmaf_train.evaluate.loso",
    "plcc": "vmaf_train.evaluate.metrics",
    "rmse": "vmaf_train.evaluate.metrics",
    "score_metrics": "vmaf_train.evaluate.metrics",
    "srocc": "vmaf_train.evaluate.metrics",
    "evaluate_model": "vmaf_train.evaluate.model",
    "fit_recipe": "vmaf_train.fit.tasks",
    "make_executor": "vmaf_train.parallel",
    "load_recipe": "vmaf_train.recipes",
    "export_onnx": "vmaf_train.ship.export",
    "quantize_int8": "vmaf_train.ship.quantize",
    "quantize_qdq": "vmaf_train.ship.quantize",
    "register": "vmaf_train.ship.register",
    "register_smoke": "vmaf_train.ship.register",
    "write_reports": "vmaf_train.ship.cards",
    "train_zoo": "vmaf_train.ship.zoo",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "build_corpus",
    "evaluate_model",
    "export_onnx",
    "fit_recipe",
    "load_corpus_config",
    "load_recipe",
    "make_executor",
    "plcc",
    "quantize_int8",
    "quantize_qdq",
    "read_features",
    "register",
    "register_smoke",
    "rmse",
    "run_cv",
    "score_metrics",
    "srocc",
    "svr_baseline_run",
    "train_zoo",
    "write_reports",
]
