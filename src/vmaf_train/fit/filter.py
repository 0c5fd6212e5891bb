"""Learned filters (``learned_filter_v1`` .. ``_v8``): train a residual restoration CNN, measure it.

Data: clips of the ``encode`` distortions (coded at the reference's size), decoded luma next to
the reference luma; seeded frames per clip and seeded aligned patches per frame. Loss
(``train.loss``): ``mse`` to the reference (i.e. PSNR-Y), or ``relative``: each patch's MSE over
the unfiltered patch's MSE (+ ``train.rel_eps``), averaged -- every patch counts by its own dB
gain, so the few badly coded patches cannot drown the many clean ones (which the filter must leave
alone); ``train.detail`` > 0 adds that weight times the relative gradient-magnitude error
(:func:`vmaf_train.fit.filter_losses.detail_loss`), so the filter restores texture of the
reference's strength instead of smoothing it away; ``train.vif`` > 0 adds that weight times the
relative VIF loss (:func:`vmaf_train.fit.vif.vif_loss`: the information VMAF's VIF scales
measure). ``train.init`` (a zoo id or .onnx path of a filter of the same architecture) starts
from that model's weights instead of the identity; with ``train.grow`` the recipe's network may
be deeper than the init's: the missing hidden layers go in before the output layer as identity
convolutions, so training starts from exactly the init's network. Validation (model selection:
the epoch with the lowest validation loss) on patches of the validation sources, with the same loss.
``arch.views`` > 1 exports, evaluates and times the trained network as a test-time ensemble over
that many symmetries of the frame (:class:`vmaf_train.models.filter.FilterViews`); training is
unchanged.
``arch.grid`` > 0 tells the network where each pixel sits in the codec's block grid
(:class:`vmaf_train.models.filter.GridBias`); ``train.init`` may then name a filter without one
(its grid biases start at zero).

Evaluation on the held-out test sources (:mod:`vmaf_train.fit.filter_eval`) goes through the
runtime path, with and without the recipe's quality gate.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from onnx import numpy_helper

from vmaf_tiny.errors import BadInputError
from vmaf_tiny.ffmpeg import resolve_ffmpeg
from vmaf_tiny.fsutil import sha256_file
from vmaf_tiny.graph import parse_model
from vmaf_tiny.registry import resolve_model
from vmaf_tiny.tensor_sizes import tensor_size_problem
from vmaf_train.data.frames import (
    ClipRecord,
    PixelCorpus,
    clip_rng,
    crop_boxes,
    decode,
    gather,
    sample_indices,
    to_uint8,
)
from vmaf_train.fit.filter_eval import (
    BANDS,
    check_gate_model,
    evaluate_filter,
    gate_of,
    gate_provenance,
    quality_band,
)
from vmaf_train.fit.filter_losses import (
    detail_errors,
    detail_loss,
    patch_mse,
    patch_scores,
    relative_loss,
    unfiltered_mse,
    val_loss,
)
from vmaf_train.fit.loop import fit_loop, keeps_torch_state, run_metrics, start_run, write_run
from vmaf_train.fit.vif import vif_loss
from vmaf_train.models.filter import FilterViews, ResidualFilter, UnshuffleFilter
from vmaf_train.recipes import PixelConfig
from vmaf_train.ship.export import TensorSpec, export_pixel_onnx
from vmaf_train.ship.onnx_io import ort_session, torch_to_proto
from vmaf_train.ship.quantize import latency_us

__all__ = [
    "BANDS",
    "detail_errors",
    "detail_loss",
    "eligible_clips",
    "evaluate_filter",
    "filter_sidecar",
    "fit_filter",
    "grow_weights",
    "init_model_path",
    "load_filter_weights",
    "make_filter",
    "patch_batches",
    "quality_band",
    "relative_loss",
    "sample_patches",
]

INPUT, OUTPUT = "frame", "restored"


def eligible_clips(
    clips: Sequence[ClipRecord], cfg: PixelConfig, *, max_vmaf: float | None = None
) -> list[ClipRecord]:
    """Clips of the recipe's distortions coded at the reference's size (and, with ``max_vmaf``,
    whose mean teacher VMAF is below it: where there is something to restore)."""
    kinds = set(cfg.data["distortions"])
    return [
        c
        for c in clips
        if c.distortion in kinds
        and (c.encode_width, c.encode_height) == (c.width, c.height)
        and (max_vmaf is None or float(np.mean(c.vmaf)) < max_vmaf)
    ]


def make_filter(arch: Mapping[str, Any]) -> torch.nn.Module:
    """The network of a filter recipe's ``[arch]`` (``model``: plain | unshuffle)."""
    width, depth = int(arch["width"]), int(arch["depth"])
    center = float(arch.get("center", 0.0))
    grid_args = {"grid": int(arch.get("grid", 0)), "grid_layers": int(arch.get("grid_layers", 1))}
    if arch.get("model", "plain") == "unshuffle":
        scale = int(arch["scale"])
        return UnshuffleFilter(width=width, depth=depth, scale=scale, center=center, **grid_args)
    if arch.get("model", "plain") != "plain":
        raise ValueError(f"unknown filter arch.model {arch['model']!r} (plain | unshuffle)")
    return ResidualFilter(width=width, depth=depth, center=center, **grid_args)


def init_model_path(init: str) -> Path:
    """The .onnx file of ``train.init``: a model id in the active zoo, or a path.

    Raises:
        BadInputError: no such model or file.
    """
    path = Path(resolve_model(init).onnx)
    if not path.is_file():
        raise BadInputError(f"train.init {init}: no such file")
    return path


def load_filter_weights(model: torch.nn.Module, init: str, *, grow: bool = False) -> None:
    """Start ``model`` from the weights of the exported filter ``init`` (``train.init``).

    A recipe with ``arch.grid`` may start from a filter without one: its grid biases then stay
    at zero, so it starts as exactly that filter. With ``grow`` (``train.grow``) ``model`` may
    have more hidden layers than ``init``: :func:`grow_weights` lays the init's out for it.

    Raises:
        BadInputError: ``init`` cannot be found, or its weights do not fit the recipe's
            architecture (other names or shapes).
    """
    path = init_model_path(init)
    try:
        graph = parse_model(path.read_bytes()).graph
    except Exception as exc:  # damaged bytes: protobuf raises its own DecodeError
        raise BadInputError(f"train.init {init}: not a readable ONNX model ({exc})") from exc
    weights = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in graph.initializer}
    state = model.state_dict()
    want = {k: tuple(v.shape) for k, v in state.items()}
    if not set(want) <= set(weights):  # an exported FilterViews: the same net under ``net.``
        weights = {k.removeprefix("net."): v for k, v in weights.items()}
    if any(k.startswith("grid_bias.") and k not in want for k in weights):
        raise BadInputError(
            f"train.init {init}: it has block-grid biases on more layers than this recipe's "
            "arch.grid_layers"
            if any(k.startswith("grid_bias.") for k in want)
            else f"train.init {init}: it knows the block grid; this recipe has no arch.grid"
        )
    for k in want:  # grid biases an init without a grid lacks: zero, as made
        if k.startswith("grid_bias.") and k not in weights:
            weights[k] = state[k]
    if grow:
        weights = grow_weights(weights, state, init)
    have = {k: tuple(v.shape) for k, v in weights.items() if k in want}
    if have != want:
        shallower = not grow and len(_conv_slots(weights)) < len(_conv_slots(want))
        raise BadInputError(
            f"train.init {init}: its weights do not fit this recipe's [arch] (names or shapes "
            "differ)"
            + (
                "; it has fewer layers than arch.depth asks for: train.grow = true starts "
                "from it with the missing layers as identities"
                if shallower
                else ""
            )
        )
    model.load_state_dict({k: weights[k] for k in want})


def _conv_slots(names: Iterable[str]) -> list[int]:
    """The positions in ``body`` of a filter's convolutions, from its weight names."""
    return sorted({int(k.split(".")[1]) for k in names if re.fullmatch(r"body\.\d+\.weight", k)})


def grow_weights(
    weights: Mapping[str, torch.Tensor], state: Mapping[str, torch.Tensor], init: str
) -> dict[str, torch.Tensor]:
    """``init``'s filter weights laid out for a network with more hidden layers (``train.grow``).

    The init's hidden convolutions keep their order and its output convolution stays the
    output; each hidden layer the init lacks goes in just before the output as an identity
    convolution (the centre tap 1 from a channel to itself, bias 0). It reads the previous
    layer's ReLU output, which is >= 0, so its own ReLU passes it unchanged: the grown network
    computes exactly the init's network, and training goes on from there. (An init exported as
    a test-time ensemble of views, ``arch.views`` > 1, gives its network, one view: as without
    ``grow``, the average over views is not part of the weights.)

    Weights that are not a filter's come back unchanged, for :func:`load_filter_weights` to
    refuse as not fitting.

    Raises:
        BadInputError: the init is deeper than the recipe, or a layer it lacks cannot be an
            identity (its input and output channels differ).
    """
    have, want = _conv_slots(weights), _conv_slots(state)
    if len(have) < 2:  # not a filter of this family: the caller's shape check names it
        return dict(weights)
    if len(have) > len(want):  # arch.depth counts the hidden layers after the first
        raise BadInputError(
            f"train.init {init}: train.grow cannot shrink a filter: its arch.depth is "
            f"{len(have) - 2}, this recipe's {len(want) - 2}"
        )
    moved = dict(zip(have[:-1], want, strict=False)) | {have[-1]: want[-1]}
    out = {k: v for k, v in weights.items() if not k.startswith("body.")}
    for i, j in moved.items():
        for part in ("weight", "bias"):
            if f"body.{i}.{part}" in weights:
                out[f"body.{j}.{part}"] = weights[f"body.{i}.{part}"]
    for j in want[len(have) - 1 : -1]:
        w = state[f"body.{j}.weight"]
        c, c_in, kh, kw = w.shape
        if c != c_in or kh % 2 == 0 or kw % 2 == 0:
            raise BadInputError(
                f"train.init {init}: train.grow cannot add layer body.{j} as an identity "
                f"(shape {tuple(w.shape)})"
            )
        ident = torch.zeros_like(w)
        ident[torch.arange(c), torch.arange(c), kh // 2, kw // 2] = 1.0
        out[f"body.{j}.weight"] = ident
        if f"body.{j}.bias" in state:
            out[f"body.{j}.bias"] = torch.zeros_like(state[f"body.{j}.bias"])
    return out


def check_runtime_bounds(cfg: PixelConfig) -> None:
    """Refuse, before any decoding, a filter recipe whose model the runtime would refuse to load.

    The runtime binds a filter's frame to the largest it takes (3840x2160) and refuses a graph
    whose tensors could exceed its per-tensor cap
    (:func:`vmaf_tiny.tensor_sizes.tensor_size_problem`); that depends only on ``[arch]``, so
    the untrained network is exported and checked here.

    Raises:
        BadInputError: the check's reason (e.g. a plain filter too wide for a 4K frame).
    """
    net = make_filter(cfg.arch)
    views = int(cfg.arch.get("views", 1))
    model = FilterViews(net, views) if views > 1 else net
    axes = {0: "N", 2: "H", 3: "W"}
    proto = torch_to_proto(
        model.eval(),
        (torch.zeros(1, 1, 32, 48),),
        opset=cfg.opset,
        input_names=[INPUT],
        output_names=[OUTPUT],
        dynamic_axes={INPUT: axes, OUTPUT: axes},
    )
    problem, _ = tensor_size_problem(proto, filter_sidecar(cfg, cfg.opset))
    if problem:
        raise BadInputError(f"{cfg.id}: the runtime would refuse this [arch]'s model: {problem}")


def sample_patches(
    clips: Sequence[ClipRecord],
    cfg: PixelConfig,
    *,
    per_frame: int,
    purpose: str,
    cache: Path | None,
    progress: bool,
    previous: bool = False,
) -> dict[str, np.ndarray]:
    """Aligned (distorted, reference) uint8 patches from seeded frames of each clip (``x``,
    ``y``); with ``previous``, also the previous decoded frame's patch at the same place
    (``p``; the first frame's own)."""
    seed = int(cfg.train["seed"])
    k = int(cfg.data["frames_per_clip"])
    p = int(cfg.data["patch"])
    align = int(cfg.data.get("align", 1))
    ff = resolve_ffmpeg()

    def work(c: ClipRecord) -> dict[str, np.ndarray]:
        rng = clip_rng(seed, c.key, purpose)
        idx = sample_indices(c.n_frames, k, rng)
        last = int(idx[-1]) + 1
        dist = decode(c.clip, max_frames=last, ffmpeg=ff)
        ref = decode(c.reference, max_frames=last, ffmpeg=ff)
        out: dict[str, list[np.ndarray]] = {k: [] for k in ("x", "y", "p")[: 3 if previous else 2]}
        for i in idx:
            if i >= len(dist) or i >= len(ref):
                continue
            for y0, x0 in crop_boxes(c.height, c.width, (p, p), per_frame, rng):
                y0, x0 = y0 - y0 % align, x0 - x0 % align
                box = (slice(y0, y0 + p), slice(x0, x0 + p))
                out["x"].append(dist[i][box])
                out["y"].append(ref[i][box])
                if previous:
                    out["p"].append(dist[max(int(i) - 1, 0)][box])
        return {key: to_uint8(np.stack(v)) for key, v in out.items()}

    params = {"seed": seed, "k": k, "patch": p, "per_frame": per_frame, "purpose": purpose}
    if align > 1:
        params["align"] = align
    if previous:
        params["previous"] = True
    return gather(
        clips, work, tag=f"filter-{purpose}", params=params, cache=cache, progress=progress
    )


def patch_batches(
    data: Mapping[str, np.ndarray],
    cfg: PixelConfig,
    epoch: int,
    keys: Sequence[str] = ("x", "y"),
) -> Iterator[tuple[torch.Tensor, ...]]:
    """Shuffled, seeded batches of ``data[key]`` for each of ``keys`` (one tensor each, in that
    order), every patch of a sample under the same mirror (``data.augment``)."""
    rng = np.random.default_rng([int(cfg.train["seed"]), 2000 + epoch])
    bs = int(cfg.train["batch_size"])
    augment = cfg.data.get("augment", "hflip")
    order = rng.permutation(len(data["x"]))
    for i in range(0, len(order), bs):
        sel = order[i : i + bs]
        flip = rng.random(len(sel)) < (0.0 if augment == "none" else 0.5)
        arrs = [np.where(flip[:, None, None], data[k][sel][:, :, ::-1], data[k][sel]) for k in keys]
        if augment == "dihedral":  # with the mirror above: any of the square's eight symmetries
            vflip, swap = rng.random((2, len(sel))) < 0.5
            arrs = [np.where(vflip[:, None, None], a[:, ::-1], a) for a in arrs]
            arrs = [np.where(swap[:, None, None], a.transpose(0, 2, 1), a) for a in arrs]
        yield tuple(torch.from_numpy(a.astype(np.float32) / 255.0)[:, None] for a in arrs)


def filter_sidecar(cfg: PixelConfig, opset: int, onnx_name: str = "model.onnx") -> dict[str, Any]:
    """Sidecar of a filter model: any frame size, luma in [0, 1] in and out."""
    return {
        "schema_version": 1,
        "id": cfg.id,
        "kind": "filter",
        "class": cfg.model_class,
        "onnx": onnx_name,
        "opset": opset,
        "smoke": False,
        "description": cfg.description,
        "inputs": [TensorSpec(INPUT, ("N", 1, "H", "W"), "frame").sidecar()],
        "outputs": [TensorSpec(OUTPUT, ("N", 1, "H", "W"), "frame").sidecar()],
        "frame": {
            "channels": "luma",
            "value_range": [0.0, 1.0],
            "crop": None,
            "resize": None,
            "stride": 1,
            "pooling": "none",
        },
        "output": {"target": "luma", "range": [0.0, 1.0], "clamp": True},
        "int8": None,
    } | ({"gate": gate_of(cfg).to_dict()} if cfg.gate else {})


@keeps_torch_state
def fit_filter(
    cfg: PixelConfig,
    corpus: PixelCorpus,
    run: Path,
    *,
    cache: Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train, export and evaluate a learned filter into a run directory; returns metrics."""
    if cfg.gate:
        check_gate_model(gate_of(cfg, evaluation=True))
    check_runtime_bounds(cfg)
    init = str(cfg.train.get("init") or "")
    init_net = make_filter(cfg.arch) if init else None
    if init_net is not None:  # a bad train.init fails before any decoding
        load_filter_weights(init_net, init, grow=bool(cfg.train.get("grow", False)))
    start = start_run(cfg, corpus, run, cache)
    seed, cache = start.seed, start.cache
    parts, src_split = start.parts, start.src_split
    cap = float(cfg.data.get("max_vmaf", 101.0))
    parts = {
        k: eligible_clips(v, cfg, max_vmaf=cap if k != "test" and cap <= 100.0 else None)
        for k, v in parts.items()
    }
    if not parts["train"]:
        raise ValueError("no eligible training clips for the filter")
    train = sample_patches(
        parts["train"],
        cfg,
        per_frame=int(cfg.data["patches_per_frame"]),
        purpose="train",
        cache=cache,
        progress=progress,
    )
    val_clips = parts["val"] or parts["train"]
    val = sample_patches(
        val_clips,
        cfg,
        per_frame=int(cfg.data["val_patches_per_frame"]),
        purpose="val",
        cache=cache,
        progress=progress,
    )
    model = make_filter(cfg.arch)
    init_record: dict[str, Any] = {}
    if init_net is not None:  # made before start_run seeded torch: only its weights are taken
        model.load_state_dict(init_net.state_dict())
        init_record = {"init": {"model": init, "sha256": sha256_file(init_model_path(init))}}
        if cfg.train.get("grow", False):
            init_record["init"]["grow"] = True
    n_params = sum(p.numel() for p in model.parameters())
    identity_val = unfiltered_mse(val)
    start_val = patch_mse(model, val) if init_net is not None else identity_val

    relative = cfg.train.get("loss", "mse") == "relative"
    eps = float(cfg.train.get("rel_eps", 1e-5))
    w_detail = float(cfg.train.get("detail", 0.0))
    w_vif = float(cfg.train.get("vif", 0.0))

    def loss_fn(m: torch.nn.Module, b: tuple[torch.Tensor, ...]) -> torch.Tensor:
        out = m(b[0])
        if not relative:
            return torch.mean((out - b[1]) ** 2)
        loss = relative_loss(out, b[0], b[1], eps)
        if w_detail:
            loss = loss + w_detail * detail_loss(out, b[0], b[1], eps)
        if w_vif:
            loss = loss + w_vif * vif_loss(out, b[0], b[1])
        return loss

    fit = fit_loop(
        model,
        lambda e: patch_batches(train, cfg, e),
        loss_fn,
        lambda m: val_loss(m, val, cfg.train),
        cfg.train,
        label=cfg.id,
        progress=progress,
    )
    views = int(cfg.arch.get("views", 1))
    if views > 1:  # a test-time ensemble: exported, evaluated and measured as the model
        model = FilterViews(model, views).eval()
    meta = start.provenance(cfg, corpus)
    run.mkdir(parents=True, exist_ok=True)
    gen = torch.Generator().manual_seed(seed + 7)
    exp = export_pixel_onnx(
        model,
        run / "model.onnx",
        inputs=[TensorSpec(INPUT, ("N", 1, "H", "W"), "frame")],
        outputs=[TensorSpec(OUTPUT, ("N", 1, "H", "W"), "frame")],
        example=lambda b: (torch.rand(b, 1, 24 + 8 * b, 40 + 4 * b, generator=gen),),
        metadata=meta,
        opset=cfg.opset,
    )
    test_clips = parts["test"] or val_clips
    ev = evaluate_filter(
        exp.path,
        test_clips,
        eval_frames=int(cfg.data["eval_frames"]),
        progress=progress,
        gate=gate_of(cfg, evaluation=True) if cfg.gate else None,
    )
    probe = np.random.default_rng(seed).random((1, 1, 360, 640), dtype=np.float32)
    lat = latency_us(ort_session(exp.path), {INPUT: probe}, runs=5)
    scores = patch_scores(model, val)
    val_mse = scores["patch_mse"]
    val_m = {
        "frame": {
            "n": len(val["x"]),
            "patch_mse": val_mse,
            "patch_psnr": float(10 * np.log10(1.0 / max(val_mse, 1e-12))),
            "identity_patch_psnr": float(10 * np.log10(1.0 / max(identity_val, 1e-12))),
            **(
                {"init_patch_psnr": float(10 * np.log10(1.0 / max(start_val, 1e-12)))}
                if init_net is not None
                else {}
            ),
            "patch_gain_db": scores["patch_gain_db"],
        }
    }
    ov = ev["overall"]
    test = {
        "frame": {k: ov[k] for k in ov if k != "n_frames"} | {"n": ov.get("n_frames", 0)},
        "clip": {"n": ov.get("n_clips", 0)},
    }
    metrics = run_metrics(
        start,
        cfg=cfg,
        corpus=corpus,
        parts=parts,
        n_rows=len(train["x"]),
        fit=fit,
        n_params=n_params,
        export=exp,
    )
    metrics.update(
        {
            "test": test,
            "val": val_m,
            "latency": {"fp32_us_per_frame_640x360": lat},
            **init_record,
        }
    )
    report = {
        "kind": "filter",
        "test_sources": src_split["test"] if parts["test"] else src_split["val"],
        "per_codec": ev["per_codec"],
        "per_band": ev["per_band"],
        "per_codec_band": ev["per_codec_band"],
        "overall": ev["overall"],
        "per_clip": ev["per_clip"],
        "eval_frames_per_clip": int(cfg.data["eval_frames"]) or "all",
        **({"ungated": ev["ungated"], "gate": gate_provenance(cfg)} if cfg.gate else {}),
    }
    write_run(
        run,
        config=cfg.resolved(),
        sidecar=filter_sidecar(cfg, exp.opset),
        metrics=metrics,
        report=report,
    )
    return metrics
