"""wang2024.fig7b (ε(α_max) against η_w per γ): the grid layout, the claims and the config checks."""

import numpy as np
import pytest

from metagrad.experiments import ConfigError, get_figure, get_study, merge_seeds
from metagrad.experiments.wang2024_fig7b import Fig7bResult, _ts_config, final_eps_grid
from metagrad.theory import teacher_student as ts

SMALL = {"gammas": (1.0, 0.85), "eta_w_grid": (5.0, 7.0, 9.0), "alpha_max": 60.0, "d_alpha": 0.25}


def _config(**over):
    return get_study("wang2024.variability_eta_w").config("quick", {**SMALL, **over})


def test_grid_rows_are_gammas_and_columns_eta_w():
    """Each (γ, η_w) cell equals the solve of that pair alone, listed in the reverse order."""
    cfg = _config()
    eps0, eps = final_eps_grid(cfg)
    assert eps.shape == (2, 3) and np.all(np.isfinite(eps))
    pairs = [(g, w) for g in cfg.gammas for w in cfg.eta_w_grid][::-1]
    g, w = (np.array(p) for p in zip(*pairs))
    ref = np.asarray(ts.integrate_batch(_ts_config(cfg), eta_w=w, gamma=g).eps[:, -1])[::-1]
    np.testing.assert_allclose(eps.ravel(), ref, rtol=1e-12)
    # the cells differ (a transposed grid would not pass), and ε has fallen from ε(0) in each
    assert np.ptp(eps, axis=0).min() > 1e-4 and np.ptp(eps, axis=1).min() > 1e-4
    assert np.all(eps < eps0)


def _claims(eps, gammas=(1.0, 0.9)):
    cfg = _config(gammas=gammas, eta_w_grid=(1.0, 4.0, 8.0, 16.0))
    res = merge_seeds([Fig7bResult(np.full_like(eps, 0.2), np.asarray(eps, float))])
    return [c.passed for c in get_figure("wang2024.fig7b").claims(cfg, res)]


def test_claims_pass_and_fail(getkey):
    rng = np.random.default_rng(np.asarray(getkey())[-1])
    good = np.array([[0.10, 0.01, 0.02, 0.03], [0.12, 0.04, 0.05, 0.06]]) * rng.uniform(0.9, 1.1)
    assert _claims(good) == [True, True, True]
    no_optimum = good.copy()
    no_optimum[0] = [0.10, 0.03, 0.02, 0.015]  # still falling at the largest η_w
    assert _claims(no_optimum) == [False, True, True]
    harmful = good.copy()
    harmful[1, -1] = 0.2  # large η_w costs more than the small-η_w side
    assert _claims(harmful) == [True, False, True]
    crossed = good.copy()
    crossed[1, 1] = 0.005  # γ = 0.9 below γ = 1 at one η_w
    assert _claims(crossed)[-1] is False


@pytest.mark.parametrize(
    "over,key",
    [
        ({"alpha_max": 5.0, "d_alpha": 0.3}, "alpha_max"),
        ({"gammas": (1.0, 1.2)}, "gammas"),
        ({"eta_w_grid": (1.0, 2.0)}, "eta_w_grid"),
    ],
)
def test_config_errors_name_the_key(over, key):
    with pytest.raises(ConfigError, match=key):
        _config(**over)
