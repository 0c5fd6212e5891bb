"""Fit, evaluate (leave-one-family-out) and export the pixel-only NR model ``nr_metric_v2``.

Decoded luma only (no stream facts: it works on raw yuv and y4m). Each frame is paired with the
previous one ([N, 2, H, W] at 640x360, sidecar ``frame.temporal = "previous"``) and
:class:`~vmaf_train.nr_pixel_stats.TemporalStats` computes fixed statistics of the pair (no
learned weights; the list is in :mod:`vmaf_train.nr_pixel_stats`).

The head maps the 48 statistics of :data:`MODEL_STATISTICS` to logit(VMAF/100) of the per-frame
vmaf_v0.6.1 of the distorted frame: ``nr_stream_v2``'s seeded ensemble of small ReLU MLPs
blended with a ridge (:class:`vmaf_train.nr_stream_v2.LogitMLP`, settings :data:`PIXEL_MLP`);
a clip's score is the mean of its frames. Evaluation is leave-one-family-out at clip level over
the natural families of the corpus (:func:`vmaf_train.nr_stream_loso.loso`); the fit also reports
ablations (subsets of the statistics, ridge or MLP head). The exported graph is the statistics,
then ``Sub -> Div -> Gemm -> Relu -> Concat -> Gemm -> Sigmoid -> Mul(100)``, default-domain
operators.

``python -m vmaf_train.nr_pixel {table,fit,register}`` runs the whole recipe.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from vmaf_tiny.errors import BadInputError, VmafTinyError
from vmaf_tiny.fsutil import atomic_write_json, sha256_file
from vmaf_train.nr_pixel_stats import FEATURE_NAMES, MODEL_STATISTICS, MSCN_NAMES, TemporalStats
from vmaf_train.nr_pixel_table import SIZE, build_table, clip_features, load_table, pairs
from vmaf_train.nr_stream import check_alpha, loso_line, register_with_card
from vmaf_train.nr_stream_loso import LogitRidge, StreamData, clip_metrics, loso
from vmaf_train.nr_stream_v2 import V2_MLP, LogitMLP

__all__ = [
    "FEATURE_NAMES",
    "MODEL_ID",
    "MODEL_STATISTICS",
    "PIXEL_MLP",
    "PixelMLPNR",
    "TemporalStats",
    "clip_features",
    "fit_run",
    "load_table",
    "main",
    "make_sidecar",
    "pairs",
]

MODEL_ID = "nr_metric_v2"


#: The head's settings: nr_stream_v2's, unchanged (not tuned on this corpus's LOSO).
PIXEL_MLP: dict[str, float] = dict(V2_MLP)


class PixelMLPNR(nn.Module):
    """:class:`TemporalStats` -> standardise -> MLP ensemble + ridge skip -> ``100 * sigmoid``.

    [N, 2, H, W] -> [N, 1]; the members' hidden units are stacked (one Gemm), the second Gemm
    reads them and the standardised statistics (the ridge path).

    Args:
        mlp: A fitted :class:`LogitMLP` over :data:`MODEL_STATISTICS`.
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, mlp: LogitMLP) -> None:
        super().__init__()
        n = len(MODEL_STATISTICS)
        self.stats = TemporalStats(flat=False)
        self.register_buffer("mean", torch.tensor(mlp.mean_, dtype=torch.float32))
        self.register_buffer("std", torch.tensor(mlp.std_, dtype=torch.float32))
        self.hidden = nn.Linear(n, mlp.w1_.shape[0])
        self.out = nn.Linear(mlp.w1_.shape[0] + n, 1)
        w2 = np.concatenate([mlp.w2_, mlp.wskip_], axis=1)
        with torch.no_grad():
            self.hidden.weight.copy_(torch.tensor(mlp.w1_, dtype=torch.float32))
            self.hidden.bias.copy_(torch.tensor(mlp.b1_, dtype=torch.float32))
            self.out.weight.copy_(torch.tensor(w2, dtype=torch.float32))
            self.out.bias.fill_(float(mlp.b2_))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = (self.stats(x) - self.mean) / self.std
        z = self.out(torch.cat([torch.relu(self.hidden(s)), s], dim=1))
        return torch.sigmoid(z) * 100.0


def make_sidecar(metadata: dict[str, Any]) -> dict[str, Any]:
    """The sidecar: kind ``nr``, one [N, 2, 360, 640] ``frame`` input (frame, previous frame)."""
    w, h = SIZE
    return {
        "schema_version": 1,
        "id": MODEL_ID,
        "kind": "nr",
        "class": "C2",
        "onnx": "model.onnx",
        "opset": 17,
        "smoke": False,
        "description": (
            "Pixel-only no-reference VMAF (C2): fixed statistics of each decoded luma frame "
            "and the one before it at 640x360 (neighbour differences and Laplacians at four "
            "scales, 8-pixel grid blockiness, static-block fractions, frame-difference energy "
            "at four scales, half-scale MSCN coefficient distribution; no learned weights) "
            "into a seeded ensemble of small ReLU MLPs blended with a ridge on "
            "logit(VMAF/100) that predicts the per-frame vmaf_v0.6.1 of the distorted frame; "
            "clip score = mean over frames. Trained on natural content only; works on raw "
            "yuv and y4m (no stream facts)."
        ),
        "frame": {
            "channels": "luma",
            "resize": [w, h],
            "crop": None,
            "stride": 1,
            "value_range": [0.0, 1.0],
            "pooling": "mean",
            "temporal": "previous",
        },
        "inputs": [{"name": "frame", "dtype": "float32", "shape": ["N", 2, h, w], "role": "frame"}],
        "outputs": [{"name": "score", "dtype": "float32", "shape": ["N", 1], "role": "score"}],
        "output": {"target": "vmaf", "range": [0.0, 100.0], "clamp": True},
        "int8": None,
        "metadata": metadata,
    }


def export_onnx(model: PixelMLPNR, path: Path, metadata: dict[str, Any]) -> None:
    """Export ``model`` (opset 17, dynamic batch; the project's checked writer) and check ORT
    against torch on noise.

    Raises:
        VmafTinyError: the ONNX file's scores differ from torch's.
    """
    import onnxruntime as ort

    from vmaf_train.ship.onnx_io import finalize_export, torch_to_proto

    w, h = SIZE
    model.eval()
    x = torch.rand(2, 2, h, w, generator=torch.Generator().manual_seed(0))
    proto = torch_to_proto(
        model,
        (x,),
        opset=17,
        input_names=["frame"],
        output_names=["score"],
        dynamic_axes={"frame": {0: "N"}, "score": {0: "N"}},
    )
    finalize_export(proto, path, {k: str(v) for k, v in metadata.items()})
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"frame": x.numpy()})[0]
    with torch.no_grad():
        want = model(x).numpy()
    if not np.allclose(got, want, atol=1e-3):
        raise VmafTinyError(f"ONNX export differs from torch: {float(np.abs(got - want).max())}")


def _mlp(settings: Mapping[str, float]) -> LogitMLP:
    """A :class:`LogitMLP` from a settings mapping (:data:`PIXEL_MLP`'s keys)."""
    m = settings
    return LogitMLP(
        int(m["hidden"]), int(m["members"]), int(m["epochs"]), m["lr"], m["weight_decay"],
        skip=m["skip"], skip_alpha=m["skip_alpha"],
    )  # fmt: skip


class _Recorder:
    """Wraps a model factory and keeps each fold's held-out predictions (in fold order)."""

    def __init__(self, make: Any) -> None:
        self.make = make
        self.preds: list[np.ndarray] = []

    def __call__(self) -> _Recorder:
        self.model = self.make()
        return self

    def fit(self, x: np.ndarray, y: np.ndarray) -> _Recorder:
        self.model.fit(x, y)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        out: np.ndarray = self.model.predict(x)
        self.preds.append(out)
        return out


def _clip_pred(data: StreamData, preds: list[np.ndarray]) -> dict[str, float]:
    """Held-out clip means by clip key, from :func:`loso`'s fold predictions (natural only:
    one fold per family in ``np.unique`` order)."""
    pred = np.zeros_like(data.y)
    for fam, p in zip(np.unique(data.family), preds, strict=True):
        pred[data.family == fam] = p
    pred = np.clip(pred, 0.0, 100.0)
    keys, idx = np.unique(data.key, return_inverse=True)
    means = np.bincount(idx, pred) / np.bincount(idx)
    return {str(k): float(v) for k, v in zip(keys, means, strict=True)}


_NO_MSCN = tuple(n for n in MODEL_STATISTICS if n not in MSCN_NAMES)
#: Input subsets and heads whose LOSO figures the fit also reports (what carries the signal):
#: name -> (statistics, head).
ABLATIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "ridge_head": (MODEL_STATISTICS, "ridge"),
    "no_mscn_ridge (the previous recipe)": (_NO_MSCN, "ridge"),
    "no_mscn_mlp": (_NO_MSCN, "mlp"),
    "v1_statistics_ridge": (
        tuple(n for n in FEATURE_NAMES if n[:2] in ("s1", "s2", "s4") or n.startswith("grid8")),
        "ridge",
    ),
    "with_flat_fractions_ridge": (FEATURE_NAMES, "ridge"),
}


def _subset(data: StreamData, cols: Sequence[str]) -> StreamData:
    idx = [data.names.index(c) for c in cols]
    return StreamData(
        data.x[:, idx], data.y, tuple(cols), data.key, data.source_id, data.family, data.codec,
        data.distortion, data.kind,
    )  # fmt: skip


def _ablations(
    data: StreamData, alpha: float, mlp: Mapping[str, float]
) -> dict[str, dict[str, Any]]:
    out = {}
    for name, (cols, head) in ABLATIONS.items():
        make = (lambda: _mlp(mlp)) if head == "mlp" else (lambda: LogitRidge(alpha))
        report = loso(_subset(data, cols), make)
        out[name] = {"n_statistics": len(cols), "head": head, **report["clip"]}
    return out


def fit_run(
    table: Path,
    out: Path,
    *,
    alpha: float = 0.1,
    baseline: Path | None = None,
    mlp: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """LOSO-evaluate, fit on everything, export: ``out/model.onnx``, ``model.json``,
    ``metrics.json`` (the layout :func:`vmaf_train.ship.stream.register_stream_run` reads).

    ``alpha`` is the ridge penalty of the ablations; ``mlp`` overrides :data:`PIXEL_MLP` (the
    head's settings; tests use fewer epochs).

    Raises:
        BadInputError: bad ``alpha``, missing baseline file, missing or unreadable table (all
            checked before anything is written).
    """
    check_alpha(alpha)
    if baseline is not None and not baseline.is_file():
        raise BadInputError(f"{baseline}: no such baseline file")
    full, man_sha = load_table(table)
    data = _subset(full, MODEL_STATISTICS)
    head = {**PIXEL_MLP, **(mlp or {})}
    rec = _Recorder(lambda: _mlp(head))
    report = loso(data, rec)
    report["clip_pred"] = _clip_pred(data, rec.preds)
    report["ablations"] = _ablations(full, alpha, head)
    model = _mlp(head).fit(data.x, data.y)
    out.mkdir(parents=True, exist_ok=True)
    meta = {
        "model_id": MODEL_ID,
        "teacher_model": "vmaf_v0.6.1",
        "alpha": alpha,
        "head": json.dumps(head, sort_keys=True),
        "table_sha256": sha256_file(table),
        "manifest_sha256": man_sha,
        "statistics": ",".join(MODEL_STATISTICS),
    }
    export_onnx(PixelMLPNR(model), out / "model.onnx", {"model_id": MODEL_ID})
    atomic_write_json(out / "model.json", make_sidecar(meta))
    fit = np.clip(model.predict(data.x), 0, 100)
    _keys, idx = np.unique(data.key, return_inverse=True)
    cnt = np.bincount(idx)
    metrics = {
        "model_id": MODEL_ID,
        "table": str(table),
        "table_sha256": meta["table_sha256"],
        "corpus_manifest_sha256": man_sha,
        "alpha": alpha,
        "head": head,
        "features": list(MODEL_STATISTICS),
        "n_rows": int(data.y.size),
        "n_sources": int(np.unique(data.source_id).size),
        "loso": report,
        "train_fit_clip": clip_metrics(np.bincount(idx, data.y) / cnt, np.bincount(idx, fit) / cnt),
        "onnx_sha256": sha256_file(out / "model.onnx"),
        "onnx_bytes": (out / "model.onnx").stat().st_size,
    }
    if baseline is not None:
        if not baseline.is_file():
            raise BadInputError(f"{baseline}: no such baseline file")
        from vmaf_train.nr_pixel_baseline import compare_baseline

        metrics["baseline_v1"] = compare_baseline(json.loads(baseline.read_text()), report)
    atomic_write_json(out / "metrics.json", metrics)
    return metrics


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m vmaf_train.nr_pixel {table,baseline,fit,curve,register} ...``: the
    reproducible recipe (``curve``: how the LOSO figures grow with the content)."""
    ap = argparse.ArgumentParser(prog="python -m vmaf_train.nr_pixel")
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("table", help="pixel_nr_features.npz for a built corpus")
    t.add_argument("--corpus", type=Path, required=True)
    f = sub.add_parser("fit", help="LOSO figures, final fit, ONNX + sidecar + metrics")
    f.add_argument("-f", "--features", type=Path, required=True)
    f.add_argument("-o", "--out", type=Path, required=True)
    f.add_argument("--alpha", type=float, default=0.1, help="ridge penalty of the ablations")
    f.add_argument("--baseline", type=Path, help="a `baseline` output to compare against")
    b = sub.add_parser("baseline", help="score the corpus's natural clips with another NR model")
    b.add_argument("--corpus", type=Path, required=True)
    b.add_argument("-m", "--model", default="nr_metric_v1")
    b.add_argument("--seen-manifest", type=Path, help="manifest of that model's training corpus")
    b.add_argument("-o", "--out", type=Path, required=True)
    c = sub.add_parser("curve", help="LOSO figures against the number of training families")
    c.add_argument("-f", "--features", type=Path, required=True)
    c.add_argument("--families", help="comma-separated counts (default: 1/4, 1/2, 3/4, all)")
    c.add_argument("--seeds", type=int, default=2, help="random draws per count")
    c.add_argument("--head", choices=("mlp", "ridge"), default="mlp")
    c.add_argument("--alpha", type=float, default=0.1, help="ridge penalty (--head ridge)")
    c.add_argument("--goal", type=float, default=0.85, help="clip PLCC to extrapolate to")
    c.add_argument("-o", "--out", type=Path, help="write the curve as JSON")
    r = sub.add_parser("register", help="ship a fit run into a zoo and write its card")
    r.add_argument("-o", "--out", type=Path, required=True, help="the fit run directory")
    r.add_argument("--zoo", type=Path, required=True)
    r.add_argument("--docs", type=Path, default=Path("docs"))
    args = ap.parse_args(argv)
    try:
        if args.cmd == "table":
            print(f"-> {build_table(args.corpus)}")
        elif args.cmd == "baseline":
            from vmaf_train.nr_pixel_baseline import score_baseline

            atomic_write_json(args.out, score_baseline(args.corpus, args.model, args.seen_manifest))
            print(f"-> {args.out}")
        elif args.cmd == "curve":
            from vmaf_train.nr_curve import curve_command

            check_alpha(args.alpha)
            mlp = args.head == "mlp"
            curve_command(
                args,
                _subset(load_table(args.features)[0], MODEL_STATISTICS),
                (lambda: _mlp(PIXEL_MLP)) if mlp else (lambda: LogitRidge(args.alpha)),
            )
        elif args.cmd == "register":
            from vmaf_train.ship.pixel_nr import register_pixel_nr_run, write_pixel_nr_card

            print(register_with_card(args, register_pixel_nr_run, write_pixel_nr_card))
        else:
            m = fit_run(args.features, args.out, alpha=args.alpha, baseline=args.baseline)
            print(loso_line(m))
    except VmafTinyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
