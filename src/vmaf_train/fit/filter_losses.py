"""A learned filter's loss terms and validation figures (:mod:`vmaf_train.fit.filter`).

``relative``: each patch's MSE over the unfiltered patch's MSE; ``detail``: the same ratio for the
gradient magnitude (texture strength); ``vif``: the VIF information lost
(:func:`vmaf_train.fit.vif.vif_loss`). Each is 1.0 for the identity. The validation loss is the
recipe's weighted sum on clamped outputs; :func:`patch_gain_db` is the selection report.
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
    "patch_gain_db",
    "patch_mse",
    "relative_loss",
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
) -> tuple[np.ndarray, ...]:
    """Per-patch MSE of the (clamped) filtered and of the unfiltered patches (and with
    ``detail`` their gradient-magnitude errors, :func:`detail_errors`)."""
    parts: list[list[np.ndarray]] = [[], [], [], []]
    with torch.no_grad():
        for i in range(0, len(data["x"]), batch):
            x = torch.from_numpy(data["x"][i : i + batch].astype(np.float32) / 255.0)[:, None]
            y = torch.from_numpy(data["y"][i : i + batch].astype(np.float32) / 255.0)[:, None]
            out = model(x).clamp(0.0, 1.0)
            parts[0].append(((out - y) ** 2).mean(dim=(1, 2, 3)).numpy())
            parts[1].append(((x - y) ** 2).mean(dim=(1, 2, 3)).numpy())
            if detail:
                e = detail_errors(out, x, y).numpy()
                parts[2].append(e[:, 0])
                parts[3].append(e[:, 1])
    n = 4 if detail else 2
    if not parts[0]:
        return tuple(np.zeros(0) for _ in range(n))
    return tuple(np.concatenate(p).astype(np.float64) for p in parts[:n])


def patch_mse(model: torch.nn.Module, data: Mapping[str, np.ndarray], batch: int = 64) -> float:
    """Mean MSE of the (clamped) filtered patches."""
    filt, _ = _patch_errors(model, data, batch)
    return float(filt.mean()) if len(filt) else 0.0


def val_loss(
    model: torch.nn.Module, data: Mapping[str, np.ndarray], train: Mapping[str, Any]
) -> float:
    """The validation loss of the recipe's ``train.loss`` (clamped output)."""
    if train.get("loss", "mse") != "relative":
        return patch_mse(model, data)
    eps, w = float(train["rel_eps"]), float(train.get("detail", 0.0))
    if not len(data["x"]):
        return 0.0
    w_vif = float(train.get("vif", 0.0))
    vif = w_vif * _val_vif(model, data) if w_vif else 0.0
    if not w:
        filt, base = _patch_errors(model, data)
        return float(np.mean(filt / (base + eps))) + vif
    filt, base, d, d0 = _patch_errors(model, data, detail=True)
    return float(np.mean(filt / (base + eps)) + w * np.mean(d / (d0 + eps))) + vif


def _val_vif(model: torch.nn.Module, data: Mapping[str, np.ndarray], batch: int = 64) -> float:
    """Mean :func:`vif_loss` of the (clamped) filtered validation patches, batch by batch."""
    losses, sizes = [], []
    with torch.no_grad():
        for i in range(0, len(data["x"]), batch):
            x = torch.from_numpy(data["x"][i : i + batch].astype(np.float32) / 255.0)[:, None]
            y = torch.from_numpy(data["y"][i : i + batch].astype(np.float32) / 255.0)[:, None]
            losses.append(float(vif_loss(model(x).clamp(0.0, 1.0), x, y)))
            sizes.append(len(x))
    return float(np.average(losses, weights=sizes)) if losses else 0.0


def patch_gain_db(model: torch.nn.Module, data: Mapping[str, np.ndarray]) -> float:
    """Mean over patches of the PSNR gain (dB) of the filtered patch over the unfiltered one."""
    filt, base = _patch_errors(model, data)
    if not len(filt):
        return 0.0
    return float(np.mean(10 * np.log10((base + 1e-10) / (filt + 1e-10))))
