"""Closed-form Gaussian integrals of seeds/000 against Monte Carlo (tolerance: 5 standard errors)."""

import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest
from jax.scipy.special import erf

from metagrad.theory import teacher_student as ts

N_MC = 1_000_000


def _random_cov(key, L, degenerate=False):
    k1, k2 = jr.split(key)
    A = jr.normal(k1, (L, L)) / np.sqrt(L)
    if degenerate:  # two nearly collinear fields (correlation ~ 0.9999), PSD by construction
        A = A.at[1].set(A[0] + 1e-2 * jr.normal(k2, (L,)) / np.sqrt(L))
        return A @ A.T
    return A @ A.T + 0.05 * jnp.eye(L)


def _mc(key, C, activation):
    L = C.shape[0]
    u = jr.multivariate_normal(key, jnp.zeros(L), C, (N_MC,), method="eigh")
    if activation == "erf":
        g, gp = erf(u / np.sqrt(2)), np.sqrt(2 / np.pi) * jnp.exp(-(u**2) / 2)
    else:
        g, gp = u, jnp.ones_like(u)
    return u, g, gp


def _moments(spec, *arrs):
    m = jnp.einsum(spec, *arrs) / N_MC
    m2 = jnp.einsum(spec, *(a**2 for a in arrs)) / N_MC
    return m, jnp.sqrt((m2 - m**2) / N_MC)


@pytest.mark.parametrize("activation", ["erf", "linear"])
@pytest.mark.parametrize("degenerate", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_integrals_match_monte_carlo(getkey, activation, degenerate):
    L = 4
    C = _random_cov(getkey(), L, degenerate)
    u, g, gp = _mc(getkey(), C, activation)
    cases = [
        (ts.i2(C, activation=activation), _moments("na,nb->ab", g, g)),
        (ts.i3(C, activation=activation), _moments("na,nb,nc->abc", gp, u, g)),
        (ts.i4(C, activation=activation), _moments("na,nb,nc,nd->abcd", gp, gp, g, g)),
        (ts.j2(C, activation=activation), _moments("na,nb->ab", gp, gp)),
    ]
    for closed, (mc, se) in cases:
        np.testing.assert_array_less(np.abs(closed - mc), 5 * se + 1e-12)


@pytest.mark.slow  # measured >= 8 s of the fast suite's wall time (2026-12-02)
def test_i3_i4_leading_slice_matches_full(getkey):
    C = _random_cov(getkey(), 5)
    np.testing.assert_allclose(ts.i3(C, k=2), ts.i3(C)[:2], rtol=1e-13)
    np.testing.assert_allclose(ts.i4(C, k=2), ts.i4(C)[:2, :2], rtol=1e-13)


def test_rejects_invalid_covariance():
    bad = jnp.array([[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(ValueError, match="positive semi-definite"):
        ts.i2(bad)
    with pytest.raises(ValueError, match="symmetric"):
        ts.i3(jnp.array([[1.0, 0.1], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="activation"):
        ts.i2(jnp.eye(2), activation="relu")


def test_integrals_are_jittable(getkey):
    C = _random_cov(getkey(), 3)
    np.testing.assert_allclose(jax.jit(ts.i4)(C), ts.i4(C), rtol=1e-13)


def test_fast_arcsin_matches_numpy(getkey):
    """The arctan form of arcsin used by I2/I4 equals NumPy's arcsin to rounding (incl. ±1)."""
    from metagrad.theory._ts_integrals import _asin

    x = np.r_[-1.0, 1.0, np.asarray(jr.uniform(getkey(), (10_000,), minval=-1.0, maxval=1.0))]
    np.testing.assert_allclose(np.asarray(_asin(jnp.asarray(x))), np.arcsin(x), rtol=0, atol=1e-15)
