"""Fit, evaluate (leave-one-source-out) and export the stream-aware NR models ``nr_stream_v1/v2``.

Two recipes (``fit --recipe``): ``v1`` is below; ``v2`` (:mod:`vmaf_train.nr_stream_v2`) is a
seeded MLP ensemble on more content features and a wider corpus, evaluated the same way.

The v1 model is a ridge regression on the logit of VMAF/100 over the stream features of
:mod:`vmaf_tiny.stream` (plus a few declared products of them, ``a__b``), so that the S-shaped
rate-quality curve becomes a straight line in log bits per pixel. It predicts per-frame
vmaf_v0.6.1; a clip's score is the mean of its frames (the teacher's own pooling). The closed-form
fit is deterministic: the same table gives the same bytes.

Evaluation is leave-one-source-out at clip level over content *families*
(:mod:`vmaf_train.nr_stream_loso`, which also reads the table and holds the ridge).

The ONNX graph is ``Sub(mean) -> Div(std) -> Gemm -> Sigmoid -> Mul(100)`` (opset 17, all on the
runtime's allowlist, C1 size class). ``python -m vmaf_train.nr_stream`` runs the whole recipe.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from vmaf_tiny.errors import BadInputError, VmafTinyError
from vmaf_tiny.fsutil import atomic_path, atomic_write_json, sha256_file
from vmaf_train.nr_stream_loso import (
    DEFAULT_FEATURES,
    LogitRidge,
    Regressor,
    StreamData,
    clip_means,
    clip_metrics,
    drop_families,
    load_stream_data,
    loso,
    source_family,
)

__all__ = [
    "DEFAULT_FEATURES",
    "LogitRidge",
    "StreamData",
    "clip_metrics",
    "export_onnx",
    "fit_run",
    "load_stream_data",
    "loso",
    "main",
    "make_sidecar",
    "source_family",
]

MODEL_ID = "nr_stream_v1"


def check_alpha(alpha: float) -> None:
    """Refuse a ridge penalty that is negative or not finite (it would fit NaN or nonsense).

    Raises:
        BadInputError: ``alpha`` < 0, NaN or infinite.
    """
    if not (np.isfinite(alpha) and alpha >= 0):
        raise BadInputError(f"--alpha {alpha}: the ridge penalty must be a finite number >= 0")


def check_register_dirs(zoo: Path, docs: Path) -> None:
    """Refuse a zoo or docs path that cannot be a folder before anything is registered.

    ``register`` writes the zoo first and the card (``docs/models/<id>.md``) after it; a card
    that cannot be written must not leave a registered model without one.

    Raises:
        BadInputError: ``zoo``, ``docs`` or ``docs/models`` (or a parent of one) is a file.
    """
    for what, d in (("--zoo", zoo), ("--docs", docs), ("--docs", docs / "models")):
        for p in (d, *d.parents):
            if p.exists() and not p.is_dir():
                raise BadInputError(f"{what} {d}: {p} is a file, not a folder")


def export_onnx(model: LogitRidge, n_features: int, path: Path) -> None:
    """Write ``model`` as an opset-17 graph: features [N, F] -> score [N, 1] (VMAF)."""
    init = [
        numpy_helper.from_array(model.mean_.astype(np.float32)[None, :], "mean"),
        numpy_helper.from_array(model.std_.astype(np.float32)[None, :], "std"),
        numpy_helper.from_array(model.coef_.astype(np.float32)[:, None], "w"),
        numpy_helper.from_array(np.asarray([model.intercept_], np.float32), "b"),
        numpy_helper.from_array(np.asarray([100.0], np.float32), "hundred"),
    ]
    nodes = [
        helper.make_node("Sub", ["features", "mean"], ["centred"]),
        helper.make_node("Div", ["centred", "std"], ["standard"]),
        helper.make_node("Gemm", ["standard", "w", "b"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], ["unit"]),
        helper.make_node("Mul", ["unit", "hundred"], ["score"]),
    ]
    write_score_graph(path, nodes, init, MODEL_ID, n_features)


def write_score_graph(
    path: Path,
    nodes: Sequence[onnx.NodeProto],
    init: Sequence[onnx.TensorProto],
    graph_name: str,
    n_features: int,
) -> None:
    """Write a features [N, F] -> score [N, 1] graph (opset 17, IR 8), checked, atomically."""
    graph = helper.make_graph(
        nodes,
        graph_name,
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", n_features])],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, ["N", 1])],
        init,
    )
    m = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="vmaf_train"
    )
    m.ir_version = 8
    onnx.checker.check_model(m)
    with atomic_path(path) as tmp:
        tmp.write_bytes(m.SerializeToString())


def make_sidecar(
    names: Sequence[str],
    metadata: Mapping[str, Any],
    *,
    model_id: str = MODEL_ID,
    description: str | None = None,
) -> dict[str, Any]:
    """The sidecar: kind ``nr`` with one ``stream_features`` input named by ``feature_order``."""
    return {
        "schema_version": 1,
        "id": model_id,
        "kind": "nr",
        "class": "C1",
        "onnx": "model.onnx",
        "opset": 17,
        "smoke": False,
        "description": description
        or (
            "Stream-aware no-reference VMAF (C1): ridge regression on logit(VMAF/100) over "
            "stream facts of the encoded file (bits per pixel per frame and frame type, QP "
            "where H.264/VP9 export it, codec, coded vs display size, frame rate) and cheap "
            "content statistics of the decoded luma (coarse gradient energy, temporal "
            "difference, coding-grid blockiness); predicts per-frame vmaf_v0.6.1, clip score = "
            "mean over frames. Needs an encoded stream (not raw/y4m)."
        ),
        "inputs": [
            {
                "name": "features",
                "dtype": "float32",
                "shape": ["N", len(names)],
                "role": "stream_features",
            }
        ],
        "outputs": [{"name": "score", "dtype": "float32", "shape": ["N", 1], "role": "score"}],
        "feature_order": list(names),
        "normalization": {"baked": True},
        "output": {"target": "vmaf", "range": [0.0, 100.0], "clamp": True},
        "int8": None,
        "metadata": dict(metadata),
    }


#: The recipes ``fit --recipe`` knows: model id, corpus config it is meant for.
RECIPES: dict[str, tuple[str, str]] = {
    "v1": (MODEL_ID, "nr_stream"),
    "v2": ("nr_stream_v2", "nr_stream_v2"),
}


def fit_run(
    table: Path,
    out: Path,
    *,
    alpha: float = 10.0,
    names: Sequence[str] | None = None,
    recipe: str = "v1",
    hold_out: Sequence[str] = (),
) -> dict[str, Any]:
    """LOSO-evaluate, fit on everything, export: ``out/model.onnx``, ``model.json``,
    ``metrics.json``. Returns the metrics.

    ``hold_out`` families are left out of the LOSO figures and of the final fit: a model for
    evaluating something else on those families (the learned filter's quality gate) that has not
    seen them. Such a run is refused by ``register``.

    Args:
        table: ``stream_features.parquet``.
        out: Run directory.
        alpha: Ridge penalty (recipe v1).
        names: Inputs (default: the recipe's own).
        recipe: ``v1`` (logit ridge) or ``v2`` (seeded MLP ensemble, :mod:`.nr_stream_v2`).

    Raises:
        BadInputError: unknown recipe, bad ``alpha``, missing table or column.
    """
    from vmaf_train import nr_stream_v2 as v2

    if recipe not in RECIPES:
        raise BadInputError(f"unknown recipe {recipe!r}; known: {sorted(RECIPES)}")
    check_alpha(alpha)
    model_id, corpus_name = RECIPES[recipe]
    if names is None:
        names = DEFAULT_FEATURES if recipe == "v1" else v2.V2_FEATURES
    data = drop_families(load_stream_data(table, names), hold_out)
    out.mkdir(parents=True, exist_ok=True)
    make: Callable[[], Regressor]
    settings: dict[str, Any]
    if recipe == "v1":
        make, desc, settings = (lambda: LogitRidge(alpha)), None, {"alpha": alpha}
    else:
        mlp = v2.V2_MLP
        make = lambda: v2.LogitMLP(  # noqa: E731
            int(mlp["hidden"]), int(mlp["members"]), int(mlp["epochs"]), mlp["lr"],
            mlp["weight_decay"], skip=mlp["skip"], skip_alpha=mlp["skip_alpha"],
        )  # fmt: skip
        desc, settings = v2.V2_DESCRIPTION, {"mlp": dict(mlp), "seed": 0}
    report = loso(data, make)
    model = make().fit(data.x, data.y)
    if isinstance(model, v2.LogitMLP):
        v2.export_mlp_onnx(model, len(names), out / "model.onnx", model_id)
    else:
        export_onnx(model, len(names), out / "model.onnx")
    corpus_dir = table.parent
    manifest = corpus_dir / "manifest.json"
    man_sha = (
        json.loads(manifest.read_text()).get("manifest_sha256", "") if manifest.is_file() else ""
    )
    flat = {
        f"{k}_{sk}" if isinstance(v, dict) else k: sv
        for k, v in settings.items()
        for sk, sv in (v.items() if isinstance(v, dict) else [(k, v)])
    }
    meta = {
        "model_id": model_id,
        "teacher_model": "vmaf_v0.6.1",
        "recipe": recipe,
        "corpus_config": corpus_name,
        **flat,
        "fine_stride": 4,
        **({"held_out_families": ",".join(sorted(hold_out))} if hold_out else {}),
        "table_sha256": sha256_file(table),
        "manifest_sha256": man_sha,
    }
    side = make_sidecar(names, meta, model_id=model_id, description=desc)
    atomic_write_json(out / "model.json", side)
    fit_pred = np.clip(model.predict(data.x), 0, 100)
    _, (yc, pc) = clip_means(data.key, data.y, fit_pred)
    metrics = {
        "model_id": model_id,
        "recipe": recipe,
        "corpus_config": corpus_name,
        "table": str(table),
        "table_sha256": meta["table_sha256"],
        "corpus_manifest_sha256": man_sha,
        **settings,
        "features": list(names),
        **({"held_out_families": sorted(hold_out)} if hold_out else {}),
        "n_rows": int(data.y.size),
        "n_sources": int(np.unique(data.source_id).size),
        "loso": report,
        "train_fit_clip": clip_metrics(yc, pc),
        **(
            {}
            if recipe == "v1"
            else {  # the v1 recipe on the same table, same protocol: what v2 has to beat
                "baseline_v1_recipe": loso(load_stream_data(table), LogitRidge)["clip"]
            }
        ),
        "onnx_sha256": sha256_file(out / "model.onnx"),
        "onnx_bytes": (out / "model.onnx").stat().st_size,
    }
    atomic_write_json(out / "metrics.json", metrics)
    return metrics


def register_with_card(
    args: argparse.Namespace,
    register: Callable[[Path, Path], dict[str, Any]],
    write_card: Callable[[Path, Path, str], Path],
) -> str:
    """The ``register`` command of a LOSO fit module: check ``--zoo``/``--docs`` first, ship
    the run, write its card. Returns the line to print."""
    check_register_dirs(args.zoo, args.docs)
    row = register(args.out, args.zoo)
    card = write_card(args.zoo, args.docs, row["id"])
    return f"registered {row['id']} ({row['bytes']} bytes) in {args.zoo}; card {card}"


def loso_line(m: Mapping[str, Any]) -> str:
    """One line of a fit's pooled leave-one-family-out clip figures."""
    lo, c = m["loso"], m["loso"]["clip"]
    return (
        f"LOSO over {lo['n_families']} families, {lo['n_clips']} clips: "
        f"PLCC {c['plcc']:.4f} SROCC {c['srocc']:.4f} RMSE {c['rmse']:.3f}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m vmaf_train.nr_stream {table,fit} ...``: the reproducible recipe."""
    ap = argparse.ArgumentParser(prog="python -m vmaf_train.nr_stream")
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("table", help="stream_features.parquet for a built corpus")
    t.add_argument("--corpus", type=Path, required=True)
    t.add_argument("--workers", type=int, default=2)
    f = sub.add_parser("fit", help="LOSO figures, final fit, ONNX + sidecar + metrics")
    f.add_argument("--features", type=Path, required=True)
    f.add_argument("-o", "--out", type=Path, required=True)
    f.add_argument("--alpha", type=float, default=10.0, help="ridge penalty (recipe v1)")
    f.add_argument("--recipe", choices=sorted(RECIPES), default="v1")
    f.add_argument(
        "--hold-out",
        default="",
        help="comma-separated families left out of the LOSO figures and the final fit "
        "(a model for evaluating on them; not for register)",
    )
    r = sub.add_parser("register", help="ship a fit run into a zoo and write its card")
    r.add_argument("-o", "--out", type=Path, required=True, help="the fit run directory")
    r.add_argument("--zoo", type=Path, required=True)
    r.add_argument("--docs", type=Path, default=Path("docs"))
    args = ap.parse_args(argv)
    try:
        if args.cmd == "table":
            from vmaf_train.data.stream_features import build_stream_table

            tab = build_stream_table(args.corpus, workers=args.workers)
            print(f"{tab.num_rows} rows -> {args.corpus / 'stream_features.parquet'}")
        elif args.cmd == "register":
            from vmaf_train.ship.stream import register_stream_run, write_stream_card

            print(register_with_card(args, register_stream_run, write_stream_card))
        else:
            hold = [f.strip() for f in args.hold_out.split(",") if f.strip()]
            m = fit_run(
                args.features, args.out, alpha=args.alpha, recipe=args.recipe, hold_out=hold
            )
            print(loso_line(m))
    except VmafTinyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
