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


@pytest.mark.parametrize("p,n_v,m", [pytest.param(40, 3, 4, marks=pytest.mark.slow), (8, 10, 5)])
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


@pytest.mark.slow  # measured >= 8 s of the fast suite's wall time (2026-12-02)
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


@pytest.mark.slow  # measured >= 8 s of the fast suite's wall time (2026-12-02)
def test_theorem1_vs_monte_carlo(getkey):
    kw = dict(p=60, n_t=30, n_v=2, m=3, n_r=20, sigma=1.0, nu=0.5)
    at, ar = jnp.array([-1.0, 0.0, 0.5]), jnp.array([0.0, 0.2])
    mc, se = _mc(getkey(), 400, at, ar, w0=0.1, **kw)
    th = T.loss_overparameterized(alpha_t=at[:, None], alpha_r=ar, dist2=60 * 0.01, **kw)
    _assert_close(mc, se, th, 0.03)


@pytest.mark.slow  # ~22 s CPU; Theorem 1 stays in the fast suite
def test_theorem2_vs_monte_carlo(getkey):
    kw = dict(p=20, n_t=10, n_v=20, m=20, n_r=10, sigma=0.3, nu=0.4)
    at, ar = jnp.array([-0.2, 0.0, 0.2]), jnp.array([0.0, 0.2])
    mc, se = _mc(getkey(), 200, at, ar, **kw)
    th = T.loss_underparameterized(alpha_t=at[:, None], alpha_r=ar, **kw)
    _assert_close(mc, se, th, 0.03)


@pytest.mark.slow  # ~22 s CPU; Theorem 1 stays in the fast suite
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


@pytest.mark.parametrize(
    "p,n_v,m",
    [
        pytest.param(60, 2, 3, marks=pytest.mark.slow),
        pytest.param(40, 3, 4, marks=pytest.mark.slow),
        (8, 10, 5),
        pytest.param(5, 20, 4, marks=pytest.mark.slow),
    ],
)
def test_gram_path_matches_qr(p, n_v, m, getkey):
    """Gram (normal-equation) solver equals the QR/SVD solver to κ(B)²·eps-scaled round-off."""
    data = sample_meta_train(
        getkey(), m=m, n_t=7, n_v=n_v, w0=jnp.full(p, 0.2), sigma=0.7, **_iso(p, 0.6)
    )
    at = jr.uniform(getkey(), (9,), minval=-2.0, maxval=2.0)
    omega0 = jr.normal(getkey(), (p,))
    qr = L.solve_sweep(data, at, omega0, method="qr")
    gram, kappa_est = L._solve_sweep_gram(data, at, omega0)
    assert np.all(np.isfinite(kappa_est))
    eps = np.finfo(np.float64).eps
    for a, w_qr, w_gram in zip(at, qr, gram):
        B, _ = _explicit_B_gamma(data, a)
        kappa = np.linalg.cond(np.asarray(B))
        tol = 100 * kappa**2 * eps * (1 + np.linalg.norm(w_qr - omega0))
        assert np.linalg.norm(w_gram - w_qr) <= tol, (float(a), kappa)
    np.testing.assert_array_equal(L.solve_sweep(data, at, omega0, method="gram").shape, qr.shape)


@pytest.mark.slow  # measured >= 8 s of the fast suite's wall time (2026-12-02)
def test_gram_falls_back_to_qr_when_ill_conditioned(getkey):
    """A duplicated validation row makes BBᵀ singular: "gram" must return the QR (min-norm) answer."""
    p, n_v, m = 30, 2, 3
    data = sample_meta_train(
        getkey(), m=m, n_t=5, n_v=n_v, w0=jnp.zeros(p), sigma=0.5, **_iso(p, 0.6)
    )
    data = data._replace(
        x_v=data.x_v.at[:, 1].set(data.x_v[:, 0]), y_v=data.y_v.at[:, 1].set(data.y_v[:, 0])
    )
    at, omega0 = jnp.array([-0.5, 0.3]), jr.normal(getkey(), (p,))
    want = L.solve_sweep(data, at, omega0, method="qr")
    got = L.solve_sweep(data, at, omega0, method="gram")
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


@pytest.mark.slow  # measured >= 8 s of the fast suite's wall time (2026-12-02)
def test_sweep_runs_methods_agree(getkey):
    kw = dict(p=40, n_t=10, n_v=2, m=3, n_r=10, sigma=0.5, nu=0.5)
    at, ar, key = jnp.array([-1.0, 0.4]), jnp.array([0.1]), getkey()
    eye = jnp.eye(kw["p"])
    common = dict(
        n_runs=7,
        alpha_t=at,
        alpha_r=ar,
        p=kw["p"],
        n_t=kw["n_t"],
        n_v=kw["n_v"],
        m=kw["m"],
        n_r=kw["n_r"],
        sigma=kw["sigma"],
        w0=jnp.full(kw["p"], 0.1),
        omega0=jnp.zeros(kw["p"]),
        chol_Sigma=eye,
        chol_Sigma_w=kw["nu"] / np.sqrt(kw["p"]) * eye,
        F=(kw["p"] + 2) * eye,
        batch_size=3,
    )
    qr = L.sweep_runs(key, method="qr", **common)["exact"]
    gram = L.sweep_runs(key, method="gram", **common)["exact"]
    assert qr.shape == (7, 2, 1)
    np.testing.assert_allclose(gram, qr, rtol=1e-8)
    with pytest.raises(ValueError, match="method"):
        L.sweep_runs(key, method="chol", **common)
