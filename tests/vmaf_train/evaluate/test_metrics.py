"""PLCC / SROCC / RMSE, bootstrap intervals and clip pooling (pure numpy functions)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from vmaf_tiny.errors import BadInputError
from vmaf_train.evaluate.metrics import bootstrap_ci, plcc, pool_by_key, rmse, score_metrics, srocc


def test_perfect_prediction() -> None:
    y = np.linspace(0, 100, 50)
    assert plcc(y, y) == pytest.approx(1.0)
    assert srocc(y, y) == pytest.approx(1.0)
    assert rmse(y, y) == 0.0


def test_anti_correlated() -> None:
    y = np.linspace(0, 100, 50)
    assert plcc(y, -y) == pytest.approx(-1.0)
    assert srocc(y, 100 - y**2) == pytest.approx(-1.0)


def test_noisy_matches_scipy() -> None:
    rng = np.random.default_rng(3)
    y = rng.uniform(0, 100, 500)
    p = y + rng.normal(0, 5, 500)
    assert plcc(y, p) == pytest.approx(stats.pearsonr(y, p)[0], abs=1e-12)
    assert srocc(y, p) == pytest.approx(stats.spearmanr(y, p)[0], abs=1e-12)
    assert rmse(y, p) == pytest.approx(np.sqrt(np.mean((p - y) ** 2)), abs=1e-12)
    assert 0.95 < plcc(y, p) < 1.0
    assert 4.0 < rmse(y, p) < 6.0


def test_monotone_nonlinear_is_perfect_rank_not_linear() -> None:
    y = np.linspace(1, 10, 30)
    p = np.exp(y)
    assert srocc(y, p) == pytest.approx(1.0)
    assert plcc(y, p) < 0.9


def test_ties_use_average_ranks() -> None:
    y = np.array([1, 2, 2, 3, 3, 3, 4, 5], dtype=float)
    p = np.array([1, 1, 2, 2, 3, 3, 4, 4], dtype=float)
    assert srocc(y, p) == pytest.approx(stats.spearmanr(y, p)[0], abs=1e-12)
    assert srocc(y, p) < 1.0


@pytest.mark.parametrize("fn", [plcc, srocc])
def test_constant_input_is_a_clear_error(fn) -> None:  # type: ignore[no-untyped-def]
    y = np.linspace(0, 1, 10)
    with pytest.raises(BadInputError, match="constant"):
        fn(y, np.full(10, 5.0))
    with pytest.raises(BadInputError, match="target is constant"):
        fn(np.full(10, 5.0), y)


def test_bad_shapes_and_values() -> None:
    with pytest.raises(BadInputError, match="10 values but prediction has 9"):
        rmse(np.zeros(10), np.zeros(9))
    with pytest.raises(BadInputError, match="NaN/inf"):
        plcc([1.0, 2.0, np.nan], [1.0, 2.0, 3.0])
    with pytest.raises(BadInputError, match="at least 2"):
        rmse([1.0], [1.0])


def test_bootstrap_is_seeded_and_brackets_the_estimate() -> None:
    rng = np.random.default_rng(0)
    y = rng.uniform(0, 100, 300)
    p = y + rng.normal(0, 3, 300)
    a = bootstrap_ci(y, p, n_boot=300, seed=7)
    b = bootstrap_ci(y, p, n_boot=300, seed=7)
    c = bootstrap_ci(y, p, n_boot=300, seed=8)
    assert a == b
    assert a != c
    for name, fn in (("plcc", plcc), ("srocc", srocc), ("rmse", rmse)):
        lo, hi = a[name]
        assert lo < fn(y, p) < hi


def test_group_bootstrap_is_wider_for_correlated_rows() -> None:
    # 20 clips x 30 frames: frames within a clip share the clip's error.
    rng = np.random.default_rng(1)
    clip_err = rng.normal(0, 4, 20)
    y = rng.uniform(0, 100, 600)
    groups = np.repeat(np.arange(20), 30)
    p = y + clip_err[groups] + rng.normal(0, 0.5, 600)
    rows = bootstrap_ci(y, p, ["rmse"], n_boot=400, seed=0)["rmse"]
    clips = bootstrap_ci(y, p, ["rmse"], groups=groups, n_boot=400, seed=0)["rmse"]
    assert clips[1] - clips[0] > 2 * (rows[1] - rows[0])


def test_score_metrics_fields() -> None:
    y = np.arange(20, dtype=float)
    m = score_metrics(y, y + 1.0, groups=np.repeat(np.arange(5), 4), n_boot=50)
    assert m["n"] == 20
    assert m["rmse"] == pytest.approx(1.0)
    assert m["plcc"] == pytest.approx(1.0)
    assert m["ci_unit"] == "group"
    assert len(m["rmse_ci"]) == 2
    assert "plcc_ci" not in score_metrics(y, y, n_boot=0)


def test_pool_by_key_means_per_clip() -> None:
    keys = np.array(["b", "a", "b", "a", "c"])
    keys_out, (t, p) = pool_by_key(keys, [1.0, 2.0, 3.0, 4.0, 5.0], [0, 0, 1, 1, 1])
    assert keys_out.tolist() == ["a", "b", "c"]
    assert t.tolist() == [3.0, 2.0, 5.0]
    assert p.tolist() == [0.5, 0.5, 1.0]
