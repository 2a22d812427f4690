"""Tests of metagrad.theory.linear_representation against Monte Carlo and fixed-point identities."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from metagrad.tasks.linear_representation import sample_B_star, sample_linear_tasks
from metagrad.theory import linear_representation as lr

D, K, KP = 8, 3, 6
SIGMA = jnp.diag(jnp.array([1.0, 2.0, 3.0])) / 2.0
SIGMA2, ALPHA, M_IN = 1.5, 0.1, 5


def _mc_heads(key, B, w, Bs, mu, n):
    """Monte Carlo adapted heads w_{t,i} = w − (α/m_in)BᵀXᵀ(XBw − y) over n tasks."""
    tasks = sample_linear_tasks(
        key=key, B_star=Bs, Sigma_star=SIGMA, n_tasks=n, m=M_IN, sigma2=SIGMA2, mu_star=mu
    )
    r = jnp.einsum("nmd,d->nm", tasks.X, B @ w) - tasks.y
    g = jnp.einsum("nmd,nm->nd", tasks.X, r) / M_IN
    return w - ALPHA * g @ B, tasks.w_star


@pytest.mark.parametrize("nonzero_mean", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_head_second_moment_matches_monte_carlo(getkey, nonzero_mean):
    Bs = sample_B_star(key=getkey(), d=D, k=K)
    B = jr.normal(getkey(), (D, KP)) / np.sqrt(D)
    w = jr.normal(getkey(), (KP,))
    mu = jr.normal(getkey(), (K,)) if nonzero_mean else None
    n = 200_000
    heads, _ = _mc_heads(getkey(), B, w, Bs, mu, n)
    outer = np.asarray(heads[:, :, None] * heads[:, None, :])
    mc, se = outer.mean(0), outer.std(0) / np.sqrt(n)
    th = lr.head_second_moment(
        B=B, w=w, B_star=Bs, Sigma_star=SIGMA, alpha=ALPHA, m_in=M_IN, sigma2=SIGMA2, mu_star=mu
    )
    assert np.all(np.abs(mc - np.asarray(th)) <= 5 * se + 1e-12)


def test_nonzero_mean_step_matches_monte_carlo_gradient(getkey):
    """The B and w updates equal −β times the MC mean of the FO-ANIL population gradients."""
    Bs = sample_B_star(key=getkey(), d=D, k=K)
    B = jr.normal(getkey(), (D, KP)) / np.sqrt(D)
    w, mu = jr.normal(getkey(), (KP,)), jr.normal(getkey(), (K,))
    heads, ws = _mc_heads(getkey(), B, w, Bs, mu, 200_000)
    r = heads @ B.T - ws @ Bs.T  # population outer residual B w_i − θ⋆_i
    gB = np.asarray(r[:, :, None] * heads[:, None, :])
    gw = np.asarray(r @ B)
    B1, w1 = lr.fo_anil_step(
        B=B,
        w=w,
        B_star=Bs,
        Sigma_star=SIGMA,
        alpha=ALPHA,
        beta=1.0,
        m_in=M_IN,
        sigma2=SIGMA2,
        mu_star=mu,
    )
    n = gB.shape[0]
    assert np.all(np.abs(gB.mean(0) - np.asarray(B - B1)) <= 5 * gB.std(0) / np.sqrt(n))
    assert np.all(np.abs(gw.mean(0) - np.asarray(w - w1)) <= 5 * gw.std(0) / np.sqrt(n) + 1e-12)


def _limit_point(key, alpha=ALPHA, m_in=M_IN):
    """B = B⋆Q with QQᵀ = Λ⋆ and a head w in the null space of B."""
    Bs = sample_B_star(key=key, d=D, k=K)
    Lam = lr.lambda_star(alpha=alpha, m_in=m_in, Sigma_star=SIGMA, sigma2=SIGMA2)
    e, V = jnp.linalg.eigh(Lam)
    Q = V @ jnp.diag(jnp.sqrt(e)) @ jnp.eye(K, KP)
    w = jnp.zeros(KP).at[K:].set(1.0)
    return Bs, Bs @ Q, w


def test_lambda_star_is_fixed_point(getkey):
    Bs, B, w = _limit_point(getkey())
    B1, w1 = lr.fo_anil_step(
        B=B, w=w, B_star=Bs, Sigma_star=SIGMA, alpha=ALPHA, beta=ALPHA, m_in=M_IN, sigma2=SIGMA2
    )
    np.testing.assert_allclose(B1, B, atol=1e-12)
    np.testing.assert_allclose(w1, w, atol=1e-12)


@pytest.mark.slow  # measured >= 8 s of the fast suite's wall time (2026-12-02)
def test_lambda_star_minimises_closed_form_objective(getkey):
    Bs, B, w = _limit_point(getkey())
    kw = dict(B_star=Bs, Sigma_star=SIGMA, alpha=ALPHA, m_in=M_IN, sigma2=SIGMA2)
    f0 = lr.anil_objective(B=B, w=w, **kw)
    np.testing.assert_allclose(
        f0, lr.anil_objective_min(Sigma_star=SIGMA, m_in=M_IN, sigma2=SIGMA2), rtol=1e-12
    )
    grad = jax.grad(lambda b: lr.anil_objective(B=b, w=w, **kw))(B)
    np.testing.assert_allclose(grad, 0.0, atol=1e-10)
    for _ in range(20):
        dB = 0.05 * jr.normal(getkey(), B.shape)
        assert lr.anil_objective(B=B + dB, w=w, **kw) > f0


def test_lambda_star_limits_and_validation():
    Lam = lr.lambda_star(alpha=0.5, m_in=np.inf, Sigma_star=SIGMA, sigma2=SIGMA2)
    np.testing.assert_allclose(Lam, 2.0 * np.eye(K), atol=1e-12)
    c, k, n, s2 = 0.7, 4, 9, 2.0
    Lc = lr.lambda_star(alpha=0.3, m_in=n, Sigma_star=c * jnp.eye(k), sigma2=s2)
    np.testing.assert_allclose(Lc, n * c / ((n + 1 + k) * c + s2) / 0.3 * np.eye(k), rtol=1e-12)
    with pytest.raises(ValueError, match="alpha"):
        lr.lambda_star(alpha=0.0, m_in=n, Sigma_star=SIGMA, sigma2=s2)
    with pytest.raises(ValueError, match="m_in"):
        lr.lambda_star(alpha=0.1, m_in=-1, Sigma_star=SIGMA, sigma2=s2)


def test_recursion_converges_to_lambda_star(getkey):
    Bs = sample_B_star(key=getkey(), d=D, k=K)
    B = jr.normal(getkey(), (D, KP)) / np.sqrt(D)
    w = 0.1 * jr.normal(getkey(), (KP,))
    kw = dict(B_star=Bs, Sigma_star=SIGMA, alpha=0.2, beta=0.2, m_in=M_IN, sigma2=SIGMA2)

    def body(c, _):
        return lr.fo_anil_step(B=c[0], w=c[1], **kw), None

    (B, w), _ = jax.lax.scan(body, (B, w), None, length=20_000)
    diag = lr.representation_diagnostics(B=B, w=w, B_star=Bs)
    lam = np.linalg.eigvalsh(lr.lambda_star(alpha=0.2, m_in=M_IN, Sigma_star=SIGMA, sigma2=SIGMA2))
    np.testing.assert_allclose(diag["star_sv2"], lam, rtol=1e-6)
    assert diag["perp_max"] < 1e-2 and diag["norm_Bw"] < 1e-6


def test_one_step_excess_risk_matches_simulation(getkey):
    Bs, B, w = _limit_point(getkey(), alpha=0.4)
    m_test, n = 7, 100_000
    t = sample_linear_tasks(
        key=getkey(), B_star=Bs, Sigma_star=SIGMA, n_tasks=n, m=m_test, sigma2=SIGMA2
    )
    r = jnp.einsum("nmd,d->nm", t.X, B @ w) - t.y
    w_test = w - 0.4 * jnp.einsum("nmd,nm->nd", t.X, r) @ B / m_test
    err = np.asarray(jnp.sum((w_test @ B.T - t.theta_star) ** 2, axis=1))
    th = lr.one_step_excess_risk(Sigma_star=SIGMA, m_in=M_IN, sigma2=SIGMA2, m_test=m_test)
    assert abs(err.mean() - th) <= 5 * err.std() / np.sqrt(n)


# -- Proposition 1: high-probability bound on the 1-GD error ----------------------------------
K6, D6, KP6 = 6, 14, 10
SIGMA6 = jnp.diag(jnp.arange(1.0, K6 + 1)) / 3.5  # mean eigenvalue 1, as Σ⋆ ∝ diag(1..k) in Sec. 5


def _one_step_errors(key, *, m_in, sigma2, m_test, n, alpha=0.3):
    """‖B̂w_test − B⋆w⋆‖ and ‖w⋆‖ on n sampled test tasks, at a random point satisfying (9).

    B̂ = B⋆Λ⋆^{1/2}[I_k 0]Oᵀ (O a random orthogonal k'×k'), ŵ ≠ 0 in the null space of B̂, and
    w_test from the full gradient of the test loss (Eq. 11 before its simplification).
    """
    # NumPy draws seeded from the test's key: no XLA compilation of samplers and factorisations
    rng = np.random.default_rng(np.asarray(jr.key_data(key)).tolist())
    Bs = np.linalg.qr(rng.standard_normal((D6, K6)))[0]
    Lam = np.asarray(lr.lambda_star(alpha=alpha, m_in=m_in, Sigma_star=SIGMA6, sigma2=sigma2))
    e, V = np.linalg.eigh(Lam)
    rot = np.linalg.qr(rng.standard_normal((KP6, KP6)))[0]
    B = Bs @ V @ np.diag(np.sqrt(e)) @ V.T @ np.eye(K6, KP6) @ rot.T
    w = rot[:, K6:] @ rng.standard_normal(KP6 - K6)
    w_star = rng.standard_normal((n, K6)) * np.sqrt(np.diag(np.asarray(SIGMA6)))
    X = rng.standard_normal((n, m_test, D6))
    y = np.einsum("nmd,nd->nm", X, w_star @ Bs.T) + np.sqrt(sigma2) * rng.standard_normal(
        (n, m_test)
    )
    r = np.einsum("nmd,d->nm", X, B @ w) - y
    w_test = w - alpha * np.einsum("nmd,nm->nd", X, r) @ B / m_test
    return np.linalg.norm(w_test @ B.T - w_star @ Bs.T, axis=1), np.linalg.norm(w_star, axis=1)


# regime -> (m_in, sigma2, m_test, n, the term that dominates the error there)
_REGIMES = {
    "noise": (np.inf, 2500.0, 12, 2000, "noise"),
    "variance": (np.inf, 0.0, 12, 2000, "variance"),
    "bias": (3, 0.0, 600, 200, "bias"),
}


@pytest.mark.parametrize("regime", sorted(_REGIMES))
def test_one_step_error_bound_holds_on_sampled_test_tasks(getkey, regime):
    """Violations ≤ 3e^{−k/2} (+4 binomial SE); without the regime's dominant term: far more."""
    m_in, s2, m_test, n, term = _REGIMES[regime]
    err, wn = _one_step_errors(getkey(), m_in=m_in, sigma2=s2, m_test=m_test, n=n)
    b = lr.one_step_error_bound(
        Sigma_star=SIGMA6, m_in=m_in, sigma2=s2, m_test=m_test, w_star_norm=wn
    )
    p = 1.0 - float(b["probability"])
    assert p == pytest.approx(3 * np.exp(-K6 / 2))
    limit = p + 4 * np.sqrt(p * (1 - p) / n)
    assert np.mean(err > np.asarray(b["total"])) <= limit
    # power: the bound without its dominant term is violated on most tasks
    assert np.mean(err > np.asarray(b["total"] - b[term])) > limit


def test_one_step_error_bound_terms_and_validation():
    kw = dict(Sigma_star=SIGMA6, sigma2=2.0, w_star_norm=1.5)
    b = lr.one_step_error_bound(m_in=4, m_test=np.array([6.0, 24.0, 96.0]), **kw)
    # the k-dimensional terms scale as √(k/m_test) for large m_test; the bias does not depend on it
    assert np.all(np.diff(np.asarray(b["noise"])) < 0) and np.ptp(np.asarray(b["bias"])) == 0
    lam2 = float(jnp.trace(SIGMA6)) + 2.0
    assert float(b["bias"][0]) == pytest.approx((1 + lam2 / (1 / 3.5)) / 4 * 1.5, rel=1e-12)
    # the printed bias term bounds the exact bias ‖(I − αΛ⋆)w⋆‖ ≤ ‖I − αΛ⋆‖‖w⋆‖
    M = lr.lambda_star(alpha=1.0, m_in=4, Sigma_star=SIGMA6, sigma2=2.0)
    assert float(b["bias"][0]) >= np.linalg.norm(np.eye(K6) - M, 2) * 1.5
    assert float(lr.one_step_error_bound(m_in=np.inf, m_test=6, **kw)["bias"]) == 0.0
    with pytest.raises(ValueError, match="m_test"):
        lr.one_step_error_bound(m_in=4, m_test=5, **kw)
    with pytest.raises(ValueError, match="w_star_norm"):
        lr.one_step_error_bound(Sigma_star=SIGMA6, m_in=4, sigma2=2.0, m_test=6, w_star_norm=-1.0)
