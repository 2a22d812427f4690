"""wang2024.fig5 claims: a point that reaches the level and then diverges is not a success."""

import numpy as np

from metagrad.experiments import get_figure, get_study, merge_seeds
from metagrad.experiments.wang2024 import Fig5Result


def _claims(alpha_tilde, diverged):
    fig = get_figure("wang2024.fig5")
    cfg = get_study("wang2024.phase_diagrams").config(
        "quick", {"Ks": (3, 4), "eta_w_grid": (1.0, 2.0), "eta_J_grid": (1.0, 2.0)}
    )
    res = Fig5Result(np.asarray(alpha_tilde, float), np.asarray(diverged, bool))
    return {c.name: c for c in fig.claims(cfg, merge_seeds([res]))}


def test_diverged_points_are_not_successes(getkey):
    rng = np.random.default_rng(np.asarray(getkey())[-1])
    at = rng.uniform(10, 400, size=(2, 2, 2))
    at[0, 0, :] = np.nan  # K = 3: eta_w = 1 never reaches the level
    at[1, 0, :] = np.nan  # K = 4: eta_w = 1 never reaches the level ...
    at[1, 1, 0] = np.nan  # ... and at eta_w = 2 only eta_J = 2 does
    clean = _claims(at, np.zeros_like(at))
    region = next(c for n, c in clean.items() if n.startswith("the success region"))
    assert region.measured == {3: 2, 4: 1} and not region.passed
    # K = 4's one success diverges afterwards, K = 3's first success too: counted as failures
    div = np.zeros_like(at, bool)
    div[1, 1, 1] = div[0, 1, 0] = True
    checks = _claims(at, div)
    region = next(c for n, c in checks.items() if n.startswith("the success region"))
    assert region.measured == {3: 1, 4: 0}
    assert not checks["no divergence (NaN/inf ε) on the grid"].passed
    min_j = checks["at every η_w, the minimal η_J that reaches the level does not fall with K"]
    assert np.isnan(min_j.measured[1][1]) and min_j.measured[0][1] == 2.0


def test_threaded_grid_slices_equal_one_solve_per_K():
    """fig5_grid cuts each K's grid into slices solved in threads; equal to one solve per K."""
    from metagrad.experiments import wang2024

    cfg = get_study("wang2024.phase_diagrams").config(
        "quick",
        {
            "Ks": (2, 3),
            "eta_w_grid": (2.0, 9.0, 40.0),
            "eta_J_grid": (1.0, 3.0, 30.0),
            "alpha_max": 30.0,
            "level": 0.05,
        },
    )
    assert len(wang2024._grid_chunks(cfg, 4)) == 8  # four uneven slices (3 + 2 + 2 + 2) per K
    got = wang2024.fig5_grid(cfg, n_threads=4)
    W, J = np.meshgrid(cfg.eta_w_grid, cfg.eta_J_grid, indexing="ij")
    for i, K in enumerate(cfg.Ks):
        at, div = wang2024._alpha_tilde_chunk(cfg, K, W.ravel(), J.ravel())
        np.testing.assert_array_equal(got.alpha_tilde[i], at.reshape(W.shape))
        np.testing.assert_array_equal(got.diverged[i], div.reshape(W.shape))
    # the grid is informative: some points reach the level, some never do or diverge
    assert np.isfinite(got.alpha_tilde).any()
    assert (~np.isfinite(got.alpha_tilde) | got.diverged).any()
