"""A learned filter's loss terms and validation figures (:mod:`vmaf_train.fit.filter`).

``relative``: each patch's MSE over the unfiltered patch's MSE; ``detail``: the same ratio for the
gradient magnitude (texture strength); ``vif``: the VIF information lost
(:func:`vmaf_train.fit.vif.vif_loss`). Each is 1.0 for the identity. The validation loss is the
recipe's weighted sum on clamped outputs; :func:`patch_scores` is the selection report.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from vmaf_train.fit.vif import vif_loss

__all__ = [
    "detail_errors",
    "detail_loss",
    "grad_magnitude",
    "patch_mse",
    "patch_scores",
    "relative_loss",
    "unfiltered_mse",
    "val_loss",
]


def relative_loss(out: torch.Tensor, x: torch.Tensor, y: torch.Tensor, eps: float) -> torch.Tensor:
    """Mean over patches of MSE(out, y) / (MSE(x, y) + eps): 1.0 is the identity."""
    se = ((out - y) ** 2).mean(dim=(1, 2, 3))
    return (se / (((x - y) ** 2).mean(dim=(1, 2, 3)) + eps)).mean()


def grad_magnitude(z: torch.Tensor) -> torch.Tensor:
    """``[N, 1, H, W]`` -> ``[N, 1, H-1, W-1]``: per-pixel forward-difference gradient magnitude."""
    dx = z[..., :-1, 1:] - z[..., :-1, :-1]
    dy = z[..., 1:, :-1] - z[..., :-1, :-1]
    return torch.sqrt(dx * dx + dy * dy + 1e-8)


def detail_errors(out: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``[N, 2]``: per patch, the gradient-magnitude MSE of ``out`` and of ``x`` to ``y``'s.

    Coding smooths texture away and adds block edges; a filter trained on MSE alone blurs further
    (the mean of the plausible originals is smooth). Matching the reference's gradient *magnitude*
    (not its sign) asks for texture of the right strength where the reference has it.
    """
    gy = grad_magnitude(y)
    d = ((grad_magnitude(out) - gy) ** 2).mean(dim=(1, 2, 3))
    d0 = ((grad_magnitude(x) - gy) ** 2).mean(dim=(1, 2, 3))
    return torch.stack([d, d0], dim=1)


def detail_loss(out: torch.Tensor, x: torch.Tensor, y: torch.Tensor, eps: float) -> torch.Tensor:
    """Mean over patches of the gradient-magnitude error of ``out`` over that of ``x`` (+ eps):
    1.0 is the identity."""
    e = detail_errors(out, x, y)
    return (e[:, 0] / (e[:, 1] + eps)).mean()


def _patch_errors(
    model: torch.nn.Module,
    data: Mapping[str, np.ndarray],
    batch: int = 64,
    *,
    detail: bool = False,
    vif: bool = False,
) -> dict[str, np.ndarray]:
    """One pass of ``model`` over the patches: per-patch MSE of the (clamped) filtered
    (``filt``) and of the unfiltered (``base``) patches; with ``detail`` their gradient-magnitude
    errors (``d``, ``d0``: :func:`detail_errors`); with ``vif`` the :func:`vif_loss` of each
    batch (``vif``) and its size (``n``)."""
    keys = ["filt", "base"] + (["d", "d0"] if detail else []) + (["vif", "n"] if vif else [])
    parts: dict[str, list[Any]] = {k: [] for k in keys}
    with torch.no_grad():
        for i in range(0, len(data["x"]), batch):
            x = torch.from_numpy(data["x"][i : i + batch].astype(np.float32) / 255.0)[:, None]
            y = torch.from_numpy(data["y"][i : i + batch].astype(np.float32) / 255.0)[:, None]
            out = model(x).clamp(0.0, 1.0)
            parts["filt"].append(((out - y) ** 2).mean(dim=(1, 2, 3)).numpy())
            parts["base"].append(((x - y) ** 2).mean(dim=(1, 2, 3)).numpy())
            if detail:
                e = detail_errors(out, x, y).numpy()
                parts["d"].append(e[:, 0])
                parts["d0"].append(e[:, 1])
            if vif:
                parts["vif"].append(np.asarray([float(vif_loss(out, x, y))]))
                parts["n"].append(np.asarray([len(x)]))
    return {k: np.concatenate(v).astype(np.float64) if v else np.zeros(0) for k, v in parts.items()}


def patch_mse(model: torch.nn.Module, data: Mapping[str, np.ndarray], batch: int = 64) -> float:
    """Mean MSE of the (clamped) filtered patches."""
    filt = _patch_errors(model, data, batch)["filt"]
    return float(filt.mean()) if len(filt) else 0.0


def unfiltered_mse(data: Mapping[str, np.ndarray], batch: int = 4096) -> float:
    """Mean MSE of the unfiltered patches to their references (the identity filter's)."""
    n = len(data["x"])
    if not n:
        return 0.0
    total = 0.0
    for i in range(0, n, batch):
        d = (data["x"][i : i + batch].astype(np.float64) - data["y"][i : i + batch]) / 255.0
        total += float((d * d).mean(axis=tuple(range(1, d.ndim))).sum())
    return total / n


def val_loss(
    model: torch.nn.Module, data: Mapping[str, np.ndarray], train: Mapping[str, Any]
) -> float:
    """The validation loss of the recipe's ``train.loss`` (clamped output), in one model pass."""
    if train.get("loss", "mse") != "relative":
        return patch_mse(model, data)
    eps, w = float(train["rel_eps"]), float(train.get("detail", 0.0))
    if not len(data["x"]):
        return 0.0
    w_vif = float(train.get("vif", 0.0))
    e = _patch_errors(model, data, detail=bool(w), vif=bool(w_vif))
    rel = np.mean(e["filt"] / (e["base"] + eps))
    loss = float(rel + w * np.mean(e["d"] / (e["d0"] + eps))) if w else float(rel)
    if w_vif:
        loss += w_vif * float(np.average(e["vif"], weights=e["n"]))
    return loss


def patch_scores(model: torch.nn.Module, data: Mapping[str, np.ndarray]) -> dict[str, float]:
    """The selection report, from one model pass over the patches: the mean MSE of the (clamped)
    filtered patches (``patch_mse``) and the mean over patches of the PSNR gain in dB of the
    filtered patch over the unfiltered one (``patch_gain_db``)."""
    e = _patch_errors(model, data)
    filt, base = e["filt"], e["base"]
    if not len(filt):
        return {"patch_mse": 0.0, "patch_gain_db": 0.0}
    gain = np.mean(10 * np.log10((base + 1e-10) / (filt + 1e-10)))
    return {"patch_mse": float(filt.mean()), "patch_gain_db": float(gain)}
