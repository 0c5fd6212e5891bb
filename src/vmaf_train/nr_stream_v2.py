"""The ``nr_stream_v2`` recipe: its inputs, a small seeded MLP ensemble on logit(VMAF/100), export.

v2 reads every runtime stream feature (v1's 36 plus coarse 1/32-scale gradient energy, the
coarse spectral slope, fine-scale temporal change, the flat-block share) and v1's rate x codec,
quantiser x content/codec and rate x scaling products, less the header-quantiser products (64
inputs, the sidecar schema's limit), and is fitted on the ``nr_stream_v2`` corpus.

:class:`LogitMLP` has the estimator manners of :class:`vmaf_train.nr_stream.LogitRidge` (``fit``
returns self, learned attributes end in ``_``, ``predict`` gives VMAF in (0, 100)) so the same
leave-one-source-out loop evaluates both. It trains ``members`` one-hidden-layer ReLU networks
(full batch, Adam, fixed epochs, weight decay, each from its own seed) on standardised inputs and
averages their logits; with ``skip`` > 0 that average is blended with a closed-form ridge on the
same standardised inputs (logit = (1 - skip) * MLP + skip * ridge). An average of one-hidden-layer
networks is itself one: the members' hidden units are stacked and the output weights divided by
``members``; the ridge is a linear skip path, so the export is one ``Sub -> Div -> Gemm -> Relu ->
Concat(hidden, standardised) -> Gemm -> Sigmoid -> Mul`` graph (all on the runtime's allowlist).

Training is on CPU with one thread and deterministic kernels: the same table gives the same
weights on the same machine and torch build.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from onnx import helper, numpy_helper

from vmaf_tiny.stream import STREAM_FEATURES
from vmaf_train.nr_stream import write_score_graph
from vmaf_train.nr_stream_loso import (
    CODEC_RATE_TERMS,
    QP_TERMS,
    RATE_SHAPE_TERMS,
    logit_standardise,
)

__all__ = ["V2_DESCRIPTION", "V2_FEATURES", "V2_MLP", "LogitMLP", "export_mlp_onnx"]

#: nr_stream_v2's inputs (64, the sidecar schema's limit).
V2_FEATURES: tuple[str, ...] = (
    *STREAM_FEATURES,
    *CODEC_RATE_TERMS,
    *QP_TERMS,
    *RATE_SHAPE_TERMS,
)
#: The MLP ensemble's settings for nr_stream_v2.
V2_MLP: dict[str, float] = {
    "hidden": 8,
    "members": 2,
    "epochs": 400,
    "lr": 0.01,
    "weight_decay": 1.0,
    "skip": 0.5,
    "skip_alpha": 30.0,
}
V2_DESCRIPTION = (
    "Stream-aware no-reference VMAF (C1): a seeded ensemble of small ReLU MLPs blended with a "
    "ridge (one Gemm-Relu-Gemm graph with a linear skip path) on logit(VMAF/100) over stream "
    "facts of the encoded file (bits per pixel per "
    "frame and frame type, QP where H.264/VP9 export it, codec, coded vs display size, frame "
    "rate) and cheap content statistics of the decoded luma (gradient energy at 1/2 to 1/32 "
    "scale, coarse spectral slope, temporal difference at 1/2 and 1/16, flat-block share, "
    "coding-grid blockiness); predicts per-frame vmaf_v0.6.1, clip score = mean over frames. "
    "Needs an encoded stream (not raw/y4m)."
)


class LogitMLP:
    """Ensemble of seeded one-hidden-layer ReLU nets on logit(VMAF/100).

    Args:
        hidden: Hidden units per member.
        members: Number of members (averaged in logit space).
        epochs: Full-batch Adam steps per member.
        lr: Adam learning rate.
        weight_decay: L2 penalty (AdamW decoupled decay) on every weight.
        eps: Targets are clipped to [eps, 1 - eps] before the logit.
        seed: Seed of the first member; member k uses ``seed + k``.
        skip: Weight of the linear (ridge) path in the blended logit (0: MLP only).
        skip_alpha: L2 penalty of that ridge.
    """

    def __init__(
        self,
        hidden: int = 16,
        members: int = 4,
        epochs: int = 600,
        lr: float = 0.01,
        weight_decay: float = 0.05,
        eps: float = 0.01,
        seed: int = 0,
        skip: float = 0.0,
        skip_alpha: float = 30.0,
    ) -> None:
        self.hidden = hidden
        self.members = members
        self.epochs = epochs
        self.lr = lr
        self.weight_decay = weight_decay
        self.eps = eps
        self.seed = seed
        self.skip = skip
        self.skip_alpha = skip_alpha

    def fit(self, x: np.ndarray, y: np.ndarray) -> LogitMLP:
        """Train every member (deterministic for a given torch build). Returns self."""
        import torch

        z, self.mean_, self.std_ = logit_standardise(x, y, self.eps)
        xs = torch.as_tensor((x - self.mean_) / self.std_, dtype=torch.float32)
        zt = torch.as_tensor(z, dtype=torch.float32)[:, None]
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        w1, b1, w2, b2 = [], [], [], []
        try:
            for k in range(self.members):
                gen = torch.Generator().manual_seed(self.seed + k)
                f = xs.shape[1]
                lin1 = torch.nn.Linear(f, self.hidden)
                lin2 = torch.nn.Linear(self.hidden, 1)
                with torch.no_grad():
                    for lin in (lin1, lin2):
                        bound = 1.0 / np.sqrt(lin.in_features)
                        lin.weight.copy_(
                            (torch.rand(lin.weight.shape, generator=gen) * 2 - 1) * bound
                        )
                        lin.bias.zero_()
                    lin2.bias.fill_(float(z.mean()))
                net = torch.nn.Sequential(lin1, torch.nn.ReLU(), lin2)
                opt = torch.optim.AdamW(
                    net.parameters(), lr=self.lr, weight_decay=self.weight_decay
                )
                for _ in range(self.epochs):
                    opt.zero_grad()
                    loss = torch.mean((net(xs) - zt) ** 2)
                    loss.backward()
                    opt.step()
                w1.append(lin1.weight.detach().numpy().astype(np.float64))
                b1.append(lin1.bias.detach().numpy().astype(np.float64))
                w2.append(lin2.weight.detach().numpy().astype(np.float64) / self.members)
                b2.append(float(lin2.bias.detach()) / self.members)
        finally:
            torch.set_num_threads(threads)
        self.w1_ = np.concatenate(w1, axis=0)  # [members * hidden, F]
        self.b1_ = np.concatenate(b1)
        a = 1.0 - self.skip
        self.w2_ = a * np.concatenate(w2, axis=1)  # [1, members * hidden]
        xs64 = (x - self.mean_) / self.std_
        zm = float(z.mean())
        gram = xs64.T @ xs64 + self.skip_alpha * np.eye(xs64.shape[1])
        self.wskip_ = self.skip * np.linalg.solve(gram, xs64.T @ (z - zm))[None, :]  # [1, F]
        self.b2_ = a * float(sum(b2)) + self.skip * zm
        return self

    def logit(self, x: np.ndarray) -> np.ndarray:
        """The averaged logit per row."""
        xs = (x - self.mean_) / self.std_
        h = np.maximum(xs @ self.w1_.T + self.b1_, 0.0)
        out: np.ndarray = (h @ self.w2_.T + xs @ self.wskip_.T)[:, 0] + self.b2_
        return out

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Per-row VMAF estimates in (0, 100)."""
        out: np.ndarray = 100.0 / (1.0 + np.exp(-self.logit(x)))
        return out


def export_mlp_onnx(model: LogitMLP, n_features: int, path: Path, graph_name: str) -> None:
    """Write ``model`` as an opset-17 graph: features [N, F] -> score [N, 1] (VMAF)."""
    f32 = np.float32
    init = [
        numpy_helper.from_array(model.mean_.astype(f32)[None, :], "mean"),
        numpy_helper.from_array(model.std_.astype(f32)[None, :], "std"),
        numpy_helper.from_array(model.w1_.T.astype(f32), "w1"),
        numpy_helper.from_array(model.b1_.astype(f32), "b1"),
        numpy_helper.from_array(
            np.concatenate([model.w2_, model.wskip_], axis=1).T.astype(f32), "w2"
        ),
        numpy_helper.from_array(np.asarray([model.b2_], f32), "b2"),
        numpy_helper.from_array(np.asarray([100.0], f32), "hundred"),
    ]
    nodes = [
        helper.make_node("Sub", ["features", "mean"], ["centred"]),
        helper.make_node("Div", ["centred", "std"], ["standard"]),
        helper.make_node("Gemm", ["standard", "w1", "b1"], ["pre"]),
        helper.make_node("Relu", ["pre"], ["hidden"]),
        helper.make_node("Concat", ["hidden", "standard"], ["joined"], axis=1),
        helper.make_node("Gemm", ["joined", "w2", "b2"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], ["unit"]),
        helper.make_node("Mul", ["unit", "hundred"], ["score"]),
    ]
    write_score_graph(path, nodes, init, graph_name, n_features)
