"""``vmaf-tiny score --plot``: per-frame scores over time as a PNG, pooled values in the legend.

matplotlib is not a runtime dependency: it is imported here only, inside the functions, when a
plot is asked for (``tests/test_import_boundary.py`` allows it in this module alone). Without it
``--plot`` is a one-line error naming the install command.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from vmaf_tiny.errors import BadInputError

__all__ = ["plot_scores", "require_matplotlib"]

_HINT = "--plot needs matplotlib: pip install matplotlib"


def require_matplotlib() -> None:
    """Raise a one-line error when matplotlib cannot be imported (checked before any work).

    Raises:
        BadInputError: matplotlib is not installed.
    """
    try:
        found = importlib.util.find_spec("matplotlib") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise BadInputError(_HINT)


def plot_scores(
    series: Sequence[tuple[str, Any, Any, Mapping[str, float] | None, Any]],
    out: str | Path,
    *,
    title: str = "",
) -> None:
    """Plot per-frame scores over time and write a PNG.

    Args:
        series: ``(label, time_s, scores, pooled, band)`` per line; the legend shows the pooled
            mean, harmonic mean and minimum of each; ``band`` (per-frame uncertainty, or None)
            is drawn as a shaded ``scores ± band``.
        out: The PNG file (written atomically).
        title: Plot title (e.g. the distorted file's name).

    Raises:
        BadInputError: matplotlib is missing, or the file cannot be written.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise BadInputError(_HINT) from None
    from vmaf_tiny.fsutil import atomic_path, output_error

    fig, ax = plt.subplots(figsize=(10, 4.5), dpi=100)
    try:
        for label, t, s, pooled, band in series:
            text = label
            if pooled:
                text += (
                    f" (mean {pooled['mean']:.2f}, hmean {pooled['harmonic_mean']:.2f}, "
                    f"min {pooled['min']:.2f})"
                )
            (line,) = ax.plot(t, s, label=text, linewidth=1.2, marker="." if len(s) < 60 else None)
            if band is not None:
                ax.fill_between(t, s - band, s + band, color=line.get_color(), alpha=0.2)
        ax.set_xlabel("time (s)")
        ax.set_ylabel("score")
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best", fontsize=8)
        fig.tight_layout()
        try:
            with atomic_path(out, suffix=".png") as tmp:
                fig.savefig(tmp, format="png")
        except OSError as exc:
            raise output_error(out, exc) from None
    finally:
        plt.close(fig)
