"""Same seed + same commit + same corpus -> same weights and metrics (within 1e-6)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from tests.support.fr_fixtures import fast_config
from vmaf_train.data.dataset import load_fr_data, split_data
from vmaf_train.data.table import read_features
from vmaf_train.fit.fr import FRTrainer, fit_run


def _weights(path: Path) -> dict[str, np.ndarray]:
    proto = onnx.load(str(path))
    return {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}


def _numbers(obj: object, prefix: str = "") -> dict[str, float]:
    """Every numeric leaf of a JSON document, by path (timings excluded)."""
    out: dict[str, float] = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in ("seconds", "latency", "environment") or k.endswith("_seconds"):
                continue
            out.update(_numbers(v, f"{prefix}/{k}"))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.update(_numbers(v, f"{prefix}/{i}"))
    elif isinstance(obj, int | float) and not isinstance(obj, bool):
        out[prefix] = float(obj)
    return out


# The smoke corpus's 3 sources: testsrc2 -> train, astronaut_pan -> val, bikes_s2 -> test.
SMOKE_SPLIT = {"val_frac": 0.3, "test_frac": 0.3}


def test_fit_twice_on_the_smoke_corpus_gives_the_same_model_and_metrics(
    smoke_features: Path, tmp_path: Path
) -> None:
    # Codec-aware: the smoke corpus has all five encoders, so the codec block varies.
    cfg = fast_config("fr_regressor_v2", epochs=40).with_overrides(split=SMOKE_SPLIT)
    a = fit_run(cfg, smoke_features, tmp_path / "a", plots=False, n_boot=100)
    b = fit_run(cfg, smoke_features, tmp_path / "b", plots=False, n_boot=100)
    assert a.metrics["splits"]["test"]["sources"] == ["bikes_s2"]
    assert a.metrics["provenance"] == b.metrics["provenance"]
    wa, wb = _weights(a.out / "model.onnx"), _weights(b.out / "model.onnx")
    assert wa.keys() == wb.keys() and len(wa) >= 6
    for k in wa:
        np.testing.assert_allclose(wa[k], wb[k], atol=1e-6, rtol=0)
    na, nb = _numbers(a.metrics), _numbers(b.metrics)
    assert na.keys() == nb.keys()
    assert "/test/frame/plcc" in na and "/training/history/0/val_rmse" in na
    for k in na:
        assert abs(na[k] - nb[k]) <= 1e-6, (k, na[k], nb[k])
    sa = json.loads((a.out / "model.json").read_text())
    sb = json.loads((b.out / "model.json").read_text())
    assert sa == sb


def test_seed_changes_the_weights(fr_features: Path) -> None:
    cfg = fast_config("vmaf_tiny_v2", epochs=5, min_epochs=1)
    parts, _ = split_data(load_fr_data(read_features(fr_features)), cfg)
    t0 = FRTrainer(cfg, seed=0).fit(parts["train"], parts["val"])
    t0b = FRTrainer(cfg, seed=0).fit(parts["train"], parts["val"])
    t1 = FRTrainer(cfg, seed=1).fit(parts["train"], parts["val"])
    s0, s0b, s1 = (t.model_.state_dict() for t in (t0, t0b, t1))
    assert all(np.array_equal(s0[k].numpy(), s0b[k].numpy()) for k in s0)
    assert not all(np.array_equal(s0[k].numpy(), s1[k].numpy()) for k in s0)
    # Training leaves the global torch state as it found it.
    import torch

    assert not torch.are_deterministic_algorithms_enabled()
