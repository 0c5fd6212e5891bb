"""The model of a fast-path estimate: a residual ridge or a tiny MLP, and its ONNX graph.

``fit_ridge_residual`` (the shipped levels) and ``fit_mlp`` return the same :class:`MLPParams`
(linear layers with a baked input/output standardisation); :func:`predict` runs them in numpy
as ONNX Runtime does (float32) and :func:`build_onnx` writes them with ``onnx.helper`` (fixed
node names, deterministic bytes). Used by :mod:`vmaf_train.fit.fast`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["MLPParams", "build_onnx", "fit_mlp", "fit_ridge_residual", "predict"]


@dataclass
class MLPParams:
    """Weights of a fitted fast MLP (numpy), with the baked standardisation."""

    layers: list[tuple[np.ndarray, np.ndarray]]
    x_mean: np.ndarray
    x_std: np.ndarray
    y_mean: float
    y_std: float

    @property
    def n_parameters(self) -> int:
        return int(sum(w.size + b.size for w, b in self.layers))


def fit_mlp(
    x: np.ndarray,
    y: np.ndarray,
    *,
    hidden: Sequence[int],
    epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    seed: int,
    threads: int = 1,
) -> MLPParams:
    """Fit a ReLU MLP on standardised inputs and target (deterministic for a seed; torch's
    thread count and determinism flag are put back afterwards)."""
    import torch

    from vmaf_train.fit.loop import Determinism

    with Determinism(seed, threads).scoped():
        x_mean = x.mean(axis=0)
        x_std = np.maximum(x.std(axis=0), 1e-6)
        y_mean, y_std = float(y.mean()), float(max(y.std(), 1e-6))
        xt = torch.tensor((x - x_mean) / x_std, dtype=torch.float32)
        yt = torch.tensor((y - y_mean) / y_std, dtype=torch.float32).unsqueeze(1)
        dims = [x.shape[1], *hidden, 1]
        mods: list[torch.nn.Module] = []
        for i in range(len(dims) - 1):
            mods.append(torch.nn.Linear(dims[i], dims[i + 1]))
            if i < len(dims) - 2:
                mods.append(torch.nn.ReLU())
        net = torch.nn.Sequential(*mods)
        opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)
        steps = max(1, (len(xt) + batch_size - 1) // batch_size) * epochs
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
        gen = torch.Generator().manual_seed(seed)
        for _ in range(epochs):
            perm = torch.randperm(len(xt), generator=gen)
            for i in range(0, len(xt), batch_size):
                idx = perm[i : i + batch_size]
                opt.zero_grad()
                loss = torch.nn.functional.mse_loss(net(xt[idx]), yt[idx])
                loss.backward()
                opt.step()
                sched.step()
        layers = [
            (
                m.weight.detach().numpy().astype(np.float32),
                m.bias.detach().numpy().astype(np.float32),
            )
            for m in net
            if isinstance(m, torch.nn.Linear)
        ]
        return MLPParams(
            layers=layers,
            x_mean=x_mean.astype(np.float32),
            x_std=x_std.astype(np.float32),
            y_mean=y_mean,
            y_std=y_std,
        )


def fit_ridge_residual(x: np.ndarray, y: np.ndarray, *, base: int, alpha: float) -> MLPParams:
    """The sample's own score (column ``base``) plus a ridge fit of the residual.

    The ridge is solved on standardised features (penalty ``alpha`` on every coefficient,
    intercept included, so a weak signal shrinks to "trust the sample"), then folded into one
    linear layer on the raw features: ``score = x @ w + b`` (closed form, deterministic).
    """
    mu = x.mean(axis=0)
    sd = np.maximum(x.std(axis=0), 1e-9)
    a = np.c_[(x - mu) / sd, np.ones(len(x))]
    w = np.linalg.solve(a.T @ a + alpha * np.eye(a.shape[1]), a.T @ (y - x[:, base]))
    w_eff = w[:-1] / sd
    w_eff[base] += 1.0
    b_eff = float(w[-1] - np.sum(w[:-1] * mu / sd))
    n = x.shape[1]
    return MLPParams(
        layers=[(w_eff.reshape(1, n).astype(np.float32), np.asarray([b_eff], dtype=np.float32))],
        x_mean=np.zeros(n, dtype=np.float32),
        x_std=np.ones(n, dtype=np.float32),
        y_mean=0.0,
        y_std=1.0,
    )


def predict(p: MLPParams, x: np.ndarray) -> np.ndarray:
    """The MLP in numpy (float32, as ONNX Runtime computes it), clamped to [0, 100]."""
    h = ((x.astype(np.float32) - p.x_mean) / p.x_std).astype(np.float32)
    for i, (w, b) in enumerate(p.layers):
        h = h @ w.T + b
        if i < len(p.layers) - 1:
            h = np.maximum(h, 0)
    out = h[:, 0] * np.float32(p.y_std) + np.float32(p.y_mean)
    return np.clip(out.astype(np.float64), 0.0, 100.0)


def build_onnx(p: MLPParams, *, metadata: Mapping[str, str], opset: int = 17) -> bytes:
    """The ONNX bytes of a fitted MLP: features [N, F] -> score [N, 1] (deterministic)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    inits = [
        numpy_helper.from_array(p.x_mean.reshape(1, -1), "x_mean"),
        numpy_helper.from_array(p.x_std.reshape(1, -1), "x_std"),
        numpy_helper.from_array(np.asarray([p.y_std], dtype=np.float32), "y_std"),
        numpy_helper.from_array(np.asarray([p.y_mean], dtype=np.float32), "y_mean"),
        numpy_helper.from_array(np.asarray(0.0, dtype=np.float32), "lo"),
        numpy_helper.from_array(np.asarray(100.0, dtype=np.float32), "hi"),
    ]
    nodes = [
        helper.make_node("Sub", ["features", "x_mean"], ["centred"], name="sub"),
        helper.make_node("Div", ["centred", "x_std"], ["h0"], name="div"),
    ]
    cur = "h0"
    for i, (w, b) in enumerate(p.layers):
        inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(b, f"b{i}")]
        nodes.append(helper.make_node("Gemm", [cur, f"w{i}", f"b{i}"], [f"g{i}"], transB=1))
        nodes[-1].name = f"gemm{i}"
        cur = f"g{i}"
        if i < len(p.layers) - 1:
            nodes.append(helper.make_node("Relu", [cur], [f"r{i}"], name=f"relu{i}"))
            cur = f"r{i}"
    nodes += [
        helper.make_node("Mul", [cur, "y_std"], ["scaled"], name="mul"),
        helper.make_node("Add", ["scaled", "y_mean"], ["raw"], name="add"),
        helper.make_node("Clip", ["raw", "lo", "hi"], ["score"], name="clip"),
    ]
    n_in = p.layers[0][0].shape[1]
    graph = helper.make_graph(
        nodes,
        "vmaf_tiny_fast",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", n_in])],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, ["N", 1])],
        initializer=inits,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", opset)],
        producer_name="vmaf-train",
        producer_version="fast",
    )
    model.ir_version = 8
    for k in sorted(metadata):
        entry = model.metadata_props.add()
        entry.key, entry.value = k, str(metadata[k])
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString(deterministic=True))
