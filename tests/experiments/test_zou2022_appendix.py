"""zou2022 Figs 6, 7, 10, 11 (row 2), 12: the coefficient counts, the strategies' comparison and the
deep studies' divergence handling and claims (docs/zou2022.md#fig6, #fig11-row2, #deep)."""

import itertools

import jax.random as jr
import numpy as np
import pytest

from metagrad.experiments import get_figure, merge_seeds
from metagrad.experiments.zou2022 import appendix, deep


@pytest.mark.parametrize("d", [1, 2, 5])
def test_poly_coefficients_are_the_index_counts(d):
    g1, g2, g3 = appendix.poly_coefficients(d)
    r = range(d)
    assert np.array_equal(g1, np.bincount([j + m for j, m in itertools.product(r, r)]))
    triples = list(itertools.product(r, r, r))
    assert np.array_equal(g2, np.bincount([3 * j + 2 * k + m for j, k, m in triples]))
    assert np.array_equal(g3, np.bincount([j + k + m for j, k, m in triples]))
    i = np.arange(2 * d - 1)
    assert np.array_equal(g1, (i + 1) - 2 * np.maximum(i - d + 1, 0))
    with pytest.raises(ValueError, match="d=0"):
        appendix.poly_coefficients(0)


def test_k1_moments_from_the_counts_are_exact():
    """d = 2, x ~ N(0, 1): E‖ϕ‖⁴ = E(1+x²)² = 6 and E‖ϕ‖⁶ = 28 from g1, g3 (log-space sums)."""
    g1, g2, g3 = appendix.poly_coefficients(2)
    assert np.isclose(np.exp(appendix._log_sum(g1, 1.0)), 6.0)
    assert np.isclose(np.exp(appendix._log_sum(g3, 1.0)), 28.0)
    moments = [1, 1, 3, 15, 105, 945, 10395]  # E x^{2i} = (2i − 1)!!, i = 0..6
    assert np.isclose(np.exp(appendix._log_sum(g2, 1.0)), np.dot(g2, moments))


def test_fig11row2_small_run_and_claims(getkey):
    fig = get_figure("zou2022.fig11row2")
    cfg = fig.study.config("quick", {"n_rep": 4, "n_test": 60, "n_alpha": 7})
    res = fig.study.compute(cfg, key=getkey())
    assert res.loss_same.shape == res.loss_fixed.shape == (4, cfg.n_alpha)
    assert np.all(np.isfinite(res.loss_same)) and np.all(res.loss_same > 0)
    i0 = int(np.argmin(np.abs(cfg.alpha)))
    # at α_t = 0 (no inner step in training) the fixed-α_r test differs only by the test step
    assert not np.allclose(res.loss_same[:, i0], res.loss_fixed[:, i0])
    names = [c.name for c in fig.claims(cfg, merge_seeds([res]))]
    assert len(names) == 3


def test_divergence_marking():
    x = np.array([[1.0, 2.0], [1e9, 3.0], [2.0, 2.0], [1.5, np.inf]])
    out = deep._nan_where_diverged(x, np.array([1.0, 1.0, np.nan, 1.0]))
    assert np.isnan(out[1, 0]) and np.all(np.isnan(out[2])) and np.isnan(out[3, 1])
    assert out[0, 0] == 1.0 and out[1, 1] == 3.0
    assert np.isnan(deep._mean(out)[1]) and deep._mean(out)[0] == 1.5


def _synthetic(getkey, best, n_folds=8):
    """Fold losses of a parabola in α with its minimum at `best`, plus fold noise."""
    rng = np.random.default_rng(np.asarray(jr.key_data(getkey())).ravel().tolist())
    alpha = np.linspace(-0.02, 0.1, 13)
    return alpha, 1 + 100 * (alpha - best)[:, None] ** 2 + 0.001 * rng.normal(size=(13, n_folds))


def test_positive_optimum_and_band_claims_can_fail(getkey):
    alpha, folds = _synthetic(getkey, 0.05)
    assert deep._positive_optimum("x", alpha, folds).passed
    bands = {"in": (0.04, 0.06), "out": (0.09, 0.1)}
    assert [c.passed for c in deep._band_claims(alpha, folds, bands)] == [True, False]
    alpha, folds = _synthetic(getkey, -0.01)
    assert not deep._positive_optimum("x", alpha, folds).passed
    folds[0] = np.nan  # a diverged grid point is not plotted and not chosen
    assert not deep._positive_optimum("x", alpha, folds).passed


@pytest.mark.slow
def test_fig10b_tiny_run(getkey):
    fig = get_figure("zou2022.fig10b")
    over = {"outer_steps": 20, "alphas": (0.0, 0.01, 0.1), "n_folds": 2, "fold_size": 4}
    cfg = fig.study.config("quick", over)
    res = fig.study.compute(cfg, key=getkey())
    assert res.loss.shape == (3, 2) and np.all(np.isfinite(res.loss))
    assert res.n_params == 1 * 40 + 40 + 40 * 40 + 40 + 40 + 1
    assert len(fig.claims(cfg, merge_seeds([res]))) == 3
