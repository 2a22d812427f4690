"""The paper's first-order Taylor closure of App. C (Eq. C2) against the exact Gaussian closure."""

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from scipy.stats import linregress

from metagrad.theory import teacher_student as ts
from metagrad.theory.teacher_student import _gp4

K, M = 3, 3


def _state(key):
    A = jr.normal(key, (K + M, 20)) / np.sqrt(20)
    C = A @ A.T
    return C[:K, :K], C[:K, K:], C[K:, K:]


def _p(gamma):
    p = {"eta_J": 3.0, "eta_w": 9.0, "inv_V": 0.01, "noise": 0.0, "lam": 0.0, "gamma": gamma}
    return {k: jnp.asarray(v) for k, v in p.items()}


def test_gp4_matches_monte_carlo(getkey):
    """⟨g'(u_k) g'(u_l) g'(u_n)²⟩ vs 4·10⁵ samples; tolerance 5 standard errors."""
    Q, R, T = _state(getkey())
    C = jnp.block([[Q, R], [R.T, T]])
    u = jr.multivariate_normal(getkey(), jnp.zeros(K + M), C, (400_000,), method="eigh")
    gp = np.sqrt(2 / np.pi) * jnp.exp(-(u**2) / 2)
    s = gp[:, :K, None, None] * gp[:, None, :K, None] * gp[:, None, None, K:] ** 2
    mean, se = s.mean(0), s.std(0) / np.sqrt(u.shape[0])
    assert np.all(np.abs(mean - _gp4(C, K, slice(K, K + M))) <= 5 * se)


@pytest.mark.slow  # measured >= 8 s of the fast suite's wall time (2026-12-02)
def test_taylor_equals_exact_at_gamma_one(getkey):
    Q, R, T = _state(getkey())
    a = ts.order_parameter_rhs(Q, R, T, _p(1.0), D=T, closure="taylor")
    b = ts.order_parameter_rhs(Q, R, T, _p(1.0), D=T, closure="exact")
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-14)


def test_taylor_minus_exact_is_first_order_in_one_minus_gamma_squared(getkey):
    """Derived: with ỹ = γy + sΔ, s² = 1−γ², the exact closure averages g(ỹ) = g(γy) + s g'Δ +
    s²g''Δ²/2 + O(s³); odd powers of Δ vanish, so Taylor (C2) misses the s² g'' terms and
    RHS_taylor − RHS_exact = c·(1−γ²) + O((1−γ²)²). Regress log|diff| on log(1−γ²): slope 1. The
    O((1−γ²)²) term shifts the slope by at most ~(1−γ²)_max = 1e-2; tolerance 0.05."""
    Q, R, T = _state(getkey())
    one_m = np.array([1e-2, 1e-3, 1e-4])
    diffs = []
    for om in one_m:
        p = _p(np.sqrt(1 - om))
        a = ts.order_parameter_rhs(Q, R, T, p, D=T, closure="taylor")
        b = ts.order_parameter_rhs(Q, R, T, p, D=T, closure="exact")
        diffs.append(max(np.abs(x - y).max() for x, y in zip(a, b)))
    eps = [
        ts.meta_generalization_error(Q, R, T, eta_w=9.0, gamma=np.sqrt(1 - om), D=T, closure=c)
        for om in one_m
        for c in ("taylor", "exact")
    ]
    eps_diff = np.abs(np.asarray(eps[0::2]) - np.asarray(eps[1::2]))
    for d in (np.asarray(diffs), eps_diff):
        assert abs(linregress(np.log(one_m), np.log(d)).slope - 1.0) < 0.05
