"""Differentiable visual information fidelity (VIF) for training filters toward VMAF.

vmaf_v0.6.1 reads four VIF scales of the distorted frame against the reference (libvmaf's
``vif_scale0..3``) beside ADM and motion. :func:`vif_scales` computes the same pixel-domain
statistic in torch, so that a filter's loss can ask for the information VMAF measures and not
only for a lower MSE (which a smoother, VIF-poorer picture also gives): Gaussian windows of 17, 9,
5 and 3 taps (sigma = taps / 5), each coarser scale filtered and decimated by two, local
variances and covariance, the gain ``g`` and residual variance ``sv`` of the distortion channel,
noise variance 2 (8-bit code values squared), ``log2`` information ratios summed per patch, and
libvmaf's integer rule for regions flatter than the noise.

It differs from libvmaf's integer extractor in rounding and at the borders ('valid' filtering);
``tests/vmaf_train/fit/test_filter_vif.py`` bounds the difference. It is a training signal, never
a reported figure: every VMAF in a card comes from libvmaf.
"""

from __future__ import annotations

import torch
import torch.nn.functional as tfn

__all__ = ["CODE_VALUES", "vif_loss", "vif_scales"]

#: Code values per unit of the training luma: decoded limited-range video maps 16..235 to [0, 1],
#: and libvmaf measures in code values (the noise variance below is in code values squared).
CODE_VALUES = 219.0
_TAPS = (17, 9, 5, 3)
_NOISE_VAR = 2.0
_EPS = 1e-10


def _gauss(taps: int) -> torch.Tensor:
    sigma = taps / 5.0
    r = torch.arange(taps, dtype=torch.float32) - (taps - 1) / 2
    g = torch.exp(-(r * r) / (2 * sigma * sigma))
    return g / g.sum()


def _blur(z: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Separable 'valid' filtering of ``[N, 1, H, W]``."""
    n = k.numel()
    z = tfn.conv2d(z, k.view(1, 1, 1, n))
    return tfn.conv2d(z, k.view(1, 1, n, 1))


def vif_scales(ref: torch.Tensor, dis: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per patch and scale, VIF's (numerator, denominator) sums; VIF = num / den.

    Args:
        ref: ``[N, 1, H, W]`` reference luma in [0, 1] (H, W >= 48 for all four scales).
        dis: The distorted (or filtered) luma, same shape.

    Returns:
        Up to four ``(num, den)`` pairs of ``[N]`` tensors, finest scale first (fewer when the
        patch is too small for the coarser scales' windows: none below 17 pixels a side).
    """
    r, d = ref * CODE_VALUES, dis * CODE_VALUES
    out = []
    for s, taps in enumerate(_TAPS):
        k = _gauss(taps).to(ref.dtype)
        if s > 0:
            r, d = _blur(r, k)[..., ::2, ::2], _blur(d, k)[..., ::2, ::2]
        if min(r.shape[-2:]) < taps:  # a patch too small for this scale's window: stop here
            break
        mu1, mu2 = _blur(r, k), _blur(d, k)
        s1 = (_blur(r * r, k) - mu1 * mu1).clamp_min(0.0)
        s2 = (_blur(d * d, k) - mu2 * mu2).clamp_min(0.0)
        s12 = _blur(r * d, k) - mu1 * mu2
        # libvmaf's integer VIF: where the reference's local variance is under the noise
        # variance, a pixel counts 1 in the denominator and 1 - var(dis) / 255^2 in the
        # numerator (a flat region is kept unless the distortion adds energy to it).
        signal = s1 >= _NOISE_VAR
        keep = signal & (s12 > 0) & (s2 > 0)
        g = torch.where(keep, s12 / (s1 + _EPS), torch.zeros_like(s1))
        sv = (s2 - g * s12).clamp_min(_EPS)
        log_num = torch.log2(1 + g * g * s1 / (sv + _NOISE_VAR))
        log_den = torch.log2(1 + s1 / _NOISE_VAR)
        flat_num = 1 - s2 / 65025.0
        num = torch.where(signal, log_num, flat_num).sum(dim=(1, 2, 3))
        den = torch.where(signal, log_den, torch.ones_like(s1)).sum(dim=(1, 2, 3))
        out.append((num, den))
    return out


def vif_loss(
    out: torch.Tensor, x: torch.Tensor, y: torch.Tensor, eps: float = 1e-3
) -> torch.Tensor:
    """Mean over patches and scales of the VIF lost by ``out`` over that lost by ``x``: 1.0 is the
    identity, lower is better.

    The information lost is ``relu(1 - VIF)``: a filter gains nothing by pushing VIF above 1
    (contrast enhancement, which VMAF rewards and no viewer asked for).
    """
    terms = []
    for (no, do), (nx, dx) in zip(vif_scales(y, out), vif_scales(y, x), strict=True):
        lost = torch.relu(1 - no / (do + 1e-6))
        lost0 = torch.relu(1 - nx / (dx + 1e-6))
        terms.append((lost + eps) / (lost0 + eps))
    if not terms:  # a patch too small for any scale: the identity's 1.0, no gradient
        return torch.ones((), dtype=out.dtype)
    return torch.stack(terms).mean()
