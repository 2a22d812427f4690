"""Tests of metagrad.theory.negative_lr (Bernacchia 2021): closed forms vs independent computations."""

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from metagrad.theory import negative_lr as T

OVER = dict(p=60, n_t=30, n_v=2, m=3, n_r=20, sigma=1.0, nu=0.5)
UNDER = dict(p=30, n_t=5, n_v=25, m=40, n_r=10, sigma=0.2, nu=0.2)


def test_theorem3_identity_reduces_to_theorem1(getkey):
    p = OVER["p"]
    at = jr.uniform(getkey(), (7,), minval=-2, maxval=2)
    ar = jr.uniform(getkey(), (7,), minval=-0.5, maxval=1)
    eye = jnp.eye(p)
    l3 = T.loss_general_covariance(
        alpha_t=at,
        alpha_r=ar,
        n_t=30,
        n_v=2,
        m=3,
        n_r=20,
        sigma=1.0,
        Sigma=eye,
        Sigma_w=0.25 / p * eye,
        F=(p + 2) * eye,
    )
    l1 = T.loss_overparameterized(alpha_t=at, alpha_r=ar, **OVER)
    np.testing.assert_allclose(l3, l1, rtol=1e-12, atol=0)


@pytest.mark.parametrize("p,n_t", [(60, 30), (50, 40)])
def test_eq8_roots_are_min_and_max(p, n_t):
    kw = dict(OVER, p=p, n_t=n_t)
    lo, hi = T.optimal_train_lr(p=p, n_t=n_t)
    assert lo < 0 < hi
    loss = lambda a: float(T.loss_overparameterized(alpha_t=a, alpha_r=0.2, **kw))  # noqa: E731
    assert abs(T.numeric_argmin(loss, lo=-5, hi=5) - lo) < 1e-6
    assert abs(T.numeric_argmin(lambda a: -loss(a), lo=0, hi=3) - hi) < 1e-6
    l_inf = loss(1e7)
    assert loss(lo) < l_inf < loss(0.0) < loss(hi)
    assert abs(loss(1e7) - loss(-1e7)) < 1e-6  # same finite limit at +-inf


def test_optimal_adapt_lr_closed_form_vs_numeric():
    q = OVER["n_v"] * OVER["m"] / OVER["p"]
    at = 0.2
    h_t = T.adapt_factor(alpha=at, p=OVER["p"], n=OVER["n_t"])
    K = OVER["nu"] ** 2 * (1 + q) + OVER["sigma"] ** 2 * q * (1 + at**2 * OVER["p"] / 30) / h_t
    closed = float(T.optimal_adapt_lr(K=K, p=60, n_r=20, sigma=1.0))
    numeric = T.numeric_argmin(
        lambda a: T.loss_overparameterized(alpha_t=at, alpha_r=a, **OVER), lo=-1, hi=1
    )
    assert abs(closed - numeric) < 1e-7
    assert 0 < closed < 1 / (1 + 61 / 20)


@pytest.mark.parametrize("regime,kw", [("over", OVER), ("under", UNDER)])
def test_slope_at_zero_vs_finite_differences(regime, kw, getkey):
    ar = float(jr.uniform(getkey(), minval=-0.3, maxval=0.6))
    f = T.loss_overparameterized if regime == "over" else T.loss_underparameterized
    h = 1e-6
    fd = (f(alpha_t=h, alpha_r=ar, **kw) - f(alpha_t=-h, alpha_r=ar, **kw)) / (2 * h)
    args = {k: kw[k] for k in ("p", "n_v", "m", "n_r", "sigma")}
    slope = T.slope_at_zero(regime=regime, alpha_r=ar, **args)
    np.testing.assert_allclose(fd, slope, rtol=1e-6)
    assert slope > 0


def test_underparameterized_optimum_is_negative():
    f = lambda a: T.loss_underparameterized(alpha_t=a, alpha_r=0.2, **UNDER)  # noqa: E731
    assert T.numeric_argmin(f, lo=-0.6, hi=0.6) < 0


def test_wishart_moments_vs_sampling(getkey):
    n, p, N = 7, 5, 200_000
    X = jr.normal(getkey(), (N, n, p))
    S = jnp.einsum("kni,knj->kij", X, X)
    S2 = S @ S
    trS, trS2 = jnp.trace(S, axis1=1, axis2=2), jnp.trace(S2, axis1=1, axis2=2)
    tr = lambda A: jnp.trace(A, axis1=1, axis2=2) / p  # noqa: E731 (mean diagonal entry)
    samples = {
        "mu2": tr(S2) / n**2,
        "mu3": tr(S2 @ S) / n**3,
        "mu4": tr(S2 @ S2) / n**4,
        "mu11": trS * trS / p / (p * n**2),
        "mu21": trS2 * trS / p / (p * n**3),
        "mu12": trS * trS2 / p / (p * n**3),
        "mu22": trS2 * trS2 / p / (p * n**4),
    }
    mu = T.wishart_moments(n=n, p=p)
    for k, v in samples.items():
        v = np.asarray(v)
        assert abs(v.mean() - mu[k]) <= 5 * v.std() / np.sqrt(N), k


def test_conditional_loss_identity_is_eq65(getkey):
    p, n_r, sigma, nu = 20, 15, 0.7, 0.6
    omega = jr.normal(getkey(), (3, p))
    w0 = jr.normal(getkey(), (p,)) * 0.1
    ar = jnp.array([-0.2, 0.1, 0.4])
    eye = jnp.eye(p)
    got = T.conditional_loss(
        omega_star=omega,
        w0=w0,
        alpha_r=ar,
        n_r=n_r,
        sigma=sigma,
        Sigma=eye,
        Sigma_w=nu**2 / p * eye,
        F=(p + 2) * eye,
    )
    h_r = T.adapt_factor(alpha=ar, p=p, n=n_r)
    d2 = jnp.sum((omega - w0) ** 2, -1)[:, None]
    want = sigma**2 / 2 * (1 + ar**2 * p / n_r) + h_r / 2 * (nu**2 + d2)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="p=6 must be > n_v"):
        T.loss_overparameterized(alpha_t=0.1, alpha_r=0.1, **dict(OVER, p=6))
    with pytest.raises(ValueError, match="p=30 must be < n_v"):
        T.loss_underparameterized(alpha_t=0.1, alpha_r=0.1, **dict(UNDER, m=1))
    with pytest.raises(ValueError, match="n_t"):
        T.optimal_train_lr(p=10, n_t=0)
    with pytest.raises(ValueError, match="sigma"):
        T.loss_overparameterized(alpha_t=0.1, alpha_r=0.1, **dict(OVER, sigma=-1.0))
