"""Float-rounding guard of the fast models (``vmaf_tiny_fast_*``) on committed fast rows.

The FR guard (:mod:`vmaf_train.evaluate.drift`) feeds canonical-6 rows; a fast model reads the
``fast_<point>_*`` columns of a corpus built with ``extras = ["fast"]``. Its fixture
(``tests/support/fixtures/fast_eval_rows.parquet``: whole clips of the natural sources, two per
source, only the columns the shipped levels read) and the recorded figures
(``fast_expected_metrics.json``: each shipped fast model's sha256 and clip/frame PLCC and RMSE,
computed through the runtime's ONNX Runtime session) are written by :func:`write_fast_fixture`;
a drift >= 1e-3, or a registered fast model without an entry, fails the test.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from vmaf_tiny.fast import OperatingPoint, is_fast
from vmaf_tiny.fsutil import atomic_path, atomic_write_json, sha256_file
from vmaf_tiny.registry import load_registry
from vmaf_tiny.scoring import fr_inputs
from vmaf_tiny.session import load_model
from vmaf_train.data.fast_features import point_columns
from vmaf_train.evaluate.drift import DRIFT_TOLERANCE, MAX_FIXTURE_BYTES
from vmaf_train.fit.fast import fast_data, fold_metrics

__all__ = [
    "FAST_EXPECTED_NAME",
    "FAST_FIXTURE_NAME",
    "fast_fixture_metrics",
    "fast_model_rows",
    "write_fast_fixture",
]

FAST_FIXTURE_NAME = "fast_eval_rows.parquet"
FAST_EXPECTED_NAME = "fast_expected_metrics.json"
_BASE = ("key", "source_id", "source_kind", "frame", "vmaf")


def fast_model_rows(zoo: str | os.PathLike[str] | None = None) -> list[tuple[dict, dict]]:
    """(registry row, sidecar) of every registered fast model."""
    reg = load_registry(zoo)
    out = []
    for row in reg.rows:
        side = json.loads((reg.zoo / row["sidecar"]).read_text())
        if is_fast(side):
            out.append((row, side))
    return out


def fast_fixture_metrics(
    model: str, fixture: str | os.PathLike[str], zoo: str | os.PathLike[str] | None = None
) -> dict[str, Any]:
    """Clip and frame PLCC/RMSE of a fast model on the fixture, through ONNX Runtime."""
    lm = load_model(model, backend="cpu", zoo=zoo)
    op = OperatingPoint.from_sidecar(lm.sidecar)
    order = tuple(lm.sidecar["feature_order"])
    data = fast_data(pq.read_table(fixture).to_pydict(), op, order)
    cols = {f: data.x[:, i] for i, f in enumerate(order)}
    pred = np.asarray(lm.run(fr_inputs(lm.sidecar, cols))[0], dtype=np.float64).reshape(-1)
    pred = np.clip(pred, 0.0, 100.0)
    m = fold_metrics(data, pred, np.ones(len(pred), dtype=bool))
    return {
        "n": len(pred),
        "clip_plcc": m["clip"]["plcc"],
        "clip_rmse": m["clip"]["rmse"],
        "frame_plcc": m["frame"]["plcc"],
        "frame_rmse": m["frame"]["rmse"],
    }


def write_fast_fixture(
    features: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    zoo: str | os.PathLike[str] | None = None,
    clips_per_source: int = 2,
) -> dict[str, Any]:
    """Write the fixture (natural clips, the shipped levels' columns) and the recorded figures.

    Raises:
        ValueError: the fixture would exceed the FR guard's size limit.
    """
    out_dir = Path(out_dir)
    rows = fast_model_rows(zoo)
    cols = list(_BASE)
    for _, side in rows:
        pc = point_columns(OperatingPoint.from_sidecar(side))
        cols += [pc[f] for f in side["feature_order"] if pc[f] not in cols]
    table = pq.read_table(features, columns=cols)
    d = table.to_pydict()
    keep_keys: dict[str, list[str]] = {}
    for k, s, kind in zip(d["key"], d["source_id"], d["source_kind"], strict=True):
        if kind == "natural" and k not in keep_keys.setdefault(s, []):
            keep_keys[s].append(k)
    chosen = {k for ks in keep_keys.values() for k in sorted(ks)[::7][:clips_per_source]}
    mask = pa.array([k in chosen for k in d["key"]])
    sub = table.filter(mask)
    dest = out_dir / FAST_FIXTURE_NAME
    with atomic_path(dest) as tmp:
        pq.write_table(sub, tmp, compression="zstd")
    if dest.stat().st_size > MAX_FIXTURE_BYTES:
        dest.unlink()
        raise ValueError(f"fast fixture over {MAX_FIXTURE_BYTES} bytes; lower clips_per_source")
    models = {
        row["id"]: {"sha256": row["sha256"], **fast_fixture_metrics(row["id"], dest, zoo)}
        for row, _ in rows
    }
    doc = {
        "fixture": FAST_FIXTURE_NAME,
        "fixture_sha256": sha256_file(dest),
        "tolerance": DRIFT_TOLERANCE,
        "models": models,
    }
    atomic_write_json(out_dir / FAST_EXPECTED_NAME, doc)
    return doc
