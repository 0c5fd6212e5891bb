"""How a no-reference model's held-out accuracy grows with the content it is trained on.

A learning curve over content families: each natural family is held out in turn, as in
:func:`vmaf_train.nr_stream_loso.loso`, but the model is fitted on only ``k`` of the other
natural families (a seeded random draw per fold; every non-natural row stays in training), and
the held-out clips are pooled into clip-level PLCC / RMSE. With ``k`` = all other families it is
exactly :func:`loso`'s figure. The curve says whether more content is the way to a goal, and
:func:`families_for` extrapolates it (a power law in ``k`` of the PLCC shortfall; rough).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from vmaf_tiny.errors import BadInputError
from vmaf_tiny.fsutil import atomic_write_json, check_writable
from vmaf_train.nr_stream_loso import Regressor, StreamData, clip_means, clip_metrics

__all__ = ["curve_command", "families_for", "family_curve"]


def family_curve(
    data: StreamData,
    make: Callable[[], Regressor],
    sizes: Sequence[int],
    *,
    seeds: int = 1,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Clip-level held-out PLCC / RMSE for each number of training families in ``sizes``.

    Args:
        data: The table (natural families are held out; other kinds always train).
        make: A fresh model per fold.
        sizes: Numbers of training families, each 1 .. (natural families - 1).
        seeds: Random draws of the training families per size (averaged; one draw when a size
            takes every other family, since there is nothing to draw).
        seed: The first draw's seed.

    Returns:
        One row per size: ``families``, ``draws``, ``plcc`` and ``rmse`` (means over draws),
        ``plcc_min`` / ``plcc_max`` over draws, ``n_clips``.

    Raises:
        BadInputError: fewer than two natural families, a size out of range, ``seeds`` < 1.
    """
    nat = data.kind == "natural"
    fams = np.unique(data.family[nat])
    if fams.size < 2:
        raise BadInputError(f"a learning curve needs two natural families or more, got {fams.size}")
    bad = [k for k in sizes if not 1 <= int(k) <= fams.size - 1]
    if bad or not sizes:
        raise BadInputError(
            f"training family counts must be 1..{fams.size - 1} (the table has {fams.size} "
            f"natural families), got {list(sizes)}"
        )
    if seeds < 1:
        raise BadInputError(f"seeds must be at least 1, got {seeds}")
    rows = []
    for k in sizes:
        draws = 1 if k == fams.size - 1 else seeds
        got = [
            _held_out(data, make, fams, int(k), np.random.default_rng(seed + d))
            for d in range(draws)
        ]
        plcc = [g["plcc"] for g in got]
        rows.append(
            {
                "families": int(k),
                "draws": draws,
                "plcc": float(np.mean(plcc)),
                "plcc_min": float(np.min(plcc)),
                "plcc_max": float(np.max(plcc)),
                "rmse": float(np.mean([g["rmse"] for g in got])),
                "n_clips": got[0]["n"],
            }
        )
    return rows


def _held_out(
    data: StreamData,
    make: Callable[[], Regressor],
    fams: np.ndarray,
    k: int,
    rng: np.random.Generator,
) -> dict[str, float]:
    nat = data.kind == "natural"
    pred = np.zeros_like(data.y)
    for fam in fams:
        others = fams[fams != fam]
        pick = others if k == others.size else rng.choice(others, size=k, replace=False)
        train = ~nat | np.isin(data.family, pick)
        test = data.family == fam
        pred[test] = make().fit(data.x[train], data.y[train]).predict(data.x[test])
    _keys, (yc, pc) = clip_means(data.key[nat], data.y[nat], np.clip(pred[nat], 0.0, 100.0))
    return clip_metrics(yc, pc)


def families_for(rows: Sequence[dict[str, Any]], plcc: float) -> dict[str, float] | None:
    """Extrapolate the curve to the number of families at which it would reach ``plcc``.

    Fits ``1 - PLCC = c * k ** -p`` by least squares in log-log over the rows (two sizes or
    more, every PLCC below 1). Returns ``exponent`` (p) and ``families`` (the k for ``plcc``;
    infinite when the curve does not rise), or None when there is nothing to fit. An
    extrapolation from a handful of points: an order of magnitude, not a plan.
    """
    pts = [(r["families"], 1.0 - r["plcc"]) for r in rows if 1.0 - r["plcc"] > 0.0]
    if len({k for k, _ in pts}) < 2:
        return None
    lk = np.log([k for k, _ in pts])
    ls = np.log([s for _, s in pts])
    slope, icept = np.polyfit(lk, ls, 1)
    p = -float(slope)
    if p <= 0:
        return {"exponent": p, "families": math.inf}
    return {"exponent": p, "families": float(math.exp((icept - math.log(1.0 - plcc)) / p))}


def curve_command(
    args: argparse.Namespace, data: StreamData, make: Callable[[], Regressor]
) -> list[dict[str, Any]]:
    """The ``curve`` subcommand's body: sizes from ``--families`` (default: a quarter, half,
    three quarters and all of the other families), one line per size, the extrapolation to
    ``--goal``, and ``-o`` JSON."""
    if not 0.0 < args.goal < 1.0:
        raise BadInputError(f"--goal is a clip PLCC in (0, 1), got {args.goal}")
    if args.out is not None:
        check_writable(args.out)
    n = int(np.unique(data.family[data.kind == "natural"]).size)
    try:
        sizes = [int(k) for k in args.families.split(",")] if args.families else None
    except ValueError:
        raise BadInputError(f"--families: comma-separated counts, got {args.families!r}") from None
    sizes = sizes or sorted({max(1, round((n - 1) * q)) for q in (0.25, 0.5, 0.75, 1.0)})
    rows = family_curve(data, make, sizes, seeds=args.seeds)
    for r in rows:
        print(
            f"{r['families']:3d} families ({r['draws']} draw(s)): clip PLCC {r['plcc']:.3f} "
            f"[{r['plcc_min']:.3f}..{r['plcc_max']:.3f}], RMSE {r['rmse']:.2f}"
        )
    ext = families_for(rows, args.goal)
    if ext is not None:
        print(
            f"power-law extrapolation: PLCC {args.goal} at ~{ext['families']:.0f} families "
            f"(exponent {ext['exponent']:.2f}; an order of magnitude, not a plan)"
        )
    if args.out is not None:
        atomic_write_json(
            args.out,
            {"features": str(args.features), "head": args.head, "rows": rows, "goal": args.goal,
             "extrapolation": ext},
        )  # fmt: skip
    return rows
