"""The classical saliency teacher: spectral-residual saliency with a centre bias.

Spectral residual (after Hou and Zhang, CVPR 2007, implemented here from the description): the
log amplitude spectrum of a small grey image, minus its local average, is the "unexpected" part;
transforming it back with the original phase and squaring gives a map that lights up on
unusual structure. The map is smoothed, multiplied by a Gaussian centre prior (people look at the
middle of the frame) and min-max normalised to [0, 1].

Pure numpy/scipy, deterministic, one frame at a time (:func:`spectral_residual`) or a stack
(:func:`teacher_maps`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

__all__ = ["TeacherParams", "centre_prior", "resize_area", "spectral_residual", "teacher_maps"]


@dataclass(frozen=True)
class TeacherParams:
    """Teacher settings.

    Attributes:
        avg_size: Side of the box filter that averages the log amplitude spectrum.
        sigma: Gaussian smoothing of the map, in map pixels.
        centre_sigma: Centre prior's standard deviation as a fraction of width/height.
        centre_weight: 0 = no centre bias, 1 = the map is multiplied by the full prior.
    """

    avg_size: int = 3
    sigma: float = 2.0
    centre_sigma: float = 0.3
    centre_weight: float = 0.7


def resize_area(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Downscale (H, W) to ``size`` = (h, w) by area averaging (exact for integer factors)."""
    img = np.asarray(img, dtype=np.float64)
    h, w = size
    H, W = img.shape
    if H % h == 0 and W % w == 0:
        return img.reshape(h, H // h, w, W // w).mean(axis=(1, 3))
    # Non-integer factors: prefilter then bilinear sampling at the target pixel centres.
    sy, sx = H / h, W / w
    pre = ndimage.uniform_filter(img, size=(max(1, round(sy)), max(1, round(sx))), mode="nearest")
    yy = (np.arange(h) + 0.5) * sy - 0.5
    xx = (np.arange(w) + 0.5) * sx - 0.5
    grid = np.meshgrid(yy, xx, indexing="ij")
    return ndimage.map_coordinates(pre, grid, order=1, mode="nearest")


def centre_prior(h: int, w: int, sigma: float = 0.3) -> np.ndarray:
    """A separable Gaussian centred on the frame, peak 1, std ``sigma`` x width/height."""
    y = (np.arange(h) + 0.5) / h - 0.5
    x = (np.arange(w) + 0.5) / w - 0.5
    return np.exp(-(y[:, None] ** 2) / (2 * sigma**2)) * np.exp(-(x[None, :] ** 2) / (2 * sigma**2))


def spectral_residual(
    luma: np.ndarray, map_size: tuple[int, int], params: TeacherParams | None = None
) -> np.ndarray:
    """Saliency map of one luma frame.

    Args:
        luma: (H, W) luma in [0, 1].
        map_size: (h, w) of the map; the spectrum is computed at this size.
        params: Teacher settings.

    Returns:
        float32 (h, w) map in [0, 1].
    """
    p = params or TeacherParams()
    small = resize_area(luma, map_size)
    spec = np.fft.fft2(small)
    log_amp = np.log(np.abs(spec) + 1e-8)
    phase = np.angle(spec)
    residual = log_amp - ndimage.uniform_filter(log_amp, size=p.avg_size, mode="nearest")
    sal = np.abs(np.fft.ifft2(np.exp(residual + 1j * phase))) ** 2
    sal = ndimage.gaussian_filter(sal, sigma=p.sigma, mode="nearest")
    sal = _unit(sal)
    prior = centre_prior(*map_size, sigma=p.centre_sigma)
    sal = sal * ((1.0 - p.centre_weight) + p.centre_weight * prior)
    return _unit(sal).astype(np.float32)


def teacher_maps(
    frames: np.ndarray, map_size: tuple[int, int], params: TeacherParams | None = None
) -> np.ndarray:
    """Teacher maps of a (T, H, W) stack -> (T, h, w) float32."""
    return np.stack([spectral_residual(f, map_size, params) for f in frames])


def _unit(a: np.ndarray) -> np.ndarray:
    lo, hi = float(a.min()), float(a.max())
    if hi - lo <= 1e-12:
        return np.zeros_like(a)
    return (a - lo) / (hi - lo)
