"""vmaf-train: corpus building, training, evaluation and export of tiny VMAF models."""

from __future__ import annotations

__all__: list[str] = []
