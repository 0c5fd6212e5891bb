"""Subjective scores from a side file: ``--targets FILE.csv`` (``key,mos``) joined on the clip key.

A features table built from a corpus has no subjective scores; a subjective test gives one score
per clip. The side file names each clip by the table's ``key`` column; the join is strict where a
typo would silently drop data (a key the table does not have, a duplicate, a non-numeric score)
and explicit where the test simply did not rate a clip (those clips are left out and counted).
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import numpy as np

from vmaf_tiny.errors import BadInputError

__all__ = ["TARGET_COLUMNS", "join_targets", "read_targets"]

#: The columns a targets file must have (others are ignored).
TARGET_COLUMNS = ("key", "mos")


def read_targets(path: str | os.PathLike[str]) -> dict[str, float]:
    """``key -> mos`` from a CSV file with a header row holding ``key`` and ``mos``.

    Raises:
        BadInputError: unreadable file, missing column, empty key, duplicate key, a score that
            is not a finite number, or no rows.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise BadInputError(f"cannot read --targets {p}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise BadInputError(f"--targets {p}: not a UTF-8 CSV file") from None
    reader = csv.DictReader(text.splitlines())
    cols = [c.strip() for c in reader.fieldnames or []]
    missing = [c for c in TARGET_COLUMNS if c not in cols]
    if missing:
        raise BadInputError(
            f"--targets {p}: needs a header with columns {','.join(TARGET_COLUMNS)} "
            f"(missing {missing[0]!r}; found {','.join(cols) or 'nothing'})"
        )
    out: dict[str, float] = {}
    for line, raw in enumerate(reader, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        key, val = row.get("key", ""), row.get("mos", "")
        if not key:
            raise BadInputError(f"--targets {p} line {line}: empty key")
        if key in out:
            raise BadInputError(f"--targets {p} line {line}: key {key!r} appears twice")
        try:
            mos = float(val)
        except ValueError:
            raise BadInputError(f"--targets {p} line {line}: mos {val!r} is not a number") from None
        if not math.isfinite(mos):
            raise BadInputError(f"--targets {p} line {line}: mos {val!r} is not finite")
        out[key] = mos
    if not out:
        raise BadInputError(f"--targets {p}: no rows")
    return out


def join_targets(keys: np.ndarray, targets: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """Per-row scores for a table's clip keys.

    Args:
        keys: (n,) clip key of every table row.
        targets: From :func:`read_targets`.

    Returns:
        (mask of rows whose clip has a score, (n,) scores with NaN where it has none).

    Raises:
        BadInputError: a key of the file is not in the table (names the first few), or no
            clip of the table has a score.
    """
    k = np.asarray(keys).astype(str)
    present = set(np.unique(k).tolist())
    unknown = sorted(set(targets) - present)
    if unknown:
        shown = ", ".join(unknown[:3]) + (
            f" and {len(unknown) - 3} more" if len(unknown) > 3 else ""
        )
        raise BadInputError(
            f"--targets names {len(unknown)} clip key(s) the features table does not have: {shown}"
        )
    y = np.array([targets.get(s, np.nan) for s in k.tolist()], dtype=np.float64)
    mask = np.isfinite(y)
    if not mask.any():
        raise BadInputError("--targets: no clip of the features table has a score")
    return mask, y
