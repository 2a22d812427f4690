"""yuksel2024.training: one run feeds Figs 2-3 and Table 1; the closed-form 1-GD risk behind its checks."""

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from metagrad.algorithms import linear_two_layer as ltl
from metagrad.experiments import ConfigError, get_figure, merge_seeds
from metagrad.experiments.yuksel2024 import (
    TrainingResult,
    Yuksel2024Config,
    checkpoints,
    gd_expected_risk,
    sigma_star,
    study,
)
from metagrad.tasks.linear_representation import sample_B_star, sample_linear_tasks
from metagrad.theory.linear_representation import lambda_star, one_step_excess_risk

TINY = {
    "n_tasks": 40, "d": 8, "k": 2, "k_prime": 6, "m": 12, "m_in": 8, "n_steps": 15,
    "n_steps_inf": 30, "n_checkpoints": 4, "n_runs": 2, "n_test": 25, "m_test": (10, 12),
    "ridge_log10": (-2.0, 1.0, 5),
}  # fmt: skip


def test_three_figures_share_one_study():
    assert {
        get_figure(f).study for f in ("yuksel2024.fig2", "yuksel2024.fig3", "yuksel2024.table1")
    } == {study}


def test_checkpoints_end_at_the_last_step():
    cfg = Yuksel2024Config.build({"n_checkpoints": 2, "n_steps": 500, "n_steps_inf": 4000})
    t, t_inf = checkpoints(cfg)
    assert t[0] == 0 and t[-1] == 500 and t_inf[-1] == 4000


def test_bad_ridge_grid_is_a_config_error():
    with pytest.raises(ConfigError, match="ridge_log10"):
        Yuksel2024Config.build({"ridge_log10": (1.0, -1.0, 5)})


@pytest.mark.slow
def test_tiny_run_has_the_documented_shapes_and_claims_use_its_config(getkey):
    cfg = study.config("quick", TINY)
    res = study.compute(cfg, key=getkey())
    assert isinstance(res, TrainingResult)
    t, t_inf = checkpoints(cfg)
    assert res.fo_anil.curves.star_min.shape == (2, t.size)
    assert res.fo_anil_inf_tasks.curves.perp_max.shape == (2, t_inf.size)
    assert res.single.ridge.shape == res.oracle.ridge_se.shape == (2, 2, 5)
    assert res.fo_anil.gd.shape == res.fo_anil.gd_exact.shape == (2, 2)
    assert np.all(np.isnan(res.fo_maml.gd_exact)) and np.all(np.isfinite(res.fo_anil.gd_exact))
    seeds = merge_seeds([res])
    names = [c.name for f in study.figures.values() for c in f.claims(cfg, seeds)]
    assert any("m_test=12" in n for n in names) and not any("m_test=20" in n for n in names)


def test_gd_expected_risk_at_the_limit_is_proposition_1(getkey):
    S = sigma_star(Yuksel2024Config())
    d, k = 12, S.shape[0]
    Bs = np.asarray(sample_B_star(key=getkey(), d=d, k=k))
    lam = np.asarray(lambda_star(alpha=0.1, m_in=20, Sigma_star=S, sigma2=4.0))
    e, U = np.linalg.eigh(lam)
    B = Bs @ (U * np.sqrt(e))  # B = B⋆Q, QQᵀ = Λ⋆
    for mt in (5, 20, 30):
        got = gd_expected_risk(
            B=B, w=np.zeros(k), B_star=Bs, Sigma_star=S, alpha=0.1, sigma2=4.0, m_test=mt
        )
        want = 0.5 * float(one_step_excess_risk(Sigma_star=S, m_in=20, sigma2=4.0, m_test=mt))
        np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.slow  # measured >= 8 s of the fast suite's wall time (2026-12-02)
def test_gd_expected_risk_matches_monte_carlo_at_a_random_state(getkey):
    """Random (B, w) off the limit (complement and Bw non-zero): closed form vs 1-GD on 2·10⁴ tasks."""
    d, k, kp, mt, n = 10, 3, 6, 8, 20_000
    S = np.diag([0.5, 1.0, 1.5])
    Bs = sample_B_star(key=getkey(), d=d, k=k)
    B = np.asarray(jr.normal(getkey(), (d, kp))) / np.sqrt(d) + 0.3 * np.asarray(Bs) @ np.ones(
        (k, kp)
    )
    w = 0.5 * np.asarray(jr.normal(getkey(), (kp,)))
    t = sample_linear_tasks(key=getkey(), B_star=Bs, Sigma_star=S, n_tasks=n, m=mt, sigma2=2.0)
    th = ltl.one_step_adapt(B, w, t.X, t.y, alpha=0.3)
    per_task = 0.5 * np.asarray(jnp.sum((th - t.theta_star) ** 2, axis=1))
    want = gd_expected_risk(B=B, w=w, B_star=Bs, Sigma_star=S, alpha=0.3, sigma2=2.0, m_test=mt)
    se = per_task.std() / np.sqrt(n)
    assert abs(per_task.mean() - want) < 5 * se, (per_task.mean(), want, se)


def test_gd_expected_risk_rejects_bad_input():
    with pytest.raises(ValueError, match="m_test"):
        gd_expected_risk(
            B=np.eye(3),
            w=np.ones(3),
            B_star=np.eye(3)[:, :1],
            Sigma_star=np.eye(1),
            alpha=0.1,
            sigma2=1.0,
            m_test=0,
        )
