"""The `paper_literal` switch: the printed typos of Eqs. (36), (38), (D6), (E4) (seeds/000)."""

import jax.numpy as jnp
import jax.random as jr
import numpy as np
import pytest

from metagrad.theory import teacher_student as ts

K, M = 3, 3


def _state(key, inv_V=0.01, noise=0.0):
    A = jr.normal(key, (K + M, 20)) / np.sqrt(20)
    C = A @ A.T
    p = {"eta_J": 3.0, "eta_w": 9.0, "inv_V": inv_V, "noise": noise, "lam": 0.0}
    return C[:K, :K], C[:K, K:], C[K:, K:], {k: jnp.asarray(v) for k, v in p.items()}


def _rhs(state, activation, literal):
    return ts.order_parameter_rhs(*state, activation=activation, paper_literal=literal)


@pytest.mark.parametrize(
    "activation", [pytest.param("erf", marks=pytest.mark.slow), "linear"]
)
def test_literal_dQ_is_not_symmetric_corrected_is(getkey, activation):
    """As printed, (38) and (E4) are not symmetric under k <-> l; the corrected forms are."""
    s = _state(getkey())
    dQ, _ = _rhs(s, activation, False)
    dQ_lit, _ = _rhs(s, activation, True)
    np.testing.assert_allclose(dQ, dQ.T, rtol=1e-12, atol=1e-15)
    assert np.abs(dQ_lit - dQ_lit.T).max() > 1e-6 * np.abs(dQ).max()


@pytest.mark.slow  # measured >= 8 s of the fast suite's wall time (2026-12-02)
def test_literal_36_matches_printed_sum(getkey):
    """Literal (36): Σ_i Σ_m f_in f_km I3(k,n,i), written here as an explicit NumPy loop."""
    Q, R, T, p = _state(getkey())
    _, dR = _rhs((Q, R, T, p), "erf", False)
    _, dR_lit = _rhs((Q, R, T, p), "erf", True)
    C = np.block([[Q, R], [R.T, T]])
    f = np.asarray(ts.i2(C))[:K, K:]
    I3 = np.asarray(ts.i3(C, k=K))
    a2 = 3.0 * 9.0**2 / (K**2 * M)
    diff = np.zeros((K, M))  # literal − corrected = −a2 Σ_i (f_in Σ_m f_km − G_ik) I3(k,n,i)
    for k in range(K):
        for n in range(M):
            for i in range(K):
                typo = f[i, n] * f[k].sum() - f[i] @ f[k]
                diff[k, n] -= a2 * typo * I3[k, K + n, i]
    np.testing.assert_allclose(dR_lit - dR, diff, rtol=1e-10, atol=1e-14)


def test_linear_literal_changes_only_the_eta_J_squared_terms(getkey):
    """(E4)'s typo sits in the 1/V terms: with 1/V = 0 the literal linear RHS is the corrected one."""
    s = _state(getkey(), inv_V=0.0)
    for a, b in zip(_rhs(s, "linear", False), _rhs(s, "linear", True)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


def test_literal_noise_prefactor_is_1_over_M_squared(getkey):
    """(D6) as printed: the noise term carries 1/(V K² M²), i.e. 1/M of the corrected one."""
    key = getkey()
    lo, hi = _state(key, noise=0.0), _state(key, noise=0.3)
    d_cor = _rhs(hi, "erf", False)[0] - _rhs(lo, "erf", False)[0]
    d_lit = _rhs(hi, "erf", True)[0] - _rhs(lo, "erf", True)[0]
    np.testing.assert_allclose(d_lit, d_cor / M, rtol=1e-9, atol=1e-15)


@pytest.mark.slow  # the literal RHS is pinned term by term by the fast tests above
def test_literal_integration_runs_and_differs():
    cfg = ts.TSConfig(eta_w=9.0, alpha_max=60.0, d_alpha=0.1, record_every=10, ic_perturbation=1e-3)
    lit = ts.integrate(ts.TSConfig(**{**cfg.__dict__, "paper_literal": True}))
    cor = ts.integrate(cfg)
    assert np.all(np.isfinite(lit.eps)) and np.abs(lit.eps - cor.eps).max() > 1e-6
