"""Record ``vmaf-tiny bench`` figures into the docs: model cards and ``docs/benchmarks.md``.

``vmaf-train bench`` measures with :func:`vmaf_tiny.bench.run_bench` and then rewrites the
``runtime-figures`` block of ``docs/models/<id>.md`` and the ``bench-<backend>`` block of
``docs/benchmarks.md`` (markdown from :func:`vmaf_tiny.bench.summary_markdown`), in the source
checkout this package runs from (an editable install) or in the docs directory given; from an
installed wheel without one it is a one-line error before anything runs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from vmaf_tiny.bench import summary_markdown
from vmaf_tiny.errors import BadInputError
from vmaf_tiny.fsutil import replace_block

__all__ = [
    "CARD_BEGIN",
    "CARD_END",
    "checkout_root",
    "record_benchmarks",
    "record_card",
    "record_target",
]

CARD_BEGIN = "<!-- runtime-figures:begin -->"
CARD_END = "<!-- runtime-figures:end -->"


def checkout_root() -> Path | None:
    """The source checkout this package runs from (an editable install), or None (a wheel)."""
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file() and (root / "docs" / "models").is_dir():
        return root
    return None


def record_target(cards_dir: str | os.PathLike[str] | None = None) -> Path:
    """The model cards directory the figures go into (checked before the benchmark runs).

    Raises:
        BadInputError: no ``cards_dir`` and no source checkout, or the directory does not exist.
    """
    if cards_dir is not None:
        root = Path(cards_dir)
    else:
        checkout = checkout_root()
        if checkout is None:
            raise BadInputError(
                "vmaf-train bench writes into a source checkout's docs/models/, and this "
                "vmaf-tiny is not installed from one: run it from the checkout or pass --docs DIR"
            )
        root = checkout / "docs" / "models"
    if not root.is_dir():
        raise BadInputError(f"no model cards directory {root}")
    return root


def record_card(result: dict[str, Any], cards_dir: str | os.PathLike[str] | None = None) -> Path:
    """Rewrite the runtime-figures block of ``docs/models/<id>.md`` (markers added if absent).

    Args:
        result: What :func:`vmaf_tiny.bench.run_bench` returned.
        cards_dir: Model cards directory (default: ``docs/models`` of the source checkout).

    Raises:
        BadInputError: no checkout and no ``cards_dir``, or the card does not exist.
    """
    mid = result["model"]["id"]
    root = record_target(cards_dir)
    card = root / f"{mid}.md"
    if not card.is_file():
        raise BadInputError(
            f"no model card {card}: the figures go into an existing card (generate it first)"
        )
    text = card.read_text(encoding="utf-8")
    if (CARD_BEGIN in text) != (CARD_END in text) or text.find(CARD_END) < text.find(CARD_BEGIN):
        raise BadInputError(f"{card}: runtime-figures markers are unbalanced; fix them by hand")
    replace_block(card, "runtime-figures", f"## Runtime figures\n\n{summary_markdown(result)}")
    return card


def record_benchmarks(
    result: dict[str, Any], cards_dir: str | os.PathLike[str] | None = None
) -> Path | None:
    """Rewrite the ``bench-<backend>`` block of ``benchmarks.md`` beside the cards directory
    (``docs/benchmarks.md`` by default); nothing when that file does not exist.

    Returns:
        The file written, or None.
    """
    doc = record_target(cards_dir).parent / "benchmarks.md"
    if not doc.is_file():
        return None
    backend = result["model"]["backend"]
    replace_block(doc, f"bench-{backend}", summary_markdown(result))
    return doc
