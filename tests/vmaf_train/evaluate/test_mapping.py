"""Prediction -> subjective score maps (pure functions): recovery, determinism, bad input, and a
fit on the real NFLX public DMOS table."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from vmaf_tiny.errors import BadInputError
from vmaf_train.evaluate import mapping as mapping_mod
from vmaf_train.evaluate.mapping import FittedMap, fit_mapping, logistic4, logistic5, mapping_kind
from vmaf_train.evaluate.metrics import plcc, rmse, srocc

TRUE4 = {"top": 4.6, "bottom": 1.2, "mid": 60.0, "slope": 0.12}


def _synthetic(n: int = 80, noise: float = 0.08, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(15.0, 100.0, n)
    return x, logistic4(x, **TRUE4) + rng.normal(0.0, noise, n)


def test_logistic4_recovers_a_known_curve_and_raises_plcc() -> None:
    x, y = _synthetic()
    f = fit_mapping(x, y, "logistic4")
    assert f.kind == "logistic4" and f.n == x.size and f.at_bounds == ()
    for k, v in TRUE4.items():
        assert f.params[k] == pytest.approx(v, rel=0.08), k
    mapped = f(x)
    assert plcc(y, mapped) > plcc(y, x) + 0.02
    assert rmse(y, mapped) < 0.1  # about the noise (0.08)
    assert srocc(y, mapped) == pytest.approx(srocc(y, x), abs=1e-12)  # monotonic: same ranks


def test_fits_are_deterministic_and_the_alias_is_logistic4() -> None:
    x, y = _synthetic()
    a, b = fit_mapping(x, y, "logistic"), fit_mapping(x, y, "logistic4")
    assert a == b
    assert mapping_kind("logistic") == "logistic4"


def test_decreasing_relation_fits_with_top_below_bottom() -> None:
    x, y = _synthetic()
    f = fit_mapping(-x, y, "logistic4")  # e.g. a distortion measure: higher is worse
    assert f.params["top"] < f.params["bottom"] and f.params["slope"] > 0
    assert plcc(y, f(-x)) > 0.99
    assert srocc(y, f(-x)) == pytest.approx(-srocc(y, -x), abs=1e-12)


def test_linear_is_least_squares_and_keeps_plcc() -> None:
    x, y = _synthetic()
    f = fit_mapping(x, y, "linear")
    slope, intercept = np.polyfit(x, y, 1)
    assert f.params == pytest.approx({"intercept": intercept, "slope": slope})
    assert plcc(y, f(x)) == pytest.approx(plcc(y, x), abs=1e-12)
    assert rmse(y, f(x)) < rmse(y, x)


def test_logistic5_fits_a_logistic_plus_linear_curve() -> None:
    rng = np.random.default_rng(2)
    x = rng.uniform(0.0, 100.0, 120)
    y = logistic5(x, 4.0, 1.5, 50.0, 0.15, 0.01) + rng.normal(0.0, 0.03, x.size)
    f5, f4 = fit_mapping(x, y, "logistic5"), fit_mapping(x, y, "logistic4")
    assert f5.params["lin"] == pytest.approx(0.01, abs=0.003)
    assert f5.params["mid"] == pytest.approx(50.0, abs=2.0)
    assert rmse(y, f5(x)) < rmse(y, f4(x))
    assert f5.monotonic


def test_logistic5_monotonic_flag() -> None:
    p = {"top": 5.0, "bottom": 1.0, "mid": 50.0, "slope": 0.1}
    assert FittedMap("logistic5", {**p, "lin": 0.01}).monotonic
    fighting = FittedMap("logistic5", {**p, "lin": -0.05})
    assert not fighting.monotonic
    g = np.linspace(0, 100, 1001)
    assert np.any(np.diff(fighting(g)) > 0) and np.any(np.diff(fighting(g)) < 0)


def test_none_is_the_identity() -> None:
    x, y = _synthetic(10)
    f = fit_mapping(x, y, "none")
    assert f.params == {} and np.array_equal(f(x), x)


@pytest.mark.parametrize(
    ("pred", "target", "kind", "msg"),
    [
        ([1, 2, 3, 4], [1, 2, 3, 5], "logistic4", "needs at least 5 points"),
        ([3, 3, 3, 3, 3, 3], [1, 2, 3, 4, 5, 6], "logistic4", "prediction is constant"),
        ([1, 2, 3, 4, 5, 6], [2, 2, 2, 2, 2, 2], "logistic4", "target is constant"),
        ([1, 2, 3], [1, 2, 3], "cubic", "--mapping must be one of"),
        ([1, 2, np.nan], [1, 2, 3], "linear", "NaN/inf"),
        ([1, 2, 3], [1, 2], "linear", "target has 2 values but prediction has 3"),
    ],
)
def test_bad_input_is_one_clear_error(pred: list, target: list, kind: str, msg: str) -> None:
    with pytest.raises(BadInputError, match=msg):
        fit_mapping(pred, target, kind)


def test_a_fit_that_does_not_converge_is_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    x, y = _synthetic()
    monkeypatch.setattr(mapping_mod, "_MAXFEV", 2)  # scipy gives up after 2 evaluations
    with pytest.raises(BadInputError, match="did not converge on 80 points") as exc:
        fit_mapping(x, y, "logistic4")
    assert "\n" not in str(exc.value)


def test_real_subjective_scores_nflx_public(shared_data: Path) -> None:
    """The NFLX public dataset's DMOS (70 distorted assets) against a real objective proxy
    that is not a model: the encode height. Not an evaluation of any model here; it checks the
    logistic on real subjective data (a saturating relation) where a line cannot follow it."""
    with (shared_data / "nflx_public" / "nflx_public_dmos.csv").open() as fh:
        rows = [r for r in csv.DictReader(fh) if r["is_reference"] == "0"]
    height = np.array([float(r["encode_height"]) for r in rows])
    dmos = np.array([float(r["dmos"]) for r in rows])
    assert dmos.size == 70
    lin, log4 = fit_mapping(height, dmos, "linear"), fit_mapping(height, dmos, "logistic4")
    assert plcc(dmos, log4(height)) > plcc(dmos, lin(height)) + 0.03
    assert rmse(dmos, log4(height)) < rmse(dmos, lin(height))
    assert srocc(dmos, log4(height)) == pytest.approx(srocc(dmos, height), abs=1e-12)
    # The curve saturates where the data do: its upper plateau is the 1080p encodes' mean DMOS.
    assert log4.params["top"] == pytest.approx(dmos[height == 1080].mean(), abs=5.0)
