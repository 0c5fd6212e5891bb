"""The float-rounding guard: a small committed eval fixture and each shipped model's metrics on it.

``tests/support/fixtures/fr_eval_rows.parquet`` holds real test-split rows of the training corpus
(whole clips, at most ~1 MB). ``tests/support/fixtures/fr_expected_metrics.json`` records, for
every registered non-smoke model, its sha256 and its PLCC and RMSE against the teacher on those
rows. CI recomputes them with the shipped files: a drift >= 1e-3 (a new onnxruntime, numpy, a
changed graph) fails."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vmaf_tiny.errors import BadInputError
from vmaf_tiny.fsutil import atomic_write_json, sha256_file
from vmaf_train.data.dataset import source_splits
from vmaf_train.data.table import read_features, table_metadata, write_features
from vmaf_train.evaluate.metrics import plcc, rmse
from vmaf_train.evaluate.predict import open_fr_model
from vmaf_train.recipes import SplitConfig
from vmaf_train.ship.registry import load_registry

__all__ = [
    "EXPECTED_NAME",
    "FIXTURE_NAME",
    "MAX_FIXTURE_BYTES",
    "build_eval_fixture",
    "expected_metrics",
    "fixture_metrics",
]

FIXTURE_NAME = "fr_eval_rows.parquet"
EXPECTED_NAME = "fr_expected_metrics.json"
MAX_FIXTURE_BYTES = 1_000_000
DRIFT_TOLERANCE = 1e-3


def build_eval_fixture(
    features: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    split: SplitConfig | None = None,
    max_clips: int = 60,
    seed: int = 0,
) -> Path:
    """Write whole test-split clips of ``features`` (a seeded sample of ``max_clips``) to ``out``.

    Raises:
        BadInputError: an empty test split, or a fixture over :data:`MAX_FIXTURE_BYTES`.
    """
    table = read_features(features)
    srcs = source_splits(table.column("source_id").to_pylist(), split or SplitConfig()).test
    if not srcs:
        raise BadInputError(f"{features}: the test split is empty; cannot build a fixture")
    test = table.filter(pc.is_in(table.column("source_id"), pa.array(srcs)))
    keys = sorted(set(test.column("key").to_pylist()))
    rng = np.random.default_rng(seed)
    if len(keys) > max_clips:
        keys = sorted(rng.choice(keys, size=max_clips, replace=False).tolist())
    sub = test.filter(pc.is_in(test.column("key"), pa.array(keys)))
    meta = table_metadata(table)
    sub = sub.replace_schema_metadata(
        {**(table.schema.metadata or {}),
         b"vmaf_tiny.fixture_of": str(meta.get("corpus", Path(features).name)).encode()}
    )  # fmt: skip
    dest = Path(out)
    write_features(sub, dest)
    size = dest.stat().st_size
    if size > MAX_FIXTURE_BYTES:
        dest.unlink()
        raise BadInputError(
            f"eval fixture would be {size} bytes (> {MAX_FIXTURE_BYTES}); lower --max-clips"
        )
    return dest


def fixture_metrics(model: str | os.PathLike[str], fixture: str | os.PathLike[str],
                    zoo: str | os.PathLike[str] | None = None) -> dict[str, Any]:  # fmt: skip
    """PLCC and RMSE against the model's target on every fixture row."""
    fr = open_fr_model(model, zoo=zoo)
    table = read_features(fixture)
    pred = fr.predict_table(table)
    y = table.column(fr.target).to_numpy(zero_copy_only=False).astype(np.float64)
    return {"n": int(y.size), "plcc": plcc(y, pred), "rmse": rmse(y, pred)}


def _is_fast_row(zoo: str | os.PathLike[str], row: dict[str, Any]) -> bool:
    side = json.loads((Path(zoo) / row["sidecar"]).read_text())
    return isinstance(side.get("fast"), dict)


def expected_metrics(
    zoo: str | os.PathLike[str], fixture: str | os.PathLike[str], out: str | os.PathLike[str]
) -> dict[str, Any]:
    """Record every registered non-smoke model's metrics on the fixture into ``out`` (JSON)."""
    reg = load_registry(zoo)
    models: dict[str, Any] = {}
    for row in reg.get("models", []):
        if row.get("smoke") or row.get("kind") != "fr" or _is_fast_row(zoo, row):
            continue  # fast models have their own guard (vmaf_train.evaluate.fast_drift)
        m = fixture_metrics(row["id"], fixture, zoo=zoo)
        models[row["id"]] = {"sha256": row["sha256"], **m}
    doc = {
        "fixture": Path(fixture).name,
        "fixture_sha256": sha256_file(fixture),
        "tolerance": DRIFT_TOLERANCE,
        "models": models,
    }
    atomic_write_json(out, doc)
    return doc
