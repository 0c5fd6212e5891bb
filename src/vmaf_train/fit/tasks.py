"""Per-kind fit tasks and the one entry point, :func:`fit_recipe`, that dispatches on the kind.

Every recipe kind has one task object: what its fit reads (a features table or a built corpus)
and the run it trains, exports, verifies and evaluates into ``RUN/``. The FR kinds (canonical-6
MLPs with or without a codec block) train on ``features.parquet``; the pixel kinds (nr, filter,
saliency) on a corpus directory through the shared :func:`~vmaf_train.fit.loop.fit_loop`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from vmaf_tiny.errors import BadInputError
from vmaf_train.data.frames import PixelCorpus
from vmaf_train.fit.filter import fit_filter
from vmaf_train.fit.fr import fit_run
from vmaf_train.fit.nr import fit_nr
from vmaf_train.fit.saliency import fit_saliency
from vmaf_train.recipes import ModelConfig, PixelConfig, Recipe

__all__ = ["TASKS", "FitTask", "check_fit", "fit_recipe"]


def _fit_fr(cfg: Recipe, out: Path, data: Path, opts: dict[str, Any]) -> dict[str, Any]:
    res = fit_run(
        cast(ModelConfig, cfg),
        data,
        out,
        force=bool(opts.get("force", False)),
        plots=bool(opts.get("plots", True)),
        n_boot=int(opts.get("n_boot", 1000)),
        log=opts.get("log"),
    )
    return res.metrics


def _pixel(
    fit: Callable[..., dict[str, Any]],
) -> Callable[[Recipe, Path, Path, dict[str, Any]], dict[str, Any]]:
    def run(cfg: Recipe, out: Path, data: Path, opts: dict[str, Any]) -> dict[str, Any]:
        corpus = PixelCorpus.open(data)
        return cast(
            dict[str, Any],
            fit(
                cast(PixelConfig, cfg),
                corpus,
                out,
                cache=opts.get("cache"),
                progress=bool(opts.get("progress", True)),
            ),
        )

    return run


@dataclass(frozen=True)
class FitTask:
    """How one recipe kind is fitted.

    Attributes:
        kind: The recipe kind (``fr``, ``nr``, ``filter``, ``saliency``).
        data: What the fit reads: ``features`` (a features table) or ``corpus`` (a built corpus).
        run: (recipe, run dir, data path, options) -> the run's ``metrics.json`` content.
    """

    kind: str
    data: str
    run: Callable[[Recipe, Path, Path, dict[str, Any]], dict[str, Any]]


#: One task per recipe kind.
TASKS: dict[str, FitTask] = {
    "fr": FitTask("fr", "features", _fit_fr),
    "nr": FitTask("nr", "corpus", _pixel(fit_nr)),
    "filter": FitTask("filter", "corpus", _pixel(fit_filter)),
    "saliency": FitTask("saliency", "corpus", _pixel(fit_saliency)),
}


def check_fit(
    cfg: Recipe,
    out: str | os.PathLike[str],
    *,
    features: str | os.PathLike[str] | None = None,
    corpus: str | os.PathLike[str] | None = None,
    force: bool = False,
) -> Path:
    """Refuse, before any work, a ``fit`` that cannot run: the data of the other kind, none, or
    a run directory that cannot be (re)written (:func:`vmaf_train.fit.run_dir.check_run_dir`).

    Returns:
        The data path the recipe's kind trains on.

    Raises:
        BadInputError: one line.
    """
    from vmaf_train.fit.run_dir import check_run_dir

    task = TASKS[cfg.kind]
    given = {"features": features, "corpus": corpus}
    data = given[task.data]
    other = "corpus" if task.data == "features" else "features"
    if data is None:
        raise BadInputError(f"{cfg.id} is a {cfg.kind!r} recipe: it is fitted on --{task.data}")
    if given[other] is not None:
        raise BadInputError(
            f"{cfg.id} is a {cfg.kind!r} recipe: it is fitted on --{task.data}, not --{other}"
        )
    # FR runs replace RUN as a whole (--force); pixel runs write into it and reuse its cache
    check_run_dir(
        out, force=force, replaces=task.data == "features", inputs={f"--{task.data}": data}
    )
    return Path(data)


def fit_recipe(
    cfg: Recipe,
    out: str | os.PathLike[str],
    *,
    features: str | os.PathLike[str] | None = None,
    corpus: str | os.PathLike[str] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Fit any recipe into the run directory ``out``, dispatching on its kind.

    Args:
        cfg: A loaded recipe (:func:`vmaf_train.recipes.load_recipe`).
        out: Run directory to write.
        features: features.parquet (FR kinds).
        corpus: A built corpus directory (pixel kinds).
        **options: ``force``, ``plots``, ``n_boot``, ``log`` (FR); ``cache``, ``progress`` (pixel).

    Returns:
        The run's ``metrics.json`` content.

    Raises:
        BadInputError: the data the kind needs is missing, or the other kind's was given.
    """
    data = check_fit(cfg, out, features=features, corpus=corpus, force=bool(options.get("force")))
    return TASKS[cfg.kind].run(cfg, Path(out), data, options)
