"""Tests of metagrad.algorithms.linear_maml: exact outer solution, evaluators, theorems vs Monte Carlo."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from metagrad.algorithms import linear_maml as L
from metagrad.tasks.mixed_linear import sample_meta_train
from metagrad.theory import negative_lr as T


def _iso(p, nu):
    eye = jnp.eye(p)
    return dict(chol_Sigma=eye, chol_Sigma_w=nu / np.sqrt(p) * eye)


def _explicit_B_gamma(data, a):
    """B, γ from the inner step of Eq. 21 (independent of the affine form)."""
    n_t, p = data.x_t.shape[-2], data.x_t.shape[-1]
    A = jnp.eye(p) - a / n_t * jnp.einsum("mtp,mtq->mpq", data.x_t, data.x_t)
    b = a / n_t * jnp.einsum("mtp,mt->mp", data.x_t, data.y_t)
    B = jnp.einsum("mvp,mpq->mvq", data.x_v, A).reshape(-1, p)
    gamma = (data.y_v - jnp.einsum("mvp,mp->mv", data.x_v, b)).reshape(-1)
    return B, gamma


@pytest.mark.parametrize("p,n_v,m", [(40, 3, 4), (8, 10, 5)])
def test_outer_solution_is_exact(p, n_v, m, getkey):
    data = sample_meta_train(
        getkey(), m=m, n_t=6, n_v=n_v, w0=jnp.full(p, 0.3), sigma=0.5, **_iso(p, 0.8)
    )
    a = 0.37
    omega0 = jr.normal(getkey(), (p,))
    omega = L.solve_sweep(data, jnp.array([a]), omega0)[0]
    B, gamma = _explicit_B_gamma(data, a)
    if p > n_v * m:  # interpolates, and ω − ω0 lies in the row space of B (closest to ω0)
        np.testing.assert_allclose(B @ omega, gamma, atol=1e-9)
        resid = (omega - omega0) - B.T @ jnp.linalg.solve(B @ B.T, B @ (omega - omega0))
        np.testing.assert_allclose(resid, 0, atol=1e-9)
    else:  # normal equations
        want = jnp.linalg.solve(B.T @ B, B.T @ gamma)
        np.testing.assert_allclose(omega, want, rtol=1e-8, atol=1e-10)


def test_sampled_evaluator_matches_conditional(getkey):
    p, n_r, sigma, nu = 12, 8, 0.6, 0.7
    omega = jr.normal(getkey(), (2, p)) * 0.3
    w0 = jnp.full(p, 0.1)
    ar = jnp.array([-0.1, 0.3])
    iso = _iso(p, nu)
    n = 4000
    keys = jr.split(getkey(), n)
    vals = jax.vmap(
        lambda k: L.evaluate_sampled(
            k, omega, alpha_r=ar, n_r=n_r, n_s=5, n_tasks=1, w0=w0, sigma=sigma, **iso
        )
    )(keys)
    eye = jnp.eye(p)
    exact = T.conditional_loss(
        omega_star=omega,
        w0=w0,
        alpha_r=ar,
        n_r=n_r,
        sigma=sigma,
        Sigma=eye,
        Sigma_w=nu**2 / p * eye,
        F=(p + 2) * eye,
    )
    mean, se = vals.mean(0), vals.std(0) / np.sqrt(n)
    assert np.all(np.abs(mean - exact) <= 5 * se)


def _mc(key, n_runs, at, ar, p, n_t, n_v, m, n_r, sigma, nu, w0=0.0, mats=None):
    eye = jnp.eye(p)
    cS, cSw = (eye, nu / np.sqrt(p) * eye) if mats is None else mats
    S = cS @ cS.T
    F = 2 * S @ S @ S + S * jnp.trace(S @ S)
    out = L.sweep_runs(
        key,
        n_runs=n_runs,
        alpha_t=at,
        alpha_r=ar,
        p=p,
        n_t=n_t,
        n_v=n_v,
        m=m,
        n_r=n_r,
        sigma=sigma,
        w0=jnp.full(p, w0),
        omega0=jnp.zeros(p),
        chol_Sigma=cS,
        chol_Sigma_w=cSw,
        F=F,
    )
    ex = np.asarray(out["exact"])
    return ex.mean(0), ex.std(0) / np.sqrt(n_runs)


def _assert_close(mc, se, theory, rtol):
    """Theory (asymptotic) within rtol relative plus 5 MC standard errors."""
    assert np.all(np.abs(mc - theory) <= rtol * np.abs(theory) + 5 * se), (mc, theory)


def test_theorem1_vs_monte_carlo(getkey):
    kw = dict(p=60, n_t=30, n_v=2, m=3, n_r=20, sigma=1.0, nu=0.5)
    at, ar = jnp.array([-1.0, 0.0, 0.5]), jnp.array([0.0, 0.2])
    mc, se = _mc(getkey(), 400, at, ar, w0=0.1, **kw)
    th = T.loss_overparameterized(alpha_t=at[:, None], alpha_r=ar, dist2=60 * 0.01, **kw)
    _assert_close(mc, se, th, 0.03)


def test_theorem2_vs_monte_carlo(getkey):
    kw = dict(p=20, n_t=10, n_v=20, m=20, n_r=10, sigma=0.3, nu=0.4)
    at, ar = jnp.array([-0.2, 0.0, 0.2]), jnp.array([0.0, 0.2])
    mc, se = _mc(getkey(), 200, at, ar, **kw)
    th = T.loss_underparameterized(alpha_t=at[:, None], alpha_r=ar, **kw)
    _assert_close(mc, se, th, 0.03)


def test_theorem3_vs_monte_carlo(getkey):
    p, nu = 60, 0.5
    G, Gw = jr.normal(getkey(), (p, p)), jr.normal(getkey(), (p, p))
    S, Sw = G @ G.T / p, nu**2 / p * Gw @ Gw.T / p
    at, ar = jnp.array([-0.5, 0.0, 0.2]), jnp.array([0.0, 0.2])
    mats = (jnp.linalg.cholesky(S), jnp.linalg.cholesky(Sw))
    mc, se = _mc(getkey(), 300, at, ar, p, 30, 2, 3, 20, 1.0, nu, mats=mats)
    F = 2 * S @ S @ S + S * jnp.trace(S @ S)
    th = T.loss_general_covariance(
        alpha_t=at[:, None],
        alpha_r=ar,
        n_t=30,
        n_v=2,
        m=3,
        n_r=20,
        sigma=1.0,
        Sigma=S,
        Sigma_w=Sw,
        F=F,
    )
    _assert_close(mc, se, th, 0.05)
