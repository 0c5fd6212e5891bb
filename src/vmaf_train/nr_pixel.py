"""Fit, evaluate (leave-one-family-out) and export the pixel-only NR model ``nr_metric_v2``.

Decoded luma only (no stream facts: it works on raw yuv and y4m). Each frame is paired with the
previous one ([N, 2, H, W] at 640x360, sidecar ``frame.temporal = "previous"``) and
:class:`TemporalStats` computes fixed statistics of the pair (no learned weights):

* the ``nr_metric_v1`` sharpness statistics (:class:`~vmaf_train.models.nr.GradStats`) at four
  scales (1, 2, 4, 8) and the 8-pixel grid blockiness ratios (26);
* flat-block fractions: the share of 4x4 blocks whose mean absolute neighbour difference is below
  0.5, 1, 2, 4 (of 255) at full scale and 0.5, 1, 2 at half scale (7; in the table and the
  ablation only: the shipped model leaves them out, they lowered the LOSO figures);
* temporal statistics: the share of 4x4 blocks whose mean absolute frame difference is below
  0.1, 0.5, 2 (of 255; skipped / copied blocks), and the log mean absolute frame difference at
  scales 1, 2, 4, 8 (7; motion, which masks distortion in vmaf_v0.6.1, and coding flicker).

A ridge regression on logit(VMAF/100) (:class:`vmaf_train.nr_stream.LogitRidge`) maps the 33
statistics of :data:`MODEL_STATISTICS` to the per-frame vmaf_v0.6.1 of the distorted frame; a
clip's score is the mean of its frames. Evaluation is leave-one-family-out at clip level over
the natural families of the corpus (:func:`vmaf_train.nr_stream.loso`). The exported graph is
the statistics, then ``Sub -> Div -> Gemm -> Sigmoid -> Mul(100)``, default-domain operators.

``python -m vmaf_train.nr_pixel {table,fit,register}`` runs the whole recipe.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from vmaf_tiny.errors import BadInputError, VmafTinyError
from vmaf_tiny.fsutil import atomic_write_bytes, atomic_write_json, sha256_file
from vmaf_tiny.nr import with_previous
from vmaf_tiny.video import read_luma
from vmaf_train.models.nr import GradStats
from vmaf_train.nr_stream import (
    LogitRidge,
    StreamData,
    check_alpha,
    clip_metrics,
    loso,
    loso_line,
    register_with_card,
    source_family,
)

__all__ = [
    "FEATURE_NAMES",
    "MODEL_ID",
    "MODEL_STATISTICS",
    "PixelRidgeNR",
    "TemporalStats",
    "clip_features",
    "fit_run",
    "load_table",
    "main",
    "make_sidecar",
    "pairs",
]

MODEL_ID = "nr_metric_v2"
SIZE = (640, 360)
_SCALES = (1, 2, 4, 8)
_FLAT = (0.5, 1.0, 2.0, 4.0)
_FLAT_HALF = (0.5, 1.0, 2.0)
_STATIC = (0.1, 0.5, 2.0)
FEATURE_NAMES: tuple[str, ...] = (
    *(f"s{s}_{st}_{d}" for s in _SCALES for st in ("abs", "sq") for d in ("dx", "dy", "lap")),
    "grid8_cols",
    "grid8_rows",
    *(f"flat_lt{t:g}" for t in _FLAT),
    *(f"flat2_lt{t:g}" for t in _FLAT_HALF),
    *(f"static_lt{t:g}" for t in _STATIC),
    *(f"tdiff_s{s}" for s in _SCALES),
)
#: The shipped model's inputs: the table's statistics without the flat-block fractions, which
#: lowered the leave-one-family-out figures (the fit's ``ablations`` report both).
MODEL_STATISTICS: tuple[str, ...] = tuple(n for n in FEATURE_NAMES if not n.startswith("flat"))


class TemporalStats(nn.Module):
    """Fixed statistics of a (frame, previous frame) pair: [N, 2, H, W] -> [N, S].

    See the module docstring for the list; the order is :data:`FEATURE_NAMES` (``flat=True``,
    the table's 40) or :data:`MODEL_STATISTICS` (``flat=False``, the shipped model's 33).

    Args:
        flat: Include the 7 flat-block fractions.
    """

    def __init__(self, flat: bool = True) -> None:
        super().__init__()
        self.grad = GradStats(_SCALES)
        self.flat = bool(flat)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[N, 2, H, W] luma in [0, 1] (channel 1: the previous frame) -> [N, S]."""
        f = nn.functional
        cur, prev = x[:, 0:1], x[:, 1:2]
        out: list[torch.Tensor] = [self.grad(cur)]
        fracs: list[torch.Tensor] = []
        if self.flat:
            bank = self.grad.bank[:24]  # the neighbour differences of the 4x4 bank
            e1 = f.conv2d(cur, bank, stride=4).abs().mean(dim=1)
            e2 = f.conv2d(f.avg_pool2d(cur, 2, 2), bank, stride=4).abs().mean(dim=1)
            fracs += [(e1 < v / 255.0).float().mean(dim=(1, 2)) for v in _FLAT]
            fracs += [(e2 < v / 255.0).float().mean(dim=(1, 2)) for v in _FLAT_HALF]
        t = cur - prev
        tb = f.avg_pool2d(t.abs(), 4, 4)[:, 0]
        fracs += [(tb < v / 255.0).float().mean(dim=(1, 2)) for v in _STATIC]
        y = t
        for i, _ in enumerate(_SCALES):
            if i:
                y = f.avg_pool2d(y, 2, 2)
            fracs.append(torch.log(y.abs().mean(dim=(1, 2, 3)) + 1e-6))
        out.append(torch.stack(fracs, dim=1))
        return torch.cat(out, dim=1)


class PixelRidgeNR(nn.Module):
    """:class:`TemporalStats` -> standardise -> linear -> ``100 * sigmoid``: [N, 2, H, W] -> [N, 1].

    Args:
        ridge: A fitted :class:`LogitRidge` over :data:`MODEL_STATISTICS`.
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, ridge: LogitRidge) -> None:
        super().__init__()
        self.stats = TemporalStats(flat=False)
        self.register_buffer("mean", torch.tensor(ridge.mean_, dtype=torch.float32))
        self.register_buffer("std", torch.tensor(ridge.std_, dtype=torch.float32))
        self.head = nn.Linear(len(MODEL_STATISTICS), 1)
        with torch.no_grad():
            self.head.weight.copy_(torch.tensor(ridge.coef_, dtype=torch.float32)[None])
            self.head.bias.fill_(float(ridge.intercept_))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.head((self.stats(x) - self.mean) / self.std)
        return torch.sigmoid(z) * 100.0


def pairs(frames: np.ndarray) -> np.ndarray:
    """[T, H, W] frames -> [T, 2, H, W] (frame, previous frame); frame 0 is its own previous.

    The runtime's own pairing (:func:`vmaf_tiny.nr.with_previous`, ``frame.temporal =
    "previous"``), so training and scoring cannot drift apart.
    """
    return np.stack(list(with_previous(frames)))


def clip_features(clip: Path, stats: TemporalStats, batch: int = 8) -> np.ndarray:
    """Decode every frame of ``clip`` at 640x360 (bicubic) and return its [T, 40] statistics."""
    luma = np.stack(list(read_luma(clip, size=SIZE)))
    x = pairs(luma)
    out = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            out.append(stats(torch.from_numpy(np.ascontiguousarray(x[i : i + batch]))).numpy())
    return np.concatenate(out).astype(np.float64)


def build_table(corpus: Path) -> Path:
    """Statistics of every frame of a built corpus -> ``corpus/pixel_nr_features.npz``."""
    from vmaf_train.data.frames import PixelCorpus

    pc = PixelCorpus.open(corpus)
    torch.set_num_threads(1)
    stats = TemporalStats().eval()
    cols: dict[str, list[Any]] = {k: [] for k in ("key", "source_id", "codec", "distortion")}
    xs, ys = [], []
    for c in pc.clips:
        if c.source_kind != "natural":
            continue
        f = clip_features(c.clip, stats)
        if f.shape[0] != c.n_frames:
            raise BadInputError(f"{c.key}: decoded {f.shape[0]} frames, the table has {c.n_frames}")
        xs.append(f)
        ys.append(c.vmaf)
        for k in cols:
            cols[k] += [getattr(c, k)] * c.n_frames
    if not xs:
        raise BadInputError(f"{corpus}: no natural clips")
    out = corpus / "pixel_nr_features.npz"
    buf = _npz_bytes(
        x=np.concatenate(xs),
        y=np.concatenate(ys),
        names=np.asarray(FEATURE_NAMES),
        manifest_sha256=np.asarray(pc.manifest_sha256),
        **{k: np.asarray(v) for k, v in cols.items()},
    )
    atomic_write_bytes(out, buf)
    return out


def _npz_bytes(**arrays: np.ndarray) -> bytes:
    import io

    b = io.BytesIO()
    np.savez(b, **arrays)  # type: ignore[arg-type]
    return b.getvalue()


def load_table(path: Path) -> tuple[StreamData, str]:
    """Read ``pixel_nr_features.npz`` as arrays (and the corpus manifest hash).

    Raises:
        BadInputError: missing or unreadable file, or statistics of another feature list.
    """
    if not path.is_file():
        raise BadInputError(f"{path}: no such pixel NR features table")
    try:
        z = np.load(path)
        names = tuple(str(n) for n in z["names"])
    except (OSError, ValueError, KeyError, EOFError) as e:  # not an npz / pickled / no "names"
        why = (str(e).splitlines() or [type(e).__name__])[0]
        raise BadInputError(f"{path}: not a pixel NR features table ({why})") from None
    if names != FEATURE_NAMES:
        raise BadInputError(f"{path}: built with another statistics list; rebuild it")
    src = z["source_id"].astype(str)
    data = StreamData(
        x=z["x"],
        y=z["y"],
        names=FEATURE_NAMES,
        key=z["key"].astype(str),
        source_id=src,
        family=np.asarray([source_family(s) for s in src]),
        codec=z["codec"].astype(str),
        distortion=z["distortion"].astype(str),
        kind=np.full(src.size, "natural"),  # build_table keeps natural clips only
    )
    return data, str(z["manifest_sha256"])


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
            "at four scales; no learned weights) into a ridge regression on "
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


def export_onnx(model: PixelRidgeNR, path: Path, metadata: dict[str, Any]) -> None:
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


def _loso_clip_pred(data: StreamData, alpha: float) -> dict[str, float]:
    """Held-out clip means (each clip predicted by the fit without its family), by clip key."""
    pred = np.zeros_like(data.y)
    for fam in np.unique(data.family):
        te = data.family == fam
        pred[te] = LogitRidge(alpha).fit(data.x[~te], data.y[~te]).predict(data.x[te])
    pred = np.clip(pred, 0.0, 100.0)
    keys, idx = np.unique(data.key, return_inverse=True)
    means = np.bincount(idx, pred) / np.bincount(idx)
    return {str(k): float(v) for k, v in zip(keys, means, strict=True)}


#: Statistic subsets whose LOSO figures the fit also reports (which part carries the signal).
ABLATIONS: dict[str, tuple[str, ...]] = {
    "v1_statistics": tuple(
        n for n in FEATURE_NAMES if n[:2] in ("s1", "s2", "s4") or n.startswith("grid8")
    ),
    "no_temporal_with_flat": tuple(
        n for n in FEATURE_NAMES if not n.startswith(("static", "tdiff"))
    ),
    "with_flat_fractions": FEATURE_NAMES,
}


def _subset(data: StreamData, cols: Sequence[str]) -> StreamData:
    idx = [data.names.index(c) for c in cols]
    return StreamData(
        data.x[:, idx], data.y, tuple(cols), data.key, data.source_id, data.family, data.codec,
        data.distortion, data.kind,
    )  # fmt: skip


def _ablations(data: StreamData, alpha: float) -> dict[str, dict[str, Any]]:
    out = {}
    for name, cols in ABLATIONS.items():
        report = loso(_subset(data, cols), lambda: LogitRidge(alpha))
        out[name] = {"n_statistics": len(cols), **report["clip"]}
    return out


def fit_run(
    table: Path, out: Path, *, alpha: float = 0.1, baseline: Path | None = None
) -> dict[str, Any]:
    """LOSO-evaluate, fit on everything, export: ``out/model.onnx``, ``model.json``,
    ``metrics.json`` (the layout :func:`vmaf_train.ship.stream.register_stream_run` reads).

    Raises:
        BadInputError: bad ``alpha``, missing baseline file, missing or unreadable table (all
            checked before anything is written).
    """
    check_alpha(alpha)
    if baseline is not None and not baseline.is_file():
        raise BadInputError(f"{baseline}: no such baseline file")
    full, man_sha = load_table(table)
    data = _subset(full, MODEL_STATISTICS)
    report = loso(data, lambda: LogitRidge(alpha))
    report["clip_pred"] = _loso_clip_pred(data, alpha)
    report["ablations"] = _ablations(full, alpha)
    ridge = LogitRidge(alpha).fit(data.x, data.y)
    out.mkdir(parents=True, exist_ok=True)
    meta = {
        "model_id": MODEL_ID,
        "teacher_model": "vmaf_v0.6.1",
        "alpha": alpha,
        "table_sha256": sha256_file(table),
        "manifest_sha256": man_sha,
        "statistics": ",".join(MODEL_STATISTICS),
    }
    export_onnx(PixelRidgeNR(ridge), out / "model.onnx", {"model_id": MODEL_ID})
    atomic_write_json(out / "model.json", make_sidecar(meta))
    fit = np.clip(ridge.predict(data.x), 0, 100)
    _keys, idx = np.unique(data.key, return_inverse=True)
    cnt = np.bincount(idx)
    metrics = {
        "model_id": MODEL_ID,
        "table": str(table),
        "table_sha256": meta["table_sha256"],
        "corpus_manifest_sha256": man_sha,
        "alpha": alpha,
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
    """``python -m vmaf_train.nr_pixel {table,fit,register} ...``: the reproducible recipe."""
    ap = argparse.ArgumentParser(prog="python -m vmaf_train.nr_pixel")
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("table", help="pixel_nr_features.npz for a built corpus")
    t.add_argument("--corpus", type=Path, required=True)
    f = sub.add_parser("fit", help="LOSO figures, final fit, ONNX + sidecar + metrics")
    f.add_argument("-f", "--features", type=Path, required=True)
    f.add_argument("-o", "--out", type=Path, required=True)
    f.add_argument("--alpha", type=float, default=0.1)
    f.add_argument("--baseline", type=Path, help="a `baseline` output to compare against")
    b = sub.add_parser("baseline", help="score the corpus's natural clips with another NR model")
    b.add_argument("--corpus", type=Path, required=True)
    b.add_argument("-m", "--model", default="nr_metric_v1")
    b.add_argument("--seen-manifest", type=Path, help="manifest of that model's training corpus")
    b.add_argument("-o", "--out", type=Path, required=True)
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
