"""The names of what one libvmaf pass computes: features, extras, teacher models.

VMAF's canonical-6 (libvmaf's integer extractors; our names drop the ``integer_`` prefix), the
optional extras, the teacher models scored beside vmaf_v0.6.1 and the columns they fill, the
NEG-mode features, and the ``scale`` flags accepted for the distorted video; plus what a model's
sidecar needs from libvmaf. :mod:`vmaf_tiny.features` re-exports every name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from vmaf_tiny.errors import BadInputError

__all__ = [
    "CANONICAL6",
    "EXTRAS",
    "FEATURE_KEYS",
    "NEG_FEATURES",
    "SCALE_ALGOS",
    "TEACHERS",
    "TEACHER_COLUMNS",
    "TEACHER_MODEL",
    "libvmaf_needs",
    "model_features",
]

CANONICAL6: tuple[str, ...] = (
    "adm2",
    "motion2",
    "vif_scale0",
    "vif_scale1",
    "vif_scale2",
    "vif_scale3",
)
# our column -> (libvmaf feature extractor, key in libvmaf's per-frame log)
EXTRAS: dict[str, tuple[str, str]] = {
    "psnr_y": ("psnr", "psnr_y"),
    "float_ssim": ("float_ssim", "float_ssim"),
    "float_ms_ssim": ("float_ms_ssim", "float_ms_ssim"),
    "cambi": ("cambi", "cambi"),
}
TEACHER_MODEL = "vmaf_v0.6.1"
#: teacher name -> libvmaf model options (inside ``model=...``, where ``\:`` separates options). All
#: run beside vmaf_v0.6.1 in the same pass: the NEG model adds its own ``*_egl_1`` features and
#: leaves the canonical-6 as they are; the phone model is vmaf_v0.6.1 with libvmaf's transform.
TEACHERS: dict[str, str] = {
    "vmaf_v0.6.1": "version=vmaf_v0.6.1",
    "vmaf_v0.6.1neg": "version=vmaf_v0.6.1neg",
    "vmaf_4k_v0.6.1": "version=vmaf_4k_v0.6.1",
    "vmaf_v0.6.1_phone": "version=vmaf_v0.6.1\\:enable_transform=true",
}
#: teacher -> the column of its per-frame scores when it is scored as one of several models
#: (``teachers=``; the corpus builder stores these columns).
TEACHER_COLUMNS: dict[str, str] = {
    "vmaf_v0.6.1": "vmaf",
    "vmaf_v0.6.1neg": "vmaf_neg",
    "vmaf_4k_v0.6.1": "vmaf_4k",
    "vmaf_v0.6.1_phone": "vmaf_phone",
}
#: The NEG model's inputs: libvmaf's vmaf_v0.6.1neg runs adm and vif with enhancement gain limit 1
#: (log keys ``integer_adm2_egl_1``, ``integer_vif_scale0_egl_1``...); motion2 is shared.
NEG_FEATURES: tuple[str, ...] = (
    "adm2_egl_1",
    "motion2",
    "vif_scale0_egl_1",
    "vif_scale1_egl_1",
    "vif_scale2_egl_1",
    "vif_scale3_egl_1",
)
#: Every per-frame feature a model may name in its sidecar's ``feature_order`` -> (libvmaf log
#: key, the extra model that computes it, or "" when vmaf_v0.6.1 does).
FEATURE_KEYS: dict[str, tuple[str, str]] = {
    **{f: (f"integer_{f}", "") for f in CANONICAL6},
    **{f: (f"integer_{f}", "vmaf_v0.6.1neg") for f in NEG_FEATURES if f.endswith("_egl_1")},
}
#: ffmpeg ``scale`` flags accepted for the upscaling of the distorted video.
SCALE_ALGOS: tuple[str, ...] = (
    "bicubic",
    "bilinear",
    "lanczos",
    "spline",
    "neighbor",
    "area",
    "fast_bilinear",
    "gauss",
    "sinc",
    "bicublin",
)


def model_features(sidecar: Mapping[str, Any]) -> tuple[str, ...]:
    """Features beyond the canonical-6 that a sidecar's ``feature_order`` names and libvmaf
    gives (e.g. the NEG-mode ``adm2_egl_1``): pass them as ``extract_features(features=...)``."""
    order = sidecar.get("feature_order") or ()
    return tuple(f for f in order if f in FEATURE_KEYS and f not in CANONICAL6)


def libvmaf_needs(features: Sequence[str]) -> dict[str, str]:
    """What a model over ``features`` needs from libvmaf, for its sidecar's ``metadata``.

    Returns:
        ``libvmaf_features``: the log keys, comma-separated (``integer_adm2_egl_1,...``);
        ``libvmaf_models``: the models besides vmaf_v0.6.1 that compute them ("" if none).
    """
    bad = [f for f in features if f not in FEATURE_KEYS]
    if bad:
        raise BadInputError(f"unknown feature(s) {bad}; libvmaf gives {', '.join(FEATURE_KEYS)}")
    models = dict.fromkeys(FEATURE_KEYS[f][1] for f in features if FEATURE_KEYS[f][1])
    return {
        "libvmaf_features": ",".join(FEATURE_KEYS[f][0] for f in features),
        "libvmaf_models": ",".join(models),
    }
